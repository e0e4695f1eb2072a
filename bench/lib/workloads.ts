import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { runLoad, type LoadResult } from './load.js';
import type { CpuSampler } from './cpu.js';
import { MlflowHttp, proxyPathOf } from './mlflow-http.js';
import { measureRssGrowth, type BenchTarget } from './servers.js';

/** How big each workload is: the full run, or `--quick` (a smoke test of the runner). */
export interface Sizes {
  requests: number;
  requestMs: number;
  batch10: number;
  batch1000: number;
  searchRuns: number;
  searchQueries: number;
  historyPoints: number;
  historyReads: number;
  bulkReads: number;
  readMs: number;
  /** Budget of each workload's data set-up (runs to search, the long metric). */
  setupMs: number;
  /**
   * Atelier's budget for making the `searchRuns` runs to search (create-run + log-batch each), when
   * longer than `setupMs`: on a busy shared machine 100,000 runs can take longer than 120 s. The
   * report then says so (the note names both budgets); other servers keep `setupMs`.
   */
  atelierSearchSetupMs: number;
  artifactBytes: number;
  /** Unmeasured operations before each request workload. */
  warmup: number;
}

export const FULL: Sizes = {
  requests: 20_000,
  requestMs: 15_000,
  batch10: 10_000,
  batch1000: 1_000,
  searchRuns: 100_000,
  searchQueries: 300,
  historyPoints: 1_000_000,
  historyReads: 80,
  bulkReads: 300,
  readMs: 15_000,
  setupMs: 120_000,
  atelierSearchSetupMs: 300_000,
  artifactBytes: 1024 * 1024 * 1024,
  warmup: 200,
};

export const QUICK: Sizes = {
  requests: 200,
  requestMs: 10_000,
  batch10: 100,
  batch1000: 10,
  searchRuns: 300,
  searchQueries: 20,
  historyPoints: 20_000,
  historyReads: 4,
  bulkReads: 20,
  readMs: 10_000,
  setupMs: 60_000,
  atelierSearchSetupMs: 60_000,
  artifactBytes: 16 * 1024 * 1024,
  warmup: 16,
};

export interface WorkloadResult extends LoadResult {
  /** What one unit is: "runs", "points", "MB", … (throughput is units per second). */
  unit: string;
  /** Peak server RSS growth during the workload (artifacts), bytes. */
  rssGrowthBytes?: number;
  /** Facts about the data the workload ran on (e.g. "over 100,000 runs"). */
  note?: string;
  /** How much data the workload read: runs searched, points in the metric. */
  dataSize?: number;
  /** What `dataSize` counts ("runs", "points"), printed beside the ratio. */
  dataUnit?: string;
}

export interface WorkloadDef {
  name: string;
  unit: string;
  /** A route of Atelier's own (not MLflow's): other servers skip the workload. */
  atelierOnly?: boolean;
  /** What the issue asks for this workload (printed next to the results). */
  goal?: Goal;
  run(ctx: RunContext): Promise<WorkloadResult>;
}

export interface Goal {
  text: string;
  /** Checks Atelier's result; `other` is the comparison server's result when there is one. */
  met(atelier: WorkloadResult, other?: WorkloadResult): boolean | undefined;
}

export interface RunContext {
  target: BenchTarget;
  http: MlflowHttp;
  sizes: Sizes;
  concurrency: number;
  experimentId: string;
  /** Says something about the workload's data setup (printed on the workload's progress line). */
  note: (s: string) => void;
  /** Counts CPU per measured operation (server, PostgreSQL, client) where the machine shows it. */
  cpu?: CpuSampler;
}

const TEN_X: Goal = {
  text: '≥10× MLflow',
  met: (a, o) => (o && o.ops > 0 && a.ops > 0 ? a.units / a.seconds >= 10 * (o.units / o.seconds) : undefined),
};

const now = () => Date.now();

async function createRun(ctx: RunContext, name?: string): Promise<{ runId: string; artifactUri: string }> {
  const r = await ctx.http.post<{ run: { info: { run_id: string; artifact_uri: string } } }>('runs/create', {
    experiment_id: ctx.experimentId,
    start_time: now(),
    ...(name ? { run_name: name } : {}),
  });
  return { runId: r.run.info.run_id, artifactUri: r.run.info.artifact_uri };
}

async function runsPerWorker(ctx: RunContext, n: number, prefix: string): Promise<string[]> {
  const runs: string[] = [];
  for (let w = 0; w < n; w++) runs.push((await createRun(ctx, `${prefix}-${w}`)).runId);
  return runs;
}

