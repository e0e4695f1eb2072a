import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricWriteCache, type CachedRun } from './metric-cache.js';

function entry(series: number): CachedRun {
  const m: CachedRun['series'] = new Map();
  for (let i = 0; i < series; i++)
    m.set(`k${i}`, {
      series_id: i,
      key: `k${i}`,
      step: 0,
      timestamp: 0,
      value: 0,
      is_nan: 0,
      min_step: 0,
      max_step: 0,
      steps: 1,
      step_segments: null,
    });
  return { workspaceId: 'w', experimentId: 1, series: m, log: { rows: 0, points: 0 } };
}

describe('MetricWriteCache', () => {
  it('keeps at most 65,536 series, dropping the runs written least recently', () => {
    const cache = new MetricWriteCache();
    // 300 runs of 256 series: 76,800 series, so the first runs go.
    for (let r = 0; r < 300; r++) cache.set(`run${r}`, entry(256));
    assert.equal(cache.get('run0'), undefined);
    assert.ok(cache.get('run299'));
    let kept = 0;
    for (let r = 0; r < 300; r++) kept += cache.get(`run${r}`)?.series.size ?? 0;
    assert.ok(kept <= 65_536 && kept > 65_536 - 256, `${kept} series kept`);
    // Written again, a run is the most recent: it stays while others go.
    cache.set('run100', entry(256));
    for (let r = 300; r < 360; r++) cache.set(`run${r}`, entry(256));
    assert.ok(cache.get('run100'));
    assert.equal(cache.get('run101'), undefined);
  });

  it('does not keep a run of more than 256 series, and forgets what it replaces', () => {
    const cache = new MetricWriteCache();
    cache.set('a', entry(10));
    cache.set('a', entry(257));
    assert.equal(cache.get('a'), undefined);
    cache.set('b', entry(3));
    cache.forget('b');
    assert.equal(cache.get('b'), undefined);
  });
});
