import seedrandom from 'seedrandom';
import type { Distribution } from './spec.js';

/**
 * Sampling a sweep's search space. Grid: every combination of the choice values, in a fixed order
 * (the last parameter varies fastest). Random: trial `i` of a sweep with seed `s` draws from its own
 * generator seeded by `s:i` (seedrandom's ARC4), so a trial's parameters depend only on the seed
 * and its number: the same seed gives the same trials, and a restarted sweep continues where it was.
 */

export type Params = Record<string, string | number | boolean>;

export interface Sampler {
  /** How many trials the space holds (Infinity for random sampling). */
  size: number;
  sample(index: number): Params;
}

/** Drops binary floating noise (0.30000000000000004 → 0.3) from a quantised value. */
const tidy = (x: number): number => Number(x.toPrecision(12));

export function gridSampler(dists: Record<string, Distribution>): Sampler {
  const keys = Object.keys(dists);
  const values = keys.map((k) => {
    const d = dists[k]!;
    if (d.type !== 'choice') throw new Error(`grid sampling of a ${d.type} parameter`);
    return d.values;
  });
  const size = values.reduce((n, v) => n * v.length, 1);
  return {
    size,
    sample(index) {
      const out: Params = {};
      let rest = index % size;
      for (let k = keys.length - 1; k >= 0; k--) {
        const v = values[k]!;
        out[keys[k]!] = v[rest % v.length]!;
        rest = Math.floor(rest / v.length);
      }
      return Object.fromEntries(keys.map((k) => [k, out[k]!]));
    },
  };
}

export function randomSampler(dists: Record<string, Distribution>, seed: number): Sampler {
  return {
    size: Infinity,
    sample(index) {
      const rng = seedrandom(`${seed}:${index}`);
      const out: Params = {};
      for (const [k, d] of Object.entries(dists)) out[k] = draw(d, rng);
      return out;
    },
  };
}

function draw(d: Distribution, rng: () => number): string | number | boolean {
  if (d.type === 'choice') return d.values[Math.floor(rng() * d.values.length)]!;
  const a = d.args;
  const uniform = () => a[0]! + rng() * (a[1]! - a[0]!);
  // Box–Muller: a standard normal from two uniform draws.
  const normal = () => a[0]! + a[1]! * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const q = (x: number, step: number) => tidy(Math.round(x / step) * step);
  switch (d.type) {
    case 'uniform':
      return uniform();
    case 'loguniform':
      return Math.exp(uniform());
    case 'quniform':
      return q(uniform(), a[2]!);
    case 'qloguniform':
      return q(Math.exp(uniform()), a[2]!);
    case 'randint':
      return Math.floor(rng() * a[0]!);
    case 'normal':
      return normal();
    case 'qnormal':
      return q(normal(), a[2]!);
    case 'lognormal':
      return Math.exp(normal());
    case 'qlognormal':
      return q(Math.exp(normal()), a[2]!);
  }
}

/** A sampled value as the command and the trial's environment see it. */
export function formatValue(v: string | number | boolean): string {
  return typeof v === 'number' ? String(tidy(v)) : String(v);
}
