import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { experimentFilter, runFilter, type FilterableExperiment, type FilterableRun } from './run-filter.js';

const run = (over: Partial<FilterableRun>): FilterableRun => ({
  runId: 'r',
  parentRunId: null,
  rootRunId: 'r',
  status: 'Running',
  runType: null,
  tags: {},
  properties: {},
  ...over,
});
const top = run({ runId: 'top', rootRunId: 'top', tags: { k: '1' } });
const kid = run({ runId: 'kid', parentRunId: 'top', rootRunId: 'top', status: 'Canceled', tags: { k: '2' } });
const other = run({ runId: 'other', rootRunId: 'other', runType: 'azureml.scriptrun', properties: { p: 'x' } });
const all = [top, kid, other];
const ids = (filter: unknown) => all.filter(runFilter(filter)).map((r) => r.runId);

// The filters azureml-core writes (azureml/_restclient/_odata), as it writes them.
describe("runs:query filters as azureml-core's Experiment.get_runs and Run.get_children send them", () => {
  it('no filter keeps every run', () => {
    assert.deepEqual(ids(undefined), ['top', 'kid', 'other']);
    assert.deepEqual(ids(''), ['top', 'kid', 'other']);
  });
  it('get_runs(): top-level runs only', () => assert.deepEqual(ids('(ParentRunId eq null)'), ['top', 'other']));
  it('get_children(recursive=True): the tree below a root, without the root', () =>
    assert.deepEqual(ids('(RootRunId eq top and RunId ne top)'), ['kid']));
  it('uuid run ids match their MLflow form (no dashes)', () => {
    const u = run({ runId: '0d1c1d70844340a697bc8dd7ca385afb', rootRunId: '0d1c1d70844340a697bc8dd7ca385afb' });
    assert.equal(runFilter('RunId eq 0D1C1D70-8443-40A6-97BC-8DD7CA385AFB')(u), true);
  });
  it('tags, properties (equal and exists), status', () => {
    assert.deepEqual(ids('((ParentRunId eq null) and (Tags/k eq "1"))'), ['top']);
    assert.deepEqual(ids("(Tags/k eq '2')"), ['kid']);
    assert.deepEqual(ids('(Tags/k ne null or Tags/k eq null)'), ['top', 'kid']);
    assert.deepEqual(ids('(Properties/p eq "x")'), ['other']);
    assert.deepEqual(ids('(Properties/p ne null or Properties/p eq null)'), ['other']);
    assert.deepEqual(ids('(Status eq "Canceled")'), ['kid']);
  });
  it('get_runs(type=…): the run type, or the property azureml.runsource', () => {
    const f = (t: string) => `(RunType eq "${t}" or Properties/azureml.runsource eq "${t}")`;
    assert.deepEqual(ids(f('azureml.scriptrun')), ['other']);
    assert.deepEqual(ids(`((ParentRunId eq null) and ${f('azureml.scriptrun')})`), ['other']);
    assert.deepEqual(ids(f('hyperdrive')), []);
    const sourced = run({ runId: 's', properties: { 'azureml.runsource': 'hyperdrive' } });
    assert.equal(runFilter(f('hyperdrive'))(sourced), true);
  });
  it('a clause it does not know is a 501 naming it, not ignored', () => {
    for (const f of [
      '(CreatedUtc ge 2024-01-01T00:00:00Z)',
      '(Target eq cpu or RunType eq azureml.scriptrun)',
      '(Target eq cpu)',
    ])
      assert.throws(
        () => runFilter(f),
        (e: Error & { kind?: string }) => e.kind === 'not_implemented' && e.message.includes(f.slice(1, 10)),
      );
    assert.throws(() => runFilter(42), /must be a string/);
  });
});

describe("experiments:query filters as azureml-core's Experiment.list sends them", () => {
  const exps: FilterableExperiment[] = [
    { name: 'a', tags: { stage: 'dev' } },
    { name: 'b', tags: { stage: 'prod', flag: '' } },
  ];
  const names = (filter: unknown) => exps.filter(experimentFilter(filter)).map((e) => e.name);
  it('name, tag value, tag exists, joined by and', () => {
    assert.deepEqual(names(undefined), ['a', 'b']);
    assert.deepEqual(names('(name eq b)'), ['b']);
    assert.deepEqual(names('(Tags/stage eq dev)'), ['a']);
    assert.deepEqual(names('(Tags/flag ne null or Tags/flag eq null)'), ['b']);
    assert.deepEqual(names('((name eq b) and (Tags/stage eq dev))'), []);
  });
  it('a clause it does not know is a 501 naming it, never ignored', () => {
    assert.throws(
      () => names('(Properties/x eq 1)'),
      /experiments query filter clause 'Properties\/x eq 1'.*name and Tags/,
    );
    assert.throws(() => names('(createdUtc gt 2020)'), /not supported/);
  });
});
