import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureSelfSignedCertificate, prepareTls } from './tls.js';
import { startServer, type RunningServer } from '../server.js';

function get(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('TLS (self-signed)', () => {
  let home: string;
  let server: RunningServer;
  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-tls-'));
  });
  after(async () => {
    await server?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('makes a CA and a server certificate once, private keys 0600, and reuses them', async () => {
    const a = await ensureSelfSignedCertificate(home, ['localhost', '127.0.0.1']);
    assert.equal(a.created, true);
    assert.equal(fs.statSync(a.keyFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(home, 'tls', 'ca-key.pem')).mode & 0o777, 0o600);
    const b = await ensureSelfSignedCertificate(home, ['localhost', '127.0.0.1']);
    assert.equal(b.created, false);
    // A new host name re-makes the server certificate with the same CA.
    const c = await ensureSelfSignedCertificate(home, ['localhost', '127.0.0.1', 'atelier.internal']);
    assert.equal(c.created, true);
    assert.equal(c.caFingerprint, a.caFingerprint);
  });

  it('serves HTTPS that clients trusting the CA accept, and others refuse', async (tc) => {
    const tls = await prepareTls({ home, host: '127.0.0.1', env: {} });
    assert.match(tls.message, /NODE_EXTRA_CA_CERTS=.*ca\.pem/);
    assert.match(tls.message, /REQUESTS_CA_BUNDLE=/);
    server = await startServer(
      {
        home,
        port: 0,
        logLevel: 'silent',
        adminPassword: 'tls-admin-password',
        tlsCert: tls.tlsCert,
        tlsKey: tls.tlsKey,
      },
      {},
    );
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = fs.readFileSync(tls.caFile!, 'utf8');
    const ok = await get(`${server.url}/health`, ca);
    assert.equal(ok.status, 200);
    const cfg = JSON.parse((await get(`${server.url}/common/v2.0/.well-known/openid-configuration`, ca)).body);
    assert.match(cfg.token_endpoint, /^https:\/\//);
    await assert.rejects(get(`${server.url}/health`), /self[- ]signed|unable to verify|certificate/i);
    // Python's ssl (OpenSSL) with strict X.509 checks, as Python 3.13 does by default.
    const py = process.env.ATELIER_TEST_PYTHON ?? 'python3';
    const script =
      'import ssl,sys,urllib.request\nc=ssl.create_default_context(cafile=sys.argv[1])\nc.verify_flags|=getattr(ssl,"VERIFY_X509_STRICT",0)\nprint(urllib.request.urlopen(sys.argv[2]+"/health",context=c).status)';
    // (asynchronously: this process serves the request Python makes)
    let out: { stdout: string; stderr: string };
    try {
      out = await promisify(execFile)(py, ['-c', script, tls.caFile!, server.url], {
        encoding: 'utf8',
        timeout: 60_000,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // No Python on this machine: the Node checks above ran, Python's did not.
      const why = `${py} was not found: the check with Python's ssl cannot run (set ATELIER_TEST_PYTHON)`;
      if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
      return tc.skip(why);
    }
    assert.equal(out.stdout.trim(), '200', out.stderr);
  });
});
