import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { V, createWorkspace, wsPath } from '../../http/arm/arm-test-helpers.js';
import { pythonWith } from '../testing.js';
import { pollPauses, waitForJob } from '../../http/arm/job-test-helpers.js';

const py = pythonWith([]);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

/**
 * A trial script: logs `acc` through MLflow's REST API with the job's own variables (what
 * mlflow.log_metric does, without the seconds its import takes). `body` is Python after the
 * `log(key, value, step)` helper; it may use no double quotes (it runs inside python -c "…").
 */
const trialScript = (body: string) =>
  `python -c "
import json, os, time, urllib.request
def log(key, value, step=0):
    data = json.dumps({'run_id': os.environ['MLFLOW_RUN_ID'], 'key': key, 'value': value, 'timestamp': int(time.time() * 1000), 'step': step}).encode()
    req = urllib.request.Request(os.environ['MLFLOW_TRACKING_URI'] + '/api/2.0/mlflow/runs/log-metric', data=data, headers={'Authorization': 'Bearer ' + os.environ['MLFLOW_TRACKING_TOKEN'], 'Content-Type': 'application/json'})
    urllib.request.urlopen(req).read()
${body}
"`;

/** A sweep job's body. */
function sweepJob(command: string, extra: Record<string, unknown> = {}): { properties: Record<string, unknown> } {
  return {
    properties: {
      jobType: 'Sweep',
      experimentName: 'sweeps',
      trial: { command },
      objective: { goal: 'Maximize', primaryMetric: 'acc' },
      ...extra,
    },
  };
}

