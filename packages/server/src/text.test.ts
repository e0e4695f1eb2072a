import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inputProblem, MAX_INPUT_DEPTH } from './text.js';

/** `{ a: { a: … v } }`, `levels` objects deep. */
function nest(levels: number, v: unknown): unknown {
  let o = v;
  for (let i = 0; i < levels; i++) o = { a: o };
  return o;
}

describe('inputProblem (every request input is walked for NUL and depth)', () => {
  it('finds nothing in ordinary input, large or small', () => {
    const metrics = Array.from({ length: 1000 }, (_, j) => ({
      key: `k${j % 100}`,
      value: j / 3,
      timestamp: 1,
      step: j,
    }));
    assert.equal(inputProblem({ params: { id: 'x' }, query: {}, body: { run_id: 'r', metrics } }), undefined);
    assert.equal(inputProblem({ body: { a: null, b: true, c: [1, 'two', [3]], d: Object.create(null) } }), undefined);
    assert.equal(inputProblem({}), undefined);
  });

  it('names where a NUL is: in a value, in a key, in a list item', () => {
    assert.deepEqual(inputProblem({ query: { name: 'a\u0000b' } }), { at: 'query.name', problem: 'nul' });
    assert.deepEqual(inputProblem({ body: { tags: { ['k\u0000']: 'v' } } }), { at: 'body.tags.k\\0', problem: 'nul' });
    const metrics = [{ key: 'ok' }, { key: 'also ok' }, { key: 'bad\u0000' }];
    assert.deepEqual(inputProblem({ body: { metrics } }), { at: 'body.metrics[2].key', problem: 'nul' });
    assert.deepEqual(inputProblem({ params: { workspaceName: '\u0000' } }), {
      at: 'params.workspaceName',
      problem: 'nul',
    });
  });

  it('refuses nesting deeper than the limit, even of a number, and takes the limit itself', () => {
    assert.equal(inputProblem({ body: nest(MAX_INPUT_DEPTH - 1, 1) }), undefined);
    const deep = inputProblem({ body: nest(MAX_INPUT_DEPTH + 5, 1) });
    assert.equal(deep?.problem, 'depth');
    assert.match(deep!.at, /^body(\.a)+$/);
    assert.equal(inputProblem({ body: nest(MAX_INPUT_DEPTH + 5, {}) })?.problem, 'depth');
    assert.equal(inputProblem({ body: [nest(MAX_INPUT_DEPTH + 5, 'x')] })?.problem, 'depth');
  });

  it('reports the first problem of the walk when there are several', () => {
    // The walk takes the last entry first (a stack), as it always did.
    assert.deepEqual(inputProblem({ body: { a: 'x\u0000', b: 'y\u0000' } }), { at: 'body.b', problem: 'nul' });
  });

  it('does not look into objects that are not plain (a Buffer, a stream)', () => {
    assert.equal(inputProblem({ body: { file: Buffer.from([0, 0, 0]) } }), undefined);
    assert.equal(inputProblem({ body: { when: new Date(0) } }), undefined);
  });
});
