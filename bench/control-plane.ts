/**
 * Control-plane bench: workspace create → Succeeded, measured
 *  - server-side: from the operation's start to its end (the `operations` row's timestamps, ms);
 *  - as a client polling Azure-AsyncOperation every 10 ms (the server's own latency);
 *  - as an ARM client that honours `Retry-After: 1` (what Azure SDK pollers do).
 * The bench runner calls `runControlPlaneBench()`; `npx tsx bench/control-plane.ts [n] [--postgres URL]` prints it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startServer } from '../packages/server/src/index.js';
import { freshPostgres } from '../packages/server/src/testing/harness.js';

export interface ControlPlaneBenchResult {
  iterations: number;
  dialect: string;
  /** Operation start → Succeeded inside the server, ms. */
  serverSideMs: Stats;
  /** PUT sent → Succeeded seen, polling every 10 ms. */
  clientPollingMs: Stats;
  /** PUT sent → Succeeded seen, waiting Retry-After between polls. */
  clientRetryAfterMs: Stats;
  /** DELETE (with dependents) sent → Succeeded seen, polling every 10 ms. */
  deleteMs: Stats;
}
export interface Stats {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    p50: r(at(0.5)),
    p95: r(at(0.95)),
    max: r(s[s.length - 1]!),
  };
}

/**
 * `postgresUrl`: a PostgreSQL server where a database may be created; the bench makes a fresh one
 * and drops it after. Without it, SQLite in a temp folder.
 */
export async function runControlPlaneBench(
  opts: { iterations?: number; postgresUrl?: string; retryAfterSamples?: number } = {},
): Promise<ControlPlaneBenchResult> {
  const iterations = opts.iterations ?? 20;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bench-cp-'));
  const password = crypto.randomBytes(12).toString('hex');
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (opts.postgresUrl) {
    const fresh = await freshPostgres(opts.postgresUrl, 'atelier_bench');
    databaseUrl = fresh.url;
    dropDatabase = fresh.drop;
  }
  const server = await startServer(
    { port: 0, home, logLevel: 'silent', adminPassword: password, databaseUrl },
    {},
  ).catch(async (e) => {
    await dropDatabase?.();
    throw e;
  });
  try {
    const tok = await fetch(`${server.url}/common/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'admin',
        password,
        scope: 'https://management.azure.com/.default',
      }),
    });
    const token = ((await tok.json()) as { access_token: string }).access_token;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const sub = server.ctx.defaultSubscriptionId;
    const V = 'api-version=2025-09-01';
    const rg = `/subscriptions/${sub}/resourceGroups/bench`;
    await fetch(`${server.url}${rg}?${V}`, { method: 'PUT', headers, body: JSON.stringify({ location: 'local' }) });

    const waitFor = async (url: string, honourRetryAfter: boolean, retryAfter: number): Promise<void> => {
      let wait = honourRetryAfter ? retryAfter * 1000 : 10;
      for (;;) {
        await new Promise((r) => setTimeout(r, wait));
        const r = await fetch(url, { headers });
        const body = (await r.json()) as { status: string };
        if (body.status === 'Succeeded') return;
        if (body.status !== 'InProgress') throw new Error(`operation ended ${body.status}`);
        wait = honourRetryAfter ? Number(r.headers.get('retry-after') ?? '1') * 1000 : 10;
      }
    };
    const create = async (name: string, honourRetryAfter: boolean) => {
      const t0 = performance.now();
      const put = await fetch(
        `${server.url}${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}?${V}`,
        { method: 'PUT', headers, body: JSON.stringify({ location: 'local' }) },
      );
      if (put.status !== 201) throw new Error(`create answered ${put.status}: ${await put.text()}`);
      const url = put.headers.get('azure-asyncoperation')!;
      await waitFor(url, honourRetryAfter, Number(put.headers.get('retry-after') ?? '1'));
      const client = performance.now() - t0;
      const opId = url.split('/').pop()!.split('?')[0]!;
      const row = await server.ctx.db
        .selectFrom('operations')
        .select(['created_at', 'updated_at'])
        .where('id', '=', opId)
        .executeTakeFirstOrThrow();
      return { client, server: row.updated_at - row.created_at };
    };
    const remove = async (name: string) => {
      const t0 = performance.now();
      const del = await fetch(
        `${server.url}${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}?${V}&deleteDependentResources=true`,
        { method: 'DELETE', headers: { authorization: headers.authorization } },
      );
      if (del.status !== 202) throw new Error(`delete answered ${del.status}: ${await del.text()}`);
      await waitFor(del.headers.get('azure-asyncoperation')!, false, 1);
      return performance.now() - t0;
    };

    await remove((await create('warmup', false), 'warmup'));
    const serverSide: number[] = [];
    const polling: number[] = [];
    const deletes: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const m = await create(`bench-${i}`, false);
      serverSide.push(m.server);
      polling.push(m.client);
      deletes.push(await remove(`bench-${i}`));
    }
    const retryAfter: number[] = [];
    for (let i = 0; i < (opts.retryAfterSamples ?? 3); i++)
      retryAfter.push((await create(`bench-ra-${i}`, true)).client);
    return {
      iterations,
      dialect: server.ctx.database.dialect,
      serverSideMs: stats(serverSide),
      clientPollingMs: stats(polling),
      clientRetryAfterMs: stats(retryAfter),
      deleteMs: stats(deletes),
    };
  } finally {
    await server.close();
    await dropDatabase?.();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const args = process.argv.slice(2);
  const pgAt = args.indexOf('--postgres');
  const postgresUrl = pgAt >= 0 ? args[pgAt + 1] : undefined;
  const n = Number(args.find((a, i) => /^\d+$/.test(a) && (pgAt < 0 || i !== pgAt + 1)) ?? '20');
  runControlPlaneBench({ iterations: n, postgresUrl }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e) => {
      process.stderr.write(`control-plane bench failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
