/**
 * `npm run bench:deploy`: the deployment benchmarks of issue 12 on this machine.
 *
 * 1. deploy → ready: PUT a deployment of an MLflow model until its operation succeeds, once cold
 *    (the model's files fetched) and once more with everything cached (an update). Goal < 10 s.
 * 2. proxy overhead: the same request paced at a fixed rate (default 1,000/s) straight to a worker
 *    and through the scoring URI (key check, traffic split, balancer); overhead = the difference of
 *    the p50 latencies. Goal < 2 ms.
 *
 * The workers run ATELIER_TEST_PYTHON (else .ci/.venv/bin/python): a Python with mlflow and pandas.
 * Options: --rate N (requests/s), --seconds N (per phase).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startTestServer } from '../packages/server/src/testing/harness.js';
import { registerTestModels, waitOperation } from '../packages/server/src/testing/deploy-models.js';
import { makeWorkspace } from '../packages/server/test/mlflow-client/python.js';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '3' } },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const python = process.env.ATELIER_TEST_PYTHON ?? path.join(ROOT, '.ci', '.venv', 'bin', 'python');
if (!fs.existsSync(python)) {
  console.error(`no Python with mlflow at ${python}: set ATELIER_TEST_PYTHON (bash .ci/run makes .ci/.venv)`);
  process.exit(2);
}
const V = 'api-version=2025-09-01';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/**
 * Sends `RATE` requests a second for `SECONDS` (open loop) and returns each one's latency in ms;
 * requests go round-robin over `pools` (the workers directly, or the one scoring URI).
 */
async function paced(pools: Pool[], p: string, headers: Record<string, string>, body: string): Promise<number[]> {
  const total = Math.round(RATE * SECONDS);
  const lat: number[] = [];
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const t0 = performance.now();
        const r = await pools[i % pools.length]!.request({ path: p, method: 'POST', headers, body });
        await r.body.text();
        if (r.statusCode !== 200) throw new Error(`${p} answered ${r.statusCode}`);
        lat.push(performance.now() - t0);
      })(),
    );
  }
  await Promise.all(inflight);
  return lat;
}

const t = await startTestServer('sqlite', { servingPython: python });
try {
  const ws = await makeWorkspace(t, 'bench-deploy', 'bench-deploy');
  await registerTestModels(python, ws.trackingUri, t);
  const E = `${ws.armId}/onlineEndpoints/bench-ep`;
  const ep = await t.request('PUT', `${E}?${V}`, { location: 'local', properties: { authMode: 'Key' } });
  if (ep.status !== 201) throw new Error(ep.text);
  const body = {
    location: 'local',
    sku: { capacity: 2 },
    properties: { model: 'azureml:doubler:1', requestSettings: { maxConcurrentRequestsPerInstance: 8 } },
  };
  const times: number[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const put = await t.request('PUT', `${E}/deployments/blue?${V}`, body);
    const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 300_000);
    if (op.status !== 'Succeeded') throw new Error(JSON.stringify(op));
    times.push((performance.now() - t0) / 1000);
  }
  await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } });
  const key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey as string;
  const scoring = new URL(ep.body.properties.scoringUri as string);
  // Every worker, so the direct phase spreads its load as the proxy does.
  const origins = t.server.services.serving.runtimes
    .runtime(`${E}/deployments/blue`)!
    .ready()
    .map((u) => u.origin);

  const payload = JSON.stringify({ dataframe_records: [{ x: 1 }] });
  const json = { 'content-type': 'application/json' };
  const direct = origins.map((o) => new Pool(o, { connections: 8 }));
  const proxy = [new Pool(scoring.origin, { connections: 16 })];
  // Warm both paths, then measure each.
  await paced(direct, '/invocations', json, payload);
  const d = await paced(direct, '/invocations', json, payload);
  await paced(
    proxy,
    scoring.pathname.replace(/score$/, 'invocations'),
    { ...json, authorization: `Bearer ${key}` },
    payload,
  );
  const p = await paced(
    proxy,
    scoring.pathname.replace(/score$/, 'invocations'),
    { ...json, authorization: `Bearer ${key}` },
    payload,
  );
  await Promise.all([...direct, ...proxy].map((x) => x.close()));

  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(22)} p50 ${pct(xs, 50).toFixed(2)} ms   p99 ${pct(xs, 99).toFixed(2)} ms   (${xs.length} requests)`;
  console.log(
    `deploy → ready (2 instances): cold ${times[0]!.toFixed(1)} s, cached ${times[1]!.toFixed(1)} s   goal < 10 s`,
  );
  console.log(
    `scoring at ${RATE} requests/s for ${SECONDS} s (direct: round-robin over the ${origins.length} workers):`,
  );
  console.log(row('worker directly', d));
  console.log(row('through the proxy', p));
  console.log(`  proxy overhead p50 ${(pct(p, 50) - pct(d, 50)).toFixed(2)} ms   goal < 2 ms`);
} finally {
  await t.close();
}