for (const dialect of testDialects()) {
  describe(`sweep jobs (${dialect})`, { skip: py.skip }, () => {
    let t: TestServer;
    let W: string;
    let mlflow: string;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'sweep-rg', 'sweep-ws');
      W = wsPath(t, 'sweep-rg', 'sweep-ws');
      mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow`;
    });
    after(async () => t?.close());

    const children = async (name: string) => {
      const r = await t.request('GET', `${W}/jobs?${V}&parentJobName=${name}`);
      assert.equal(r.status, 200, r.text);
      return (r.body.value as any[]).sort((a, b) => a.name.localeCompare(b.name));
    };

    it('grid: every point once, at most maxConcurrentTrials at once, the best trial recorded', async () => {
      const job = `${W}/jobs/grid_sweep`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        sweepJob(
          // acc peaks at x = 3; each trial logs it through MLflow, as a training script would.
          trialScript(
            `x = float(\${{search_space.x}})\nassert os.environ['AZUREML_SWEEP_x'] == '\${{search_space.x}}'\ntime.sleep(0.2)\nlog('acc', 1 - abs(x - 3) / 10)`,
          ),
          {
            searchSpace: { x: ['choice', [[1, 2, 3, 4]]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
            limits: { jobLimitsType: 'Sweep', maxTotalTrials: 4, maxConcurrentTrials: 2 },
          },
        ),
      );
      assert.equal(put.status, 201, put.text);
      const done = await waitForJob(t, job, undefined, 90_000);
      assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
      const trials = await children('grid_sweep');
      assert.deepEqual(
        trials.map((c) => [c.name, c.properties.status, c.properties.tags['hyperparameter.x']]),
        [
          ['grid_sweep_0', 'Completed', '1'],
          ['grid_sweep_1', 'Completed', '2'],
          ['grid_sweep_2', 'Completed', '3'],
          ['grid_sweep_3', 'Completed', '4'],
        ],
      );
      assert.equal(done.properties.properties.best_trial, 'grid_sweep_2');
      assert.equal(done.properties.properties.best_child_run_id, 'grid_sweep_2');
      assert.equal(Number(done.properties.properties.score), 1);
      // Never more than two trials ran at once (their recorded start and end).
      const rows = await t.server.ctx.db
        .selectFrom('jobs')
        .select(['start_time', 'end_time'])
        .where('parent_name', '=', 'grid_sweep')
        .execute();
      for (const r of rows) {
        const overlapping = rows.filter((o) => o.start_time! <= r.start_time! && o.end_time! > r.start_time!);
        assert.ok(overlapping.length <= 2, JSON.stringify(rows));
      }
      // Each trial is a child run of the sweep's run, its parameter logged; the sweep's run names the best.
      const run = await t.request('GET', `${mlflow}/runs/get?run_id=grid_sweep_2`);
      assert.equal(run.status, 200, run.text);
      const tags = Object.fromEntries(run.body.run.data.tags.map((x: any) => [x.key, x.value]));
      assert.equal(tags['mlflow.parentRunId'], 'grid_sweep');
      assert.deepEqual(
        run.body.run.data.params.map((p: any) => [p.key, p.value]),
        [['x', '3']],
      );
      const parent = await t.request('GET', `${mlflow}/runs/get?run_id=grid_sweep`);
      assert.equal(parent.body.run.info.status, 'FINISHED');
      const ptags = Object.fromEntries(parent.body.run.data.tags.map((x: any) => [x.key, x.value]));
      assert.equal(ptags.best_child_run_id, 'grid_sweep_2');
      assert.deepEqual(
        parent.body.run.data.metrics.map((m: any) => [m.key, m.value]),
        [['acc', 1]],
      );
      // Top-level lists leave the trials out.
      const top = await t.request('GET', `${W}/jobs?${V}`);
      assert.ok(!top.body.value.some((j: any) => j.name === 'grid_sweep_0'));
    });

    it('random: a seed gives the same trials again, each value in its range', async () => {
      const space = {
        lr: ['loguniform', [-6.9, -2.3]],
        momentum: ['uniform', [0.5, 0.9]],
        layers: ['randint', [5]],
        width: ['quniform', [16, 128, 16]],
        act: ['choice', [['relu', 'tanh']]],
      };
      const body = sweepJob(
        'echo lr=${{search_space.lr}} m=${{search_space.momentum}} l=${{search_space.layers}} w=${{search_space.width}} a=${{search_space.act}}',
        {
          searchSpace: space,
          samplingAlgorithm: { samplingAlgorithmType: 'Random', seed: 42 },
          limits: { jobLimitsType: 'Sweep', maxTotalTrials: 3, maxConcurrentTrials: 3 },
        },
      );
      const params: Record<string, string>[][] = [];
      for (const name of ['random_a', 'random_b']) {
        assert.equal((await t.request('PUT', `${W}/jobs/${name}?${V}`, body)).status, 201);
        const done = await waitForJob(t, `${W}/jobs/${name}`, undefined, 60_000);
        // No trial logs acc: the sweep completes (its trials did), without a best trial.
        assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
        assert.equal(done.properties.properties.best_trial, undefined);
        params.push(
          (await children(name)).map((c) =>
            Object.fromEntries(
              Object.entries(c.properties.tags as Record<string, string>).filter(([k]) =>
                k.startsWith('hyperparameter.'),
              ),
            ),
          ),
        );
      }
      assert.equal(params[0]!.length, 3);
      assert.deepEqual(params[0], params[1]);
      for (const p of params[0]!) {
        const lr = Number(p['hyperparameter.lr']);
        assert.ok(lr >= Math.exp(-6.9) && lr <= Math.exp(-2.3), String(lr));
        const m = Number(p['hyperparameter.momentum']);
        assert.ok(m >= 0.5 && m <= 0.9);
        assert.ok(['0', '1', '2', '3', '4'].includes(p['hyperparameter.layers']!));
        assert.equal(Number(p['hyperparameter.width']) % 16, 0);
        assert.ok(['relu', 'tanh'].includes(p['hyperparameter.act']!));
      }
      assert.notDeepEqual(params[0]![0], params[0]![1]);
    });

    it('Bandit early termination cancels a trial that falls behind; the others run to their end', async () => {
      const job = `${W}/jobs/bandit_sweep`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        sweepJob(
          // x = 1 reports 0.1 for a long time; the others report 0.9 / 0.95 a few times and end.
          trialScript(
            `x = int(\${{search_space.x}})\nfor step in range(60 if x == 1 else 4):\n    log('acc', 0.1 if x == 1 else 0.85 + x / 40, step)\n    time.sleep(0.25)`,
          ),
          {
            searchSpace: { x: ['choice', [[1, 2, 3]]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
            limits: { jobLimitsType: 'Sweep', maxConcurrentTrials: 3 },
            earlyTermination: { policyType: 'Bandit', slackFactor: 0.2, evaluationInterval: 1, delayEvaluation: 2 },
          },
        ),
      );
      assert.equal(put.status, 201, put.text);
      const done = await waitForJob(t, job, undefined, 60_000);
      assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
      const trials = await children('bandit_sweep');
      assert.deepEqual(
        trials.map((c) => c.properties.status),
        ['Canceled', 'Completed', 'Completed'],
      );
      assert.match(
        trials[0].properties.properties['azureml.earlyTermination'],
        /^Bandit policy at interval \d+: 0\.1 is outside/,
      );
      assert.equal(done.properties.properties.best_trial, 'bandit_sweep_2');
      // It was stopped early, not after its 60 reports.
      const h = await t.request('GET', `${mlflow}/metrics/get-history?run_id=bandit_sweep_0&metric_key=acc`);
      assert.ok(h.body.metrics.length < 20, String(h.body.metrics.length));
    });

    it('refuses bad sweeps with the field named, and writes nothing', async () => {
      const cases: [unknown, RegExp][] = [
        [
          sweepJob('echo ${{search_space.x}}', {
            searchSpace: { x: ['uniform', [0, 1]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
          }),
          /grid sampling takes only choice/,
        ],
        [
          sweepJob('echo ${{search_space.y}}', {
            searchSpace: { x: ['choice', [[1]]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
          }),
          /search_space\.y.*declared search_space: x/,
        ],
        [
          sweepJob('echo', {
            searchSpace: { x: ['choice', [[1]]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Bayesian' },
          }),
          /Bayesian/,
        ],
        [
          sweepJob('echo', {
            searchSpace: { x: ['uniform', [0, 1]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Random' },
          }),
          /maxTotalTrials/,
        ],
        [
          sweepJob('echo', {
            searchSpace: { x: ['gaussian', [0, 1]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Random' },
          }),
          /searchSpace\.x.*not a distribution/,
        ],
        [
          sweepJob('echo', {
            searchSpace: { x: ['choice', [[1]]] },
            samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
            earlyTermination: { policyType: 'Bandit' },
          }),
          /slackFactor or slackAmount/,
        ],
      ];
      for (const [body, message] of cases) {
        const r = await t.request('PUT', `${W}/jobs/bad_sweep?${V}`, body);
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error.message, message);
      }
      assert.equal((await t.request('GET', `${W}/jobs/bad_sweep?${V}`)).status, 404);
    });

    it('cancel: the running trials are canceled, then the sweep', async () => {
      const job = `${W}/jobs/cancel_sweep`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        sweepJob('sleep 30 # ${{search_space.x}}', {
          searchSpace: { x: ['choice', [[1, 2, 3]]] },
          samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
          limits: { jobLimitsType: 'Sweep', maxConcurrentTrials: 2 },
        }),
      );
      assert.equal(put.status, 201, put.text);
      // Both trials run before the cancel (bounded by time: on a loaded machine two trials' start takes seconds).
      const pause = pollPauses();
      for (const end = Date.now() + 60_000; ;) {
        const c = await children('cancel_sweep');
        if (c.length === 2 && c.every((x) => x.properties.status === 'Running')) break;
        assert.ok(Date.now() < end, `the trials did not both run: ${c.map((x) => `${x.name} ${x.properties.status}`)}`);
        await pause();
      }
      assert.equal((await t.request('POST', `${job}/cancel?${V}`)).status, 202);
      const done = await waitForJob(t, job, undefined, 30_000);
      assert.equal(done.properties.status, 'Canceled');
      const trials = await children('cancel_sweep');
      assert.deepEqual(
        trials.map((c) => c.properties.status),
        ['Canceled', 'Canceled'],
      );
    });
  });
}

describe('a sweep survives a server restart (sqlite)', { skip: py.skip }, () => {
  it('the next server adopts the sweep, reattaches its running trial and submits the rest', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sweep-restart-'));
    let t = await startTestServer('sqlite', { home });
    try {
      await createWorkspace(t, 'sr-rg', 'sr-ws');
      const W = wsPath(t, 'sr-rg', 'sr-ws');
      const job = `${W}/jobs/durable_sweep`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        sweepJob('sleep 1 # ${{search_space.x}}', {
          searchSpace: { x: ['choice', [[1, 2, 3]]] },
          samplingAlgorithm: { samplingAlgorithmType: 'Grid' },
          limits: { jobLimitsType: 'Sweep', maxConcurrentTrials: 1 },
        }),
      );
      assert.equal(put.status, 201, put.text);
      for (let i = 0; i < 600; i++) {
        const c = await t.request('GET', `${W}/jobs/durable_sweep_0?${V}`);
        if (c.status === 200 && c.body.properties.status === 'Running') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await t.close({ keepData: true });
      t = await startTestServer('sqlite', { home });
      const done = await waitForJob(t, job, undefined, 60_000);
      assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
      const list = await t.request('GET', `${W}/jobs?${V}&parentJobName=durable_sweep`);
      assert.deepEqual((list.body.value as any[]).map((c) => [c.name, c.properties.status]).sort(), [
        ['durable_sweep_0', 'Completed'],
        ['durable_sweep_1', 'Completed'],
        ['durable_sweep_2', 'Completed'],
      ]);
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
