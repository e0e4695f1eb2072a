import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliFixture, type CliFixture } from '../testing.js';
import type { TestServer } from '../../../server/src/testing/harness.js';
import { Workspace } from '@atelier/sdk';

// `atelier job …` (the real command, a child process) and the SDK's job methods, against a real server (SQLite).
describe('atelier job (CLI) and ws.submitJob / waitForJob (SDK)', () => {
  let t: TestServer;
  let home: string;
  let ws: Workspace;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  before(async () => {
    f = await cliFixture('cli-jobs', { location: 'local' });
    ({ t, home, ws, atelier } = f);
  });
  after(() => f?.close());
  const W = ['-w', 'cli-jobs', '-g', 'cli-jobs-rg'];

  it('job create -f job.yml --stream, show, list, logs; YAML errors name their line', async () => {
    fs.writeFileSync(
      path.join(home, 'job.yml'),
      [
        '$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json',
        'type: command',
        'name: yaml_job',
        'command: echo "n=${{inputs.n}}" && echo "$WHO"',
        'inputs:',
        '  n: 3',
        'environment_variables:',
        '  WHO: from-yaml',
        'experiment_name: cli-jobs-exp',
        'limits:',
        '  timeout: 60',
        '',
      ].join('\n'),
    );
    const created = await atelier(['job', 'create', '-f', 'job.yml', '--stream', ...W]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /n=3\nfrom-yaml\n/);
    assert.equal(created.json.properties.status, 'Completed');
    const shown = await atelier(['job', 'show', 'yaml_job', ...W]);
    assert.equal(shown.json.properties.experimentName, 'cli-jobs-exp');
    const listed = await atelier(['job', 'list', ...W]);
    assert.ok(listed.json.some((j: any) => j.name === 'yaml_job' && j.status === 'Completed'));
    const logs = await atelier(['job', 'logs', 'yaml_job', ...W]);
    assert.equal(logs.stdout, 'n=3\nfrom-yaml\n');

    fs.writeFileSync(
      path.join(home, 'bad.yml'),
      'type: command\ncommand: echo hi\nresources:\n  instance_count: two\n',
    );
    const bad = await atelier(['job', 'create', '-f', 'bad.yml', ...W]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bad\.yml, line 4: resources\.instance_count must be a whole number/);
    fs.writeFileSync(path.join(home, 'broken.yml'), 'type: command\ncommand: [oops\n');
    const broken = await atelier(['job', 'create', '-f', 'broken.yml', ...W]);
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /broken\.yml, line \d+:/);
  });

  it('job create -f sweep.yml and pipeline.yml (type: sweep / type: pipeline) run to their end', async () => {
    fs.writeFileSync(
      path.join(home, 'sweep.yml'),
      [
        'type: sweep',
        'name: yaml_sweep',
        'trial:',
        '  command: echo "x=${{search_space.x}}"',
        'search_space:',
        '  x:',
        '    type: choice',
        '    values: [1, 2]',
        'sampling_algorithm: grid',
        'objective:',
        '  goal: minimize',
        '  primary_metric: loss',
        'limits:',
        '  max_concurrent_trials: 2',
        '',
      ].join('\n'),
    );
    const sweep = await atelier(['job', 'create', '-f', 'sweep.yml', '--stream', ...W]);
    assert.equal(sweep.code, 0, sweep.stderr);
    assert.equal(sweep.json.properties.status, 'Completed');
    assert.deepEqual(
      (
        await t.request(
          'GET',
          `/subscriptions/${t.subscriptionId}/resourceGroups/cli-jobs-rg/providers/Microsoft.MachineLearningServices/workspaces/cli-jobs/jobs?api-version=2025-09-01&parentJobName=yaml_sweep`,
        )
      ).body.value
        .map((j: any) => j.name)
        .sort(),
      ['yaml_sweep_0', 'yaml_sweep_1'],
    );
    fs.writeFileSync(
      path.join(home, 'pipeline.yml'),
      [
        'type: pipeline',
        'name: yaml_pipeline',
        'inputs:',
        '  word: hello',
        'jobs:',
        '  write:',
        '    type: command',
        '    command: echo ${{inputs.w}} > ${{outputs.o}}/word.txt',
        '    inputs:',
        '      w: ${{parent.inputs.word}}',
        '    outputs:',
        '      o:',
        '  read:',
        '    type: command',
        '    command: cat ${{inputs.i}}/word.txt',
        '    inputs:',
        '      i:',
        '        type: uri_folder',
        '        path: ${{parent.jobs.write.outputs.o}}',
        '',
      ].join('\n'),
    );
    const pipe = await atelier(['job', 'create', '-f', 'pipeline.yml', '--stream', ...W]);
    assert.equal(pipe.code, 0, pipe.stderr);
    assert.equal(pipe.json.properties.status, 'Completed');
    const logs = await atelier(['job', 'logs', 'yaml_pipeline_read', ...W]);
    assert.equal(logs.stdout, 'hello\n');
  });

  it('SDK: submitJob, waitForJob({onLine}), cancelJob', async () => {
    await ws.submitJob('sdk_job', { jobType: 'Command', command: 'echo one; echo two' });
    const lines: string[] = [];
    const ended = await ws.waitForJob('sdk_job', { onLine: (l) => lines.push(l) });
    assert.equal(ended.properties.status, 'Completed');
    assert.deepEqual(lines, ['one', 'two']);
    await ws.submitJob('sdk_cancel', { jobType: 'Command', command: 'sleep 30' });
    await ws.cancelJob('sdk_cancel');
    const c = await ws.waitForJob('sdk_cancel');
    assert.equal(c.properties.status, 'Canceled');
  });
});
