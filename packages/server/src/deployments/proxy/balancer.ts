import type { Pool } from 'undici';
import type { DeploymentRuntime, Upstream } from '../engines/engine.js';

/** A request as the proxy forwards it (the scoring route has read the body already). */
export interface ProxyRequest {
  method: string;
  /** Path below the endpoint prefix, with its query string: `/score`, `/v2/models/m/infer?x=1`. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Why the proxy answered itself; `status` is the HTTP status the scoring edge sends. */
export class ScoringError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface BalancerSettings {
  /** requestSettings.requestTimeout: 408 when an instance takes longer. */
  requestTimeoutMs: number;
  /** requestSettings.maxQueueWait: a request waits this long for a free instance, then 429. */
  maxQueueWaitMs: number;
  /** A request finding this many waiting already is refused at once (429). */
  maxQueueLength: number;
  /** How long an upstream whose connection failed stays out of rotation before the runtime's list is read again (250 ms). */
  suspendRecheckMs?: number;
}

interface Slot {
  origin: string;
  pathPrefix: string;
  /** Made once undici is loaded (on first use: a server that serves no deployment does not hold it). */
  pool: Promise<Pool>;
  concurrency: number;
  inflight: number;
  gone: boolean;
}

interface Waiter {
  resolve: (slot: Slot) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Headers that belong to one connection (RFC 9110 §7.6.1) or to the caller's credentials: never forwarded. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'authorization',
]);

