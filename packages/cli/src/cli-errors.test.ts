import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from './program.js';
import { inFlags, RENAMED } from './cli-errors.js';

// Item 17 of issue 13 for every command: an error of the SDK or the server is printed in the flags of
// the command that failed. The error printer (main.ts) passes every message through inFlags with the
// command being run; these tests run it over the real command tree.

const program = buildProgram();
const find = (names: string): Command => {
  let c: Command = program;
  for (const n of names.split(' ')) {
    const next = c.commands.find((s) => s.name() === n);
    assert.ok(next, `no command '${names}'`);
    c = next;
  }
  return c;
};
const leaves = (c: Command, path: string[] = []): { path: string; cmd: Command }[] =>
  c.commands.flatMap((s) =>
    s.commands.length ? leaves(s, [...path, s.name()]) : [{ path: [...path, s.name()].join(' '), cmd: s }],
  );

/** [command, message as the SDK or the server words it, what the CLI must say instead]. */
const CASES: [string, string, RegExp][] = [
  ['server start', 'publicUrl must be an http(s) URL', /^--public-url must be/],
  ['server reset-admin-password', 'databaseUrl is not a postgres:// URL', /^--database-url is not/],
  ['login', 'tenantId is not a tenant of this server', /^--tenant is not/],
  [
    'logout',
    'you can see 2 subscriptions; say which with subscriptionId (one of a, b)',
    /say which with --subscription /,
  ],
  ['account get-access-token', 'you can see 2 subscriptions; say which with subscriptionId', /with --subscription$/],
  ['group create', 'you can see 2 subscriptions; say which with subscriptionId', /with --subscription$/],
  [
    'workspace create',
    "workspace 'w' already exists in resource group 'rg'; pass existOk: true to use it",
    /; add --exist-ok to use it$/,
  ],
  [
    'workspace create',
    "resource group 'rg' does not exist in subscription s; create it, or pass createResourceGroup: true",
    /or leave out --no-create-resource-group$/,
  ],
  ['workspace create', 'resourceCmkUri needs cmkKeyvault', /^--resource-cmk-uri needs --cmk-keyvault$/],
  [
    'workspace show',
    "the name 'w' matches 2 workspaces, in resource groups 'a', 'b': say which with resourceGroup",
    /say which with -g\/--resource-group$/,
  ],
  [
    'workspace update',
    "workspace 'w' already uses container registry r; pass force: true to replace it with s",
    /add --force to replace/,
  ],
  [
    'datastore upload',
    "runs/a.txt already exists in datastore 'd'; pass overwrite: true to replace it",
    /add --overwrite/,
  ],
  ['datastore files', 'say which with workspaceName', /with -w\/--workspace$/],
  [
    'datastore create',
    'properties.endpoint: S3 datastores are disabled: an administrator must list the allowed S3 endpoints',
    /^--endpoint-url: S3 datastores/,
  ],
  ['datastore create', 'properties.accountName: storage account could not be found', /^--account-name: storage/],
  ['image list', 'say which with workspaceName', /with -w\/--workspace$/],
  ['user set-password', 'currentPassword is wrong', /^--current-password is wrong$/],
  ['user create', 'displayName is at most 256 characters', /^--display-name is/],
  ['sp create', 'expiresInDays must be a whole number of days from 1 to 365', /^--expires-in-days must/],
  ['role assignment create', "properties.principalId: no principal 'x'", /^--assignee: no principal/],
  ['role assignment create', 'properties.roleDefinitionId: no such role', /^--role: no such role/],
  ['run list', 'maxResults must be at most 1000', /^--top must/],
  ['experiment list', "viewType must be 'active', 'archived' or 'all'", /^--view must/],
  ['model download', "'out' exists already; remove it or pass existOk: true", /or add --exist-ok$/],
  ['model register', "runId 'r' is not a run of the workspace", /^--run-id 'r'/],
  ['keyvault key create', 'keySize must be 2048, 3072 or 4096', /^--size must/],
  ['keyvault secret set', 'contentType is at most 255 characters', /^--content-type is/],
  ['mlflow env', 'say which with resourceGroup', /with -g\/--resource-group$/],
  ['connection set', 'properties.authType must be one of PAT, ApiKey, …', /^--auth-type must/],
  ['endpoint update', 'mirrorTraffic may send at most 50 %', /^--mirror-traffic may/],
  ['endpoint invoke', 'deploymentName names no deployment of the endpoint', /^--deployment-name names/],
  ['deployment show', 'endpointName is required', /^--endpoint-name is required/],
  ['job create', 'say which with resourceGroup', /with -g\/--resource-group$/],
  [
    'compute create',
    'minNodes (3) is more than maxNodes (1)',
    /^--min-instances \(3\) is more than --max-instances \(1\)$/,
  ],
  ['compute create', 'idleSecondsBeforeScaledown must be at least 0', /^--idle-time-before-scale-down must/],
  ['compute create', "vmSize 'x' is not a size of this server; vmPriority must be", /^--size 'x' .*; --tier must/],
  ['compute create', 'dashboardUrl must be http(s)', /^--dashboard-url must/],
  ['token create', 'expiresInDays must be a whole number of days from 1 to 365', /^--expires-in-days must/],
  ['token revoke', 'say which with subscriptionId', /with --subscription$/],
  [
    'data create',
    "dataset 'd' is already registered with other data (azureml://x); pass createNewVersion: true to add a version",
    /add --create-new-version to add a version$/,
  ],
  ['data download', "'out/a.csv' already exists; pass overwrite: true to replace it", /add --overwrite/],
  ['data delete', 'say which with resourceGroup', /with -g\/--resource-group$/],
  ['environment create', 'properties.pipRequirements: at most 100000 characters', /^--pip-requirements: at most/],
  ['environment create', 'properties.description: at most 5000 characters', /^--description: at most/],
  ['environment archive', 'say which with workspaceName', /with -w\/--workspace$/],
  [
    'private-endpoint create',
    'privateEndpointConfig.addressPrefixes must list the networks (CIDRs) the endpoint admits',
    /^--address-prefixes must list/,
  ],
  ['private-endpoint create', 'privateEndpointConfig.vnetSubnetName is not a subnet name', /^--subnet-name is not/],
];

