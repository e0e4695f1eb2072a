import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FieldType, ProfileBuilder } from './profile-stats.js';
import { globRegex } from './profiles.js';

describe('dataset profile statistics', () => {
  it('infers types, counts missing values and computes moments and quantiles as pandas does', () => {
    const p = new ProfileBuilder();
    p.header(['n', 'x', 'flag', 'name', 'n']);
    for (const row of [
      ['1', '1.5', 'true', 'a', '9'],
      ['2', '', 'False', 'b', '8'],
      ['3', '2.5', 'true', '', '7'],
      ['10', '-1e1', 'false', 'a'],
    ])
      p.row(row.map((v) => (v === '' ? undefined : v)) as string[]);
    const [n, x, flag, name, n1] = p.result() as any[];
    assert.equal(p.rowCount, 4);
    assert.deepEqual([n.columnName, n.type, n.count, n.missingCount], ['n', FieldType.INTEGER, 4, 0]);
    // pandas: Series([1,2,3,10]).mean() 4.0, .std() 4.0824829…, .median() 2.5, .skew() 1.7636…, .kurt() 3.2280…
    assert.equal(n.moments.mean, 4);
    assert.ok(Math.abs(n.moments.standardDeviation - 4.08248290463863) < 1e-12);
    assert.equal(n.quantiles.p50, 2.5);
    assert.equal(n.quantiles.p25, 1.75);
    assert.ok(Math.abs(n.moments.skewness - 1.763632614803888) < 1e-12, String(n.moments.skewness));
    assert.ok(Math.abs(n.moments.kurtosis - 3.227999999999999) < 1e-12, String(n.moments.kurtosis));
    assert.deepEqual(
      [n.min, n.max],
      [
        { type: FieldType.INTEGER, value: 1 },
        { type: FieldType.INTEGER, value: 10 },
      ],
    );
    assert.deepEqual([x.type, x.missingCount, x.min.value, x.max.value], [FieldType.DECIMAL, 1, -10, 2.5]);
    assert.deepEqual([flag.type, flag.min.value, flag.max.value], [FieldType.BOOLEAN, false, true]);
    assert.deepEqual([name.type, name.missingCount, name.uniqueValues], [FieldType.STRING, 1, 2]);
    assert.deepEqual(name.valueCounts, [
      { value: { type: FieldType.STRING, value: 'a' }, count: 2 },
      { value: { type: FieldType.STRING, value: 'b' }, count: 1 },
    ]);
    assert.equal(name.moments, null);
    // A repeated header gets a suffix; a short row leaves the rest missing.
    assert.deepEqual([n1.columnName, n1.count, n1.missingCount], ['n_1', 4, 1]);
  });

  it('reports more than 1000 distinct values as unknown', () => {
    const p = new ProfileBuilder();
    p.header(['id']);
    for (let i = 0; i < 1001; i++) p.row([`k${i}`]);
    assert.equal((p.result()[0] as any).uniqueValues, null);
  });
});

describe('MLTable path globs', () => {
  it('matches *, ** and ? as MLTable patterns do', () => {
    assert.ok(globRegex('data/*.csv').test('data/a.csv'));
    assert.ok(!globRegex('data/*.csv').test('data/sub/a.csv'));
    assert.ok(globRegex('data/**/*.csv').test('data/sub/deeper/a.csv'));
    assert.ok(globRegex('data/**/*.csv').test('data/a.csv'));
    assert.ok(globRegex('data/?.csv').test('data/b.csv'));
    assert.ok(!globRegex('data/a.csv').test('data/abcsv'));
  });
});
