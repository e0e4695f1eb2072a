import { InvalidInput } from '../errors.js';

/**
 * ISO 8601 durations as ARM bodies carry them (`PT5S`, `PT0.5S`, `PT1M30S`, `P1D`), in
 * milliseconds. Hand-written: ten lines, and no maintained library parses just this subset.
 */
export function parseDuration(v: unknown, target: string, opts: { minMs?: number; maxMs?: number } = {}): number {
  const m = typeof v === 'string' ? /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(v) : null;
  if (!m || v === 'P' || v === 'PT' || /T$/i.test(String(v)))
    throw new InvalidInput(`${target} must be an ISO 8601 duration such as PT5S or PT1M30S, got ${JSON.stringify(v)}`, {
      code: 'INVALID_INPUT',
      target,
    });
  const ms = Math.round(
    (Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) * 1000,
  );
  if ((opts.minMs !== undefined && ms < opts.minMs) || (opts.maxMs !== undefined && ms > opts.maxMs))
    throw new InvalidInput(
      `${target} must be from ${formatDuration(opts.minMs ?? 0)} to ${formatDuration(opts.maxMs ?? Infinity)}, got ${String(v)}`,
      { code: 'INVALID_INPUT', target },
    );
  return ms;
}

/** Milliseconds as an ISO 8601 duration (`PT0.5S`, `PT1M30S`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unbounded';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `PT${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s || (!h && !m) ? `${s}S` : ''}`;
}
