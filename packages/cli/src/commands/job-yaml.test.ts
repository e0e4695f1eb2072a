import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseJobYaml } from './job-yaml.js';

describe('job YAML (Azure ML v2) → job properties', () => {
  it('type: sweep → a SweepJob: trial, search space expressions, sampling, objective, limits, early termination', () => {
    const { name, properties } = parseJobYaml(
      [
        'type: sweep',
        'name: tune',
        'experiment_name: tuning',
        'compute: azureml:cpu',
        'trial:',
        '  command: python train.py --lr ${{search_space.lr}} --bs ${{search_space.bs}}',
        '  environment: azureml:train-env:2',
        'inputs:',
        '  epochs: 3',
        'search_space:',
        '  lr:',
        '    type: loguniform',
        '    min_value: -6',
        '    max_value: -1',
        '  bs:',
        '    type: choice',
        '    values: [16, 32]',
        '  layers: {type: randint, upper: 4}',
        '  width: {type: quniform, min_value: 16, max_value: 64, q: 16}',
        'sampling_algorithm:',
        '  type: random',
        '  seed: 7',
        'objective:',
        '  goal: maximize',
        '  primary_metric: accuracy',
        'limits:',
        '  max_total_trials: 8',
        '  max_concurrent_trials: 2',
        '  timeout: 3600',
        'early_termination:',
        '  type: bandit',
        '  slack_factor: 0.1',
        '  evaluation_interval: 1',
        '  delay_evaluation: 2',
        '',
      ].join('\n'),
      'sweep.yml',
    );
    assert.equal(name, 'tune');
    assert.deepEqual(properties, {
      jobType: 'Sweep',
      experimentName: 'tuning',
      computeId: 'cpu',
      trial: {
        command: 'python train.py --lr ${{search_space.lr}} --bs ${{search_space.bs}}',
        environmentId: 'azureml:train-env:2',
      },
      inputs: { epochs: { jobInputType: 'literal', value: '3' } },
      searchSpace: {
        lr: ['loguniform', [-6, -1]],
        bs: ['choice', [[16, 32]]],
        layers: ['randint', [4]],
        width: ['quniform', [16, 64, 16]],
      },
      samplingAlgorithm: { samplingAlgorithmType: 'Random', seed: 7 },
      objective: { goal: 'Maximize', primaryMetric: 'accuracy' },
      limits: { jobLimitsType: 'Sweep', maxTotalTrials: 8, maxConcurrentTrials: 2, timeout: 'PT3600S' },
      earlyTermination: { policyType: 'Bandit', slackFactor: 0.1, evaluationInterval: 1, delayEvaluation: 2 },
    });
  });

  it('type: pipeline → a PipelineJob: steps with bindings, outputs, settings', () => {
    const { properties } = parseJobYaml(
      [
        'type: pipeline',
        'inputs:',
        '  n: 3',
        'outputs:',
        '  result:',
        '    type: uri_folder',
        'settings:',
        '  default_compute: azureml:cpu',
        '  continue_on_step_failure: true',
        'jobs:',
        '  prepare:',
        '    type: command',
        '    command: seq ${{inputs.count}} > ${{outputs.nums}}/nums.txt',
        '    inputs:',
        '      count: ${{parent.inputs.n}}',
        '    outputs:',
        '      nums:',
        '  total:',
        '    command: cat ${{inputs.nums}}/nums.txt > ${{outputs.sum}}/sum.txt',
        '    inputs:',
        '      nums:',
        '        type: uri_folder',
        '        path: ${{parent.jobs.prepare.outputs.nums}}',
        '    outputs:',
        '      sum: ${{parent.outputs.result}}',
        '',
      ].join('\n'),
      'pipeline.yml',
    );
    assert.deepEqual(properties, {
      jobType: 'Pipeline',
      jobs: {
        prepare: {
          jobType: 'Command',
          command: 'seq ${{inputs.count}} > ${{outputs.nums}}/nums.txt',
          inputs: { count: { jobInputType: 'literal', value: '${{parent.inputs.n}}' } },
          outputs: { nums: { jobOutputType: 'uri_folder' } },
        },
        total: {
          jobType: 'Command',
          command: 'cat ${{inputs.nums}}/nums.txt > ${{outputs.sum}}/sum.txt',
          inputs: { nums: { jobInputType: 'uri_folder', uri: '${{parent.jobs.prepare.outputs.nums}}' } },
          outputs: { sum: { jobOutputType: 'uri_folder', uri: '${{parent.outputs.result}}' } },
        },
      },
      inputs: { n: { jobInputType: 'literal', value: '3' } },
      outputs: { result: { jobOutputType: 'uri_folder' } },
      settings: { default_compute: 'cpu', continue_on_step_failure: true },
    });
  });

  it('errors name their line', () => {
    const cases: [string, RegExp][] = [
      [
        'type: sweep\ntrial:\n  command: echo\nsearch_space:\n  x:\n    type: gaussian\n',
        /s\.yml, line 6: search_space\.x\.type 'gaussian'/,
      ],
      [
        'type: sweep\ntrial:\n  command: echo\nsearch_space:\n  x:\n    type: uniform\n    min_value: 0\n',
        /line 6: search_space\.x\.max_value must be a number/,
      ],
      ['type: sweep\ntrial:\n  command: echo\n  compute: cpu\n', /line 4: trial\.compute is not a trial key/],
      ['type: pipeline\njobs:\n  a:\n    type: sweep\n', /line 4: jobs\.a\.type 'sweep'/],
      [
        'type: pipeline\njobs:\n  a:\n    command: echo\n    componentx: 1\n',
        /line 5: jobs\.a\.componentx is not a step key/,
      ],
      [
        'type: pipeline\njobs:\n  a:\n    command: echo\nsettings:\n  retries: 2\n',
        /line 6: settings\.retries is not a pipeline setting/,
      ],
      ['type: automl\n', /line 1: type 'automl'/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseJobYaml(text, 's.yml'), message);
  });
});