function result(load: LoadResult, unit: string, extra: Partial<WorkloadResult> = {}): WorkloadResult {
  return { ...load, unit, ...extra };
}

export const WORKLOADS: WorkloadDef[] = [
  {
    name: 'create-run',
    unit: 'runs',
    goal: TEN_X,
    async run(ctx) {
      const load = await runLoad(
        {
          total: ctx.sizes.requests,
          concurrency: ctx.concurrency,
          maxMs: ctx.sizes.requestMs,
          warmup: ctx.sizes.warmup,
          cpu: ctx.cpu,
        },
        async () => {
          await ctx.http.post('runs/create', { experiment_id: ctx.experimentId, start_time: now() });
        },
      );
      return result(load, 'runs');
    },
  },
  {
    name: 'log-metric',
    unit: 'points',
    goal: TEN_X,
    async run(ctx) {
      const runs = await runsPerWorker(ctx, ctx.concurrency, 'log-metric');
      const load = await runLoad(
        {
          total: ctx.sizes.requests,
          concurrency: ctx.concurrency,
          maxMs: ctx.sizes.requestMs,
          warmup: ctx.sizes.warmup,
          cpu: ctx.cpu,
        },
        async (i, w) => {
          await ctx.http.post('runs/log-metric', {
            run_id: runs[w],
            key: 'loss',
            value: 1 / (i + 1),
            timestamp: now(),
            step: i,
          });
        },
      );
      return result(load, 'points');
    },
  },
  {
    name: 'log-batch-10',
    unit: 'points',
    goal: TEN_X,
    async run(ctx) {
      const runs = await runsPerWorker(ctx, ctx.concurrency, 'log-batch-10');
      const load = await runLoad(
        {
          total: ctx.sizes.batch10,
          concurrency: ctx.concurrency,
          maxMs: ctx.sizes.requestMs,
          warmup: ctx.sizes.warmup,
          cpu: ctx.cpu,
        },
        async (i, w) => {
          const ts = now();
          const metrics = Array.from({ length: 10 }, (_, j) => ({
            key: `m${j}`,
            value: Math.random(),
            timestamp: ts,
            step: i,
          }));
          await ctx.http.post('runs/log-batch', { run_id: runs[w], metrics });
          return 10;
        },
      );
      return result(load, 'points');
    },
  },
  {
    name: 'log-batch-1000',
    unit: 'points',
    goal: {
      text: '≥300,000 points/s; ≥10× MLflow',
      met: (a, o) => {
        const own = a.ops > 0 && a.units / a.seconds >= 300_000;
        const ten = TEN_X.met(a, o);
        return ten === undefined ? own : own && ten;
      },
    },
    async run(ctx) {
      const runs = await runsPerWorker(ctx, ctx.concurrency, 'log-batch-1000');
      const load = await runLoad(
        {
          total: ctx.sizes.batch1000,
          concurrency: ctx.concurrency,
          maxMs: ctx.sizes.requestMs,
          warmup: Math.min(ctx.sizes.warmup, 16),
          cpu: ctx.cpu,
        },
        async (i, w) => {
          const ts = now();
          // 100 keys × 10 steps: what a training loop flushing every 10 steps sends.
          const metrics = Array.from({ length: 1000 }, (_, j) => ({
            key: `k${j % 100}`,
            value: Math.random(),
            timestamp: ts,
            step: i * 10 + Math.floor(j / 100),
          }));
          await ctx.http.post('runs/log-batch', { run_id: runs[w], metrics });
          return 1000;
        },
      );
      return result(load, 'points');
    },
  },
  {
    name: 'log-params-tags',
    unit: 'requests',
    goal: TEN_X,
    async run(ctx) {
      const runs = await runsPerWorker(ctx, ctx.concurrency, 'params-tags');
      const load = await runLoad(
        {
          total: ctx.sizes.requests,
          concurrency: ctx.concurrency,
          maxMs: ctx.sizes.requestMs,
          warmup: ctx.sizes.warmup,
          cpu: ctx.cpu,
        },
        async (i, w) => {
          if (i % 2 === 0)
            await ctx.http.post('runs/log-parameter', { run_id: runs[w], key: `param_${i}`, value: `value-${i}` });
          else await ctx.http.post('runs/set-tag', { run_id: runs[w], key: `tag_${i}`, value: `value-${i}` });
        },
      );
      return result(load, 'requests');
    },
  },
  {
    name: 'writers-16',
    unit: 'points',
    goal: TEN_X,
    async run(ctx) {
      // 16 clients, each logging to its own run at once: the writers contend for the database.
      const runs = await runsPerWorker(ctx, 16, 'writer');
      const load = await runLoad(
        {
          total: ctx.sizes.requests,
          concurrency: 16,
          maxMs: ctx.sizes.requestMs,
          maxConsecutiveErrors: 1000,
          warmup: ctx.sizes.warmup,
          cpu: ctx.cpu,
        },
        async (i, w) => {
          await ctx.http.post('runs/log-metric', {
            run_id: runs[w],
            key: 'loss',
            value: Math.random(),
            timestamp: now(),
            step: i,
          });
        },
      );
      return result(load, 'points');
    },
  },
  {
    name: 'search-runs',
    unit: 'queries',
    goal: {
      text: 'p50 <20 ms; ≥10× MLflow',
      met: (a, o) => {
        const own = a.ops > 0 && a.p50 < 20;
        const ten = TEN_X.met(a, o);
        return ten === undefined ? own : own && ten;
      },
    },
    async run(ctx) {
      // Data: runs with one metric and one param each, as a client makes them (create-run, then
      // log-batch), until there are `searchRuns` or the set-up budget is spent.
      const exp = await ctx.http.post<{ experiment_id: string }>('experiments/create', {
        name: `bench-search-${crypto.randomUUID()}`,
      });
      const optimizers = ['adam', 'sgd', 'adamw', 'rmsprop', 'lion'];
      const budgetMs = searchSetupBudget(ctx);
      const setup = await runLoad({ total: ctx.sizes.searchRuns, concurrency: 16, maxMs: budgetMs }, async (i) => {
        const r = await ctx.http.post<{ run: { info: { run_id: string } } }>('runs/create', {
          experiment_id: exp.experiment_id,
          start_time: now(),
        });
        await ctx.http.post('runs/log-batch', {
          run_id: r.run.info.run_id,
          metrics: [{ key: 'accuracy', value: Math.random(), timestamp: now(), step: 0 }],
          params: [{ key: 'optimizer', value: optimizers[i % optimizers.length] }],
        });
      });
      if (setup.ops === 0) throw new Error(`could not create runs to search: ${setup.firstError}`);
      const budget = `set-up budget ${budgetMs / 1000} s${budgetMs > ctx.sizes.setupMs ? `, longer than the ${ctx.sizes.setupMs / 1000} s other servers get` : ''}`;
      ctx.note(
        `${setup.ops.toLocaleString('en-US')} runs made in ${setup.seconds.toFixed(1)} s, ${Math.round(setup.ops / setup.seconds).toLocaleString('en-US')} runs/s; ${budget}`,
      );
      let empty = 0;
      const load = await runLoad(
        { total: ctx.sizes.searchQueries, concurrency: 1, maxMs: ctx.sizes.readMs },
        async () => {
          const r = await ctx.http.post<{ runs?: { data: { metrics?: { key: string; value: number }[] } }[] }>(
            'runs/search',
            {
              experiment_ids: [exp.experiment_id],
              filter: "metrics.accuracy > 0.5 and params.optimizer = 'adam'",
              order_by: ['metrics.accuracy DESC'],
              max_results: 100,
            },
          );
          const runs = r.runs ?? [];
          if (runs.length === 0) empty++;
          const acc = runs.map((x) => x.data.metrics?.find((m) => m.key === 'accuracy')?.value ?? Number.NaN);
          for (let k = 1; k < acc.length; k++)
            if (!(acc[k - 1]! >= acc[k]!)) throw new Error('runs/search did not order by metrics.accuracy DESC');
        },
      );
      const made = `made in ${setup.seconds.toFixed(0)} s; ${budget}`;
      const note = `over ${setup.ops.toLocaleString('en-US')} runs (${setup.ops < ctx.sizes.searchRuns ? `set-up budget reached before the goal of ${ctx.sizes.searchRuns.toLocaleString('en-US')}, ` : ''}${made})${empty ? `; ${empty} empty answers` : ''}`;
      return result(load, 'queries', { note, dataSize: setup.ops, dataUnit: 'runs' });
    },
  },
  {
    name: 'get-history',
    unit: 'points',
    goal: TEN_X,
    async run(ctx) {
      const { runId, points } = await historyRun(ctx);
      let token: string | undefined;
      const load = await runLoad(
        { total: ctx.sizes.historyReads, concurrency: 1, maxMs: ctx.sizes.readMs },
        async () => {
          const r = await ctx.http.get<{ metrics?: unknown[]; next_page_token?: string }>('metrics/get-history', {
            run_id: runId,
            metric_key: 'curve',
            max_results: 25_000,
            ...(token ? { page_token: token } : {}),
          });
          token = r.next_page_token || undefined;
          return r.metrics?.length ?? 0;
        },
      );
      return result(load, 'points', {
        note: `pages of 25,000 of a ${points.toLocaleString('en-US')}-point metric`,
        dataSize: points,
        dataUnit: 'points',
      });
    },
  },
  {
    name: 'bulk-interval',
    unit: 'queries',
    goal: {
      text: 'p50 <50 ms; ≥10× MLflow',
      met: (a, o) => {
        const own = a.ops > 0 && a.p50 < 50;
        const ten = TEN_X.met(a, o);
        return ten === undefined ? own : own && ten;
      },
    },
    async run(ctx) {
      const { runId, points } = await historyRun(ctx);
      const load = await runLoad({ total: ctx.sizes.bulkReads, concurrency: 1, maxMs: ctx.sizes.readMs }, async (i) => {
        // Alternate the whole range with a zoomed-in window, as a chart does.
        const window =
          i % 2 === 1
            ? (() => {
                const start = Math.floor(Math.random() * points * 0.9);
                return { start_step: start, end_step: start + Math.floor(points / 10) };
              })()
            : {};
        const r = await ctx.http.get<{ metrics?: unknown[] }>('metrics/get-history-bulk-interval', {
          run_ids: [runId],
          metric_key: 'curve',
          max_results: 320,
          ...window,
        });
        if (!r.metrics?.length) throw new Error('get-history-bulk-interval returned no points');
      });
      return result(load, 'queries', {
        note: `320 sampled points of a ${points.toLocaleString('en-US')}-point metric`,
        dataSize: points,
        dataUnit: 'points',
      });
    },
  },
  {
    name: 'metric-buckets',
    unit: 'queries',
    atelierOnly: true,
    goal: {
      text: 'p99 <200 ms (a zoom re-bucketed)',
      met: (a) => a.ops > 0 && a.p99 < 200,
    },
    async run(ctx) {
      const { runId, points } = await historyRun(ctx);
      const load = await runLoad({ total: ctx.sizes.bulkReads, concurrency: 1, maxMs: ctx.sizes.readMs }, async (i) => {
        // A chart: the whole series, then zooms of a tenth and a hundredth at random places.
        const span = i % 3 === 0 ? points : Math.floor(points / (i % 3 === 1 ? 10 : 100));
        const start = span === points ? 0 : Math.floor(Math.random() * (points - span));
        const r = await ctx.http.get<{ buckets?: unknown[] }>('metrics/get-history-buckets', {
          run_id: runId,
          metric_key: 'curve',
          buckets: 1000,
          min_step: start,
          max_step: start + span - 1,
        });
        const n = r.buckets?.length ?? 0;
        if (n < Math.min(1000, span)) throw new Error(`get-history-buckets returned ${n} buckets`);
      });
      return result(load, 'queries', {
        note: `1,000 buckets of a ${points.toLocaleString('en-US')}-point metric: whole range, 1/10 and 1/100 zooms`,
        dataSize: points,
        dataUnit: 'points',
      });
    },
  },
  {
    name: 'artifact-upload',
    unit: 'MB',
    goal: { text: '≥300 MB/s, RSS growth <64 MB', met: (a) => artifactGoal(a) },
    async run(ctx) {
      const art = await artifactRun(ctx);
      const size = ctx.sizes.artifactBytes;
      const { value: load, growthBytes } = await measureRssGrowth(ctx.target.pid, () =>
        runLoad({ total: 1, concurrency: 1, maxMs: 600_000, maxConsecutiveErrors: 1 }, async () => {
          await ctx.http.upload(art.path, generated(size, art.seed), size);
          return size / 1e6;
        }),
      );
      return result(load, 'MB', { rssGrowthBytes: growthBytes, note: `${formatBytes(size)} file, streamed` });
    },
  },
  {
    name: 'artifact-download',
    unit: 'MB',
    goal: { text: '≥300 MB/s, RSS growth <64 MB', met: (a) => artifactGoal(a) },
    async run(ctx) {
      const art = lastArtifact.get(ctx.target);
      if (!art) throw new Error('artifact-upload did not run or failed: nothing to download');
      const size = ctx.sizes.artifactBytes;
      const { value: load, growthBytes } = await measureRssGrowth(ctx.target.pid, () =>
        runLoad({ total: 1, concurrency: 1, maxMs: 600_000, maxConsecutiveErrors: 1 }, async () => {
          // Check every byte against what was sent (cheap: the generator is a counter, see below).
          let offset = 0;
          const n = await ctx.http.download(art.path, (chunk) => {
            verifyChunk(chunk, offset, art.seed);
            offset += chunk.length;
          });
          if (n !== size) throw new Error(`downloaded ${n} bytes, uploaded ${size}`);
          return size / 1e6;
        }),
      );
      return result(load, 'MB', {
        rssGrowthBytes: growthBytes,
        note: `${formatBytes(size)} file, streamed, bytes verified`,
      });
    },
  },
];

