import type { Authentication } from '../auth/authentication.js';
import { MANAGEMENT_AUDIENCE } from '../auth/authentication.js';
import {
  AuthenticationError,
  errorFromResponse,
  OperationFailedError,
  ServiceError,
  type AtelierError,
} from '../errors.js';
import { fetchOrThrow, readBody } from './fetch.js';
import { host } from '../host.js';

/** The ARM api-version whose shapes the SDK speaks. */
export const API_VERSION = '2025-09-01';
export const SDK_VERSION = '0.1.0';

export interface ArmResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** Says what was being done, as a prefix of error messages ("get workspace 'x'"). */
  what?: string;
  headers?: Record<string, string>;
}

/** Progress of a long-running operation, for spinners and `showOutput`. */
export interface OperationProgress {
  /** `InProgress`, `Creating`, `Deleting`, `Succeeded`, … as the server says. */
  status: string;
  elapsedMs: number;
  polls: number;
}

export interface PollOptions {
  /** Called after each poll. */
  onProgress?: (p: OperationProgress) => void;
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number;
  what?: string;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Talks ARM-shaped REST to one Atelier server: adds the bearer token and api-version, turns
 * error bodies into typed errors, follows `nextLink`, and waits for long-running operations
 * (`Azure-AsyncOperation` / `Location` / `provisioningState`). URLs the server hands back are
 * only ever followed on the endpoint's own origin, so a token never leaves for another host.
 */
export class ArmClient {
  readonly apiVersion: string;
  constructor(
    readonly endpoint: string,
    readonly auth: Authentication,
    opts: { apiVersion?: string } = {},
  ) {
    this.apiVersion = opts.apiVersion ?? API_VERSION;
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
    this.local = host === 'localhost' || host === '::1' || /^127\./.test(host);
  }
  /** The server is on this machine (loopback): long-running operations are polled every 50–200 ms. */
  readonly local: boolean;

  /** An absolute URL for a path, or a server-given URL re-based on our endpoint. */
  url(pathOrUrl: string, query?: Record<string, string | undefined>): string {
    let u: URL;
    if (/^https?:\/\//i.test(pathOrUrl)) {
      const given = new URL(pathOrUrl);
      const base = new URL(this.endpoint);
      u = given.origin === base.origin ? given : new URL(`${given.pathname}${given.search}`, base.origin);
    } else {
      u = new URL(`${this.endpoint}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`);
    }
    if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, v);
    if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', this.apiVersion);
    return u.toString();
  }

