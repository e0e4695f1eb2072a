/**
 * Jobs bench (issue 9.8; `npm run bench -- --only jobs [--quick]`, or `npx tsx bench/jobs.ts
 * [--quick] [--postgres URL]`), against an Atelier on SQLite (or PostgreSQL):
 * - submit → Running latency (p50 of 20 jobs; no environment to build, the server's Python; goal < 1 s);
 * - 200 queued trivial jobs (`true`): wall time per job from the first submit to the last completion
 *   (goal < 50 ms), and the scheduling overhead apart from process start-up — per queued job, from the
 *   moment a slot freed (the previous job's recorded end) to its recorded start;
 * - how soon a printed line is visible on the live log stream (p50 over 40 lines; the job prints its
 *   clock, the client compares with its own; goal < 300 ms);
 * - an environment of 5 pip packages (full run only; needs uv or python3 -m venv and PyPI): its first
 *   build into this fresh data root (uv's own download cache may be warm), then its reuse (goal: built
 *   once, then reused).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../packages/server/src/index.js';
import { resolveWorkspace } from '../packages/server/src/resources/workspaces.js';
import { freshPostgres } from '../packages/server/src/testing/harness.js';

const V = 'api-version=2025-09-01';
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface JobsBenchResult {
  toRunningP50Ms: number;
  queuedJobs: number;
  perJobMs: number;
  dispatchP50Ms: number;
  dispatchP99Ms: number;
  streamP50Ms: number;
  /** The 5-package environment: first build and reuse (absent in --quick). */
  envFirstBuildMs?: number;
  envReuseMs?: number;
}

