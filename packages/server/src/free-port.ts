import net from 'node:net';

/**
 * A port that is free on `host` right now (the OS picks it). Its own module, importing only
 * node:net, so the bench and the local executor use it without loading the server.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