/** How long the search-runs set-up may take on this target (see `Sizes.atelierSearchSetupMs`). */
export function searchSetupBudget(ctx: Pick<RunContext, 'target' | 'sizes'>): number {
  return ctx.target.name === 'Atelier'
    ? Math.max(ctx.sizes.setupMs, ctx.sizes.atelierSearchSetupMs)
    : ctx.sizes.setupMs;
}

function artifactGoal(a: WorkloadResult): boolean | undefined {
  if (a.ops === 0) return false;
  const fast = a.units / a.seconds >= 300;
  return a.rssGrowthBytes === undefined ? fast : fast && a.rssGrowthBytes < 64 * 1024 * 1024;
}

// --- shared data of the read workloads --------------------------------------------------------

const historyRuns = new WeakMap<BenchTarget, Promise<{ runId: string; points: number }>>();

/** One run with the metric `curve` of `historyPoints` points (made once per target, by log-batch of 1000). */
function historyRun(ctx: RunContext): Promise<{ runId: string; points: number }> {
  let p = historyRuns.get(ctx.target);
  if (!p) {
    p = (async () => {
      const { runId } = await createRun(ctx, 'history');
      const batches = Math.ceil(ctx.sizes.historyPoints / 1000);
      const setup = await runLoad(
        { total: batches, concurrency: 4, maxMs: ctx.sizes.setupMs, maxConsecutiveErrors: 3 },
        async (b) => {
          const ts = now();
          const metrics = Array.from({ length: 1000 }, (_, j) => {
            const step = b * 1000 + j;
            return { key: 'curve', value: Math.exp(-step / 200_000) + 0.01 * Math.sin(step), timestamp: ts, step };
          });
          await ctx.http.post('runs/log-batch', { run_id: runId, metrics });
          return 1000;
        },
      );
      if (setup.ops === 0) throw new Error(`could not log the history: ${setup.firstError}`);
      ctx.note(`${setup.units.toLocaleString('en-US')} points logged in ${setup.seconds.toFixed(1)} s`);
      return { runId, points: setup.units };
    })();
    historyRuns.set(ctx.target, p);
  }
  return p;
}

