import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { migratedPostgres, TEST_PASSWORD_COST } from './harness.js';
import { createMigratedSqlite } from './db-templates.js';
import { startServer, type RunningServer } from '../server.js';
import { prepareTls } from '../identity/tls.js';
import type { DialectName } from '../store/database.js';
import { clientCredentialsToken, httpsJson } from './tls-clients.js';

const run = promisify(execFile);
const V = 'api-version=2025-09-01';
/** The test servers' storage suffix (a reserved test domain, resolved by the client processes only). */
export const STORAGE_SUFFIX = 'atelier.test';
/** The folder of the Python helpers (`azure_clients.py`), put on PYTHONPATH for client scripts. */
const PYTHON_HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python');

/** What a client script prints last: one entry a step, with its value or the error it raised, and its wall time `s` (seconds). */
export type StepResults = Record<string, { ok?: any; error?: string; trace?: string; s?: number }>;

/** A client script's step results with the two readers every client suite asserts through. */
export interface Steps {
  results: StepResults;
  /** Asserts the step ran and succeeded (else fails with its error and traceback); its value. */
  ok(step: string): any;
  /** Asserts the step ran and failed; its error message. */
  err(step: string): string;
}

export function readSteps(results: StepResults): Steps {
  const ran = (k: string) => {
    assert.ok(results[k], `no step ${k}`);
    return results[k]!;
  };
  return {
    results,
    ok(k) {
      const r = ran(k);
      assert.equal(r.error, undefined, `${k}: ${r.error}\n${r.trace ?? ''}`);
      return r.ok;
    },
    err(k) {
      const r = ran(k);
      assert.ok(r.error, `${k} should have failed, got ${JSON.stringify(r.ok)}`);
      return r.error;
    },
  };
}

/** A server over HTTPS with a Contributor service principal, as the official Azure clients need it. */
export interface AzureClientServer {
  server: RunningServer;
  home: string;
  ca: string;
  /** An ARM token of the service principal. */
  token: string;
  /** Environment for a client process (ATELIER_URL, AZURE_*, RESOURCE_GROUP, CA bundles, PYTHONPATH). */
  env: Record<string, string>;
  /** `W` of a workspace of the test's group. */
  workspaceId(name: string): string;
  /** Makes a workspace through the REST API (PUT + wait for its operation), with these properties. */
  workspace(name: string, properties?: Record<string, unknown>): Promise<void>;
  /** Runs a Python client script; returns its last stdout line parsed as JSON. */
  python(py: string, script: string, env?: Record<string, string>): Promise<any>;
  /**
   * Runs a client script that prints its step results (WORKDIR: a fresh folder of the server's home);
   * ATELIER_TEST_DUMP=1 prints them.
   */
  steps(py: string, script: string, env?: Record<string, string>): Promise<Steps>;
  close(): Promise<void>;
}

