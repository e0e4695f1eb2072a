import net from 'node:net';

/**
 * An HTTP CONNECT proxy on 127.0.0.1 (random port) that stands in for DNS in tests: a tunnel to
 * `{anything}.{suffix}:{port}` goes to `target` (the server's address), as a wildcard record
 * `*.{suffix}` pointing at the server would make it go; a tunnel to 127.0.0.1 / localhost goes there.
 * Anything else is refused (403), so a client that uses it cannot leave the machine. Clients whose
 * resolver cannot be patched (azureml-dataprep's native engine) honour `HTTPS_PROXY`.
 *
 * Hand-written: it is a few lines of `net`, and the proxy libraries on npm are full forward proxies.
 */
export interface ConnectProxy {
  url: string;
  /** The `host:port` of every tunnel asked for, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

export async function startConnectProxy(suffix: string, target: { host: string; port: number }): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) client.destroy();
        return;
      }
      client.off('data', onData);
      const [method, authority = ''] = head.subarray(0, end).toString('latin1').split('\r\n')[0]!.split(' ');
      const rest = head.subarray(end + 4);
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(authority);
      const host = m?.[1]?.toLowerCase() ?? '';
      const port = Number(m?.[2]);
      let to: { host: string; port: number } | undefined;
      if (method === 'CONNECT' && m) {
        if (host.endsWith(`.${suffix}`) || host === suffix) to = { host: target.host, port };
        else if (host === '127.0.0.1' || host === 'localhost') to = { host: '127.0.0.1', port };
      }
      if (!to) {
        client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      tunnels.push(`${host}:${port}`);
      const upstream = net.connect(to.port, to.host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
