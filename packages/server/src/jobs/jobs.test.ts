import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath, userWithRole } from '../http/arm/arm-test-helpers.js';
import { pythonWith } from './testing.js';
import { commandJob as commandJobBody, pollPauses, userLog, waitForJob } from '../http/arm/job-test-helpers.js';
import { testRay } from '../testing/ray.js';

const py = pythonWith(['mlflow']);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;
// The same suite on both executors: the local one on every store, the Ray one (a job whose compute
// is an attached Ray cluster) on SQLite — the executor does not depend on the store.
const ray = testRay('the command-job suite on the Ray executor');
const variants = [
  ...testDialects().map((dialect) => ({ dialect, executor: 'local' as const })),
  ...(ray ? [{ dialect: 'sqlite' as const, executor: 'ray' as const }] : []),
];

for (const { dialect, executor } of variants) {
  // The cases are independent jobs (their own names; the reader case waits for hello_job_1's
  // submission): they run at once, so one job's start-up (a Python import, a Ray job's supervisor
  // and runtime_env) overlaps the others' instead of adding to them.
  describe(`command jobs (${dialect}, ${executor} executor)`, { skip: py.skip, concurrency: true }, () => {
    let t: TestServer;
    let W: string;
    /** waitForJob, with room for the Ray variant's jobs, which all start at once on a loaded machine. */
    const waitJob = (job: string, until?: (b: any) => boolean) =>
      waitForJob(t, job, until, executor === 'ray' ? 240_000 : 60_000);
    let helloSubmitted!: () => void;
    const hello = new Promise<void>((resolve) => (helloSubmitted = resolve));
    /** A command job's body, on the Ray cluster's compute in the Ray variant. */
    const commandJob: typeof commandJobBody = (command, extra = {}) =>
      commandJobBody(command, executor === 'ray' ? { computeId: `${W}/computes/ray-cluster`, ...extra } : extra);
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'jobs-rg', 'jobs-ws');
      W = wsPath(t, 'jobs-rg', 'jobs-ws');
      if (executor === 'ray') {
        // A compute that is an attached Ray cluster, through the jobs module's compute port (the
        // capacity the computes module gives for one).
        const base = t.server.services.jobs.ports.computes;
        t.server.services.jobs.ports.computes = {
          capacity: async (ws, name) =>
            name === 'ray-cluster'
              ? {
                  computeType: 'Ray',
                  maxNodeCount: 1,
                  minNodeCount: 0,
                  // Room for every case's job at once (their entrypoints take no Ray CPU).
                  coresPerNode: 16,
                  memoryGiB: 4,
                  gpusPerNode: 0,
                  stopped: false,
                  rayAddress: ray!.dashboard,
                }
              : base.capacity(ws, name),
        };
      }
    });
    after(async () => t?.close());

    if (executor === 'ray')
      it('runs on the Ray cluster: a Ray job driver, the code uploaded as its working_dir', async () => {
        const job = `${W}/jobs/on_ray`;
        const put = await t.request(
          'PUT',
          `${job}?${V}`,
          commandJob(
            `python -c "import os; print('ray job', 'RAY_ADDRESS' in os.environ, os.path.basename(os.getcwd()).startswith('_ray_pkg_'))"`,
          ),
        );
        assert.equal(put.status, 201, put.text);
        const done = await waitJob(job);
        const log = await userLog(t, job);
        assert.equal(done.properties.status, 'Completed', log);
        assert.match(log, /^ray job True True$/m);
      });

    it('runs a command: inputs substituted and quoted, env vars, logs, MLflow run named after the job', async () => {
      const job = `${W}/jobs/hello_job_1`;
      const put = await t.request(
        'PUT',
        `${job}?api-version=2025-01-01-preview`,
        commandJob(
          `echo "lr=\${{inputs.lr}}" && echo \${{inputs.evil}} && echo "$GREETING" && python -c "
import os
print('run', os.environ['MLFLOW_RUN_ID'])
import mlflow
mlflow.log_metric('loss', 0.25)
mlflow.log_param('lr', '\${{inputs.lr}}')
"`,
          {
            experimentName: 'job-experiment',
            displayName: 'Hello',
            inputs: {
              lr: { jobInputType: 'literal', value: '0.01' },
              evil: { jobInputType: 'literal', value: "'; echo pwned; '$(id)" },
            },
            environmentVariables: { GREETING: 'hi from env' },
          },
        ),
      );
      assert.equal(put.status, 201, put.text);
      helloSubmitted();
      assert.equal(put.body.type, 'Microsoft.MachineLearningServices/workspaces/jobs');
      assert.ok(['Queued', 'Preparing', 'Running'].includes(put.body.properties.status), put.body.properties.status);
      assert.match(
        put.body.properties.services.Studio.endpoint,
        /\/mlflow\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/#\/experiments\/\d+\/runs\/hello_job_1$/,
      );
      const done = await waitJob(job);
      const log = await userLog(t, job);
      assert.equal(done.properties.status, 'Completed', log);
      assert.match(log, /^lr=0\.01$/m);
      assert.ok(log.includes(`'; echo pwned; '$(id)\n`), log);
      assert.doesNotMatch(log, /^pwned$/m);
      assert.match(log, /^hi from env$/m);
      assert.match(log, /^run hello_job_1$/m);
      // The job's run: its id is the job's name; the metric logged inside it landed there.
      const mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow`;
      const run = await t.request('GET', `${mlflow}/runs/get?run_id=hello_job_1`);
      assert.equal(run.status, 200, run.text);
      assert.equal(run.body.run.info.status, 'FINISHED');
      assert.equal(run.body.run.info.run_name, 'Hello');
      assert.deepEqual(
        run.body.run.data.metrics.map((m: any) => [m.key, m.value]),
        [['loss', 0.25]],
      );
      const exp = await t.request('GET', `${mlflow}/experiments/get-by-name?experiment_name=job-experiment`);
      assert.equal(run.body.run.info.experiment_id, exp.body.experiment.experiment_id);
      // Logs are kept as artifacts of the run.
      const arts = await t.request('GET', `${mlflow}/artifacts/list?run_id=hello_job_1&path=user_logs`);
      assert.deepEqual(
        arts.body.files.map((f: any) => f.path),
        ['user_logs/std_log.txt'],
      );
      // Listed, with filters.
      const list = await t.request('GET', `${W}/jobs?${V}&jobType=Command`);
      assert.ok(list.body.value.some((j: any) => j.name === 'hello_job_1'));
      // Same name again, changed command: refused; new tags only: fine.
      const again = await t.request('PUT', `${job}?${V}`, commandJob('echo other'));
      assert.equal(again.status, 400);
      assert.match(again.body.error.message, /cannot change/);
    });

    it('refuses bad input with the field named, and writes nothing', async () => {
      const cases: [unknown, number, RegExp][] = [
        [commandJob('echo ${{inputs.nope}}'), 400, /inputs\.nope.*declared inputs: none/],
        [
          commandJob('echo ${{outputs.x}}', { inputs: { a: { jobInputType: 'literal', value: '1' } } }),
          400,
          /outputs\.x/,
        ],
        [commandJob('echo hi', { computeId: `${W}/computes/no-such-compute` }), 404, /no-such-compute/],
        [
          commandJob('cat ${{inputs.d}}', {
            inputs: { d: { jobInputType: 'uri_file', uri: 'azureml:missing-data:3' } },
          }),
          404,
          /missing-data/,
        ],
        [
          commandJob('cat ${{inputs.d}}', {
            inputs: { d: { jobInputType: 'uri_file', uri: 'azureml://datastores/nostore/paths/a.csv' } },
          }),
          404,
          /nostore/,
        ],
        [
          commandJob('echo hi', { limits: { jobLimitsType: 'Command', timeout: 'five minutes' } }),
          400,
          /limits\.timeout/,
        ],
        [commandJob('echo hi', { resources: { instanceCount: 0 } }), 400, /instanceCount/],
        [{ properties: { jobType: 'Command' } }, 400, /properties\.command/],
        [{ properties: { jobType: 'Bogus', command: 'x' } }, 400, /jobType/],
      ];
      for (const [body, status, message] of cases) {
        const r = await t.request('PUT', `${W}/jobs/bad_job?${V}`, body);
        assert.equal(r.status, status, r.text);
        assert.match(r.body.error.message, message);
      }
      assert.equal((await t.request('GET', `${W}/jobs/bad_job?${V}`)).status, 404);
    });

    it('cancel: SIGTERM to the job, then Canceled; a queued-only cancel is immediate', async () => {
      const job = `${W}/jobs/cancel_me`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        commandJob(`trap 'echo got-sigterm; exit 143' TERM; echo started; while :; do sleep 0.05; done`),
      );
      assert.equal(put.status, 201, put.text);
      await waitJob(job, (b) => b.properties.status === 'Running');
      // The trap is set once 'started' is logged (a Ray job's log arrives with the executor's polls).
      const logPause = pollPauses();
      for (const end = Date.now() + 60_000; Date.now() < end && !(await userLog(t, job)).includes('started');)
        await logPause();
      const c = await t.request('POST', `${job}/cancel?${V}`);
      // Azure's answer: 202 and the operation to poll, which ends once the job has.
      assert.equal(c.status, 202, c.text);
      assert.ok(c.headers.get('retry-after'));
      const status = new URL(String(c.headers.get('azure-asyncoperation')));
      let op: any;
      const opPause = pollPauses();
      for (const end = Date.now() + 60_000; Date.now() < end;) {
        op = await t.request('GET', `${status.pathname}${status.search}`);
        assert.equal(op.status, 200, op.text);
        if (op.body.status !== 'InProgress') break;
        await opPause();
      }
      assert.equal(op.body.status, 'Succeeded', op.text);
      assert.equal((await t.request('GET', `${job}?${V}`)).body.properties.status, 'Canceled');
      const location = new URL(String(c.headers.get('location')));
      assert.equal((await t.request('GET', `${location.pathname}${location.search}`)).status, 204);
      const done = await waitJob(job);
      assert.equal(done.properties.status, 'Canceled');
      assert.match(await userLog(t, job), /got-sigterm/);
      const run = await t.request('GET', `/mlflow/v1.0${W}/api/2.0/mlflow/runs/get?run_id=cancel_me`);
      assert.equal(run.body.run.info.status, 'KILLED');
    });

    it('a job past limits.timeout is stopped and Failed with the reason; a failing command is Failed with its exit code', async () => {
      const slow = `${W}/jobs/too_slow`;
      await t.request(
        'PUT',
        `${slow}?${V}`,
        commandJob('sleep 30', { limits: { jobLimitsType: 'Command', timeout: 'PT0.3S' } }),
      );
      const fail = `${W}/jobs/exits_3`;
      await t.request('PUT', `${fail}?${V}`, commandJob('echo oops >&2; exit 3'));
      const a = await waitJob(slow);
      assert.equal(a.properties.status, 'Failed');
      assert.match(a.properties.error.message, /time limit \(limits\.timeout = 0\.3 s\)/);
      const b = await waitJob(fail);
      assert.equal(b.properties.status, 'Failed');
      assert.match(b.properties.error.message, /exited with code 3/);
      assert.match(await userLog(t, fail), /oops/);
    });

    it('instanceCount: one process and one log per rank, with RANK and WORLD_SIZE', async () => {
      const job = `${W}/jobs/ranks_job`;
      await t.request(
        'PUT',
        `${job}?${V}`,
        commandJob('echo "rank $RANK of $WORLD_SIZE"', { resources: { instanceCount: 2 } }),
      );
      assert.equal((await waitJob(job)).properties.status, 'Completed');
      assert.match(await userLog(t, job, 'user_logs/std_log_process_0.txt'), /rank 0 of 2/);
      assert.match(await userLog(t, job, 'user_logs/std_log_process_1.txt'), /rank 1 of 2/);
    });

    it('datastore and data-asset inputs are read-only local copies; outputs go to the datastore and become data assets', async () => {
      const up = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/in/numbers.txt?${V}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body: '1\n2\n3\n',
      });
      assert.ok(up.status === 200 || up.status === 201, await up.text());
      const reg = await t.request('PUT', `${W}/data/numbers/versions/1?${V}`, {
        properties: { dataType: 'uri_folder', dataUri: 'azureml://datastores/workspaceblobstore/paths/in/' },
      });
      assert.equal(reg.status, 201, reg.text);
      const job = `${W}/jobs/data_job`;
      const put = await t.request(
        'PUT',
        `${job}?${V}`,
        commandJob(
          'cat ${{inputs.f}} && ls ${{inputs.d}} && wc -l < ${{inputs.f}} > ${{outputs.result}}/count.txt && (echo x >> ${{inputs.f}} || echo read-only) && ln -s /etc/passwd ${{outputs.result}}/leak',
          {
            inputs: {
              f: { jobInputType: 'uri_file', uri: 'azureml://datastores/workspaceblobstore/paths/in/numbers.txt' },
              d: { jobInputType: 'uri_folder', uri: 'azureml:numbers:1' },
            },
            outputs: { result: { jobOutputType: 'uri_folder', assetName: 'counted' } },
          },
        ),
      );
      assert.equal(put.status, 201, put.text);
      const done = await waitJob(job);
      const log = await userLog(t, job);
      assert.equal(done.properties.status, 'Completed', `${log}\n${JSON.stringify(done.properties.error)}`);
      assert.match(log, /1\n2\n3\nnumbers\.txt\n/);
      // Root ignores file modes: the copies are read-only for every other user.
      if (process.getuid?.() !== 0) assert.match(log, /read-only/);
      assert.equal(
        done.properties.outputs.result.uri,
        'azureml://datastores/workspaceblobstore/paths/azureml/data_job/result/',
      );
      const got = await fetch(
        `${t.url}${W}/datastores/workspaceblobstore/files/azureml/data_job/result/count.txt?${V}`,
        {
          headers: { authorization: `Bearer ${t.adminToken}` },
        },
      );
      assert.equal(got.status, 200);
      assert.equal((await got.text()).trim(), '3');
      // A symlink in an output folder is not followed: nothing from outside the job's folder is uploaded.
      const leak = await fetch(`${t.url}${W}/datastores/workspaceblobstore/files/azureml/data_job/result/leak?${V}`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      assert.equal(leak.status, 404);
      const asset = await t.request('GET', `${W}/data/counted/versions/1?${V}`);
      assert.equal(asset.status, 200, asset.text);
      assert.equal(asset.body.properties.dataUri, done.properties.outputs.result.uri);
    });

    it("the job's token reaches only its own workspace", async () => {
      await createWorkspace(t, 'jobs-rg', 'other-ws');
      const other = wsPath(t, 'jobs-rg', 'other-ws');
      const job = `${W}/jobs/token_job`;
      const script = `
import os, urllib.request, urllib.error
def get(url):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
base = "${t.url}"
print("own", get(base + "${W}?${V}"))
print("other", get(base + "${other}?${V}"))
print("subscriptions", get(base + "/subscriptions?${V}"))
`;
      await t.request('PUT', `${job}?${V}`, commandJob(`python -c '${script}'`));
      const done = await waitJob(job);
      const log = await userLog(t, job);
      assert.equal(done.properties.status, 'Completed', log);
      assert.match(log, /own 200/);
      assert.match(log, /other 403/);
      assert.match(log, /subscriptions 403/);
    });

    it('logs stream live over server-sent events, and run details list signed log URLs (jobs.stream)', async () => {
      const job = `${W}/jobs/stream_job`;
      await t.request('PUT', `${job}?${V}`, commandJob('for i in 1 2 3; do echo line-$i; sleep 0.1; done'));
      const res = await fetch(`${t.url}${job}/logs/stream`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /text\/event-stream/);
      const text = await res.text();
      const lines = [...text.matchAll(/event: line\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!).line);
      assert.deepEqual(lines, ['line-1', 'line-2', 'line-3']);
      assert.match(text, /event: end\ndata: \{"status":"Completed"\}/);

      const details = await t.request('GET', `/history/v1.0${W}/runs/stream_job/details`);
      assert.equal(details.status, 200, details.text);
      assert.equal(details.body.status, 'Completed');
      const url = details.body.logFiles['user_logs/std_log.txt'];
      assert.ok(url.startsWith(t.url), url);
      const file = await fetch(url);
      assert.equal(file.status, 200);
      assert.equal(await file.text(), 'line-1\nline-2\nline-3\n');
      const forged = await fetch(url.replace(/sig=[^&]+/, 'sig=abc'));
      assert.equal(forged.status, 401);
      // The signature is no access token.
      const sig = decodeURIComponent(new URL(url).searchParams.get('sig')!);
      assert.equal((await t.request('GET', `${W}?${V}`, undefined, { token: sig })).status, 401);
    });

    it('a reader cannot submit or cancel; a user without a role sees nothing', async () => {
      const reader = await userWithRole(t, 'job-reader', 'Reader', W);
      // (Bounded: a hello case that failed before its submission fails this one's GET below.)
      await Promise.race([hello, new Promise((r) => setTimeout(r, 120_000).unref())]);
      const r = await t.request('PUT', `${W}/jobs/reader_job?${V}`, commandJob('echo hi'), { token: reader.token });
      assert.equal(r.status, 403);
      assert.equal(
        (await t.request('GET', `${W}/jobs/hello_job_1?${V}`, undefined, { token: reader.token })).status,
        200,
      );
      const nobody = await userWithRole(t, 'job-nobody', null);
      assert.equal(
        (await t.request('GET', `${W}/jobs/hello_job_1?${V}`, undefined, { token: nobody.token })).status,
        404,
      );
    });
  });
}
