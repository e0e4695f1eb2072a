import type { TestServer } from '../../testing/harness.js';
import { makeWorkspace, type TestWorkspace } from './testing.js';

export interface Reply {
  status: number;
  body: any;
  text: string;
}

/** Calls MLflow routes of one workspace: `call('POST', '/runs/create', {...})`. */
export interface TrackingClient {
  ws: TestWorkspace;
  call(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<Reply>;
  /** POST/GET that must succeed; returns the body. */
  ok(method: string, path: string, body?: unknown): Promise<any>;
  /** A call that must fail with this status and error_code. */
  fails(method: string, path: string, body: unknown, status: number, code: string, message?: RegExp): Promise<Reply>;
  createExperiment(name: string, tags?: { key: string; value: string }[]): Promise<string>;
  createRun(experimentId: string, extra?: Record<string, unknown>): Promise<string>;
}

export async function trackingClient(t: TestServer, ws?: TestWorkspace): Promise<TrackingClient> {
  const w = ws ?? (await makeWorkspace(t));
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<Reply> => {
    const r = await t.request(method, `${w.api}${path}`, body, opts);
    return { status: r.status, body: r.body, text: r.text };
  };
  const c: TrackingClient = {
    ws: w,
    call,
    async ok(method, path, body) {
      const r = await call(method, path, body);
      if (r.status !== 200) throw new Error(`${method} ${path} answered ${r.status}: ${r.text}`);
      return r.body;
    },
    async fails(method, path, body, status, code, message) {
      const r = await call(method, path, body);
      if (r.status !== status || r.body?.error_code !== code || (message && !message.test(r.body?.message ?? ''))) {
        throw new Error(
          `${method} ${path}: expected ${status} ${code}${message ? ` ${message}` : ''}, got ${r.status} ${r.text}`,
        );
      }
      return r;
    },
    async createExperiment(name, tags) {
      return (await c.ok('POST', '/experiments/create', { name, tags })).experiment_id;
    },
    async createRun(experimentId, extra = {}) {
      return (await c.ok('POST', '/runs/create', { experiment_id: experimentId, start_time: Date.now(), ...extra })).run
        .info.run_id;
    },
  };
  return c;
}
