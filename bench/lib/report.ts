import type { BenchTarget } from './servers.js';
import { formatBytes, type WorkloadDef, type WorkloadResult } from './workloads.js';

export interface TargetReport {
  name: string;
  trackingUri: string;
  notes: string[];
  coldStartMs?: number;
  idleRssBytes?: number;
  workspaceCreateMs?: number;
  /** Workload name → result, or the error that stopped it. */
  results: Record<string, WorkloadResult | { error: string }>;
}

export interface BenchReport {
  mode: 'full' | 'quick';
  startedAt: string;
  seconds: number;
  machine: { cpus: number; node: string };
  targets: TargetReport[];
  goals: Record<string, { text: string; met?: boolean }>;
  /** bench/control-plane.ts's result, when that bench exists. */
  controlPlane?: unknown;
}

export function targetReport(t: BenchTarget): TargetReport {
  return {
    name: t.name,
    trackingUri: t.trackingUri,
    notes: t.notes,
    coldStartMs: t.coldStartMs,
    idleRssBytes: t.idleRssBytes,
    workspaceCreateMs: t.workspaceCreateMs,
    results: {},
  };
}

const isResult = (r: WorkloadResult | { error: string } | undefined): r is WorkloadResult => !!r && !('error' in r);

export function throughput(r: WorkloadResult): number {
  return r.seconds > 0 ? r.units / r.seconds : 0;
}

/** Decides each goal on the first target (Atelier) against the second (the comparison), if any. */
export function judgeGoals(defs: WorkloadDef[], targets: TargetReport[]): BenchReport['goals'] {
  const goals: BenchReport['goals'] = {};
  const [mine, other] = targets;
  for (const d of defs) {
    if (!d.goal || !mine) continue;
    const a = mine.results[d.name];
    const o = other?.results[d.name];
    goals[d.name] = { text: d.goal.text, met: isResult(a) ? d.goal.met(a, isResult(o) ? o : undefined) : false };
  }
  return goals;
}

function num(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

/**
 * The ratio of two servers' throughput, with the data sizes beside it when the workload reads a data
 * set (runs searched, points in a metric): "33× (100,000 vs 4,748 runs)" says that the two numbers
 * were not measured on the same data, "27× (both 20,000 points)" that they were.
 */
export function ratioCell(
  a: WorkloadResult | { error: string } | undefined,
  o: WorkloadResult | { error: string } | undefined,
): string {
  if (!isResult(a) || !isResult(o) || throughput(o) <= 0) return '—';
  const ratio = `${num(throughput(a) / throughput(o))}×`;
  if (a.dataSize === undefined || o.dataSize === undefined) return ratio;
  const unit = a.dataUnit ?? o.dataUnit ?? 'items';
  const size = (n: number) => n.toLocaleString('en-US');
  return a.dataSize === o.dataSize
    ? `${ratio} (both ${size(a.dataSize)} ${unit})`
    : `${ratio} (${size(a.dataSize)} vs ${size(o.dataSize)} ${unit})`;
}

/** The side-by-side table, then per-server facts and notes. */
export function formatReport(defs: WorkloadDef[], report: BenchReport): string {
  const out: string[] = [];
  const t = report.targets;
  const cols = ['workload', 'unit/s', 'conc'];
  for (const x of t) cols.push(`${short(x.name)} /s`, 'p50 ms', 'p99 ms', 'err');
  if (t.length > 1) cols.push('ratio');
  cols.push('goal', 'met');
  const rows: string[][] = [cols];
  for (const d of defs) {
    const first = t.map((x) => x.results[d.name]).find(isResult);
    if (!t.some((x) => x.results[d.name])) continue;
    const row = [d.name, d.unit, String(first?.concurrency ?? '')];
    for (const x of t) {
      const r = x.results[d.name];
      if (isResult(r)) row.push(num(throughput(r)), num(r.p50), num(r.p99), String(r.errors));
      else row.push(r ? 'failed' : 'skipped', '', '', '');
    }
    if (t.length > 1) row.push(ratioCell(t[0]!.results[d.name], t[1]!.results[d.name]));
    const g = report.goals[d.name];
    row.push(g?.text ?? '', g ? (g.met === undefined ? '?' : g.met ? 'yes' : 'NO') : '');
    rows.push(row);
  }
  const widths = cols.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (i: number) => i >= 2 && i < cols.length - 2;
  for (const [k, r] of rows.entries()) {
    out.push(
      r
        .map((c, i) => pad(c, widths[i]!, numeric(i)))
        .join('  ')
        .trimEnd(),
    );
    if (k === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  out.push('');
  const unequal =
    t.length > 1 && defs.some((d) => / vs /.test(ratioCell(t[0]!.results[d.name], t[1]!.results[d.name])));
  if (unequal) out.push('(a ratio with "A vs B" beside it compares different data sizes: not like for like)', '');
  for (const x of t) {
    const facts: string[] = [];
    if (x.coldStartMs !== undefined) facts.push(`cold start ${Math.round(x.coldStartMs)} ms (spawn → /health 200)`);
    if (x.idleRssBytes !== undefined) facts.push(`idle RSS ${formatBytes(x.idleRssBytes)}`);
    if (x.workspaceCreateMs !== undefined) facts.push(`workspace create → Succeeded ${num(x.workspaceCreateMs)} ms`);
    out.push(`${x.name} [${x.notes.join(', ')}]${facts.length ? `: ${facts.join('; ')}` : ''}`);
    for (const d of defs) {
      const r = x.results[d.name];
      if (!r) continue;
      const bits: string[] = [];
      if (!isResult(r)) bits.push(`FAILED: ${r.error}`);
      else {
        if (r.note) bits.push(r.note);
        if (r.rssGrowthBytes !== undefined)
          bits.push(`server peak RSS growth ${(r.rssGrowthBytes / 1e6).toFixed(1)} MB`);
        bits.push(
          `${r.ops.toLocaleString('en-US')} requests in ${r.seconds.toFixed(1)} s${r.timeLimited ? ' (time limit)' : ''}`,
        );
        if (r.errors) bits.push(`${r.errors} errors, first: ${r.firstError}`);
      }
      out.push(`  ${d.name}: ${bits.join('; ')}`);
    }
  }
  return out.join('\n');
}

function short(name: string): string {
  return name.length > 20 ? `${name.slice(0, 19)}…` : name;
}

/** bench/control-plane.ts's statistics (objects with p50/p95/max), one line each. */
export function formatControlPlane(result: unknown): string {
  const r = result as Record<string, unknown>;
  if (typeof r.error === 'string') return `control plane: FAILED: ${r.error}`;
  const lines = [
    `control plane (bench/control-plane.ts; ${String(r.iterations ?? '?')} workspaces, ${String(r.dialect ?? '?')}):`,
  ];
  for (const [k, v] of Object.entries(r)) {
    if (v && typeof v === 'object' && 'p50' in v) {
      const st = v as { p50: number; p95?: number; max?: number };
      lines.push(
        `  ${k.padEnd(20)} p50 ${num(st.p50)} ms${st.p95 !== undefined ? `, p95 ${num(st.p95)} ms` : ''}${st.max !== undefined ? `, max ${num(st.max)} ms` : ''}`,
      );
    }
  }
  return lines.join('\n');
}