export async function runJobsBench(opts: {
  quick?: boolean;
  postgres?: string;
  log?: (line: string) => void;
}): Promise<JobsBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const starts = opts.quick ? 5 : 20;
  const queuedJobs = opts.quick ? 40 : 200;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bench-jobs-'));
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  if (opts.postgres) {
    const fresh = await freshPostgres(opts.postgres, 'atelier_bench');
    databaseUrl = fresh.url;
    dropDb = fresh.drop;
  }
  const server = await startServer(
    { home, port: 0, logLevel: 'silent', adminPassword: 'bench-password-123', ...(databaseUrl ? { databaseUrl } : {}) },
    {},
  );
  try {
    const tok = await fetch(`${server.url}/common/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: 'bench-password-123' }),
    });
    const token = ((await tok.json()) as { access_token: string }).access_token;
    const req = async (method: string, url: string, body?: unknown) => {
      const r = await fetch(`${server.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      if (r.status >= 400) throw new Error(`${method} ${url}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const G = `/subscriptions/${server.ctx.defaultSubscriptionId}/resourceGroups/bench-rg`;
    const W = `${G}/providers/Microsoft.MachineLearningServices/workspaces/bench-ws`;
    await req('PUT', `${G}?${V}`, { location: 'local' });
    await req('PUT', `${W}?${V}`, { location: 'local' });
    for (;;) {
      const w = await req('GET', `${W}?${V}`);
      if (w.properties.provisioningState === 'Succeeded') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const job = (command: string) => ({ properties: { jobType: 'Command', command } });
    const status = async (name: string) => (await req('GET', `${W}/jobs/${name}?${V}`)).properties.status as string;

    // 1. submit → Running
    const toRunning: number[] = [];
    for (let i = 0; i < starts; i++) {
      const t0 = performance.now();
      await req('PUT', `${W}/jobs/start_${i}?${V}`, job('sleep 0.3'));
      while (!['Running', 'Finalizing', 'Completed'].includes(await status(`start_${i}`)))
        await new Promise((r) => setTimeout(r, 2));
      toRunning.push(performance.now() - t0);
    }
    log(`   submit → Running: p50 ${p50(toRunning).toFixed(0)} ms (${starts} jobs; goal < 1000 ms)`);

    // 2. queued trivial jobs
    const t1 = performance.now();
    for (let i = 0; i < queuedJobs; i++) await req('PUT', `${W}/jobs/q_${i}?${V}`, job('true'));
    for (let i = queuedJobs - 1; i >= 0; i--)
      while ((await status(`q_${i}`)) !== 'Completed') await new Promise((r) => setTimeout(r, 10));
    const each = (performance.now() - t1) / queuedJobs;
    // Scheduling overhead apart from the processes: for each job that had to wait, the time from the
    // slot it took freeing (the latest end recorded before its start) to its recorded start.
    const rows = await server.ctx.db
      .selectFrom('jobs')
      .select(['name', 'start_time', 'end_time'])
      .where('name', 'like', 'q_%')
      .execute();
    const ends = rows.map((r) => Number(r.end_time)).sort((a, b) => a - b);
    const dispatch: number[] = [];
    for (const r of rows) {
      const start = Number(r.start_time);
      let freed = -Infinity;
      for (const e of ends) if (e <= start) freed = e;
      if (freed > -Infinity && start - freed < 60_000) dispatch.push(start - freed);
    }
    const sorted = [...dispatch].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? NaN;
    log(
      `   ${queuedJobs} queued trivial jobs: ${each.toFixed(1)} ms per job, submit to completion (goal < 50 ms); slot freed → next job started p50 ${p50(dispatch).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (${dispatch.length} jobs)`,
    );

    // 3. log line → visible on the stream
    await req(
      'PUT',
      `${W}/jobs/logger?${V}`,
      job(`python3 -c 'import time
for _ in range(40):
    print(int(time.time() * 1000), flush=True); time.sleep(0.05)'`),
    );
    const res = await fetch(`${server.url}${W}/jobs/logger/logs/stream`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const lags: number[] = [];
    let buf = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m = /^event: line\ndata: (.*)$/m.exec(ev);
        if (m) {
          const printed = Number((JSON.parse(m[1]!) as { line: string }).line);
          if (Number.isFinite(printed)) lags.push(Date.now() - printed);
        }
      }
    }
    log(
      `   log line → visible on the live stream: p50 ${p50(lags).toFixed(0)} ms (${lags.length} lines; goal < 300 ms)`,
    );
    // 4. A 5-package environment: built once, then reused (full run only: it downloads from PyPI).
    let env: { first: number; reuse: number } | undefined;
    if (!opts.quick) {
      const requirements = ['six==1.17.0', 'idna==3.10', 'packaging==24.2', 'attrs==24.3.0', 'tomli==2.2.1'];
      await req('PUT', `${W}/environments/bench-env/versions/1?${V}`, {
        properties: { image: 'python:3.11-slim', pipRequirements: requirements.join('\n') + '\n' },
      });
      const ws = await resolveWorkspace(server.ctx, server.ctx.defaultSubscriptionId, 'bench-rg', 'bench-ws');
      const builds = server.services.environmentBuilds;
      let t0 = performance.now();
      await builds.ensure(ws, 'bench-env:1');
      const first = performance.now() - t0;
      t0 = performance.now();
      await builds.ensure(ws, 'bench-env:1');
      env = { first, reuse: performance.now() - t0 };
      log(
        `   5-package environment: first build ${(env.first / 1000).toFixed(2)} s, reuse ${env.reuse.toFixed(2)} ms (goal: built once, then reused)`,
      );
    }
    return {
      ...(env ? { envFirstBuildMs: env.first, envReuseMs: env.reuse } : {}),
      toRunningP50Ms: p50(toRunning),
      queuedJobs,
      perJobMs: each,
      dispatchP50Ms: p50(dispatch),
      dispatchP99Ms: p99,
      streamP50Ms: p50(lags),
    };
  } finally {
    await server.close();
    if (dropDb) await dropDb();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

// Run directly: `npx tsx bench/jobs.ts [--quick] [--postgres URL]`.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const args = process.argv.slice(2);
  const pgIdx = args.indexOf('--postgres');
  void runJobsBench({ quick: args.includes('--quick'), postgres: pgIdx >= 0 ? args[pgIdx + 1] : undefined }).catch(
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