const lastArtifact = new WeakMap<BenchTarget, { path: string; seed: number }>();

async function artifactRun(ctx: RunContext): Promise<{ path: string; seed: number }> {
  const run = await createRun(ctx, 'artifacts');
  const a = { path: `${proxyPathOf(run.artifactUri)}/bench-data.bin`, seed: crypto.randomInt(1, 2 ** 31) };
  lastArtifact.set(ctx.target, a);
  return a;
}

const CHUNK = 1024 * 1024;

/**
 * The test file's content, made on the fly: each 8-byte word is seed + its word index, so any byte
 * can be checked on download without keeping the file. Nothing is held in memory but one chunk.
 */
function generated(size: number, seed: number): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, size - offset);
      this.push(fill(offset, n, seed));
      offset += n;
    },
  });
}

function fill(offset: number, n: number, seed: number): Buffer {
  // Offsets are multiples of CHUNK (a multiple of 8), so words align; x86/ARM are little-endian.
  const words = new Float64Array(Math.ceil(n / 8));
  const first = seed + offset / 8;
  for (let w = 0; w < words.length; w++) words[w] = first + w;
  const buf = Buffer.from(words.buffer);
  return n === buf.length ? buf : buf.subarray(0, n);
}

function verifyChunk(chunk: Buffer, offset: number, seed: number): void {
  // Compare one word in every 4 KiB (and the chunk's first and last whole words): finds shifted,
  // truncated, reordered or foreign data without slowing the download measurably.
  const check = (pos: number) => {
    const abs = offset + pos;
    const aligned = abs - (abs % 8);
    const local = aligned - offset;
    if (local < 0 || local + 8 > chunk.length) return;
    const want = seed + aligned / 8;
    const got = chunk.readDoubleLE(local); // written as native (little-endian) doubles
    if (got !== want) throw new Error(`downloaded data differs from the upload at byte ${aligned}`);
  };
  for (let pos = 0; pos < chunk.length; pos += 4096) check(pos + 8);
  check(chunk.length - 16);
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 ? 1 : 0)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(0)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}
