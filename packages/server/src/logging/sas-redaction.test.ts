import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, HbiWorkspaces, redactSas } from './logger.js';

// Blob REST URLs carry a SAS whose signature is a credential: request log lines never print it.
describe('request log lines and SAS signatures', () => {
  it('redactSas replaces every sig= value and keeps the rest of the URL', () => {
    assert.equal(
      redactSas('/blob/acct/c/a.csv?sv=2022-11-02&se=2026&sr=c&sp=rl&sig=abc%2Bdef%3D'),
      '/blob/acct/c/a.csv?sv=2022-11-02&se=2026&sr=c&sp=rl&sig=[redacted]',
    );
    assert.equal(redactSas('/x?SIG=1&a=2&sig=3#f'), '/x?SIG=[redacted]&a=2&sig=[redacted]#f');
    assert.equal(redactSas('/blob/acct/c/design?signature=kept'), '/blob/acct/c/design?signature=kept');
  });

  it('a logged request keeps its path and query but not the signature', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('info', new HbiWorkspaces(), sink);
    log.info(
      { req: { method: 'GET', url: '/blob/acct/c/a.csv?sv=2022-11-02&sig=s3cr3t-signature' } },
      'incoming request',
    );
    const line = JSON.parse(lines.join(''));
    assert.equal(line.req.url, '/blob/acct/c/a.csv?sv=2022-11-02&sig=[redacted]');
    assert.ok(!lines.join('').includes('s3cr3t-signature'));
  });
});
