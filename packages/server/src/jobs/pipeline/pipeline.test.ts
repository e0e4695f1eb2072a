import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { V, createWorkspace, wsPath } from '../../http/arm/arm-test-helpers.js';
import { pythonWith } from '../testing.js';
import { pollPauses, userLog, waitForJob } from '../../http/arm/job-test-helpers.js';

const py = pythonWith([]);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

const lit = (value: string) => ({ jobInputType: 'literal', value });

/** prepare → total → report: each step reads the one before's output folder. */
function chain(reportCommand = 'echo "sum is $(cat ${{inputs.s}}/sum.txt)"', n = '3') {
  return {
    properties: {
      jobType: 'Pipeline',
      experimentName: 'pipelines',
      inputs: { n: lit(n) },
      outputs: { result: { jobOutputType: 'uri_folder' } },
      jobs: {
        prepare: {
          type: 'command',
          command: 'seq ${{inputs.count}} > ${{outputs.nums}}/nums.txt',
          inputs: { count: lit('${{parent.inputs.n}}') },
          outputs: { nums: { jobOutputType: 'uri_folder' } },
        },
        total: {
          jobType: 'Command',
          command: "awk '{ s += $1 } END { print s }' ${{inputs.nums}}/nums.txt > ${{outputs.sum}}/sum.txt",
          inputs: { nums: { jobInputType: 'uri_folder', uri: '${{parent.jobs.prepare.outputs.nums}}' } },
          outputs: { sum: { jobOutputType: 'uri_folder', uri: '${{parent.outputs.result}}' } },
        },
        report: {
          command: reportCommand,
          inputs: { s: lit('${{parent.jobs.total.outputs.sum}}') },
        },
      },
    },
  };
}