export async function startAzureClientServer(
  dialect: DialectName,
  group: string,
  opts: {
    servingPython?: string;
    /** An attached Ray cluster the server may use (testing/ray.ts): its dashboard is allowed, Serve on `servePort`. */
    ray?: { dashboard: string; servePort: number };
  } = {},
): Promise<AzureClientServer> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `atelier-${group}-`));
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  // A migrated database to start on (db-templates.ts).
  if (dialect === 'postgres') ({ url: databaseUrl, drop } = await migratedPostgres());
  else await createMigratedSqlite(path.join(home, 'atelier.db'));
  // Host-style blob URIs ({account}.blob.atelier.test): azureml-core uploads run files only to those.
  // The client processes resolve *.atelier.test to the server (testing/python/azure_clients.py).
  const tls = await prepareTls({ home, host: '127.0.0.1', env: {}, storageSuffix: STORAGE_SUFFIX });
  const ca = fs.readFileSync(tls.caFile!, 'utf8');
  // Which Ray clusters may be attached is read from the process environment when the services start.
  const savedRay = process.env.ATELIER_RAY_ADDRESSES;
  if (opts.ray) process.env.ATELIER_RAY_ADDRESSES = opts.ray.dashboard;
  const server = await startServer(
    {
      home,
      port: 0,
      logLevel: (process.env.ATELIER_TEST_LOG_LEVEL ?? 'silent') as 'silent',
      adminPassword: `${group}-admin-password`,
      tlsCert: tls.tlsCert,
      tlsKey: tls.tlsKey,
      databaseUrl,
      storageSuffix: STORAGE_SUFFIX,
      servingPython: opts.servingPython,
      ...(opts.ray ? { rayServePort: opts.ray.servePort } : {}),
    },
    {},
    { passwordCost: TEST_PASSWORD_COST },
  ).finally(() => {
    if (savedRay === undefined) delete process.env.ATELIER_RAY_ADDRESSES;
    else process.env.ATELIER_RAY_ADDRESSES = savedRay;
  });
  const ctx = server.ctx;
  const { principal, secret } = await ctx.principals.createServicePrincipal(group);
  await ctx.access.assign(principal.id, `/subscriptions/${ctx.defaultSubscriptionId}`, 'Contributor', null);
  const token = await clientCredentialsToken(server.url, ctx.tenantId, ca, principal.name, secret.value);
  // The clients' temporary files (azureml-core writes its scoring drivers and requirements there) go
  // under this server's folder, removed with it.
  const clientTmp = path.join(home, 'tmp');
  fs.mkdirSync(clientTmp);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    TMPDIR: clientTmp,
    ATELIER_URL: server.url,
    AZURE_TENANT_ID: ctx.tenantId,
    AZURE_CLIENT_ID: principal.name,
    AZURE_CLIENT_SECRET: secret.value,
    AZURE_SUBSCRIPTION_ID: ctx.defaultSubscriptionId,
    AZURE_CONFIG_DIR: path.join(home, 'azure'),
    RESOURCE_GROUP: group,
    NODE_EXTRA_CA_CERTS: tls.caFile!,
    REQUESTS_CA_BUNDLE: tls.caFile!,
    SSL_CERT_FILE: tls.caFile!,
    PYTHONPATH: PYTHON_HELPERS,
    ATELIER_STORAGE_SUFFIX: STORAGE_SUFFIX,
  };
  const groupUrl = `${server.url}/subscriptions/${ctx.defaultSubscriptionId}/resourcegroups/${group}?${V}`;
  const rg = await httpsJson('PUT', groupUrl, ca, token, { location: 'local' });
  if (rg.status !== 201) throw new Error(`resource group: ${rg.status} ${JSON.stringify(rg.body)}`);
  const workspaceId = (name: string) =>
    `/subscriptions/${ctx.defaultSubscriptionId}/resourceGroups/${group}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
  async function python(py: string, script: string, extra: Record<string, string> = {}): Promise<any> {
    const { stdout } = await run(py, [script], {
      env: { ...env, ...extra },
      timeout: 600_000,
      maxBuffer: 64 << 20,
    }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }
  return {
    server,
    home,
    ca,
    token,
    env,
    workspaceId,
    async workspace(name, properties) {
      const put = await httpsJson('PUT', `${server.url}${workspaceId(name)}?${V}`, ca, token, {
        location: 'local',
        ...(properties ? { properties } : {}),
      });
      if (put.status !== 201) throw new Error(`workspace: ${put.status} ${JSON.stringify(put.body)}`);
      for (let i = 0; i < 500; i++) {
        const op = await httpsJson('GET', String(put.headers['azure-asyncoperation']), ca, token);
        if (op.body.status === 'Succeeded') return;
        if (op.body.status !== 'InProgress') throw new Error(`workspace: ${JSON.stringify(op.body)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('workspace creation did not end');
    },
    python,
    async steps(py, script, extra = {}) {
      const work = fs.mkdtempSync(path.join(home, 'work-'));
      const results = (await python(py, script, { WORKDIR: work, ...extra })) as StepResults;
      if (process.env.ATELIER_TEST_DUMP) console.log(JSON.stringify(results, null, 1));
      return readSteps(results);
    },
    async close() {
      await server.close();
      await drop?.();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
