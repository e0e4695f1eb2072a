import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstLivenessDelay } from './local-engine.js';

describe('local engine: the first liveness probe honours initialDelay', () => {
  const started = 1_000_000;
  it('waits until initialDelay after the worker started when that is later than one period', () => {
    // Ready 2 s after start; initialDelay 60 s: the first probe 58 s later.
    assert.equal(firstLivenessDelay({ initialDelayMs: 60_000, periodMs: 10_000 }, started, started + 2_000), 58_000);
  });
  it('probes one period after readiness when initialDelay has passed or is shorter', () => {
    assert.equal(firstLivenessDelay({ initialDelayMs: 5_000, periodMs: 10_000 }, started, started + 30_000), 10_000);
    assert.equal(firstLivenessDelay({ initialDelayMs: 0, periodMs: 1_000 }, started, started + 1), 1_000);
    // Azure's defaults (10 s / 10 s), ready after 1.5 s: one period, as before.
    assert.equal(firstLivenessDelay({ initialDelayMs: 10_000, periodMs: 10_000 }, started, started + 1_500), 10_000);
  });
});