export function forwardable(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * The balancing proxy of one deployment: spreads requests over its ready upstreams, at most
 * `concurrency` at a time on each (the least busy first), queues the rest for at most
 * `maxQueueWait`, and turns upstream failures into clear statuses: 408 (request timeout), 429
 * (queue full or waited too long), 502 (the instance died or closed the connection mid-request:
 * never a hanging request), 503 (no instance ready). One keep-alive connection pool (undici)
 * per upstream.
 */
export class DeploymentBalancer {
  private slots: Slot[] = [];
  private readonly waiting: Waiter[] = [];
  private next = 0;
  private closed = false;

  constructor(
    private readonly runtime: DeploymentRuntime,
    private readonly settings: BalancerSettings,
  ) {
    runtime.onChange(() => this.refresh());
    this.refresh();
  }

  /** Requests in flight and waiting (tests, drain on swap). */
  load(): { inflight: number; waiting: number } {
    return { inflight: this.slots.reduce((n, s) => n + s.inflight, 0), waiting: this.waiting.length };
  }

  private refresh(): void {
    const ready = new Map<string, Upstream>(this.runtime.ready().map((u) => [u.origin + (u.pathPrefix ?? ''), u]));
    const kept: Slot[] = [];
    for (const s of this.slots) {
      if (ready.has(s.origin + s.pathPrefix)) {
        kept.push(s);
        ready.delete(s.origin + s.pathPrefix);
      } else {
        s.gone = true;
        // In-flight requests on it finish (or fail with 502 if the process died); then it closes.
        void s.pool.then((p) => p.close()).catch(() => {});
      }
    }
    for (const u of ready.values()) {
      kept.push({
        origin: u.origin,
        pathPrefix: u.pathPrefix ?? '',
        concurrency: u.concurrency,
        inflight: 0,
        gone: false,
        pool: import('undici').then(
          ({ Pool }) =>
            new Pool(u.origin, {
              connections: u.concurrency,
              pipelining: 1,
              keepAliveTimeout: 30_000,
              headersTimeout: this.settings.requestTimeoutMs,
              bodyTimeout: this.settings.requestTimeoutMs,
            }),
        ),
      });
    }
    this.slots = kept;
    this.pump();
  }

  /** A free slot on the least busy ready upstream, round-robin among equals. */
  private pick(): Slot | undefined {
    let best: Slot | undefined;
    const n = this.slots.length;
    for (let i = 0; i < n; i++) {
      const s = this.slots[(this.next + i) % n]!;
      if (s.inflight >= s.concurrency) continue;
      if (!best || s.inflight < best.inflight) best = s;
    }
    if (best) {
      this.next = (this.slots.indexOf(best) + 1) % Math.max(n, 1);
      best.inflight++;
    }
    return best;
  }

  private pump(): void {
    while (this.waiting.length) {
      const slot = this.pick();
      if (!slot) return;
      const w = this.waiting.shift()!;
      clearTimeout(w.timer);
      w.resolve(slot);
    }
  }

  private acquire(): Promise<Slot> | Slot {
    if (this.closed) throw new ScoringError(503, 'ONLINE_DEPLOYMENT_NOT_READY', 'the deployment is being stopped');
    const slot = this.waiting.length ? undefined : this.pick();
    if (slot) return slot;
    if (this.waiting.length >= this.settings.maxQueueLength)
      throw new ScoringError(
        429,
        'SCORING_QUEUE_FULL',
        `too many requests: ${this.waiting.length} are waiting for this deployment's instances already; retry later or raise sku.capacity or requestSettings.maxConcurrentRequestsPerInstance`,
      );
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(
            this.slots.length
              ? new ScoringError(
                  429,
                  'SCORING_QUEUE_FULL',
                  `too many requests: every instance was busy for ${this.settings.maxQueueWaitMs} ms (requestSettings.maxQueueWait); retry later or raise sku.capacity`,
                )
              : new ScoringError(
                  503,
                  'ONLINE_DEPLOYMENT_NOT_READY',
                  `no instance of the deployment was ready within ${this.settings.maxQueueWaitMs} ms (an instance is restarting); retry`,
                ),
          );
        }, this.settings.maxQueueWaitMs),
      };
      this.waiting.push(w);
    });
  }

  /**
   * Takes an upstream whose connection failed out of rotation at once: its process may have died
   * and the runtime may not have noticed yet (the child's exit event can arrive after the refused
   * connection), so without this the next request could be sent to it too. The slot is dropped,
   * not kept: if the runtime still lists the upstream a moment later (the worker is alive and only
   * closed one connection), `refresh()` gives it a new slot; a restarted worker gets its own.
   */
  private suspend(slot: Slot): void {
    if (slot.gone) return;
    slot.gone = true;
    this.slots = this.slots.filter((s) => s !== slot);
    void slot.pool.then((p) => p.close()).catch(() => {});
    const t = setTimeout(() => {
      if (!this.closed) this.refresh();
    }, this.settings.suspendRecheckMs ?? 250);
    t.unref();
  }

  private release(slot: Slot): void {
    slot.inflight--;
    if (!slot.gone) this.pump();
  }

  async send(req: ProxyRequest): Promise<ProxyAnswer> {
    const got = this.acquire();
    const slot = got instanceof Promise ? await got : got;
    // The request timeout is a timer of our own: undici's headersTimeout is checked on a coarse clock.
    // A plain controller and timer, cleared on the answer: AbortSignal.timeout() costs tens of µs a
    // request in Node 20 (a weakly held timer per signal), which shows at 1,000 requests/s.
    const abort = new AbortController();
    const timeout = abort.signal;
    const timer = setTimeout(() => abort.abort(), this.settings.requestTimeoutMs);
    try {
      const res = await (
        await slot.pool
      ).request({
        path: slot.pathPrefix + req.path,
        method: req.method as 'POST',
        headers: req.headers,
        body: req.body && req.body.length ? req.body : undefined,
        signal: timeout,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined || HOP.has(k)) continue;
        headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      return { status: res.statusCode, headers, body };
    } catch (e) {
      const { errors: undiciErrors } = await import('undici');
      if (
        timeout.aborted ||
        e instanceof undiciErrors.HeadersTimeoutError ||
        e instanceof undiciErrors.BodyTimeoutError
      )
        throw new ScoringError(
          408,
          'SCORING_TIMEOUT',
          `the deployment did not answer within ${this.settings.requestTimeoutMs} ms (requestSettings.requestTimeout)`,
        );
      this.suspend(slot);
      throw new ScoringError(
        502,
        'SCORING_UPSTREAM_FAILED',
        `the instance serving this request failed before it answered (${(e as Error).message}); it is restarted — retry`,
      );
    } finally {
      clearTimeout(timer);
      this.release(slot);
    }
  }

  /** Refuses new requests, fails the waiting ones, and closes the pools once their requests end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ScoringError(503, 'ONLINE_DEPLOYMENT_NOT_READY', 'the deployment was stopped'));
    }
    await Promise.all(this.slots.map((s) => s.pool.then((p) => p.close()).catch(() => {})));
  }
}
