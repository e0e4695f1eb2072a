import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_STEP_SEGMENTS, planLatest, stepSegments, summaryOf, type Current } from './metric-write.js';
import type { RunRow } from '../runs/tables.js';
import type { MetricIn } from '../runs/types.js';

const run = { run_uuid: 'r', workspace_id: 'w', experiment_id: 1 } as unknown as RunRow;

/** The summary a series must have after all of `steps`: its distinct steps as ranges (none kept past the limit). */
function expected(steps: number[]): { min: number; max: number; steps: number; segments: string | null } {
  const s = [...new Set(steps)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const x of s) {
    const last = ranges[ranges.length - 1];
    if (last && x === last[1] + 1) last[1] = x;
    else ranges.push([x, x]);
  }
  const kept = ranges.length <= MAX_STEP_SEGMENTS;
  return {
    min: s[0]!,
    max: s[s.length - 1]!,
    steps: kept ? s.length : 0,
    segments: kept && ranges.length > 1 ? JSON.stringify(ranges) : null,
  };
}

/** Writes each request's steps in turn, keeping the series' row as the store would. */
function summaryAfter(requests: number[][]): Current {
  let cur: Current | undefined;
  for (const steps of requests) {
    const metrics: MetricIn[] = steps.map((step) => ({ key: 'loss', value: step / 2, timestamp: 1000 + step, step }));
    const { fresh, updates } = planLatest(run, metrics, new Map(cur ? [['loss', cur]] : []));
    cur = summaryOf(1, (cur ? updates[0]!.slice(1) : fresh[0]!.row) as unknown[]);
  }
  return cur!;
}

/** A small deterministic generator (the test must give the same steps on every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('planLatest: a series keeps its distinct steps as ranges', () => {
  it('steps in blocks with gaps between requests (as writers sharing a step counter log)', () => {
    for (const blocks of [3, MAX_STEP_SEGMENTS, MAX_STEP_SEGMENTS + 1, 60]) {
      const requests = Array.from({ length: blocks }, (_, i) =>
        Array.from({ length: 10 }, (_, j) => i * 80 + 10 * (i % 3) + j),
      );
      const got = summaryAfter(requests);
      const want = expected(requests.flat());
      assert.deepEqual(
        { min: got.min_step, max: got.max_step, steps: got.steps, segments: got.step_segments },
        want,
        `${blocks} blocks`,
      );
    }
  });

  it('any order, overlaps, repeats, touching ranges and several ranges in one request give the same summary', () => {
    const next = random(7);
    for (let trial = 0; trial < 200; trial++) {
      const requests: number[][] = [];
      let base = 0;
      for (let r = 0; r < 1 + Math.floor(next() * 40); r++) {
        // Mostly forward with gaps (the fast path), sometimes back into known steps or touching the end.
        base += next() < 0.2 ? -Math.floor(next() * 30) : Math.floor(next() * 12);
        requests.push(Array.from({ length: 1 + Math.floor(next() * 6) }, () => base + Math.floor(next() * 8)));
      }
      const got = summaryAfter(requests);
      const want = expected(requests.flat());
      assert.deepEqual(
        { min: got.min_step, max: got.max_step, steps: got.steps, segments: got.step_segments },
        want,
        `trial ${trial}: ${JSON.stringify(requests)}`,
      );
      // Readers parse what was written.
      if (want.steps) assert.ok(stepSegments(got));
    }
  });

  it('the latest value is the greatest (step, timestamp, value) of all requests', () => {
    const got = summaryAfter([
      [5, 9],
      [20, 21],
      [1, 2],
    ]);
    assert.equal(got.step, 21);
    assert.equal(got.value, 10.5);
  });
});
