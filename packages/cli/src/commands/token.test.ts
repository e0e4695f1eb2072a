import os from 'node:os';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { cliFixture, type CliFixture } from '../testing.js';
import type { TestServer } from '../../../server/src/testing/harness.js';
import { pythonWith } from '../../../server/src/jobs/testing.js';
import { Workspace, TokenAuthentication, AuthorizationError } from '@atelier/sdk';

const py = pythonWith(['mlflow']);

// `atelier token …` (child processes) and the SDK's access-token methods against a real server
// (SQLite), and the real MLflow Python client signing in with a personal access token.
describe('atelier token (CLI), ws.createAccessToken (SDK), MLflow with a PAT', { skip: py.skip }, () => {
  let t: TestServer;
  let home: string;
  let ws: Workspace;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  before(async () => {
    f = await cliFixture('cli-token');
    ({ t, home, ws, atelier } = f);
  });
  after(() => f?.close());

  /** The real MLflow client: a run with a metric in experiment `exp`, signed in as `env` says. */
  // Asynchronous: the server runs in this process and must answer while the client waits.
  const mlflow = (exp: string, env: Record<string, string>) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        py.python!,
        [
          '-c',
          [
            'import mlflow, sys',
            `mlflow.set_experiment("${exp}")`,
            'with mlflow.start_run() as r:',
            '    mlflow.log_metric("loss", 0.25)',
            '    print("RUN_ID=" + r.info.run_id)',
          ].join('\n'),
        ],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH ?? '',
            TMPDIR: os.tmpdir(),
            HOME: home,
            MLFLOW_TRACKING_URI: ws.getMlflowTrackingUri(),
            ...env,
          },
          timeout: 60_000,
        },
        (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('create (scoped to a workspace), list, use from MLflow as a bearer token and a Basic password, revoke', async () => {
    const made = await atelier([
      'token',
      'create',
      'ci',
      '--expires-in-days',
      '7',
      '-w',
      'cli-token',
      '-g',
      'cli-token-rg',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.json.token, /^atp_/);
    assert.equal(made.json.workspace, ws.id);
    assert.equal(made.json.readOnly, false);
    const days = (Date.parse(made.json.expiresOn) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, String(days));

    const list = await atelier(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      list.json.map((x: any) => [x.name, x.hint, 'token' in x]),
      [['ci', made.json.hint, false]],
    );
    assert.equal(list.stdout.includes(made.json.token), false, 'a list never shows the secret');
    const tsv = await atelier(['token', 'list', '--query', '[].name', '-o', 'tsv']);
    assert.equal(tsv.stdout, 'ci\n');

    const bearer = await mlflow('pat-bearer', { MLFLOW_TRACKING_TOKEN: made.json.token });
    assert.equal(bearer.status, 0, bearer.stderr);
    const basic = await mlflow('pat-basic', {
      MLFLOW_TRACKING_USERNAME: 'admin',
      MLFLOW_TRACKING_PASSWORD: made.json.token,
    });
    assert.equal(basic.status, 0, basic.stderr);
    for (const [exp, out] of [
      ['pat-bearer', bearer.stdout],
      ['pat-basic', basic.stdout],
    ] as const) {
      const runId = /RUN_ID=(\w+)/.exec(out)![1]!;
      const run = await ws.getRun(runId);
      assert.equal(run.experiment.name, exp);
      assert.deepEqual((await run.getMetrics()).loss, 0.25);
    }

    const revoked = await atelier(['token', 'revoke', 'ci']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.json.revoked, true);
    const after = await mlflow('pat-bearer', { MLFLOW_TRACKING_TOKEN: made.json.token });
    assert.notEqual(after.status, 0, 'a revoked token no longer signs in');
  });

  it('SDK: ws.createAccessToken reaches only its workspace; a read-only token only reads', async () => {
    const other = await Workspace.create({
      name: 'cli-token-other',
      resourceGroup: 'cli-token-rg',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(home, 'cfg') },
    });
    const pat = await ws.createAccessToken({ name: 'reader', expiresInDays: 1, readOnly: true });
    assert.equal(pat.workspace, ws.id);
    assert.deepEqual((await ws.listAccessTokens()).map((x) => x.name).sort(), ['ci', 'reader']);
    assert.deepEqual(
      (await other.listAccessTokens()).map((x) => x.name),
      [],
    );
    const env = { ATELIER_CONFIG_DIR: path.join(home, 'cfg') };
    const asPat = await Workspace.get('cli-token', {
      endpoint: t.url,
      auth: new TokenAuthentication(pat.token),
      resourceGroup: 'cli-token-rg',
      subscriptionId: t.subscriptionId,
      env,
    });
    assert.equal(asPat.id, ws.id);
    await assert.rejects(
      Workspace.get('cli-token-other', {
        endpoint: t.url,
        auth: new TokenAuthentication(pat.token),
        resourceGroup: 'cli-token-rg',
        subscriptionId: t.subscriptionId,
        env,
      }),
    );
    await assert.rejects(asPat.update({ description: 'x' }), AuthorizationError);
    const readOnlyMlflow = await mlflow('pat-readonly', { MLFLOW_TRACKING_TOKEN: pat.token });
    assert.notEqual(readOnlyMlflow.status, 0, 'a read-only token cannot start runs');
    assert.match(readOnlyMlflow.stderr, /read-only/);
    assert.equal((await ws.revokeAccessToken(pat.id)).revoked, true);
  });

  it('bad input: clear errors, nothing made', async () => {
    const zero = await atelier(['token', 'create', 'z', '--expires-in-days', '0']);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /expiresInDays|--expires-in-days/);
    const word = await atelier(['token', 'create', 'z', '--expires-in-days', 'week']);
    assert.equal(word.code, 2);
    assert.match(word.stderr, /--expires-in-days must be a whole number/);
    const rgOnly = await atelier(['token', 'create', 'z', '-g', 'cli-token-rg']);
    assert.equal(rgOnly.code, 2);
    const unknown = await atelier(['token', 'revoke', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no personal access token with id 'nope'/);
    const list = await atelier(['token', 'list', '--query', '[].name']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.json.includes('z'), false);
  });
});
