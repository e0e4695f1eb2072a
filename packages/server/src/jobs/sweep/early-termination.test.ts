import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluationPoint, toTerminate } from './early-termination.js';
import type { EarlyTermination } from './spec.js';

const bandit = (extra: Partial<EarlyTermination>): EarlyTermination => ({
  policyType: 'Bandit',
  evaluationInterval: 1,
  delayEvaluation: 0,
  ...extra,
});

describe('early termination policies', () => {
  it('evaluation intervals: from delayEvaluation on, every evaluationInterval reports', () => {
    const p = bandit({ evaluationInterval: 2, delayEvaluation: 3 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => evaluationPoint(p, n)),
      [undefined, undefined, undefined, 4, 4, 6, 6],
    );
  });

  it('Bandit: slack factor and slack amount, for maximising and minimising', () => {
    const trials = [
      { name: 'good', running: false, values: [0.5, 0.8] },
      { name: 'near', running: true, values: [0.4, 0.7] },
      { name: 'bad', running: true, values: [0.4, 0.6] },
    ];
    // 0.8 / 1.2 = 0.667: 0.6 is out, 0.7 is in.
    assert.deepEqual(
      toTerminate(bandit({ slackFactor: 0.2 }), 'Maximize', trials).map((x) => x.name),
      ['bad'],
    );
    assert.deepEqual(
      toTerminate(bandit({ slackAmount: 0.05 }), 'Maximize', trials).map((x) => x.name),
      ['near', 'bad'],
    );
    const losses = [
      { name: 'best', running: false, values: [1.0] },
      { name: 'worse', running: true, values: [1.3] },
    ];
    assert.deepEqual(
      toTerminate(bandit({ slackFactor: 0.2 }), 'Minimize', losses).map((x) => x.name),
      ['worse'],
    );
    // A trial alone at its interval is not judged; one that ran ahead is judged where others reached.
    assert.deepEqual(toTerminate(bandit({ slackFactor: 0.2 }), 'Maximize', [trials[2]!]), []);
    const ahead = [
      { name: 'done', running: false, values: [0.9, 0.9] },
      { name: 'slow', running: true, values: [0.1, 0.1, 0.1, 0.1, 0.1] },
    ];
    assert.match(toTerminate(bandit({ slackFactor: 0.2 }), 'Maximize', ahead)[0]!.reason, /at interval 2/);
  });

  it("MedianStopping: a trial whose best is worse than the median of the others' running averages", () => {
    const p: EarlyTermination = { policyType: 'MedianStopping', evaluationInterval: 1, delayEvaluation: 1 };
    const trials = [
      { name: 'a', running: false, values: [0.6, 0.8] },
      { name: 'b', running: false, values: [0.5, 0.7] },
      { name: 'c', running: true, values: [0.3, 0.4] },
      { name: 'd', running: true, values: [0.2, 0.9] },
    ];
    // Interval 2: averages a 0.7, b 0.6, d 0.55 → median 0.6 for c (best 0.4): stopped; d's best 0.9: kept.
    assert.deepEqual(
      toTerminate(p, 'Maximize', trials).map((x) => x.name),
      ['c'],
    );
  });

  it('TruncationSelection: the worst percentage at an interval', () => {
    const p: EarlyTermination = {
      policyType: 'TruncationSelection',
      evaluationInterval: 1,
      delayEvaluation: 0,
      truncationPercentage: 50,
    };
    const trials = [
      { name: 'a', running: true, values: [0.9] },
      { name: 'b', running: true, values: [0.1] },
      { name: 'c', running: true, values: [0.5] },
      { name: 'd', running: true, values: [0.3] },
    ];
    assert.deepEqual(
      toTerminate(p, 'Maximize', trials)
        .map((x) => x.name)
        .sort(),
      ['b', 'd'],
    );
  });
});
