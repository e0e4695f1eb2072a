import fs from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { Workspace } from '@atelier/sdk';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';

interface WsOpts {
  workspace?: string;
  resourceGroup?: string;
}
const wsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)');

type Obj = Record<string, unknown>;

/** Reads the YAML (or JSON) file of `-f`, as `az ml online-endpoint|online-deployment create -f` takes it. */
function readSpec(file: string): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const v: unknown = parseYaml(text);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${file} must hold a YAML mapping`);
  return v as Obj;
}

const seconds = (v: unknown, what: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || v < 0) throw new UsageError(`${what} must be a number of seconds`);
  return `PT${v}S`;
};
const millis = (v: unknown, what: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || v < 0) throw new UsageError(`${what} must be a number of milliseconds`);
  return `PT${v / 1000}S`;
};

function only(spec: Obj, allowed: string[], file: string): void {
  for (const k of Object.keys(spec))
    if (!allowed.includes(k) && k !== '$schema')
      throw new UsageError(`${file}: unknown key '${k}' (allowed: ${allowed.join(', ')})`);
}

/** `percent` maps of --traffic: `blue=90,green=10`. */
function percents(v: string, what: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of v.split(',').filter(Boolean)) {
    const m = /^([A-Za-z][A-Za-z0-9-]*)=(\d{1,3})$/.exec(part.trim());
    if (!m) throw new UsageError(`${what}: '${part}' is not deployment=percent`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function endpointBody(spec: Obj, file: string): { name: string; body: Obj } {
  only(spec, ['name', 'auth_mode', 'description', 'tags', 'traffic', 'mirror_traffic', 'identity', 'compute'], file);
  if (typeof spec.name !== 'string') throw new UsageError(`${file}: 'name' is required`);
  const auth = String(spec.auth_mode ?? 'key').toLowerCase();
  const authMode = auth === 'key' ? 'Key' : auth === 'aml_token' ? 'AMLToken' : undefined;
  if (!authMode) throw new UsageError(`${file}: auth_mode must be key or aml_token`);
  const properties: Obj = { authMode };
  if (spec.description !== undefined) properties.description = spec.description;
  if (spec.traffic !== undefined) properties.traffic = spec.traffic;
  if (spec.mirror_traffic !== undefined) properties.mirrorTraffic = spec.mirror_traffic;
  // An attached Ray compute (azureml:<name>): the endpoint's deployments run on its Ray Serve.
  if (spec.compute !== undefined) {
    if (typeof spec.compute !== 'string')
      throw new UsageError(`${file}: compute must name an attached Ray compute (azureml:<name>)`);
    properties.compute = spec.compute;
  }
  return { name: spec.name, body: { location: 'local', tags: spec.tags ?? {}, properties } };
}

function probe(v: unknown, what: string): Obj | undefined {
  if (v === undefined) return undefined;
  if (!v || typeof v !== 'object') throw new UsageError(`${what} must be a mapping`);
  const p = v as Obj;
  return {
    initialDelay: seconds(p.initial_delay, `${what}.initial_delay`),
    period: seconds(p.period, `${what}.period`),
    timeout: seconds(p.timeout, `${what}.timeout`),
    failureThreshold: p.failure_threshold,
    successThreshold: p.success_threshold,
  };
}

export function deploymentBody(
  ws: Pick<Workspace, 'id'>,
  spec: Obj,
  file: string,
): { name: string; endpoint: string; body: Obj } {
  only(
    spec,
    [
      'type',
      'resources',
      'name',
      'endpoint_name',
      'model',
      'code_configuration',
      'environment',
      'environment_variables',
      'instance_type',
      'instance_count',
      'request_settings',
      'liveness_probe',
      'readiness_probe',
      'description',
      'tags',
    ],
    file,
  );
  if (typeof spec.name !== 'string') throw new UsageError(`${file}: 'name' is required`);
  if (typeof spec.endpoint_name !== 'string') throw new UsageError(`${file}: 'endpoint_name' is required`);
  // `type: kubernetes` (az ml's deployments on an endpoint's attached compute: here a Ray cluster) or
  // `managed`; absent, the server picks the endpoint's kind.
  const properties: Obj = {};
  if (spec.type !== undefined) {
    const type = String(spec.type).toLowerCase();
    if (type !== 'managed' && type !== 'kubernetes')
      throw new UsageError(`${file}: type must be managed or kubernetes (an endpoint on an attached Ray compute)`);
    properties.endpointComputeType = type === 'managed' ? 'Managed' : 'Kubernetes';
  }
  const resources = spec.resources as Obj | undefined;
  if (resources !== undefined) {
    if (!resources || typeof resources !== 'object' || resources.limits !== undefined)
      throw new UsageError(`${file}: resources takes requests: {cpu, memory, gpu} (what each Ray replica reserves)`);
    const req = (resources.requests ?? {}) as Obj;
    properties.containerResourceRequirements = {
      containerResourceRequests: Object.fromEntries(Object.entries(req).map(([k, v]) => [k, String(v)])),
    };
  }
  if (spec.model !== undefined) {
    if (typeof spec.model !== 'string')
      throw new UsageError(`${file}: model must name a registered version (azureml:<name>:<version>)`);
    properties.model = spec.model;
  }
  const code = spec.code_configuration as Obj | undefined;
  if (code) {
    const id = String(code.code ?? '');
    properties.codeConfiguration = {
      codeId: id.startsWith('/') ? id : `${ws.id}/codes/${id.replace(/^azureml:/, '').replace(':', '/versions/')}`,
      scoringScript: code.scoring_script,
    };
  }
  if (spec.environment !== undefined) properties.environmentId = spec.environment;
  if (spec.environment_variables !== undefined) properties.environmentVariables = spec.environment_variables;
  if (spec.instance_type !== undefined) properties.instanceType = spec.instance_type;
  if (spec.description !== undefined) properties.description = spec.description;
  const rs = spec.request_settings as Obj | undefined;
  if (rs)
    properties.requestSettings = {
      maxConcurrentRequestsPerInstance: rs.max_concurrent_requests_per_instance,
      requestTimeout: millis(rs.request_timeout_ms, 'request_settings.request_timeout_ms'),
      maxQueueWait: millis(rs.max_queue_wait_ms, 'request_settings.max_queue_wait_ms'),
    };
  properties.livenessProbe = probe(spec.liveness_probe, 'liveness_probe');
  properties.readinessProbe = probe(spec.readiness_probe, 'readiness_probe');
  return {
    name: spec.name,
    endpoint: spec.endpoint_name,
    body: {
      location: 'local',
      tags: spec.tags ?? {},
      sku: { name: 'Default', capacity: spec.instance_count ?? 1 },
      properties: JSON.parse(JSON.stringify(properties)) as Obj,
    },
  };
}

const endpointPath = (ws: Workspace, name: string) => `${ws.id}/onlineEndpoints/${encodeURIComponent(name)}`;

/** `endpoint create|update|show|list|delete|invoke|get-credentials` and `deployment create|show|list|delete|get-logs`. */
export function endpointCommands(program: Command): void {
  const ep = program
    .command('endpoint')
    .description("a workspace's online endpoints: scoring URIs in front of deployed models");
  wsOptions(
    ep
      .command('create')
      .description(
        'create or replace an endpoint from a YAML file (name, auth_mode, traffic; compute: an attached Ray compute)',
      ),
  )
    .requiredOption('-f, --file <file>', 'the endpoint YAML (as for az ml online-endpoint create)')
    .action(async (o: WsOpts & { file: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const { name, body } = endpointBody(readSpec(o.file), o.file);
      const r = await ws.serviceContext.client.request('PUT', endpointPath(ws, name), {
        body,
        what: `create endpoint '${name}'`,
      });
      print(r.body, g);
    });
  wsOptions(ep.command('update').description("change an endpoint's traffic split (blue/green) or mirror traffic"))
    .requiredOption('-n, --name <name>', 'the endpoint')
    .option('--traffic <split>', 'deployment=percent,… summing to 100 (e.g. blue=90,green=10)')
    .option('--mirror-traffic <split>', 'deployment=percent (at most 50) that gets copies of requests')
    .action(async (o: WsOpts & { name: string; traffic?: string; mirrorTraffic?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (o.traffic === undefined && o.mirrorTraffic === undefined)
        throw new UsageError('give --traffic or --mirror-traffic');
      const ws = await resolveWorkspace(g, o);
      const properties: Obj = {};
      if (o.traffic !== undefined) properties.traffic = percents(o.traffic, '--traffic');
      if (o.mirrorTraffic !== undefined) properties.mirrorTraffic = percents(o.mirrorTraffic, '--mirror-traffic');
      const r = await ws.serviceContext.client.request('PATCH', endpointPath(ws, o.name), {
        body: { properties },
        what: `update endpoint '${o.name}'`,
      });
      print(r.body, g);
    });
  wsOptions(ep.command('show').description('show an endpoint (scoring URI, traffic)'))
    .requiredOption('-n, --name <name>', 'the endpoint')
    .action(async (o: WsOpts & { name: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      print((await ws.serviceContext.client.request('GET', endpointPath(ws, o.name))).body, g);
    });
  wsOptions(ep.command('list').description("list the workspace's endpoints")).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const all: unknown[] = [];
      for await (const e of ws.serviceContext.client.list(`${ws.id}/onlineEndpoints`)) all.push(e);
      print(all, g, ['name', 'properties.authMode', 'properties.scoringUri']);
    },
  );
  wsOptions(ep.command('delete').description('delete an endpoint with its deployments'))
    .requiredOption('-n, --name <name>', 'the endpoint')
    .action(async (o: WsOpts & { name: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      await ws.serviceContext.client.request('DELETE', endpointPath(ws, o.name), {
        what: `delete endpoint '${o.name}'`,
      });
      print({ deleted: o.name }, g);
    });
  wsOptions(ep.command('get-credentials').description("an endpoint's keys (Key) or a token (AMLToken)"))
    .requiredOption('-n, --name <name>', 'the endpoint')
    .action(async (o: WsOpts & { name: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const c = ws.serviceContext.client;
      const e = await c.request<{ properties: { authMode: string } }>('GET', endpointPath(ws, o.name));
      const action = e.body.properties.authMode === 'AMLToken' ? 'token' : 'listKeys';
      print((await c.request('POST', `${endpointPath(ws, o.name)}/${action}`)).body, g);
    });
  wsOptions(ep.command('invoke').description("score a request file with the endpoint's key or token"))
    .requiredOption('-n, --name <name>', 'the endpoint')
    .requiredOption('-r, --request-file <file>', 'the request body (JSON)')
    .option('-d, --deployment-name <name>', 'send it to this deployment (default: by the traffic split)')
    .action(async (o: WsOpts & { name: string; requestFile: string; deploymentName?: string }, cmd: Command) => {
      const g = globals(cmd);
      let body: string;
      try {
        body = fs.readFileSync(o.requestFile, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${o.requestFile}: ${(e as Error).message}`);
      }
      const ws = await resolveWorkspace(g, o);
      const c = ws.serviceContext.client;
      const e = await c.request<{ properties: { authMode: string; scoringUri: string } }>(
        'GET',
        endpointPath(ws, o.name),
      );
      const token = e.body.properties.authMode === 'AMLToken';
      const cred = (
        await c.request<{ primaryKey?: string; accessToken?: string }>(
          'POST',
          `${endpointPath(ws, o.name)}/${token ? 'token' : 'listKeys'}`,
        )
      ).body;
      const res = await fetch(e.body.properties.scoringUri, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token ? cred.accessToken : cred.primaryKey}`,
          'content-type': 'application/json',
          ...(o.deploymentName ? { 'azureml-model-deployment': o.deploymentName } : {}),
        },
        body,
      });
      const text = await res.text();
      if (!res.ok) throw new UsageError(`the endpoint answered ${res.status}: ${text}`);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // plain text
      }
      print(parsed, g);
    });

  const dep = program
    .command('deployment')
    .description("an online endpoint's deployments (models served by instances)");
  const deploymentPath = (ws: Workspace, endpoint: string, name: string) =>
    `${endpointPath(ws, endpoint)}/deployments/${encodeURIComponent(name)}`;
  wsOptions(
    dep
      .command('create')
      .description('create or replace a deployment from a YAML file; waits until its instances are ready'),
  )
    .requiredOption('-f, --file <file>', 'the deployment YAML (as for az ml online-deployment create)')
    .option('--all-traffic', 'then send all of the endpoint’s traffic to it')
    .action(async (o: WsOpts & { file: string; allTraffic?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const { name, endpoint, body } = deploymentBody(ws, readSpec(o.file), o.file);
      const c = ws.serviceContext.client;
      const path = deploymentPath(ws, endpoint, name);
      const put = await c.request('PUT', path, { body, what: `create deployment '${name}'` });
      const done = await c.waitFor(put, 'PUT', path, { what: `create deployment '${name}'` });
      if (o.allTraffic)
        await c.request('PATCH', endpointPath(ws, endpoint), {
          body: { properties: { traffic: { [name]: 100 } } },
          what: `send the traffic of '${endpoint}' to '${name}'`,
        });
      print(done?.body, g);
    });
  const depOptions = (c: Command) =>
    wsOptions(c)
      .requiredOption('-n, --name <name>', 'the deployment')
      .requiredOption('-e, --endpoint-name <endpoint>', 'its endpoint');
  depOptions(dep.command('show').description('show a deployment')).action(
    async (o: WsOpts & { name: string; endpointName: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      print((await ws.serviceContext.client.request('GET', deploymentPath(ws, o.endpointName, o.name))).body, g);
    },
  );
  wsOptions(dep.command('list').description("list an endpoint's deployments"))
    .requiredOption('-e, --endpoint-name <endpoint>', 'the endpoint')
    .action(async (o: WsOpts & { endpointName: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      const all: unknown[] = [];
      for await (const d of ws.serviceContext.client.list(`${endpointPath(ws, o.endpointName)}/deployments`))
        all.push(d);
      print(all, g, ['name', 'properties.provisioningState', 'sku.capacity', 'properties.model']);
    });
  depOptions(dep.command('delete').description('delete a deployment (its traffic must be 0)')).action(
    async (o: WsOpts & { name: string; endpointName: string }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      await ws.serviceContext.client.request('DELETE', deploymentPath(ws, o.endpointName, o.name), {
        what: `delete deployment '${o.name}'`,
      });
      print({ deleted: o.name }, g);
    },
  );
  depOptions(
    dep
      .command('get-logs')
      .description("the last lines of a deployment's log: every instance's lines and the provisioning lines"),
  )
    .option('-l, --lines <n>', 'how many lines', '100')
    .option(
      '--container-type <type>',
      "InferenceServer (the instances' lines) or StorageInitializer (the provisioning lines); default both",
    )
    .option('--instance <name>', 'one instance: instance-0, instance-1… (replica-… on Ray Serve)')
    .action(
      async (
        o: WsOpts & { name: string; endpointName: string; lines: string; containerType?: string; instance?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (!/^\d{1,6}$/.test(o.lines)) throw new UsageError('--lines must be a whole number');
        if (o.containerType !== undefined && !/^(InferenceServer|StorageInitializer)$/.test(o.containerType))
          throw new UsageError('--container-type must be InferenceServer or StorageInitializer');
        const ws = await resolveWorkspace(g, o);
        const r = await ws.serviceContext.client.request<{ content: string }>(
          'POST',
          `${deploymentPath(ws, o.endpointName, o.name)}/getLogs`,
          {
            body: {
              tail: Number(o.lines),
              ...(o.containerType ? { containerType: o.containerType } : {}),
              ...(o.instance ? { instance: o.instance } : {}),
            },
            what: `get the logs of '${o.name}'`,
          },
        );
        if (g.output === 'json' && !g.query) process.stdout.write(r.body.content);
        else print(r.body, g);
      },
    );
}