for (const dialect of testDialects()) {
  describe(`pipeline jobs (${dialect})`, { skip: py.skip }, () => {
    let t: TestServer;
    let W: string;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'pipe-rg', 'pipe-ws');
      W = wsPath(t, 'pipe-rg', 'pipe-ws');
    });
    after(async () => t?.close());

    const steps = async (name: string) => {
      const r = await t.request('GET', `${W}/jobs?${V}&parentJobName=${name}`);
      assert.equal(r.status, 200, r.text);
      return Object.fromEntries((r.body.value as any[]).map((c) => [c.name.slice(name.length + 1), c])) as Record<
        string,
        any
      >;
    };

    it("runs its steps in dependency order; a step's output is the next one's input; a rerun reuses unchanged steps", async () => {
      const job = `${W}/jobs/chain_1`;
      const put = await t.request('PUT', `${job}?${V}`, chain());
      assert.equal(put.status, 201, put.text);
      const done = await waitForJob(t, job, undefined, 60_000);
      assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
      const s = await steps('chain_1');
      assert.deepEqual(Object.keys(s).sort(), ['prepare', 'report', 'total']);
      for (const c of Object.values(s)) {
        assert.equal(c.properties.status, 'Completed');
        assert.equal(c.properties.parentJobName, 'chain_1');
        assert.equal(c.properties.properties['azureml.isreused'], undefined);
      }
      assert.match(await userLog(t, `${W}/jobs/chain_1_report`), /^sum is 6$/m);
      // The pipeline's output is where its step put it.
      assert.equal(
        done.properties.outputs.result.uri,
        'azureml://datastores/workspaceblobstore/paths/azureml/chain_1_total/sum/',
      );
      const file = await fetch(
        `${t.url}${W}/datastores/workspaceblobstore/files/azureml/chain_1_total/sum/sum.txt?${V}`,
        { headers: { authorization: `Bearer ${t.adminToken}` } },
      );
      assert.equal((await file.text()).trim(), '6');
      // Each step is a child run of the pipeline's run.
      const run = await t.request('GET', `/mlflow/v1.0${W}/api/2.0/mlflow/runs/get?run_id=chain_1_total`);
      assert.ok(
        run.body.run.data.tags.some((x: any) => x.key === 'mlflow.parentRunId' && x.value === 'chain_1'),
        run.text,
      );

      // Rerun with only the last step changed: the first two are reused, the last runs on their outputs.
      const again = `${W}/jobs/chain_2`;
      assert.equal(
        (await t.request('PUT', `${again}?${V}`, chain('echo "the sum: $(cat ${{inputs.s}}/sum.txt)"'))).status,
        201,
      );
      const done2 = await waitForJob(t, again, undefined, 60_000);
      assert.equal(done2.properties.status, 'Completed', JSON.stringify(done2.properties.error));
      const s2 = await steps('chain_2');
      assert.equal(s2.prepare.properties.properties['azureml.isreused'], 'true');
      assert.equal(s2.prepare.properties.properties['azureml.reusedJobName'], 'chain_1_prepare');
      assert.equal(s2.total.properties.properties['azureml.isreused'], 'true');
      assert.equal(s2.report.properties.properties['azureml.isreused'], undefined);
      assert.match(await userLog(t, `${W}/jobs/chain_2_report`), /^the sum: 6$/m);
      assert.equal(done2.properties.outputs.result.uri, done.properties.outputs.result.uri);

      // A changed input changes every step downstream of it: nothing is reused.
      const third = `${W}/jobs/chain_3`;
      assert.equal((await t.request('PUT', `${third}?${V}`, chain(undefined, '4'))).status, 201);
      assert.equal((await waitForJob(t, third, undefined, 60_000)).properties.status, 'Completed');
      const s3 = await steps('chain_3');
      for (const c of Object.values(s3)) assert.equal(c.properties.properties['azureml.isreused'], undefined);
      assert.match(await userLog(t, `${W}/jobs/chain_3_report`), /^sum is 10$/m);
    });

    const failing = (continueOnStepFailure: boolean) => ({
      properties: {
        jobType: 'Pipeline',
        settings: { continue_on_step_failure: continueOnStepFailure },
        jobs: {
          bad: { command: 'echo broken >&2; exit 4', outputs: { o: { jobOutputType: 'uri_folder' } } },
          after: {
            command: 'ls ${{inputs.i}}',
            inputs: { i: lit('${{parent.jobs.bad.outputs.o}}') },
          },
          slow: { command: 'sleep 1.5; echo slow done' },
        },
      },
    });

    it('a failing step fails the pipeline and cancels the others; with continue_on_step_failure the independent ones finish', async () => {
      const stop = `${W}/jobs/fail_stop`;
      assert.equal((await t.request('PUT', `${stop}?${V}`, failing(false))).status, 201);
      const a = await waitForJob(t, stop, undefined, 60_000);
      assert.equal(a.properties.status, 'Failed');
      assert.match(a.properties.error.message, /step 'bad' failed \(.*exited with code 4/);
      const sa = await steps('fail_stop');
      assert.equal(sa.bad.properties.status, 'Failed');
      assert.equal(sa.after, undefined);
      assert.ok(['Canceled', 'Completed'].includes(sa.slow.properties.status), sa.slow.properties.status);

      const go = `${W}/jobs/fail_go`;
      assert.equal((await t.request('PUT', `${go}?${V}`, failing(true))).status, 201);
      const b = await waitForJob(t, go, undefined, 60_000);
      assert.equal(b.properties.status, 'Failed');
      assert.match(b.properties.error.message, /step 'bad' failed.*not run: after/);
      const sb = await steps('fail_go');
      assert.equal(sb.slow.properties.status, 'Completed');
      assert.equal(sb.after, undefined);
      assert.match(await userLog(t, `${W}/jobs/fail_go_slow`), /slow done/);
    });

    it('cancel: the running steps are canceled, then the pipeline', async () => {
      const job = `${W}/jobs/cancel_pipe`;
      const body = {
        properties: { jobType: 'Pipeline', jobs: { a: { command: 'sleep 30' }, b: { command: 'sleep 30' } } },
      };
      assert.equal((await t.request('PUT', `${job}?${V}`, body)).status, 201);
      // Both steps run before the cancel (bounded by time: on a loaded machine two steps' start takes seconds).
      const pause = pollPauses();
      for (const end = Date.now() + 60_000; ;) {
        const s = await steps('cancel_pipe');
        if (s.a?.properties.status === 'Running' && s.b?.properties.status === 'Running') break;
        assert.ok(Date.now() < end, `the steps did not both run: ${s.a?.properties.status}, ${s.b?.properties.status}`);
        await pause();
      }
      assert.equal((await t.request('POST', `${job}/cancel?${V}`)).status, 202);
      const done = await waitForJob(t, job, undefined, 30_000);
      assert.equal(done.properties.status, 'Canceled');
      const s = await steps('cancel_pipe');
      assert.deepEqual([s.a.properties.status, s.b.properties.status], ['Canceled', 'Canceled']);
    });

    it('refuses a cycle or an unknown reference with its name, and writes nothing', async () => {
      const pipe = (jobs: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
        properties: { jobType: 'Pipeline', jobs, ...extra },
      });
      const out = { o: { jobOutputType: 'uri_folder' } };
      const cases: [unknown, number, RegExp][] = [
        [
          pipe({
            a: { command: 'true', inputs: { i: lit('${{parent.jobs.b.outputs.o}}') }, outputs: out },
            b: { command: 'true', inputs: { i: lit('${{parent.jobs.a.outputs.o}}') }, outputs: out },
          }),
          400,
          /cycle: a → b → a/,
        ],
        [
          pipe({ a: { command: 'true', inputs: { i: lit('${{parent.jobs.nope.outputs.o}}') } } }),
          400,
          /jobs\.a\.inputs\.i: refers to step 'nope'/,
        ],
        [
          pipe({
            a: { command: 'true', outputs: out },
            b: { command: 'true', inputs: { i: lit('${{parent.jobs.a.outputs.x}}') } },
          }),
          400,
          /output 'x' of step 'a'.*its outputs: o/,
        ],
        [
          pipe({ a: { command: 'true', inputs: { i: lit('${{parent.inputs.missing}}') } } }),
          400,
          /pipeline input 'missing'/,
        ],
        [pipe({ a: { command: 'echo ${{inputs.zz}}' } }), 400, /jobs\.a\.command.*inputs\.zz/],
        [pipe({ a: { type: 'sweep', command: 'x' } }), 400, /only command steps/],
        [pipe({}), 400, /at least one step/],
        [
          pipe({ a: { command: 'true' } }, { settings: { default_compute: 'no-such-compute' } }),
          404,
          /no-such-compute/,
        ],
      ];
      for (const [body, status, message] of cases) {
        const r = await t.request('PUT', `${W}/jobs/bad_pipe?${V}`, body);
        assert.equal(r.status, status, r.text);
        assert.match(r.body.error.message, message);
      }
      assert.equal((await t.request('GET', `${W}/jobs/bad_pipe?${V}`)).status, 404);
    });
  });
}

