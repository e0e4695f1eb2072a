import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatValue, gridSampler, randomSampler } from './sampling.js';
import { parseDistribution } from './spec.js';

describe('search-space sampling', () => {
  it('grid: every combination once, the last parameter fastest', () => {
    const g = gridSampler({
      a: parseDistribution(['choice', [[1, 2]]], 'a'),
      b: parseDistribution(['choice', [['x', 'y', 'z']]], 'b'),
    });
    assert.equal(g.size, 6);
    assert.deepEqual(
      Array.from({ length: 6 }, (_, i) => g.sample(i)),
      [
        { a: 1, b: 'x' },
        { a: 1, b: 'y' },
        { a: 1, b: 'z' },
        { a: 2, b: 'x' },
        { a: 2, b: 'y' },
        { a: 2, b: 'z' },
      ],
    );
  });

  it('random: the same seed and trial number give the same values; each distribution stays in range', () => {
    const dists = {
      u: parseDistribution(['uniform', [1, 2]], 'u'),
      lu: parseDistribution(['loguniform', [-5, 0]], 'lu'),
      qu: parseDistribution(['quniform', [0, 1, 0.1]], 'qu'),
      ri: parseDistribution(['randint', [3]], 'ri'),
      n: parseDistribution(['normal', [10, 1]], 'n'),
      c: parseDistribution(['choice', [['a', 'b']]], 'c'),
    };
    const a = randomSampler(dists, 7);
    const b = randomSampler(dists, 7);
    const other = randomSampler(dists, 8);
    assert.deepEqual(a.sample(3), b.sample(3));
    assert.notDeepEqual(a.sample(3), other.sample(3));
    const seen = new Set<number>();
    let sum = 0;
    for (let i = 0; i < 300; i++) {
      const s = a.sample(i);
      assert.ok((s.u as number) >= 1 && (s.u as number) <= 2);
      assert.ok((s.lu as number) >= Math.exp(-5) && (s.lu as number) <= 1);
      assert.equal(formatValue(s.qu as number).length <= 3, true, formatValue(s.qu as number));
      seen.add(s.ri as number);
      sum += s.n as number;
      assert.ok(['a', 'b'].includes(s.c as string));
    }
    assert.deepEqual([...seen].sort(), [0, 1, 2]);
    assert.ok(Math.abs(sum / 300 - 10) < 0.5, String(sum / 300));
  });

  it('refuses malformed expressions with what to send', () => {
    assert.throws(() => parseDistribution(['uniform', [2, 1]], 'x'), /lower bound 2 is above/);
    assert.throws(() => parseDistribution(['randint', [0]], 'x'), /at least 1/);
    assert.throws(() => parseDistribution({ type: 'uniform' }, 'x'), /search-space expression/);
    assert.throws(() => parseDistribution(['choice', [[{ a: 1 }]]], 'x'), /nested/);
  });
});
