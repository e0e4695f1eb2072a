import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity } from './quantities.js';

test('Kubernetes quantities as containerResourceRequests carry them become Ray numbers', () => {
  assert.equal(parseQuantity('1', 'cpu', 't'), 1);
  assert.equal(parseQuantity('0.5', 'cpu', 't'), 0.5);
  assert.equal(parseQuantity('100m', 'cpu', 't'), 0.1);
  assert.equal(parseQuantity('0.5Gi', 'memory', 't'), 512 * 1024 ** 2);
  assert.equal(parseQuantity('512Mi', 'memory', 't'), 512 * 1024 ** 2);
  assert.equal(parseQuantity('1G', 'memory', 't'), 1e9);
  assert.equal(parseQuantity('2', 'gpu', 't'), 2);
  for (const [v, kind] of [
    ['lots', 'cpu'],
    ['0', 'cpu'],
    ['-1', 'cpu'],
    ['2000', 'cpu'],
    ['1Xi', 'memory'],
    ['0.5', 'gpu'],
    ['1k', 'gpu'],
  ] as const)
    assert.throws(
      () => parseQuantity(v, kind, 'properties.containerResourceRequirements.containerResourceRequests.x'),
      (e: Error) => e.message.includes(`'${v}'`),
      `${kind} ${v}`,
    );
});
