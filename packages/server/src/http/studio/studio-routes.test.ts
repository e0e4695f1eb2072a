import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../testing/harness.js';
import { studioDist, STUDIO_CSP } from './studio-routes.js';

const dist = studioDist();
const built = dist !== null && fs.existsSync(path.join(dist, 'index.html'));
if (!built && process.env.ATELIER_TEST_STRICT === '1')
  throw new Error('the studio is not built (npm run build -w @atelier/studio), so its serving cannot be tested');

describe('the studio served by the server', { skip: !built && 'the studio is not built' }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
  });
  after(async () => t?.close());

  it('serves index.html at / without a token, with a CSP that allows no inline script and no framing', async () => {
    const res = await fetch(`${t.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<div id="root">/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.equal(csp, STUDIO_CSP);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(`${t.url}/studio/callback?code=x&state=y`)).status, 200);
  });

  it('serves the hashed assets for a year, and nothing outside the assets folder', async () => {
    const html = await (await fetch(`${t.url}/`)).text();
    const js = /src="(\/studio\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(js, 'index.html names its script');
    const res = await fetch(`${t.url}${js}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    for (const bad of ['..%2Findex.html', '..%2F..%2Fpackage.json', '%2e%2e%2fpackage.json', 'nope.js', '.hidden'])
      assert.equal((await fetch(`${t.url}/studio/assets/${bad}`)).status, 404, bad);
  });

  it("opens MLflow's printed run link: a browser at a tracking URI gets the studio, other clients MLflow's 404", async () => {
    const uri = `/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w`;
    const page = await fetch(`${t.url}${uri}`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="root">/);
    const api = await fetch(`${t.url}${uri}`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { error_code: string }).error_code, 'ENDPOINT_NOT_FOUND');
  });

  it('/discovery points the studio key at the server that serves it', async () => {
    const d = (await (await fetch(`${t.url}/discovery`)).json()) as { studio: string };
    assert.equal(d.studio, t.url);
    assert.equal((await fetch(`${d.studio}/`)).status, 200);
  });
});
