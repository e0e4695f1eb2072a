import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, ratioCell, type BenchReport } from './report.js';
import { WORKLOADS, type WorkloadResult } from './workloads.js';

/** A measured result as the workloads return it (queries over a data set of `dataSize`). */
const measured = (ops: number, seconds: number, dataSize?: number, dataUnit?: string): WorkloadResult => ({
  ops,
  units: ops,
  errors: 0,
  seconds,
  concurrency: 1,
  p50: 1,
  p99: 2,
  timeLimited: false,
  unit: 'queries',
  dataSize,
  dataUnit,
});

describe('bench report: ratios say on which data sizes they were measured', () => {
  it('puts both sizes beside a ratio measured on different data, and says when they are equal', () => {
    assert.equal(
      ratioCell(measured(330, 1, 100_000, 'runs'), measured(10, 1, 4_748, 'runs')),
      '33.0× (100,000 vs 4,748 runs)',
    );
    assert.equal(
      ratioCell(measured(270, 1, 20_000, 'points'), measured(10, 1, 20_000, 'points')),
      '27.0× (both 20,000 points)',
    );
    assert.equal(
      ratioCell(measured(500, 1), measured(10, 1)),
      '50.0×',
      'workloads without a data set keep the bare ratio',
    );
    assert.equal(ratioCell(measured(500, 1), { error: 'boom' }), '—');
  });

  it('the table shows them and explains an unequal comparison', () => {
    const search = WORKLOADS.find((w) => w.name === 'search-runs')!;
    const report: BenchReport = {
      mode: 'full',
      startedAt: new Date(0).toISOString(),
      seconds: 1,
      machine: { cpus: 2, node: process.version },
      goals: {},
      targets: [
        {
          name: 'Atelier',
          trackingUri: 'http://a',
          notes: [],
          results: { 'search-runs': measured(117, 1, 100_000, 'runs') },
        },
        {
          name: 'MLflow',
          trackingUri: 'http://b',
          notes: [],
          results: { 'search-runs': measured(3.5, 1, 4_748, 'runs') },
        },
      ],
    };
    const text = formatReport([search], report);
    assert.match(text, /33\.4× \(100,000 vs 4,748 runs\)/);
    assert.match(text, /not like for like/);
  });
});
