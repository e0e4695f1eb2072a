/**
 * `npm run bench [-- options]`: starts Atelier (temp data dir, SQLite unless --postgres), optionally
 * an `mlflow server` (--compare mlflow) and/or any MLflow-compatible server (--target URL), runs the
 * same workloads against each from concurrent clients, and prints throughput, p50/p99 latency, the
 * ratio and the goals side by side. Servers run one at a time so they do not share the 2 cores.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { MlflowHttp } from './lib/mlflow-http.js';
import {
  WORK,
  ensureMlflowServer,
  externalTarget,
  startAtelier,
  startMlflow,
  type BenchTarget,
} from './lib/servers.js';
import { newestProfile, summarizeProfile } from './lib/profile.js';
import { cpuSampler, type CpuSplit } from './lib/cpu.js';
import { FULL, QUICK, WORKLOADS, type RunContext } from './lib/workloads.js';
import {
  formatControlPlane,
  formatReport,
  judgeGoals,
  targetReport,
  type BenchReport,
  type TargetReport,
} from './lib/report.js';

const HELP = `Usage: npm run bench -- [options]

Starts Atelier and runs the MLflow workloads against it (and against the servers named below).

  --quick              small sizes: a smoke test of the runner (seconds, not minutes)
  --compare mlflow     also run an \`mlflow server\` (SQLite, loopback, temp dir) from a virtual
                       environment in bench/.work (made on first use from bench/mlflow-server-requirements.txt)
  --target URL         also run against any MLflow-compatible tracking server at URL
  --token TOKEN        bearer token for --target (default: $MLFLOW_TRACKING_TOKEN)
  --no-atelier         do not start Atelier (use with --target or --compare)
  --postgres URL       run Atelier on PostgreSQL: a fresh database is made on that server and dropped after
  --only a,b,…         run only these workloads (${WORKLOADS.map((w) => w.name).join(', ')});
                       --only jobs: submit → Running, 200 queued trivial jobs (scheduling overhead), live log lag;
                       --only studio: the studio in Chromium (bench/studio.ts: runs page over 100,000 runs,
                       chart of 10 runs × 1,000,000 points, first-load JavaScript size)
  --concurrency N      clients of the request workloads (default 8; writers-16 always uses 16)
  --json FILE          also write the results as JSON
  --keep               keep the servers' temp data folders
  (each request workload also prints CPU µs per operation: server, PostgreSQL on this machine, client)
  --profile            record a CPU profile of Atelier (bench/.work/profiles) and print where it spent its time
  -h, --help           this text
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      compare: { type: 'string' },
      target: { type: 'string' },
      token: { type: 'string' },
      'no-atelier': { type: 'boolean', default: false },
      postgres: { type: 'string' },
      only: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.compare !== undefined && values.compare !== 'mlflow')
    throw new UsageError(`--compare takes 'mlflow', got '${values.compare}'`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    throw new UsageError(`--concurrency must be a whole number from 1 to 256, got '${values.concurrency}'`);
  if (values.postgres && !/^postgres(ql)?:\/\//.test(values.postgres))
    throw new UsageError('--postgres must be a postgres:// URL');
  if (values.target) {
    try {
      const u = new URL(values.target);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new UsageError(`--target must be an http(s) URL of an MLflow tracking server, got '${values.target}'`);
    }
  }
  // The studio's bench (Chromium) is its own: `--only studio`.
  if (values.only?.trim() === 'studio') {
    const { runStudioBench, formatStudio } = await import('./studio.js');
    log(`bench (${values.quick ? 'quick' : 'full'}): studio in Chromium`);
    const r = await runStudioBench({ quick: values.quick, log });
    log(formatStudio(r));
    if (values.json) fs.writeFileSync(values.json, JSON.stringify({ studio: r }, null, 2));
    return 0;
  }
  // The jobs' bench (queue, scheduler, runner, live logs) is its own: `--only jobs`.
  if (values.only?.trim() === 'jobs') {
    const { runJobsBench } = await import('./jobs.js');
    log(`bench (${values.quick ? 'quick' : 'full'}): jobs on this machine (SQLite)`);
    const r = await runJobsBench({ quick: values.quick, log });
    if (values.json) fs.writeFileSync(values.json, JSON.stringify({ jobs: r }, null, 2));
    return 0;
  }
  let defs = WORKLOADS;
  if (values.only) {
    const wanted = values.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = wanted.filter((w) => !WORKLOADS.some((d) => d.name === w));
    if (unknown.length)
      throw new UsageError(
        `unknown workload(s) ${unknown.join(', ')}; choose from ${WORKLOADS.map((w) => w.name).join(', ')}`,
      );
    // artifact-download needs the file artifact-upload leaves.
    if (wanted.includes('artifact-download') && !wanted.includes('artifact-upload')) wanted.push('artifact-upload');
    defs = WORKLOADS.filter((d) => wanted.includes(d.name));
  }
  const starters: { name: string; start: (home: string) => Promise<BenchTarget> }[] = [];
  const profileDir = values.profile
    ? path.join(WORK, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'))
    : undefined;
  if (!values['no-atelier'])
    starters.push({ name: 'Atelier', start: (home) => startAtelier({ home, postgres: values.postgres, profileDir }) });
  if (values.compare === 'mlflow') {
    const bin = ensureMlflowServer(log);
    starters.push({ name: 'MLflow', start: (home) => startMlflow(bin, home) });
  }
  if (values.target) {
    const target = externalTarget(values.target, values.token ?? process.env.MLFLOW_TRACKING_TOKEN);
    starters.push({ name: values.target, start: async () => target });
  }
  if (starters.length === 0)
    throw new UsageError('nothing to measure: --no-atelier needs --compare mlflow or --target URL');

  let sizes = values.quick ? QUICK : FULL;
  const started = Date.now();
  const targets: TargetReport[] = [];
  let failures = 0;
  log(
    `bench (${values.quick ? 'quick' : 'full'}): ${defs.length} workloads × ${starters.map((s) => s.name).join(', ')}; ${os.cpus().length} cores, node ${process.version}`,
  );
  for (const s of starters) {
    const home = fs.mkdtempSync(
      path.join(os.tmpdir(), `atelier-bench-${s.name.toLowerCase().replace(/[^a-z]/g, '')}-`),
    );
    log(`\n== ${s.name}`);
    let target: BenchTarget | undefined;
    let report: TargetReport;
    try {
      target = await s.start(home);
      report = targetReport(target);
      targets.push(report);
      log(
        `   tracking URI ${target.trackingUri}${target.coldStartMs !== undefined ? `; cold start ${Math.round(target.coldStartMs)} ms` : ''}`,
      );
      const http = new MlflowHttp(target.trackingUri, { token: target.token }, Math.max(concurrency, 16));
      try {
        const exp = await http.post<{ experiment_id: string }>('experiments/create', {
          name: `bench-${crypto.randomUUID()}`,
        });
        const note = (x: string) => process.stdout.write(`(${x}) `);
        const cpu = cpuSampler(target.pid, target.postmasterPid);
        const ctx: RunContext = { target, http, sizes, concurrency, experimentId: exp.experiment_id, note, cpu };
        for (const d of defs) {
          if (d.atelierOnly && target.name !== 'Atelier') continue;
          process.stdout.write(`   ${d.name} … `);
          try {
            const r = await d.run(ctx);
            report.results[d.name] = r;
            process.stdout.write(
              `${Math.round(r.units / r.seconds).toLocaleString('en-US')} ${d.unit}/s, p50 ${r.p50.toFixed(2)} ms${r.errors ? `, ${r.errors} errors (${r.firstError})` : ''}${formatCpu(r.cpuUsPerOp)}\n`,
            );
          } catch (e) {
            failures++;
            report.results[d.name] = { error: (e as Error).message };
            process.stdout.write(`FAILED: ${(e as Error).message}\n`);
          }
        }
      } finally {
        await http.close();
      }
      // Later servers search and read the same amount of data as the first one reached in its
      // set-up budget, so their numbers compare like with like.
      const searched = report.results['search-runs'];
      const history = report.results['get-history'] ?? report.results['bulk-interval'];
      if (searched && 'dataSize' in searched && searched.dataSize)
        sizes = { ...sizes, searchRuns: Math.min(sizes.searchRuns, searched.dataSize) };
      if (history && 'dataSize' in history && history.dataSize)
        sizes = { ...sizes, historyPoints: Math.min(sizes.historyPoints, history.dataSize) };
    } catch (e) {
      failures++;
      log(`   could not start or use ${s.name}: ${(e as Error).message}`);
      const why = `failed: ${(e as Error).message.split('\n')[0]}`;
      const existing = targets.find((t) => t.name === s.name);
      if (existing) existing.notes.push(why);
      else targets.push({ name: s.name, trackingUri: '', notes: [why], results: {} });
    } finally {
      await target?.stop();
      if (!values.keep) fs.rmSync(home, { recursive: true, force: true });
      else log(`   data kept in ${home}`);
    }
  }

  // The control-plane engineer's bench (workspace create → Succeeded, in detail), when present.
  let controlPlane: unknown;
  const cpFile = path.join(path.dirname(new URL(import.meta.url).pathname), 'control-plane.ts');
  if (!values['no-atelier'] && fs.existsSync(cpFile)) {
    process.stdout.write('\n== control plane (bench/control-plane.ts) … ');
    try {
      const mod = (await import(pathToFileURL(cpFile).href)) as {
        runControlPlaneBench?: (o: {
          iterations?: number;
          postgresUrl?: string;
          retryAfterSamples?: number;
        }) => Promise<Record<string, unknown>>;
      };
      if (!mod.runControlPlaneBench) throw new Error('bench/control-plane.ts exports no runControlPlaneBench');
      controlPlane = await mod.runControlPlaneBench({
        iterations: values.quick ? 3 : 20,
        postgresUrl: values.postgres,
        retryAfterSamples: values.quick ? 1 : 3,
      });
      process.stdout.write('done\n');
    } catch (e) {
      failures++;
      controlPlane = { error: (e as Error).message };
      process.stdout.write(`FAILED: ${(e as Error).message}\n`);
    }
  }

  const report: BenchReport = {
    mode: values.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: { cpus: os.cpus().length, node: process.version },
    targets,
    goals: judgeGoals(defs, targets),
    ...(controlPlane ? { controlPlane } : {}),
  };
  if (controlPlane) log(`\n${formatControlPlane(controlPlane)}`);
  log(
    `\n${formatReport(defs, report)}\n\n(total ${report.seconds.toFixed(0)} s; goals are judged on ${targets[0]?.name ?? '—'}${targets[1] ? ` against ${targets[1].name}` : ''})`,
  );
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2));
  const profile = profileDir && newestProfile(profileDir);
  if (profile) log(`\n${summarizeProfile(profile)}`);
  return failures ? 1 : 0;
}

class UsageError extends Error {}

/** "; CPU/op: server 310 µs, PostgreSQL 250 µs, client 90 µs" (where the machine shows it). */
function formatCpu(c: CpuSplit | undefined): string {
  if (!c) return '';
  const db = c.database !== undefined ? `, PostgreSQL ${c.database} µs` : '';
  return `; CPU/op: server ${c.server} µs${db}, client ${c.client} µs`;
}

function log(s: string): void {
  process.stdout.write(`${s}\n`);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(
      `bench: ${(e as Error).message}\n${e instanceof UsageError ? '(npm run bench -- --help lists the options)\n' : ''}`,
    );
    process.exit(2);
  },
);