  /** Sends one request; throws a typed error unless the status is 2xx. */
  async request<T = unknown>(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<ArmResponse<T>> {
    const url = this.url(pathOrUrl, opts.query);
    let refreshed = false;
    let token = await this.auth.getToken({ endpoint: this.endpoint, audience: MANAGEMENT_AUDIENCE });
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${token.token}`,
        accept: 'application/json',
        'x-ms-client-request-id': globalThis.crypto.randomUUID(),
        ...(opts.headers ?? {}),
      };
      const agent = host().userAgent(SDK_VERSION);
      if (agent && !opts.headers?.['user-agent']) headers['user-agent'] = agent;
      let payload: string | undefined;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetchOrThrow(url, { method, headers, body: payload });
      const { body, text } = await readBody(res);
      if (res.ok) return { status: res.status, headers: res.headers, body: body as T, text };
      // A refused token is renewed once (a refresh token, a callback); then the error stands.
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        try {
          const renewed = await this.auth.getToken({
            endpoint: this.endpoint,
            audience: MANAGEMENT_AUDIENCE,
            forceRefresh: true,
          });
          if (renewed.token !== token.token) {
            token = renewed;
            continue;
          }
        } catch (e) {
          if (e instanceof AuthenticationError) throw e;
          // a source that cannot refresh: report the server's answer below
        }
      }
      if ((res.status === 429 || res.status === 503) && attempt < 3) {
        await sleep(Math.min(retryAfterMs(res.headers) ?? 200 * 2 ** attempt, 30_000));
        continue;
      }
      throw errorFromResponse(res.status, body, text, res.headers.get('x-ms-request-id') ?? undefined, opts.what);
    }
  }

  /** Every item of an ARM list, following `nextLink` page after page. */
  async *list<T>(path: string, opts: RequestOptions = {}): AsyncGenerator<T> {
    let next: string | undefined = path;
    let first = true;
    const seen = new Set<string>();
    while (next) {
      const res: ArmResponse<{ value?: T[]; nextLink?: string | null }> = await this.request(
        'GET',
        next,
        first ? opts : { what: opts.what },
      );
      first = false;
      if (!res.body || !Array.isArray(res.body.value))
        throw new ServiceError(`${opts.what ?? 'list'}: the server answered without a 'value' array`, {
          status: res.status,
        });
      for (const item of res.body.value) yield item;
      next = res.body.nextLink || undefined;
      if (next) {
        if (seen.has(next))
          throw new ServiceError(`${opts.what ?? 'list'}: the server repeated a nextLink; stopping`, {
            status: res.status,
          });
        seen.add(next);
      }
    }
  }

  /**
   * Waits for the long-running operation that `initial` started and returns the final answer:
   * for PUT/PATCH the resource (GET `resourceUrl`), for POST the `Location` result if any, for
   * DELETE nothing. A `Failed`/`Canceled` operation throws OperationFailedError with its error.
   */
  async waitFor(
    initial: ArmResponse,
    method: string,
    resourceUrl: string,
    opts: PollOptions = {},
  ): Promise<ArmResponse | undefined> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const asyncOp = initial.headers.get('azure-asyncoperation');
    const location = initial.headers.get('location');
    let polls = 0;
    let delay = 50;
    const wait = async (h: Headers) => {
      if (Date.now() - started > timeoutMs)
        throw new OperationFailedError(
          `${opts.what ?? 'the operation'} did not finish within ${Math.round(timeoutMs / 1000)} s`,
          { code: 'OperationTimedOut' },
        );
      // Retry-After is honoured, except on a server of this machine, which is polled fast.
      const ms = retryAfterMs(h);
      await sleep(ms === undefined ? delay : this.local ? Math.min(ms, delay) : ms);
      delay = Math.min(delay * 2, 200);
    };
    const report = (status: string) => opts.onProgress?.({ status, elapsedMs: Date.now() - started, polls });
    const m = method.toUpperCase();

    const stateOf = (r: ArmResponse) =>
      (r.body as { properties?: { provisioningState?: string } } | undefined)?.properties?.provisioningState;
    if (!asyncOp && !location) {
      if ((m === 'PUT' || m === 'PATCH') && initial.status !== 204) {
        let current = initial;
        for (;;) {
          const state = stateOf(current);
          report(state ?? 'Succeeded');
          if (!state || TERMINAL.has(state.toLowerCase())) break;
          await wait(current.headers);
          polls++;
          current = await this.request('GET', resourceUrl, { what: opts.what });
        }
        const state = stateOf(current)?.toLowerCase();
        if (state === 'failed' || state === 'canceled' || state === 'cancelled') {
          throw new OperationFailedError(`${opts.what ?? 'the operation'} ended ${stateOf(current)}`, {
            code: `Provisioning${stateOf(current)}`,
          });
        }
        return current;
      }
      report('Succeeded');
      return m === 'DELETE' ? undefined : initial;
    }

    if (asyncOp) {
      let h = initial.headers;
      for (;;) {
        await wait(h);
        polls++;
        const r = await this.request<{
          status?: string;
          error?: { code?: string; message?: string; details?: unknown };
        }>('GET', asyncOp, { what: opts.what });
        h = r.headers;
        const status = r.body?.status ?? 'InProgress';
        report(status);
        if (!TERMINAL.has(status.toLowerCase())) continue;
        if (status.toLowerCase() !== 'succeeded') throw operationError(status, r.body?.error, opts.what);
        break;
      }
      if (m === 'DELETE') return undefined;
      if (m === 'POST') return location ? this.finalFromLocation(location, opts) : undefined;
      return this.request('GET', resourceUrl, { what: opts.what });
    }

    // Location only: poll it until it stops answering 202; its last answer is the result.
    let h = initial.headers;
    for (;;) {
      await wait(h);
      polls++;
      const r = await this.request('GET', location!, { what: opts.what });
      h = r.headers;
      if (r.status === 202) {
        report('InProgress');
        continue;
      }
      report('Succeeded');
      if (m === 'PUT' || m === 'PATCH') return this.request('GET', resourceUrl, { what: opts.what });
      return r.status === 204 || m === 'DELETE' ? undefined : r;
    }
  }

  private async finalFromLocation(location: string, opts: PollOptions): Promise<ArmResponse | undefined> {
    const r = await this.request('GET', location, { what: opts.what });
    return r.status === 204 ? undefined : r;
  }
}

function operationError(
  status: string,
  error: { code?: string; message?: string; details?: unknown } | undefined,
  what?: string,
): AtelierError {
  const msg = error?.message ?? `the operation ended ${status}`;
  const details = Array.isArray(error?.details)
    ? (error!.details as { code?: string; message?: string }[]).map((d) => ({
        code: String(d.code ?? ''),
        message: String(d.message ?? ''),
      }))
    : undefined;
  return new OperationFailedError(what ? `${what}: ${msg}` : msg, {
    code: error?.code ?? (status.toLowerCase() === 'failed' ? 'OperationFailed' : 'OperationCanceled'),
    details,
  });
}

/** `retry-after-ms`, `x-ms-retry-after-ms`, or `Retry-After` (seconds or an HTTP date), in ms. */
export function retryAfterMs(h: Headers): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = h.get(name);
    if (v && /^\d+$/.test(v.trim())) return Number(v.trim());
  }
  const ra = h.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.round(Number(ra.trim()) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