describe('errors speak the CLI flags of the command that failed (cli-errors.ts)', () => {
  it('every command group has cases', () => {
    const groups = new Set(CASES.map(([c]) => c.split(' ')[0]));
    const missing = program.commands.map((c) => c.name()).filter((n) => !groups.has(n));
    assert.deepEqual(missing, [], 'command groups without a case in CASES');
  });

  for (const [path, message, want] of CASES) {
    it(`${path}: ${message}`, () => {
      const out = inFlags(message, find(path));
      assert.match(out, want);
      assert.equal(/\b(existOk|resourceGroup|subscriptionId|workspaceName)\b/.test(out), false, out);
    });
  }

  it('every flag of every command is found from its option name (and the renamed ones from the SDK name)', () => {
    const renamedFrom = Object.fromEntries(Object.entries(RENAMED).map(([sdk, attr]) => [attr, sdk]));
    let checked = 0;
    for (const { path, cmd } of leaves(program)) {
      for (const o of cmd.options) {
        if (o.negate || !o.long) continue;
        const attr = o.attributeName();
        for (const name of [attr, renamedFrom[attr]].filter((n): n is string => !!n && /[A-Z]/.test(n))) {
          assert.equal(inFlags(`${name} is not valid`, cmd), `${o.long} is not valid`, `${path}: ${name}`);
          assert.equal(inFlags(`properties.${name}: not valid`, cmd), `${o.long}: not valid`, `${path}: ${name}`);
          checked++;
        }
        if (o.isBoolean())
          assert.match(inFlags(`pass ${attr}: true to go on`, cmd), new RegExp(`add (-\\w/)?${o.long} to go on`), path);
      }
      // The global options and the workspace options, the same on every command.
      assert.equal(inFlags('say which with subscriptionId', cmd), 'say which with --subscription', path);
      if (cmd.options.some((o) => o.long === '--resource-group'))
        assert.equal(inFlags('say which with resourceGroup', cmd), 'say which with -g/--resource-group', path);
    }
    assert.ok(checked > 40, `only ${checked} camel-case options checked`);
  });

  it('leaves alone what names no flag: file names, URLs, names the command has no flag for', () => {
    const cmd = find('compute create');
    for (const m of [
      'compute.yml: line 3: size must be a string',
      'see https://example.com/a.b/minNodes for more',
      "data/iris.csv is not a file on datastore 'workspaceblobstore'",
      'createAccessToken needs a name (what the token is for)',
      "the server's tracking URI is http://127.0.0.1:5000/x",
    ])
      assert.equal(inFlags(m, cmd), m);
    assert.equal(
      inFlags('pass overwrite: true to replace it', find('token list')),
      'pass overwrite: true to replace it',
    );
  });
});
