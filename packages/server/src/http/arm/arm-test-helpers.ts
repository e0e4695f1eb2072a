import assert from 'node:assert/strict';
import type { TestServer } from '../../testing/harness.js';

/** Test helpers of the control-plane suites (real server, real HTTP). */
export const V = 'api-version=2025-09-01';

export const groupPath = (t: TestServer, rg: string): string =>
  `/subscriptions/${t.subscriptionId}/resourceGroups/${rg}`;
export const wsPath = (t: TestServer, rg: string, name: string): string =>
  `${groupPath(t, rg)}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;

/** Polls an Azure-AsyncOperation URL until the operation ends; returns its final status body. */
export async function waitForOperation(
  t: TestServer,
  url: string,
  token?: string,
): Promise<{ status: string; error?: { code: string; message: string }; [k: string]: unknown }> {
  for (let i = 0; i < 400; i++) {
    const r = await t.request('GET', url, undefined, token ? { token } : {});
    assert.equal(r.status, 200, r.text);
    if (r.body.status !== 'InProgress') return r.body;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`operation ${url} did not end`);
}

/** Creates a resource group and a workspace and waits for it; returns its GET body. */
export async function createWorkspace(
  t: TestServer,
  rg: string,
  name: string,
  body: Record<string, unknown> = { location: 'local' },
): Promise<any> {
  const g = await t.request('PUT', `${groupPath(t, rg)}?${V}`, { location: 'local' });
  assert.ok(g.status === 200 || g.status === 201, g.text);
  const put = await t.request('PUT', `${wsPath(t, rg, name)}?${V}`, body);
  assert.equal(put.status, 201, put.text);
  const op = await waitForOperation(t, put.headers.get('azure-asyncoperation')!);
  assert.equal(op.status, 'Succeeded', JSON.stringify(op));
  const got = await t.request('GET', `${wsPath(t, rg, name)}?${V}`);
  assert.equal(got.status, 200);
  return got.body;
}

/** Makes a user with `role` at `scope` (none when role is null) and returns a bearer token for it. */
export async function userWithRole(
  t: TestServer,
  name: string,
  role: string | null,
  scope?: string,
): Promise<{ id: string; token: string }> {
  const password = `pw-${name}-0123456789`;
  const p = await t.server.ctx.principals.createUser(name, password);
  if (role && scope) await t.server.ctx.access.assign(p.id, scope, role, null);
  const res = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: name,
      password,
      scope: 'https://management.azure.com/.default',
    }),
  });
  const body = (await res.json()) as { access_token: string };
  assert.ok(body.access_token, JSON.stringify(body));
  return { id: p.id, token: body.access_token };
}

/** Row counts of the control plane's tables (to show a refused request changed nothing). */
export async function rowCounts(t: TestServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [
    'resources',
    'resource_groups',
    'operations',
    'resource_keys',
    'workspace_ids',
    'data_keys',
    'vault_secrets',
    'role_assignments',
    'global_names',
  ] as const) {
    const r = await t.server.ctx.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  return out;
}