describe('a pipeline survives a server restart (sqlite)', { skip: py.skip }, () => {
  it('the next server adopts it, reattaches the running step and runs the rest', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-pipeline-restart-'));
    let t = await startTestServer('sqlite', { home });
    try {
      await createWorkspace(t, 'pr-rg', 'pr-ws');
      const W = wsPath(t, 'pr-rg', 'pr-ws');
      const job = `${W}/jobs/durable_pipe`;
      const body = {
        properties: {
          jobType: 'Pipeline',
          jobs: {
            first: {
              command: 'sleep 1; echo kept > ${{outputs.o}}/f.txt',
              outputs: { o: { jobOutputType: 'uri_folder' } },
            },
            second: { command: 'cat ${{inputs.i}}/f.txt', inputs: { i: lit('${{parent.jobs.first.outputs.o}}') } },
          },
        },
      };
      assert.equal((await t.request('PUT', `${job}?${V}`, body)).status, 201);
      for (let i = 0; i < 600; i++) {
        const c = await t.request('GET', `${W}/jobs/durable_pipe_first?${V}`);
        if (c.status === 200 && c.body.properties.status === 'Running') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await t.close({ keepData: true });
      t = await startTestServer('sqlite', { home });
      const done = await waitForJob(t, job, undefined, 60_000);
      assert.equal(done.properties.status, 'Completed', JSON.stringify(done.properties.error));
      assert.equal(await userLog(t, `${W}/jobs/durable_pipe_second`), 'kept\n');
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
