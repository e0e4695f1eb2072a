import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pickDeployment, pickMirror } from './serving.js';

// The traffic draws of the scoring edge, with the random number given: which deployment a
// request goes to, and whether a copy of it goes to a mirror.
describe('traffic draws', () => {
  it('splits live traffic by percentage, in the order the split lists the deployments', () => {
    const split = { blue: 70, green: 30 };
    assert.equal(pickDeployment(split, 0), 'blue');
    assert.equal(pickDeployment(split, 0.6999), 'blue');
    assert.equal(pickDeployment(split, 0.7), 'green');
    assert.equal(pickDeployment(split, 0.9999), 'green');
    // Deployments at 0 % never take a request.
    assert.equal(pickDeployment({ blue: 0, green: 100 }, 0), 'green');
    assert.equal(pickDeployment({}, 0.5), undefined);
    assert.equal(pickDeployment({ blue: 0 }, 0.5), undefined);
  });

  it('mirrors a request with the probability its percentage says, never at 0 %', () => {
    assert.equal(pickMirror({ green: 50 }, 0), 'green');
    assert.equal(pickMirror({ green: 50 }, 0.4999), 'green');
    assert.equal(pickMirror({ green: 50 }, 0.5), undefined);
    assert.equal(pickMirror({ green: 10 }, 0.1), undefined);
    assert.equal(pickMirror({ green: 0 }, 0), undefined);
    assert.equal(pickMirror({}, 0), undefined);
    // Over many draws the share mirrored is the percentage.
    let mirrored = 0;
    for (let i = 0; i < 10_000; i++) if (pickMirror({ green: 20 }, i / 10_000)) mirrored++;
    assert.equal(mirrored, 2_000);
  });
});
