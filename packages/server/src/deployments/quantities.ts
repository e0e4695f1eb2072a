import { invalid } from '../assets/validate.js';

/**
 * Kubernetes resource quantities as Azure's `containerResourceRequests` carries them (`"0.5"`,
 * `"500m"` CPUs; `"512Mi"`, `"1Gi"`, `"1G"` bytes; `"1"` GPU), read into numbers for Ray's actor
 * options. Hand-written: the subset is a dozen lines, and no maintained npm package parses just this.
 */
const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** `cpu` in CPUs, `memory` in bytes, `gpu` in whole GPUs; a 400 naming `target` otherwise. */
export function parseQuantity(v: string, kind: 'cpu' | 'memory' | 'gpu', target: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * SUFFIX[m[2] ?? '']! : NaN;
  if (kind === 'cpu' && (!(n > 0) || n > 1024))
    throw invalid(target, `must be a number of CPUs like "1", "0.5" or "500m" (more than 0, at most 1024); got '${v}'`);
  if (kind === 'memory' && (!(n >= 1) || n > 2 ** 50 || !Number.isFinite(n)))
    throw invalid(target, `must be an amount of memory like "512Mi" or "2Gi"; got '${v}'`);
  if (kind === 'gpu' && (!Number.isInteger(n) || n < 0 || n > 64 || m?.[2]))
    throw invalid(target, `must be a whole number of GPUs from 0 to 64; got '${v}'`);
  return kind === 'memory' ? Math.round(n) : n;
}
