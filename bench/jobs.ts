/**
 * Jobs bench (issue 9.8): submit → Running latency (p50 of 20 jobs; no environment to build, the
 * server's Python), the scheduling overhead of 200 queued trivial jobs (wall time per job from the
 * first submit to the last completion), and how soon a printed line is visible on the live log
 * stream (p50 over 40 lines; the job prints its clock, the client compares with its own).
 * Run: `npx tsx bench/jobs.ts [--postgres URL]` (SQLite by default). Goals: < 1 s, < 50 ms, < 300 ms.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../packages/server/src/index.js';
import { freshPostgres } from '../packages/server/src/testing/harness.js';

const V = 'api-version=2025-09-01';
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const pgIdx = args.indexOf('--postgres');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bench-jobs-'));
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  if (pgIdx >= 0) {
    const fresh = await freshPostgres(args[pgIdx + 1]!, 'atelier_bench');
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
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await req('PUT', `${W}/jobs/start_${i}?${V}`, job('sleep 0.3'));
      while (!['Running', 'Finalizing', 'Completed'].includes(await status(`start_${i}`)))
        await new Promise((r) => setTimeout(r, 2));
      toRunning.push(performance.now() - t0);
    }
    console.log(`submit → Running: p50 ${p50(toRunning).toFixed(0)} ms (20 jobs; goal < 1000 ms)`);

    // 2. 200 queued trivial jobs
    const t1 = performance.now();
    for (let i = 0; i < 200; i++) await req('PUT', `${W}/jobs/q_${i}?${V}`, job('true'));
    for (let i = 199; i >= 0; i--)
      while ((await status(`q_${i}`)) !== 'Completed') await new Promise((r) => setTimeout(r, 10));
    const each = (performance.now() - t1) / 200;
    console.log(`200 queued trivial jobs: ${each.toFixed(1)} ms per job, submit to completion (goal < 50 ms)`);

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
    console.log(
      `log line → visible on the live stream: p50 ${p50(lags).toFixed(0)} ms (${lags.length} lines; goal < 300 ms)`,
    );
  } finally {
    await server.close();
    if (dropDb) await dropDb();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
