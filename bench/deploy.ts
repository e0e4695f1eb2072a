/**
 * `npm run bench:deploy`: the deployment benchmarks of issue 12 on this machine.
 *
 * 1. deploy → ready: PUT a deployment of an MLflow model until its operation succeeds, once cold
 *    (the model's files fetched) and once more with everything cached (an update). Goal < 10 s.
 * 2. proxy overhead at a fixed offered rate (default 1,000 requests/s): a deployment of a trivial
 *    scoring script (`run` echoes its input) on `--workers` instances (default 4), and a load
 *    generator in its own process (bench/lib/paired-load.ts) that sends, every 1/rate s, one request
 *    through the scoring URI (key check, traffic split, balancer) and half a period later the same
 *    request straight to a worker (round-robin). Both streams run at the rate at once, under the same
 *    load; overhead = p50(proxied) − p50(direct). Goal < 2 ms. On 2 cores the Python workers cannot
 *    answer both streams at 1,000/s each (2,000/s in all), so the bench also runs the phased design:
 *    the same rate straight to the workers only, then through the proxy only — each phase gives the
 *    workers `rate` requests/s — and overhead = p50(proxy phase) − p50(direct phase).
 *
 * The workers run ATELIER_TEST_PYTHON (else .ci/.venv/bin/python): a Python with mlflow and pandas.
 * Options: --rate N (requests/s per stream), --seconds N (measured phase), --workers N, --profile FILE
 * (a .cpuprofile of the server over the measured phase).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { startTestServer } from '../packages/server/src/testing/harness.js';
import { registerTestModels, waitOperation } from '../packages/server/src/testing/deploy-models.js';
import { uploadCode } from '../packages/server/src/testing/code-upload.js';
import { makeWorkspace } from '../packages/server/test/mlflow-client/python.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '4' },
    profile: { type: 'string' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const python = process.env.ATELIER_TEST_PYTHON ?? path.join(ROOT, '.ci', '.venv', 'bin', 'python');
if (!fs.existsSync(python)) {
  console.error(`no Python with mlflow at ${python}: set ATELIER_TEST_PYTHON (bash .ci/run makes .ci/.venv)`);
  process.exit(2);
}
const V = 'api-version=2025-09-01';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

interface LoadResult {
  proxied: number[];
  direct: number[];
  failed: string[];
  sendSeconds: number;
}

/** Runs the paired load generator in its own process (tsx, as this bench runs). */
function pairedLoad(job: object): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'paired-load.ts')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`the load generator exited with ${code}`)),
    );
    child.stdin.end(JSON.stringify(job));
  });
}

/** A scoring script that does nothing but answer: the proxy's cost is what remains to see. */
const ECHO_PY = `def init():
    pass

def run(raw_data):
    return raw_data
`;

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
  const key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey as string;
  const scoring = new URL(ep.body.properties.scoringUri as string);

  // The overhead phase: a trivial scoring script on WORKERS instances.
  const codeId = await uploadCode(t, ws.armId, 'echo', '1', { 'score.py': ECHO_PY });
  const echo = await t.request('PUT', `${E}/deployments/echo?${V}`, {
    location: 'local',
    sku: { capacity: WORKERS },
    properties: {
      codeConfiguration: { codeId, scoringScript: 'score.py' },
      requestSettings: { maxConcurrentRequestsPerInstance: 16, maxQueueWait: 'PT5S', requestTimeout: 'PT30S' },
    },
  });
  const echoOp = await waitOperation(t, echo.headers.get('azure-asyncoperation')!, 300_000);
  if (echoOp.status !== 'Succeeded') throw new Error(JSON.stringify(echoOp));
  await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { echo: 100 } } });
  await t.request('DELETE', `${E}/deployments/blue?${V}`); // its idle workers leave the cores to the measure
  const origins = t.server.services.serving.runtimes
    .runtime(`${E}/deployments/echo`)!
    .ready()
    .map((u) => u.origin);
  const job = (seconds: number, only?: 'proxied' | 'direct') => ({
    only,
    rate: RATE,
    seconds,
    body: JSON.stringify({ x: [1, 2, 3] }),
    proxied: {
      origin: scoring.origin,
      path: scoring.pathname,
      headers: { authorization: `Bearer ${key}` },
    },
    direct: origins.map((origin) => ({ origin, path: '/score' })),
  });
  await pairedLoad(job(1)); // warm both paths (connections, JIT)
  const load = os.loadavg();
  // The server runs in this process and the load generator in its own: this process's CPU time over
  // the measured phase is the proxy's (scoring route, key check, balancer), per proxied request a cost
  // that does not depend on how busy the machine's other processes keep the cores.
  // --profile FILE: a CPU profile of this process (the server) over the measured phase only.
  const session = values.profile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const r = await pairedLoad(job(SECONDS));
  const cpu = process.cpuUsage(cpu0);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(values.profile!, JSON.stringify(profile));
    session.disconnect();
  }
  const cpuPerRequestMs = (cpu.user + cpu.system) / 1000 / Math.max(1, r.proxied.length);
  // The phased design: each path alone at the rate, one after the other.
  await pairedLoad(job(1, 'direct'));
  const directOnly = (await pairedLoad(job(SECONDS, 'direct'))).direct;
  await pairedLoad(job(1, 'proxied'));
  const phase = await pairedLoad(job(SECONDS, 'proxied'));

  const row = (name: string, xs: number[]) =>
    `  ${name.padEnd(22)} p50 ${pct(xs, 50).toFixed(2)} ms   p90 ${pct(xs, 90).toFixed(2)} ms   p99 ${pct(xs, 99).toFixed(2)} ms   (${xs.length} answered)`;
  console.log(
    `deploy → ready (2 instances): cold ${times[0]!.toFixed(1)} s, cached ${times[1]!.toFixed(1)} s   goal < 10 s`,
  );
  console.log(
    `proxy overhead, paired: ${RATE} requests/s through the proxy and ${RATE}/s straight to the ${origins.length} workers at once, ${SECONDS} s (sent in ${r.sendSeconds.toFixed(2)} s), trivial scoring script; load average before ${load.map((x) => x.toFixed(1)).join(' ')}, ${os.cpus().length} cores:`,
  );
  console.log(row('worker directly', r.direct));
  console.log(row('through the proxy', r.proxied));
  if (r.failed.length) console.log(`  failed: ${r.failed.length} (${[...new Set(r.failed)].slice(0, 5).join(', ')})`);
  console.log(`  proxy overhead p50 ${(pct(r.proxied, 50) - pct(r.direct, 50)).toFixed(2)} ms   goal < 2 ms`);
  console.log(
    `proxy overhead, phased: ${RATE} requests/s straight to the workers for ${SECONDS} s, then ${RATE}/s through the proxy for ${SECONDS} s:`,
  );
  console.log(row('worker directly', directOnly));
  console.log(row('through the proxy', phase.proxied));
  if (phase.failed.length)
    console.log(`  failed: ${phase.failed.length} (${[...new Set(phase.failed)].slice(0, 5).join(', ')})`);
  console.log(`  proxy overhead p50 ${(pct(phase.proxied, 50) - pct(directOnly, 50)).toFixed(2)} ms   goal < 2 ms`);
  console.log(
    `  server CPU per proxied request ${cpuPerRequestMs.toFixed(3)} ms (${((cpuPerRequestMs * RATE) / 10).toFixed(0)} % of one core at ${RATE}/s)`,
  );
} finally {
  await t.close();
}
