import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';
import { pythonWith } from '../../jobs/testing.js';
import { zipFiles as zipOf } from '../../v1-environments/recipe.js';
import { Agent, FormData, fetch as undiciFetch } from 'undici';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';

/** The entry names of a zip (its central directory). */
function zipNames(zip: Buffer): string[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < zip.readUInt16LE(end + 10); i++) {
    const n = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + n));
    at += 46 + n + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}

/**
 * Issue 11: azureml-core 1.61's `Experiment.submit(ScriptRunConfig)` on a compute — its snapshot
 * upload (`/content/v2.0/…/snapshots`, a code asset), `snapshotrun` (a command job whose name is the
 * run id), `wait_for_completion(show_output=True)` streaming the job's log, the run's metrics and
 * files (`outputs/` kept from the working folder), MLflow's view of the same run, a failing script,
 * `run.cancel()` of a running one, and the refusals (unknown compute, MPI, compute_target='local').
 */
const py = pythonWith(['azureml.core']);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core Experiment.submit(ScriptRunConfig) (${dialect})`, { skip: py.skip }, () => {
    let s: AzureClientServer;
    let out: Steps;
    let W: string;
    const call = (method: string, p: string, body?: unknown) =>
      httpsJson(method, `${s.server.url}${p}`, s.ca, s.token, body);
    const fetchWithCa = (url: string, init: Parameters<typeof undiciFetch>[1]) =>
      undiciFetch(url, { ...init, dispatcher: new Agent({ connect: { ca: s.ca } }) });
    before(async () => {
      s = await startAzureClientServer(dialect, 'v1submit');
      await s.workspace('submit-ws');
      W = s.workspaceId('submit-ws');
      out = await s.steps(py.python!, path.join(HERE, 'azureml_core_submit.py'), { WORKSPACE: 'submit-ws' });
    });
    after(async () => s?.close());

    it('runs the script as a command job of the experiment, streams its log, keeps its metrics and outputs', async () => {
      out.ok('ComputeTarget.create');
      assert.deepEqual(out.ok('wait_for_completion(show_output=True)'), { status: 'Completed', target: 'cpu' });
      const runId = out.ok('run.id') as string;
      assert.match(runId, /^v1-submit_\d+_[0-9a-f]{8}$/);
      // The log streamed while waiting is the job's: its print lines, with the environment's variable.
      assert.deepEqual(out.ok('streamed'), [`training with alpha 0.5 in run ${runId}`, 'STAGE trial']);
      assert.equal(out.ok('get_status'), 'Completed');
      assert.deepEqual(out.ok('get_metrics'), { alpha: 0.5, accuracy: 0.75 });
      assert.deepEqual(out.ok('run.type'), ['azureml.scriptrun', [[runId, 'ScriptRun']]]);
      const files = out.ok('get_file_names') as string[];
      for (const f of ['outputs/model.pkl', 'user_logs/std_log.txt', 'system_logs.txt'])
        assert.ok(files.includes(f), f);
      assert.equal(out.ok('download_file'), 'model alpha=0.5');

      // The job: experiment, compute, command from script + arguments, code = the snapshot (a code asset).
      const job = await call('GET', `${W}/jobs/${runId}?${V}`);
      assert.equal(job.status, 200, JSON.stringify(job.body));
      const p = job.body.properties;
      assert.equal(p.experimentName, 'v1-submit');
      assert.equal(p.status, 'Completed');
      assert.match(p.command, /^python -c '[\s\S]*runpy\.run_path[\s\S]*' 'train\.py' '--alpha' '0\.5'$/);
      assert.match(p.computeId, /cpu$/);
      const snapshot = out.ok('snapshot') as string;
      assert.ok(snapshot);
      assert.equal(p.codeId.toLowerCase(), `${W}/codes/${snapshot}/versions/1`.toLowerCase());
      const code = await call('GET', `${W}/codes/${snapshot}/versions/1?${V}`);
      assert.equal(code.status, 200, JSON.stringify(code.body));
      assert.match(code.body.properties.codeUri, /snapshots\//);

      // MLflow sees the same run, its metrics and its files.
      const mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow`;
      const exp = await call('GET', `${mlflow}/experiments/get-by-name?experiment_name=v1-submit`);
      const found = await call('POST', `${mlflow}/runs/search`, {
        experiment_ids: [exp.body.experiment.experiment_id],
        filter: `attributes.run_id = '${runId}'`,
      });
      assert.equal(found.body.runs?.length, 1, JSON.stringify(found.body));
      const run = found.body.runs[0];
      assert.equal(run.info.status, 'FINISHED');
      assert.deepEqual(Object.fromEntries(run.data.metrics.map((m: any) => [m.key, m.value])), {
        alpha: 0.5,
        accuracy: 0.75,
      });
      const listed = await call('GET', `${mlflow}/artifacts/list?run_id=${runId}&path=outputs`);
      assert.deepEqual(
        listed.body.files.map((f: any) => f.path),
        ['outputs/model.pkl'],
      );
    });

    it("a failing script ends Failed, with its traceback in the streamed log and the run's error", async () => {
      const failed = out.ok('wait failing (raise_on_error=False)');
      assert.equal(failed.status, 'Failed');
      assert.match(failed.log, /ValueError: alpha out of range/);
      assert.ok(failed.error?.error?.message, JSON.stringify(failed.error));
      assert.match(out.err('wait failing'), /ActivityFailedException/);
    });

    it("compute_target='local': the invocation script runs the script on the caller's machine and reports the run", async () => {
      assert.deepEqual(out.ok('local wait_for_completion(show_output=True)'), { status: 'Completed', target: 'local' });
      const runId = out.ok('local run.id') as string;
      assert.match(runId, /^v1-submit_\d+_[0-9a-f]{8}$/);
      // The log streamed while waiting is the local process's (azureml-logs/70_driver_log.txt).
      assert.deepEqual(out.ok('local streamed'), [`training with alpha 0.25 in run ${runId}`, 'STAGE local']);
      assert.equal(out.ok('local get_status'), 'Completed');
      assert.deepEqual(out.ok('local get_metrics'), { alpha: 0.25, accuracy: 0.625 });
      const files = out.ok('local get_file_names') as string[];
      for (const f of ['outputs/model.pkl', 'azureml-logs/70_driver_log.txt']) assert.ok(files.includes(f), f);
      assert.equal(out.ok('local download_file'), 'model alpha=0.25');
      // A run of the experiment (MLflow sees it), not a job: no server process ran it.
      const mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow`;
      const run = await call('GET', `${mlflow}/runs/get?run_id=${runId}`);
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.run.info.status, 'FINISHED');
      assert.equal((await call('GET', `${W}/jobs/${runId}?${V}`)).status, 404);

      const failed = out.ok('local wait failing (raise_on_error=False)');
      assert.equal(failed.status, 'Failed');
      assert.match(failed.log, /ValueError: alpha out of range/);
      assert.match(failed.error?.error?.message ?? '', /User program failed with ValueError: alpha out of range/);
      assert.match(out.err('local wait failing'), /ActivityFailedException[\s\S]*alpha out of range/);
    });

    it('localrun checks the request before making anything, and answers the invocation zip', async () => {
      const X = `/execution/v1.0${W}/experiments/v1-local-checks`;
      const form = (definition: unknown) => {
        const f = new FormData();
        f.append('files', new Blob([JSON.stringify(definition)]), 'definition.json');
        f.append('files', new Blob([new Uint8Array([0x50, 0x4b, 5, 6, ...new Array(18).fill(0)])]), 'aml_config.zip');
        return f;
      };
      const post = async (runId: string, definition: unknown) => {
        const r = await fetchWithCa(`${s.server.url}${X}/localrun?runId=${runId}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${s.token}` },
          body: form(definition),
        });
        return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
      };
      const local = (extra: Record<string, unknown>) => ({
        Configuration: {
          target: 'local',
          script: 'train.py',
          arguments: ['--alpha', '1'],
          environment: { name: 'e', python: { userManagedDependencies: true, interpreterPath: 'python3' } },
          ...extra,
        },
      });
      const mpi = await post('local_mpi', local({ communicator: 'IntelMpi' }));
      assert.equal(mpi.status, 501, mpi.body.toString());
      assert.match(mpi.body.toString(), /Configuration\.communicator is 'IntelMpi'/);
      const escape = await post('local_escape', local({ script: '../x.py' }));
      assert.equal(escape.status, 400, escape.body.toString());
      const notJson = await fetchWithCa(`${s.server.url}${X}/localrun?runId=local_bad`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(notJson.status, 400);
      const anonymous = await fetchWithCa(`${s.server.url}${X}/localrun?runId=local_anon`, {
        method: 'POST',
        body: form(local({})),
      });
      assert.equal(anonymous.status, 401);
      const exp = await call(
        'GET',
        `/mlflow/v1.0${W}/api/2.0/mlflow/experiments/get-by-name?experiment_name=v1-local-checks`,
      );
      assert.equal(exp.status, 404, 'nothing made');

      // An environment to build: the zip carries env.build_local's scripts, with azureml-core added.
      const env = await post(
        'local_env',
        local({
          environment: {
            name: 'local-conda',
            docker: { baseImage: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04' },
            python: {
              userManagedDependencies: false,
              condaDependencies: { dependencies: ['python=3.11', { pip: ['six'] }] },
            },
          },
        }),
      );
      assert.equal(env.status, 200, env.body.toString());
      const names = zipNames(env.body);
      for (const n of [
        'azureml-setup/Invocation.sh',
        'azureml-setup/atelier_local_run.py',
        'azureml-setup/environment/build_environment.sh',
        'azureml-setup/environment/check_environment.sh',
        'azureml-setup/environment/requirements.txt',
      ])
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      // The invocation script is valid bash and builds the environment before running the launcher in it.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localrun-'));
      try {
        fs.writeFileSync(path.join(dir, 'invocation.zip'), env.body);
        execFileSync(py.python!, ['-m', 'zipfile', '-e', 'invocation.zip', '.'], { cwd: dir });
        execFileSync('bash', ['-n', 'azureml-setup/Invocation.sh'], { cwd: dir });
        const script = fs.readFileSync(path.join(dir, 'azureml-setup/Invocation.sh'), 'utf8');
        assert.match(script, /check_environment\.sh \|\| \/bin\/bash \.\/build_environment\.sh/);
        assert.match(script, /PY="\$ENV_DIR\/bin\/python"/);
        assert.match(
          fs.readFileSync(path.join(dir, 'azureml-setup/environment/requirements.txt'), 'utf8'),
          /^six\nazureml-core\n$/,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const again = await post('local_env', local({}));
      assert.equal(again.status, 409, again.body.toString());
    });

    it('AML_FORCE_EXECUTE_WITH_ZIP: startrun takes the project zip as the snapshot of the same command job', async () => {
      const zipped = out.ok('submit with AML_FORCE_EXECUTE_WITH_ZIP');
      assert.equal(zipped.status, 'Completed');
      assert.deepEqual(zipped.metrics, { alpha: 0.5, accuracy: 0.75 });
      assert.deepEqual(zipped.streamed, [`training with alpha 0.5 in run ${zipped.id}`]);
      const job = await call('GET', `${W}/jobs/${zipped.id}?${V}`);
      assert.equal(job.status, 200, JSON.stringify(job.body));
      const code = await call('GET', `${job.body.properties.codeId}?${V}`);
      assert.equal(code.status, 200, JSON.stringify(code.body));
      assert.match(code.body.properties.description, /project zip/);

      // A zip whose entry leaves the folder is refused before anything is made.
      const X = `/execution/v1.0${W}/experiments/v1-submit`;
      const f = new FormData();
      const definition = {
        Configuration: {
          target: 'cpu',
          script: 'train.py',
          environment: { python: { userManagedDependencies: true } },
        },
      };
      f.append('runDefinitionFile', new Blob([JSON.stringify(definition)]), 'definition.json');
      // (yazl refuses to write such a name: Python's zipfile does, as a hostile client could.)
      const evil = path.join(os.tmpdir(), `evil-${process.pid}.zip`);
      execFileSync(py.python!, [
        '-c',
        "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('../evil.py', 'x')",
        evil,
      ]);
      f.append('projectZipFile', new Blob([fs.readFileSync(evil)]), 'project.zip');
      fs.rmSync(evil, { force: true });
      const r = await fetchWithCa(`${s.server.url}${X}/startrun?runId=zip_escape`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}` },
        body: f,
      });
      const text = await r.text();
      assert.equal(r.status, 400, text);
      assert.match(text, /evil\.py/);
      assert.equal((await call('GET', `${W}/jobs/zip_escape?${V}`)).status, 404);
      const g = new FormData();
      g.append('runDefinitionFile', new Blob([JSON.stringify(definition)]), 'definition.json');
      g.append(
        'projectZipFile',
        new Blob([await zipOf({ 'a.txt': 'x' }).then((z) => z.subarray(0, 20))]),
        'project.zip',
      );
      const garbled = await fetchWithCa(`${s.server.url}${X}/startrun?runId=zip_garbled`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}` },
        body: g,
      });
      const garbledText = await garbled.text();
      assert.equal(garbled.status, 400, garbledText);
      assert.match(garbledText, /project\.zip is not a readable zip/);
    });

    it('run.cancel() stops a running job', async () => {
      assert.equal(out.ok('cancel'), 'Canceled');
    });

    it('refuses what it cannot run, naming it, and makes no job', async () => {
      assert.match(
        out.err('submit to an unknown compute'),
        /400[\s\S]*Configuration\.target names compute 'no-such-compute', which workspace 'submit-ws' does not have/,
      );
      assert.match(
        out.err('submit distributed (MPI)'),
        /501[\s\S]*Configuration\.communicator is 'IntelMpi'|501[\s\S]*Configuration\.communicator/,
      );
      assert.match(out.err('submit local in Docker'), /501[\s\S]*Docker of your machine/);
      const jobs = await call('GET', `${W}/jobs?${V}`);
      assert.equal(jobs.status, 200);
      assert.equal(jobs.body.value.length, 4, JSON.stringify(jobs.body.value.map((j: any) => j.name)));
    });

    it('checks snapshots and run definitions before making anything', async () => {
      const C = `/content/v2.0${W}/snapshots`;
      const X = `/execution/v1.0${W}/experiments/v1-submit`;
      const escape = await call('POST', `${C}/getblob`, { FileNames: ['../etc/passwd'] });
      assert.equal(escape.status, 400);
      assert.match(escape.body.error.message, /would escape the snapshot's folder/);
      const tree = { type: 'Directory', name: '', children: { 'a.py': { type: 'File', name: 'a.py' } } };
      const notUploaded = await call('POST', `${C}/11111111-2222-3333-4444-555555555555`, {
        DirTreeNode: tree,
        FileRevisionList: { FileNodes: [] },
      });
      assert.equal(notUploaded.status, 400);
      assert.match(notUploaded.body.error.message, /does not list 'a.py'/);
      const foreign = await call('POST', `${C}/11111111-2222-3333-4444-555555555555`, {
        DirTreeNode: tree,
        FileRevisionList: { FileNodes: [{ FullName: 'a.py', BlobUri: 'https://evil.blob.example.com/c/a.py' }] },
      });
      assert.equal(foreign.status, 400);
      assert.match(foreign.body.error.message, /is not the upload URI/);
      assert.equal((await call('GET', `${W}/codes/11111111-2222-3333-4444-555555555555?${V}`)).status, 404);
      const noSnapshot = await call('POST', `${X}/snapshotrun?runId=r1`, {
        Configuration: { target: 'cpu', script: 'a.py' },
        SnapshotId: 'no-such-snapshot',
      });
      assert.equal(noSnapshot.status, 400);
      assert.match(noSnapshot.body.error.message, /SnapshotId names snapshot 'no-such-snapshot'/);
      assert.equal((await call('GET', `${W}/jobs/r1?${V}`)).status, 404);
    });

    it("registers the run configuration's environment (conda pip list) for the job, or refuses it before anything is made", async () => {
      const X = `/execution/v1.0${W}/experiments/v1-submit`;
      const snapshot = out.ok('snapshot') as string;
      const config = (environment: Record<string, unknown>) => ({
        Configuration: { target: 'cpu', script: 'train.py', arguments: [], nodeCount: 1, environment },
        SnapshotId: snapshot,
      });
      const conda = (deps: unknown[]) => ({
        name: 'submit-conda',
        python: { userManagedDependencies: false, condaDependencies: { dependencies: deps } },
        docker: { baseImage: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04' },
        environmentVariables: {},
      });
      const refused = await call(
        'POST',
        `${X}/snapshotrun?runId=env_refused`,
        config(conda(['python=3.11', 'cudatoolkit'])),
      );
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match(refused.body.error.message, /conda packages \('cudatoolkit'\)/);
      assert.equal((await call('GET', `${W}/jobs/env_refused?${V}`)).status, 404);
      assert.equal((await call('GET', `${W}/environments/submit-conda?${V}`)).status, 404);

      const made = await call(
        'POST',
        `${X}/snapshotrun?runId=env_made`,
        config(conda(['python=3.11', { pip: ['six'] }])),
      );
      assert.equal(made.status, 200, JSON.stringify(made.body));
      assert.equal(made.body.runId, 'env_made');
      const job = await call('GET', `${W}/jobs/env_made?${V}`);
      assert.equal(job.body.properties.environmentId, 'azureml:submit-conda:1');
      const env = await call('GET', `${W}/environments/submit-conda/versions/1?${V}`);
      assert.equal(env.status, 200, JSON.stringify(env.body));
      assert.match(env.body.properties.condaFile, /six/);
      assert.equal((await call('POST', `${W}/jobs/env_made/cancel?${V}`)).status, 202);
      const again = await call('POST', `${X}/snapshotrun?runId=env_made`, config(conda(['python=3.11'])));
      assert.equal(again.status, 409, JSON.stringify(again.body));
    });
  });
}
