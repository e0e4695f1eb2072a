import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { runAtelier, ATELIER_BIN as BIN, type CliRun } from './testing.js';
import { startTestServer, ADMIN_PASSWORD, type TestServer } from '../../server/src/testing/harness.js';
import { Workspace, TokenAuthentication } from '@atelier/sdk';

type Run = CliRun;

// The real `atelier` command, as a child process, against a real server (SQLite).
describe('atelier CLI against a real server', () => {
  let t: TestServer;
  let home: string;
  let cfg: string;
  before(async () => {
    t = await startTestServer('sqlite');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-cli-'));
    cfg = path.join(home, 'config');
  });
  after(async () => {
    await t?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const atelier = (
    args: string[],
    opts: { env?: Record<string, string>; cwd?: string; input?: string } = {},
  ): Promise<Run> =>
    runAtelier(args, {
      cwd: opts.cwd ?? home,
      env: { HOME: home, ATELIER_CONFIG_DIR: cfg, ...(opts.env ?? {}) },
      input: opts.input,
    });
  const oneLine = (r: Run) => {
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, /^(atelier|error): /);
  };

  it('has --help everywhere and fails usage errors with exit 2 and one line', async () => {
    for (const args of [
      ['--help'],
      ['workspace', '--help'],
      ['workspace', 'create', '--help'],
      ['group', 'delete', '--help'],
      ['server', 'start', '--help'],
      ['login', '--help'],
    ]) {
      const r = await atelier(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage: atelier/, args.join(' '));
    }
    const bad = await atelier(['workspace', 'bogus']);
    assert.equal(bad.code, 2);
    oneLine(bad);
    const badOutput = await atelier(['--output', 'xml', 'group', 'list']);
    assert.equal(badOutput.code, 2);
    oneLine(badOutput);
    const badQuery = await atelier(['--query', '[?', 'group', 'list']);
    assert.equal(badQuery.code, 2);
    oneLine(badQuery);
    assert.match(badQuery.stderr, /--query .* is not a JMESPath expression/);
    // Every command's help shows the global options.
    for (const args of [
      ['workspace', 'create', '--help'],
      ['model', 'list', '--help'],
      ['user', 'create', '--help'],
    ]) {
      const r = await atelier(args);
      assert.match(
        r.stdout,
        /Global Options:[\s\S]*--output[\s\S]*--query <jmespath>[\s\S]*--ca-file <pem>/,
        args.join(' '),
      );
    }
  });

  it('says to sign in when nobody has', async () => {
    const r = await atelier(['account', 'show']);
    assert.equal(r.code, 1);
    oneLine(r);
    assert.match(r.stderr, /atelier login/);
    const w = await atelier(['workspace', 'list', '--endpoint', t.url]);
    assert.equal(w.code, 1);
    oneLine(w);
    assert.match(w.stderr, /not signed in/);
  });

  it('login: a wrong password saves nothing; the right one saves a private profile', async () => {
    const wrong = await atelier(['login', '--endpoint', t.url, '--username', 'admin', '--password', 'nope']);
    assert.equal(wrong.code, 1);
    oneLine(wrong);
    assert.equal(fs.existsSync(path.join(cfg, 'profile.json')), false);
    const r = await atelier(['login', '--endpoint', t.url, '--username', 'admin', '--password-stdin'], {
      input: `${ADMIN_PASSWORD}\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.endpoint, t.url);
    assert.equal(r.json.user, 'admin');
    assert.equal(r.json.subscriptionId, t.subscriptionId);
    assert.equal(fs.statSync(path.join(cfg, 'profile.json')).mode & 0o777, 0o600);
    const show = await atelier(['account', 'show']);
    assert.equal(show.code, 0);
    assert.equal(show.json.user, 'admin');
    assert.ok(!/accessToken|refreshToken|eyJ/.test(show.stdout), 'no token is printed');
  });

  it('group create|show|list|delete, in json and table', async () => {
    let r = await atelier(['group', 'create', 'cli-group', '--location', 'local', '--tags', 'team=ml']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'cli-group');
    assert.deepEqual(r.json.tags, { team: 'ml' });
    r = await atelier(['group', 'show', 'cli-group']);
    assert.equal(r.json.location, 'local');
    r = await atelier(['-o', 'table', 'group', 'list']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /name.+location/);
    assert.match(r.stdout, /cli-group/);
    r = await atelier(['group', 'create', 'cli-group-2', '--location', 'local', '--tags', 'team=ml', 'tier=2']);
    assert.deepEqual(r.json.tags, { team: 'ml', tier: '2' }, '--tags takes several key=value');
    r = await atelier(['group', 'list', '--query', "sort([?tags.team=='ml'].name)"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, ['cli-group', 'cli-group-2']);
    r = await atelier(['-o', 'tsv', 'group', 'show', 'cli-group-2', '--query', '{n: name, l: location, t: tags.tier}']);
    assert.equal(r.stdout, 'cli-group-2\tlocal\t2\n', 'an object is one line');
    r = await atelier(['-o', 'tsv', 'group', 'show', 'cli-group-2', '--query', '[name, location]']);
    assert.equal(r.stdout, 'cli-group-2\nlocal\n', 'a list is one line per item');
    r = await atelier(['-o', 'tsv', 'group', 'list', '--query', "[?tags.team=='ml'].{n: name, l: location}"]);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['cli-group\tlocal', 'cli-group-2\tlocal']);
    r = await atelier(['-o', 'yaml', 'group', 'show', 'cli-group-2']);
    assert.match(r.stdout, /^name: cli-group-2$/m);
    assert.match(r.stdout, /^tags:\n {2}team: ml\n {2}tier: "2"$/m);
    r = await atelier(['-o', 'table', 'group', 'list', '--query', '[].{group: name}']);
    assert.match(r.stdout, /group/);
    assert.doesNotMatch(r.stdout, /location/, 'the table has the columns the query made');
    r = await atelier(['-o', 'none', 'group', 'delete', 'cli-group-2', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    r = await atelier(['group', 'delete', 'cli-group']);
    assert.equal(r.code, 2, 'no terminal and no --yes');
    oneLine(r);
    r = await atelier(['group', 'delete', 'cli-group', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['group', 'show', 'cli-group']);
    assert.equal(r.code, 1);
    oneLine(r);
    assert.match(r.stderr, /could not be found/);
  });

  it('workspace create|show|list|update|list-keys|sync-keys|write-config|delete', async () => {
    let r = await atelier([
      'workspace',
      'create',
      'cli-ws',
      '-g',
      'cli-ws-group',
      '--location',
      'local',
      '--friendly-name',
      'CLI workspace',
      '--tags',
      'a=1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'cli-ws');
    assert.equal(r.json.friendlyName, 'CLI workspace');
    assert.match(r.json.storageAccount, /Microsoft\.Storage\/storageAccounts\//);
    assert.equal(r.stderr, '', 'no spinner without a terminal');
    r = await atelier(['workspace', 'create', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.code, 1);
    oneLine(r);
    assert.match(r.stderr, /already exists/);
    assert.match(r.stderr, /add --exist-ok/, 'the advice names the flag, not the SDK option');
    assert.doesNotMatch(r.stderr, /existOk/);
    r = await atelier(['workspace', 'create', 'cli-ws', '-g', 'cli-ws-group', '--exist-ok']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['workspace', 'create', 'bad name', '-g', 'cli-ws-group']);
    assert.equal(r.code, 1);
    oneLine(r);
    assert.match(r.stderr, /2–32 characters/);

    r = await atelier(['workspace', 'show', 'cli-ws']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.resourceCmkUri, null);
    r = await atelier(['workspace', 'create', 'cli-ws', '-g', 'cli-ws-group-2', '--location', 'local']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['workspace', 'show', 'cli-ws']);
    assert.equal(r.code, 1);
    oneLine(r);
    assert.match(r.stderr, /say which with -g\/--resource-group/);
    r = await atelier([
      'workspace',
      'delete',
      'cli-ws',
      '-g',
      'cli-ws-group-2',
      '--yes',
      '--delete-dependent-resources',
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['-o', 'table', 'workspace', 'list']);
    assert.match(r.stdout, /cli-ws-group/);
    r = await atelier(['workspace', 'list', '-g', 'cli-ws-group']);
    assert.deepEqual(
      r.json.map((w: { name: string }) => w.name),
      ['cli-ws'],
    );

    r = await atelier([
      'workspace',
      'update',
      'cli-ws',
      '-g',
      'cli-ws-group',
      '--description',
      'from the CLI',
      '--tags',
      'b=2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.description, 'from the CLI');
    assert.deepEqual(r.json.tags, { b: '2' });
    r = await atelier(['workspace', 'update', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.code, 2);
    oneLine(r);

    r = await atelier(['workspace', 'list-keys', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(typeof r.json.userStorageKey, 'string');
    r = await atelier(['workspace', 'sync-keys', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.code, 0, r.stderr);

    const project = path.join(home, 'project');
    fs.mkdirSync(project);
    r = await atelier(['workspace', 'write-config', 'cli-ws', '-g', 'cli-ws-group'], { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    const written = JSON.parse(fs.readFileSync(path.join(project, '.azureml', 'config.json'), 'utf8'));
    assert.equal(written.workspace_name, 'cli-ws');
    assert.equal(written.endpoint, t.url);
    const loaded = await Workspace.fromConfig({ path: project, auth: new TokenAuthentication(t.adminToken), env: {} });
    assert.equal(loaded.name, 'cli-ws');

    // Below the folder with .azureml/config.json, its workspace is the default.
    const sub = path.join(project, 'src', 'deep');
    fs.mkdirSync(sub, { recursive: true });
    r = await atelier(['workspace', 'show'], { cwd: sub });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.name, 'cli-ws');
    assert.equal(r.json.mlflowTrackingUri, `${t.url}/mlflow/v1.0${r.json.id}`, 'show includes the tracking URI');
    r = await atelier(['workspace', 'list-keys', '--query', 'keys(@) | length(@)'], { cwd: sub });
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['workspace', 'show']);
    assert.equal(r.code, 2, 'no config file, no name');
    oneLine(r);
    assert.match(r.stderr, /-w <workspace>.*config\.json/);

    // MLflow in one command: the exports reach the workspace's tracking server.
    r = await atelier(['mlflow', 'env'], { cwd: sub });
    assert.equal(r.code, 0, r.stderr);
    const exported = Object.fromEntries([...r.stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(exported).sort(), ['MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_URI']);
    const search = await fetch(`${exported.MLFLOW_TRACKING_URI}/api/2.0/mlflow/experiments/search?max_results=10`, {
      headers: { authorization: `Bearer ${exported.MLFLOW_TRACKING_TOKEN}` },
    });
    assert.equal(search.status, 200);
    assert.ok(
      ((await search.json()) as { experiments: { name: string }[] }).experiments.some((e) => e.name === 'Default'),
    );
    r = await atelier(['-o', 'json', 'mlflow', 'env', '-w', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.json.MLFLOW_TRACKING_URI, exported.MLFLOW_TRACKING_URI, 'with -o the values print in that format');

    // An access token as `az account get-access-token` prints it.
    r = await atelier(['account', 'get-access-token']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(r.json).sort(), [
      'accessToken',
      'expiresOn',
      'expires_on',
      'subscription',
      'tenant',
      'tokenType',
    ]);
    assert.equal(r.json.tokenType, 'Bearer');
    assert.equal(r.json.subscription, t.subscriptionId);
    assert.match(r.json.tenant, /^[0-9a-f-]{36}$/);
    assert.ok(r.json.expires_on * 1000 > Date.now(), 'not expired');
    assert.equal(Math.floor(Date.parse(r.json.expiresOn) / 1000), r.json.expires_on);
    const me = await fetch(`${t.url}/subscriptions?api-version=2023-10-01`, {
      headers: { authorization: `Bearer ${r.json.accessToken}` },
    });
    assert.equal(me.status, 200, 'the token works');

    r = await atelier(['workspace', 'delete', 'cli-ws', '-g', 'cli-ws-group', '--yes', '--delete-dependent-resources']);
    assert.equal(r.code, 0, r.stderr);
    r = await atelier(['workspace', 'show', 'cli-ws', '-g', 'cli-ws-group']);
    assert.equal(r.code, 1);
    oneLine(r);
  });

  it('several commands at once renew an expired sign-in once, and all succeed', async () => {
    const file = path.join(cfg, 'profile.json');
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(p.refreshToken, 'login kept the refresh token');
    fs.writeFileSync(file, JSON.stringify({ ...p, expiresOn: Date.now() - 1000 }), { mode: 0o600 });
    const runs = await Promise.all([
      atelier(['group', 'list']),
      atelier(['workspace', 'list']),
      atelier(['account', 'list-subscriptions']),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const after = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(after.expiresOn > Date.now());
    assert.notEqual(after.refreshToken, p.refreshToken, 'the refresh token was rotated');
    const again = await atelier(['group', 'list']);
    assert.equal(again.code, 0, again.stderr);
  });

  it('logout forgets the profile', async () => {
    const r = await atelier(['logout']);
    assert.equal(r.code, 0);
    assert.equal(r.json.signedOut, true);
    assert.equal(fs.existsSync(path.join(cfg, 'profile.json')), false);
  });

  it('ATELIER_ENDPOINT + ATELIER_TOKEN work without a profile', async () => {
    const r = await atelier(['group', 'list'], { env: { ATELIER_ENDPOINT: t.url, ATELIER_TOKEN: t.adminToken } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Array.isArray(r.json));
  });

  // script(1) (util-linux) gives the CLI a terminal; without it the test is skipped, or fails under ATELIER_TEST_STRICT=1.
  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
  const strict = process.env.ATELIER_TEST_STRICT === '1';
  it(
    'shows a spinner on a terminal while the operation runs',
    { skip: hasScript || strict ? false : 'script(1) is not installed (util-linux)' },
    async () => {
      assert.ok(
        hasScript,
        'script(1) is not installed (util-linux): ATELIER_TEST_STRICT=1 needs it to test the terminal spinner',
      );
      const cmd = [process.execPath, BIN, 'workspace', 'create', 'tty-ws', '-g', 'tty-group', '--location', 'local']
        .map((a) => `'${a}'`)
        .join(' ');
      const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', cmd, '/dev/null'], {
          cwd: home,
          env: {
            PATH: process.env.PATH ?? '',
            TMPDIR: os.tmpdir(),
            HOME: home,
            ATELIER_CONFIG_DIR: cfg,
            ATELIER_ENDPOINT: t.url,
            ATELIER_TOKEN: t.adminToken,
            TERM: 'xterm',
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
        child.stdin.end();
      });
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /Creating workspace 'tty-ws'/);
      assert.match(r.out, /✔.*Created workspace 'tty-ws'/, 'the spinner ends with a success mark');
    },
  );

  // Two `server start`s (each loads the whole server and migrates or opens a database: seconds of
  // CPU): one with --tls on an empty data root, then one over plain HTTP on the same root after an
  // offline password reset.
  it('server start --tls makes its data root and serves HTTPS with a certificate it makes, and says how to trust it', async () => {
    const data = path.join(home, 'server-data');
    assert.equal(fs.existsSync(data), false);
    const child = spawn(
      process.execPath,
      [BIN, 'server', 'start', '--tls', '--port', '0', '--home', data, '--log-level', 'silent'],
      {
        cwd: home,
        env: {
          PATH: process.env.PATH ?? '',
          TMPDIR: os.tmpdir(),
          HOME: home,
          ATELIER_ADMIN_PASSWORD: 'cli-server-pass-1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 60_000);
        child.stdout.on('data', (d) => {
          out += d;
          const m = /listening on (https:\/\/\S+)/.exec(out);
          if (m && /NODE_EXTRA_CA_CERTS/.test(out)) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      assert.match(out, /REQUESTS_CA_BUNDLE/);
      assert.ok(fs.existsSync(path.join(data, 'atelier.db')), 'the data root was made, with its database');
      const ca = /NODE_EXTRA_CA_CERTS=(\S+)/.exec(out)?.[1]?.replace(/^['"]|['"]$/g, '');
      assert.ok(ca && fs.existsSync(ca), `trust file named in: ${out}`);
      // A client that trusts the printed CA file reaches the server over TLS.
      const probe = spawnSync(
        process.execPath,
        [
          '-e',
          `fetch(${JSON.stringify(url + '/health')}).then(r => process.exit(r.status === 200 ? 0 : 3), e => { console.error(e.cause ?? e); process.exit(4); })`,
        ],
        {
          env: { PATH: process.env.PATH ?? '', TMPDIR: os.tmpdir(), NODE_EXTRA_CA_CERTS: ca },
          encoding: 'utf8',
        },
      );
      assert.equal(probe.status, 0, probe.stderr);
      // One that does not trust it is refused.
      const untrusted = spawnSync(
        process.execPath,
        ['-e', `fetch(${JSON.stringify(url + '/health')}).then(() => process.exit(0), () => process.exit(5))`],
        { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' },
      );
      assert.equal(untrusted.status, 5);
      // The CLI says how to trust it, and --ca-file does.
      const tlsCfg = path.join(home, 'tls-config');
      const refused = await atelier(['login', '--endpoint', url, '--username', 'admin', '--password-stdin'], {
        env: { ATELIER_CONFIG_DIR: tlsCfg },
        input: 'cli-server-pass-1\n',
      });
      assert.equal(refused.code, 1);
      oneLine(refused);
      assert.match(refused.stderr, /does not trust its TLS certificate/);
      assert.match(refused.stderr, /NODE_EXTRA_CA_CERTS/);
      assert.match(refused.stderr, /--ca-file/);
      assert.doesNotMatch(refused.stderr, /is it running/);
      const trusted = await atelier(
        ['--ca-file', ca, 'login', '--endpoint', url, '--username', 'admin', '--password-stdin'],
        { env: { ATELIER_CONFIG_DIR: tlsCfg }, input: 'cli-server-pass-1\n' },
      );
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(trusted.json.user, 'admin');
      const groups = await atelier(['--ca-file', ca, 'group', 'list', '--query', 'length(@)'], {
        env: { ATELIER_CONFIG_DIR: tlsCfg },
      });
      assert.equal(groups.code, 0, groups.stderr);
      assert.equal(typeof groups.json, 'number');
      const notPem = await atelier(['--ca-file', path.join(data), 'group', 'list'], {
        env: { ATELIER_CONFIG_DIR: tlsCfg },
      });
      assert.equal(notPem.code, 2);
      oneLine(notPem);
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'it stops cleanly when told to');
    }
  });
  it('server reset-admin-password sets a lost admin password offline; a later start over HTTP reports ATELIER_ADMIN_PASSWORD as ignored', async () => {
    const data = path.join(home, 'server-data');
    assert.ok(fs.existsSync(path.join(data, 'atelier.db')), 'the data root of the server started above');
    let r = await atelier(['server', 'reset-admin-password', '--home', data], { input: 'short\n' });
    assert.equal(r.code, 1);
    oneLine(r);
    r = await atelier(['server', 'reset-admin-password', '--home', path.join(home, 'nowhere')], {
      input: 'reset-admin-pass-2\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Atelier database in/);
    assert.equal(fs.existsSync(path.join(home, 'nowhere')), false);
    r = await atelier(['server', 'reset-admin-password', '--home', data], { input: 'reset-admin-pass-2\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.user, 'admin');
    assert.equal(r.json.passwordReset, true);
    assert.ok(!r.stdout.includes('reset-admin-pass-2'), 'the password is not printed');
    const child = spawn(
      process.execPath,
      [BIN, 'server', 'start', '--port', '0', '--home', data, '--log-level', 'warn'],
      {
        cwd: home,
        env: {
          PATH: process.env.PATH ?? '',
          TMPDIR: os.tmpdir(),
          HOME: home,
          ATELIER_ADMIN_PASSWORD: 'a-later-password-3',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 60_000);
        child.stdout.on('data', (d) => {
          out += d;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      assert.equal((await fetch(`${url}/health`)).status, 200);
      assert.match(out, /ATELIER_ADMIN_PASSWORD is ignored: the admin user exists already/);
      assert.match(out, /atelier server reset-admin-password --home/);
      const env = { ATELIER_CONFIG_DIR: path.join(home, 'reset-config') };
      const later = await atelier(['login', '--endpoint', url, '--username', 'admin', '--password-stdin'], {
        env,
        input: 'a-later-password-3\n',
      });
      assert.equal(later.code, 1, 'the ignored password does not sign in');
      const reset = await atelier(['login', '--endpoint', url, '--username', 'admin', '--password-stdin'], {
        env,
        input: 'reset-admin-pass-2\n',
      });
      assert.equal(reset.code, 0, reset.stderr);
    } finally {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
