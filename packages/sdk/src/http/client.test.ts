import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArmClient, retryAfterMs } from './client.js';
import { TokenAuthentication } from '../auth/authentication.js';
import {
  errorFromResponse,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  NotImplementedError,
  OperationFailedError,
  ServiceError,
  ValidationError,
} from '../errors.js';

/**
 * The ARM long-running-operation and paging shapes our own server does not use (Location-only
 * polling, provisioningState polling, throttling, foreign nextLink hosts), answered by a small
 * HTTP server that follows the ARM guidelines, so the client handles every shape a server may send.
 */
describe('ArmClient protocol handling', () => {
  let server: http.Server;
  let base: string;
  const seen: { method: string; url: string; auth?: string }[] = [];
  const state = { polls: 0, throttled: 0 };
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization });
      const u = new URL(req.url!, 'http://x');
      const json = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      switch (u.pathname) {
        case '/loc/start':
          state.polls = 0;
          return json(202, undefined, { location: `${base}/loc/status`, 'retry-after': '10' });
        case '/loc/status':
          return ++state.polls < 3
            ? json(202, undefined, { location: `${base}/loc/status`, 'retry-after': '10' })
            : json(200, { result: 'done' });
        case '/prov':
          if (req.method === 'PUT') {
            state.polls = 0;
            return json(201, { id: '/x', properties: { provisioningState: 'Creating' } });
          }
          return json(200, {
            id: '/x',
            properties: { provisioningState: ++state.polls < 2 ? 'Creating' : 'Succeeded' },
          });
        case '/failing':
          return json(202, undefined, { 'azure-asyncoperation': `${base}/failing/op` });
        case '/failing/op':
          return json(200, { status: 'Failed', error: { code: 'QuotaExceeded', message: 'no more room' } });
        case '/throttle':
          if (++state.throttled < 3)
            return json(429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'retry-after-ms': '10' });
          return json(200, { ok: true });
        case '/pages':
          // The second page is on another host: the client must follow it on its own endpoint only.
          return u.searchParams.get('page') === '2'
            ? json(200, { value: [3] })
            : json(200, { value: [1, 2], nextLink: `http://elsewhere.invalid:1/pages?page=2&api-version=2025-09-01` });
        case '/loop':
          return json(200, { value: [1], nextLink: `${base}/loop?again=1` });
        case '/teapot':
          return json(418, undefined);
        default:
          return json(404, { error: { code: 'NotFound', message: `no ${u.pathname}` } });
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  const client = () => new ArmClient(base, new TokenAuthentication('t0k3n'));

  it('polls a Location-only operation until it stops answering 202, fast on a local server', async () => {
    const c = client();
    assert.equal(c.local, true);
    const started = Date.now();
    const first = await c.request('POST', '/loc/start');
    const progress: string[] = [];
    const final = await c.waitFor(first, 'POST', '/loc/start', { onProgress: (p) => progress.push(p.status) });
    assert.deepEqual(final?.body, { result: 'done' });
    assert.deepEqual(progress, ['InProgress', 'InProgress', 'Succeeded']);
    // Honoured, the three Retry-After: 10 would take 30 s; shortened, the polls take well under a
    // second (a loose bound: a loaded machine must not fail this).
    assert.ok(Date.now() - started < 10_000, 'Retry-After: 10 is shortened for a loopback server');
  });

  it('polls provisioningState after a PUT until it is terminal', async () => {
    const c = client();
    const first = await c.request('PUT', '/prov', { body: {} });
    const final = await c.waitFor(first, 'PUT', '/prov');
    assert.equal(
      (final?.body as { properties: { provisioningState: string } }).properties.provisioningState,
      'Succeeded',
    );
  });

  it('a Failed operation throws OperationFailedError with its code', async () => {
    const c = client();
    const first = await c.request('DELETE', '/failing');
    await assert.rejects(
      c.waitFor(first, 'DELETE', '/failing', { what: 'delete it' }),
      (e: unknown) =>
        e instanceof OperationFailedError && e.code === 'QuotaExceeded' && /delete it: no more room/.test(e.message),
    );
  });

  it('retries 429 after retry-after-ms, then succeeds', async () => {
    state.throttled = 0;
    const r = await client().request('GET', '/throttle');
    assert.deepEqual(r.body, { ok: true });
    assert.equal(state.throttled, 3);
  });

  it('follows nextLink on its own endpoint only (the token never goes to another host), and stops on a loop', async () => {
    seen.length = 0;
    const items: number[] = [];
    for await (const x of client().list<number>('/pages')) items.push(x);
    assert.deepEqual(items, [1, 2, 3]);
    assert.ok(seen.every((s) => s.auth === 'Bearer t0k3n'));
    assert.equal(seen.length, 2);
    await assert.rejects(
      (async () => {
        for await (const _ of client().list('/loop')) void _;
      })(),
      ServiceError,
    );
  });

  it('adds api-version and maps error bodies to typed errors', async () => {
    seen.length = 0;
    await assert.rejects(
      client().request('GET', '/nothing', { what: 'get nothing' }),
      (e: unknown) =>
        e instanceof NotFoundError &&
        e.status === 404 &&
        e.code === 'NotFound' &&
        e.message === 'get nothing: no /nothing',
    );
    assert.match(seen[0]!.url, /api-version=2025-09-01/);
    await assert.rejects(
      client().request('GET', '/teapot'),
      (e: unknown) => e instanceof ServiceError && e.status === 418 && /HTTP 418/.test(e.message),
    );
  });

  it('errorFromResponse understands ARM, OAuth2 and MLflow bodies', () => {
    const arm = errorFromResponse(
      409,
      {
        error: {
          code: 'WorkspaceAlreadyExists',
          message: 'exists',
          target: 'name',
          details: [{ code: 'x', message: 'y' }],
        },
      },
      '',
      'req-1',
    );
    assert.ok(arm instanceof ConflictError);
    assert.deepEqual(
      [arm.code, arm.target, arm.details?.length, arm.requestId],
      ['WorkspaceAlreadyExists', 'name', 1, 'req-1'],
    );
    const oauth = errorFromResponse(400, { error: 'invalid_grant', error_description: 'wrong password' }, '');
    assert.ok(oauth instanceof AuthenticationError);
    assert.equal(oauth.code, 'invalid_grant');
    const mlflow = errorFromResponse(400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'bad' }, '');
    assert.ok(mlflow instanceof ValidationError);
    assert.ok(
      errorFromResponse(501, { error: { code: 'NotImplemented', message: 'later' } }, '') instanceof
        NotImplementedError,
    );
  });

  it('reads Retry-After in its three forms', () => {
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '2' })), 2000);
    assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '150' })), 150);
    assert.equal(retryAfterMs(new Headers({ 'x-ms-retry-after-ms': '5' })), 5);
    const soon = retryAfterMs(new Headers({ 'retry-after': new Date(Date.now() + 3000).toUTCString() }))!;
    assert.ok(soon > 1000 && soon <= 3000);
    assert.equal(retryAfterMs(new Headers()), undefined);
  });
});
