import crypto from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../identity/principals.js';
import { normaliseLocation, type ResourceGroupService } from '../resource-groups.js';
import type { ResourceEngine } from '../engine.js';
import { placementsOf, type ResourceTypeRegistry } from '../registry.js';
import type { OperationService } from '../../operations/operations.js';
import type { WorkspaceService } from '../workspaces.js';
import {
  AtelierError,
  Conflict,
  InvalidInput,
  isErrorCode,
  NotFound,
  NotImplemented,
  PreconditionFailed,
  recordError,
  type RecordedError,
} from '../../errors.js';
import type { ResourceDefinition, StoredResource } from '../engine.js';
import { WORKSPACE, type WorkspaceInput } from '../workspaces.js';
import { parseResourceId, resourceId } from '../resource-ids.js';
import { STALE_MS, type Operation, type OperationJournal } from '../../operations/operations.js';
import {
  TemplateRun,
  TemplateError,
  parametersNamed,
  evaluateDeep,
  type DeployScope,
  type PlannedResource,
  type Template,
} from './template.js';

export const DEPLOYMENT = 'Microsoft.Resources/deployments';

/** The control-plane services a deployment makes its resources with. */
export interface DeploymentDeps {
  groups: ResourceGroupService;
  types: ResourceTypeRegistry;
  resources: ResourceEngine;
  operations: OperationService;
  workspaces: WorkspaceService;
}

export const deploymentDef: ResourceDefinition = {
  type: DEPLOYMENT,
  checkName(name) {
    if (!/^[-\w._()]{1,64}$/.test(name))
      throw new InvalidInput(
        `deployment name '${name}' is invalid: use 1–64 letters, digits, '-', '_', '.', '(' or ')'`,
        { code: 'INVALID_DEPLOYMENT_NAME', target: 'deploymentName' },
      );
  },
};

/**
 * Log Analytics workspaces: a pure record (Atelier has no log analytics). Stored through the
 * generic resource engine only because the default paths of both official Python clients deploy
 * one next to Application Insights (azure-ai-ml: applicationInsightsOption=new; azureml-core:
 * DefaultWorkspace-{location} in DefaultResourceGroup-{location}); nothing reads it.
 */
export const LOG_ANALYTICS = 'Microsoft.OperationalInsights/workspaces';
export const logAnalyticsDef: ResourceDefinition = {
  type: LOG_ANALYTICS,
  checkName(name) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/.test(name))
      throw new InvalidInput(
        `log analytics workspace name '${name}' is invalid: use 4–63 letters, digits and '-', starting and ending with a letter or digit`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  },
};

export interface DeploymentBody {
  location?: string;
  tags?: Record<string, string>;
  properties: {
    template?: Template;
    templateLink?: unknown;
    parameters?: Record<string, { value?: unknown; reference?: unknown }>;
    parametersLink?: unknown;
    mode?: string;
    expressionEvaluationOptions?: { scope?: string };
    [k: string]: unknown;
  };
}

interface OpRecord {
  operationId: string;
  provisioningState: 'Running' | 'Succeeded' | 'Failed';
  provisioningOperation: 'Create';
  timestamp: string;
  duration: string;
  statusCode: string;
  statusMessage?: unknown;
  targetResource: { id: string; resourceType: string; resourceName: string };
}

/** What a deployment made (for rollback): kind of undo + id. */
interface Made {
  kind: 'workspace' | 'resource' | 'group' | 'dependent' | 'record';
  id: string;
}

const iso = (ms: number) => `PT${(ms / 1000).toFixed(3)}S`;

/** Workspace properties the clients send as template strings ('true'/'false') or '' for "unset". */
const WS_BOOLEANS = [
  'hbiWorkspace',
  'v1LegacyMode',
  'allowPublicAccessWhenBehindVnet',
  'enableDataIsolation',
  'provisionNetworkNow',
  'allowRoleAssignmentOnRG',
  'softDeleteEnabled',
  'allowRecoverSoftDeletedWorkspace',
];
const WS_ENUMS_EMPTY_IS_UNSET = [
  'systemDatastoresAuthMode',
  'publicNetworkAccess',
  'imageBuildCompute',
  'primaryUserAssignedIdentity',
];

/**
 * ARM template deployments (Microsoft.Resources/deployments) at resource-group scope. Each
 * resource of the template goes to the same service its REST route uses (workspaces, storage
 * accounts, key vaults, Application Insights, container registries, resource groups), with the
 * caller's RBAC checked per resource as its route would. A deployment runs as an operation; when a
 * resource fails, what the deployment made is removed again (unlike Azure, which leaves it) and
 * the deployment is Failed with the resource's error.
 */
export class DeploymentService {
  constructor(
    private readonly ctx: AppContext,
    private readonly services: DeploymentDeps,
  ) {
    services.operations.onRecover('deployment.create', async (op, journal) => {
      // A deployment that reached Succeeded is finished: what it made stays.
      if ((await services.resources.get(op.resourceId))?.properties.provisioningState === 'Succeeded')
        return 'completed';
      const by = op.requestedBy ? await ctx.principals.get(op.requestedBy) : undefined;
      await this.rollback((journal.made as Made[] | undefined) ?? [], by);
      const d = await services.resources.get(op.resourceId);
      if (d)
        await services.resources.setProperties(op.resourceId, {
          provisioningState: 'Failed',
          error: {
            code: 'DEPLOYMENT_INTERRUPTED',
            kind: 'internal',
            message: 'the server stopped while this deployment ran; what it had made was removed. Deploy again.',
          },
        });
    });
    services.operations.onSweep(() => this.recoverOrphans());
  }

  /**
   * A deployment left Accepted/Running whose operation is no longer running (the process stopped,
   * or its operation row was failed by a sweep of a server that had no recovery for it): remove what its
   * journal says it made and mark it Failed.
   */
  async recoverOrphans(): Promise<void> {
    // Runs every sweep: only deployments whose stored state is Accepted/Running are read.
    const rows = await this.services.resources.scan({ type: DEPLOYMENT, provisioningStates: ['Running', 'Accepted'] });
    for (const { id } of rows) {
      const d = await this.services.resources.get(id);
      if (!d || !['Accepted', 'Running'].includes(String(d.properties.provisioningState))) continue;
      const ops = await this.ctx.db
        .selectFrom('operations')
        .select(['status', 'result', 'requested_by', 'created_at'])
        .where('resource_id', '=', d.id)
        .orderBy('created_at', 'desc')
        .execute();
      // The operation of this run (an older one belongs to an earlier deployment of the same name).
      const current = ops[0] && ops[0].created_at >= Number(d.properties.startedAt ?? 0) ? ops[0] : undefined;
      if (current?.status === 'InProgress') continue;
      if (!current && Date.now() - d.updatedAt < STALE_MS) continue;
      this.ctx.log.warn({ deployment: d.id }, 'recovering a template deployment whose process stopped');
      const journal = current?.result ? (JSON.parse(current.result) as { made?: Made[] }) : {};
      const by = current?.requested_by ? await this.ctx.principals.get(current.requested_by) : undefined;
      await this.rollback(journal.made ?? [], by);
      await this.services.resources.setProperties(d.id, {
        provisioningState: 'Failed',
        error: {
          code: 'DEPLOYMENT_INTERRUPTED',
          kind: 'internal',
          message: 'the server stopped while this deployment ran; what it had made was removed. Deploy again.',
        },
      });
    }
  }

  id(sub: string, rg: string, name: string): string {
    return resourceId(sub, rg, DEPLOYMENT, name);
  }

  /** Checks the body and plans the template (the validate action, and the start of a PUT). */
  async preflight(
    sub: string,
    rg: string,
    name: string,
    body: DeploymentBody,
  ): Promise<{ run: TemplateRun; scope: DeployScope; plan: PlannedResource[] }> {
    deploymentDef.checkName(name);
    const group = await this.services.groups.require(sub, rg);
    const p = body?.properties;
    if (!p || typeof p !== 'object')
      throw new InvalidInput('properties is required: {template: {...}, parameters: {...}, mode: "Incremental"}', {
        code: 'INVALID_INPUT',
        target: 'properties',
      });
    if (p.templateLink !== undefined)
      throw new InvalidInput(
        'properties.templateLink is not supported: this server does not fetch templates from the network; send the template inline in properties.template',
        { code: 'INVALID_TEMPLATE', target: 'properties.templateLink' },
      );
    if (p.parametersLink !== undefined)
      throw new InvalidInput(
        'properties.parametersLink is not supported; send the values inline in properties.parameters',
        { code: 'INVALID_TEMPLATE', target: 'properties.parametersLink' },
      );
    if (!p.template || typeof p.template !== 'object' || Array.isArray(p.template))
      throw new InvalidInput('properties.template must be the template (a JSON object)', {
        code: 'INVALID_TEMPLATE',
        target: 'properties.template',
      });
    const mode = String(p.mode ?? 'Incremental');
    if (mode.toLowerCase() === 'complete')
      throw new NotImplemented(
        "mode 'Complete' (delete what the template does not name) is not supported; use mode 'Incremental'",
        { code: 'NOT_IMPLEMENTED', target: 'properties.mode' },
      );
    if (mode.toLowerCase() !== 'incremental')
      throw new InvalidInput(`properties.mode must be 'Incremental', got '${mode}'`, {
        code: 'INVALID_INPUT',
        target: 'properties.mode',
      });
    const given = this.givenParameters(p.parameters);
    const scope: DeployScope = {
      subscriptionId: sub.toLowerCase(),
      tenantId: this.ctx.tenantId,
      resourceGroup: { name: group.name, location: group.location, tags: JSON.parse(group.tags ?? '{}') },
      deploymentName: name,
      location: body.location,
    };
    const run = new TemplateRun(p.template, given, scope);
    const plan = run.plan();
    this.checkTypes(plan, run);
    return { run, scope, plan };
  }

  private givenParameters(params: unknown): Record<string, unknown> {
    if (params === undefined || params === null) return {};
    if (typeof params !== 'object' || Array.isArray(params))
      throw new InvalidInput('properties.parameters must be an object of {name: {value: …}}', {
        code: 'INVALID_INPUT',
        target: 'properties.parameters',
      });
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
      if (!v || typeof v !== 'object' || !('value' in v)) {
        if (v && typeof v === 'object' && 'reference' in v)
          throw new InvalidInput(`parameter '${k}': Key Vault references are not supported; give the value`, {
            code: 'INVALID_INPUT',
            target: `properties.parameters.${k}`,
          });
        throw new InvalidInput(`parameter '${k}' must be given as {"value": …}`, {
          code: 'INVALID_INPUT',
          target: `properties.parameters.${k}`,
        });
      }
      out[k] = (v as { value: unknown }).value;
    }
    return out;
  }

  /** The types a template may deploy: the deployable declared types (resource groups among them). */
  private handledNames(): string[] {
    return this.services.types
      .deployable()
      .map((t) => t.type)
      .filter((t) => t !== DEPLOYMENT);
  }
  private handled(): string[] {
    return this.handledNames().map((t) => t.toLowerCase());
  }

  /** Every resource to deploy must be a type Atelier serves (nested templates checked too). */
  private checkTypes(plan: PlannedResource[], run: TemplateRun): void {
    for (const r of plan) {
      const t = r.type.toLowerCase();
      if (t === DEPLOYMENT.toLowerCase()) {
        const nested = r.raw.properties as DeploymentBody['properties'] | undefined;
        if (!nested?.template)
          throw new TemplateError(
            `nested deployment '${r.name}' must have an inline properties.template (templateLink is not supported)`,
            r.name,
          );
        // Checked now as far as it can be without the resources it may reference (those wait for the run).
        let inner: { run: TemplateRun; plan: PlannedResource[] } | undefined;
        try {
          const { nestedRun } = this.nested(run, r, run.target.resourceGroup);
          inner = { run: nestedRun, plan: nestedRun.plan() };
        } catch (e) {
          if (!(e instanceof TemplateError && /reference\(/.test(e.message))) throw e;
        }
        if (inner) this.checkTypes(inner.plan, inner.run);
        continue;
      }
      if (this.handled().includes(t)) continue;
      const params = parametersNamed(r.raw.condition);
      throw new TemplateError(
        `resource '${r.name}' has type '${r.type}', which this server does not serve` +
          (params.length
            ? `; change the parameter(s) its condition uses (${params.join(', ')}) so it is not deployed (its condition is ${String(r.raw.condition)})`
            : '; remove it from the template') +
          `. Types served: ${this.handledNames().join(', ')}, ${DEPLOYMENT} (nested, inline)`,
        r.name,
      );
    }
  }

  /** PUT: checks, records the deployment (Accepted) and runs it as an operation. */
  async put(
    sub: string,
    rg: string,
    name: string,
    body: DeploymentBody,
    by: Principal,
  ): Promise<{ resource: StoredResource; operation: Operation; created: boolean }> {
    const { run, plan } = await this.preflight(sub, rg, name, body);
    const id = this.id(sub, rg, name);
    const existing = await this.services.resources.get(id);
    if (existing && ['Accepted', 'Running'].includes(String(existing.properties.provisioningState))) {
      throw new Conflict(`deployment '${name}' is still running; wait for it to end`, { code: 'DEPLOYMENT_ACTIVE' });
    }
    const group = await this.services.groups.require(sub, rg);
    const now = Date.now();
    const template = body.properties.template!;
    const { resource } = await this.services.resources
      .put(
        deploymentDef,
        id,
        {
          location: body.location ? normaliseLocation(body.location) : undefined,
          tags: body.tags ?? {},
          properties: {
            provisioningState: 'Accepted',
            mode: 'Incremental',
            timestamp: new Date(now).toISOString(),
            startedAt: now,
            duration: 'PT0S',
            correlationId: crypto.randomUUID(),
            templateHash: crypto.createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 20),
            parameters: run.reportedParameters(),
            providers: [...new Set(plan.map((r) => r.type.split('/')[0]!))].map((namespace) => ({
              namespace,
              resourceTypes: plan
                .filter((r) => r.type.startsWith(`${namespace}/`))
                .map((r) => ({ resourceType: r.type.slice(namespace.length + 1), locations: [] })),
            })),
            dependencies: [],
            outputResources: [],
            operations: [],
          },
        },
        by,
        // Two PUTs of one deployment at once: the second is refused rather than run alongside.
        existing ? { ifMatch: existing.etag } : { ifNoneMatch: '*' },
      )
      .catch((e) => {
        if (e instanceof PreconditionFailed || (e instanceof Conflict && e.code === 'CONCURRENT_UPDATE'))
          throw new Conflict(
            `deployment '${name}' was started by another request at the same time; wait for it to end`,
            { code: 'DEPLOYMENT_ACTIVE' },
          );
        throw e;
      });
    const operation = await this.services.operations.start(
      'deployment.create',
      { id, subscriptionId: sub, location: group.location },
      by.id,
      (journal) => this.execute(resource, run, plan, by, journal),
    );
    return { resource, operation, created: !existing };
  }

  private async execute(
    dep: StoredResource,
    run: TemplateRun,
    plan: PlannedResource[],
    by: Principal,
    journal: OperationJournal,
  ): Promise<void> {
    const engine = this.services.resources;
    await engine.setProperties(dep.id, { provisioningState: 'Running' });
    const made: Made[] = [];
    const ops: OpRecord[] = [];
    const outputResources: { id: string }[] = [];
    const saveOps = () => engine.setProperties(dep.id, { operations: ops, outputResources });
    try {
      await this.deployPlan(run, plan, by, made, journal, async (op) => {
        const i = ops.findIndex((o) => o.operationId === op.operationId);
        if (i >= 0) ops[i] = op;
        else ops.push(op);
        if (op.provisioningState === 'Succeeded' && !outputResources.some((o) => o.id === op.targetResource.id))
          outputResources.push({ id: op.targetResource.id });
        await saveOps();
      });
      const outputs = run.outputs();
      const started = Number(dep.properties.startedAt);
      await engine.setProperties(dep.id, {
        provisioningState: 'Succeeded',
        outputs,
        duration: iso(Date.now() - started),
      });
    } catch (e) {
      const err = errorOf(e);
      await this.rollback(made, by).catch((e2) =>
        this.ctx.log.error({ err: e2, deployment: dep.id }, 'rolling back a failed deployment failed'),
      );
      const started = Number(dep.properties.startedAt);
      const rolledBack = made.length
        ? ` What the deployment had made (${made.map((m) => m.id.split('/').pop()).join(', ')}) was removed.`
        : '';
      const error: RecordedError = {
        code: 'DEPLOYMENT_FAILED',
        kind: 'internal',
        message: `The deployment failed: ${err.message}${rolledBack}`,
        details: [err],
      };
      await engine
        .setProperties(dep.id, {
          provisioningState: 'Failed',
          error,
          operations: ops,
          outputResources: [],
          duration: iso(Date.now() - started),
        })
        .catch(() => {});
      throw new AtelierError(error.message, { code: 'DEPLOYMENT_FAILED', details: [err] });
    }
  }

  private async deployPlan(
    run: TemplateRun,
    plan: PlannedResource[],
    by: Principal,
    made: Made[],
    journal: OperationJournal,
    report: (op: OpRecord) => Promise<void>,
  ): Promise<void> {
    for (const r of plan) {
      const start = Date.now();
      const op: OpRecord = {
        operationId: crypto.randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
        provisioningState: 'Running',
        provisioningOperation: 'Create',
        timestamp: new Date(start).toISOString(),
        duration: 'PT0S',
        statusCode: 'Accepted',
        targetResource: { id: r.id, resourceType: r.type, resourceName: r.name },
      };
      await report(op);
      try {
        const body = await this.deployOne(run, r, by, made, journal);
        run.deployed.set(r.key, body);
        run.deployed.set(r.name.toLowerCase(), body);
        await report({
          ...op,
          provisioningState: 'Succeeded',
          statusCode: 'OK',
          duration: iso(Date.now() - start),
          timestamp: new Date().toISOString(),
        });
      } catch (e) {
        const err = errorOf(e, r.name);
        // the edge turns statusCode 'Failed' into the status of the error's kind
        await report({
          ...op,
          provisioningState: 'Failed',
          statusCode: 'Failed',
          statusMessage: { status: 'Failed', error: err },
          duration: iso(Date.now() - start),
        });
        throw new AtelierError(`resource '${r.name}' (${r.type}): ${err.message}`, {
          code: e instanceof AtelierError ? e.code : 'INTERNAL',
          target: r.name,
        });
      }
    }
  }

  /** Deploys one resource through the service its route uses; returns its ARM body. */
  private async deployOne(
    run: TemplateRun,
    r: PlannedResource,
    by: Principal,
    made: Made[],
    journal: OperationJournal,
  ): Promise<Record<string, unknown>> {
    const type = r.type.toLowerCase();
    const s = this.services;
    const record = async (m: Made) => {
      made.push(m);
      await journal.record({ made });
    };
    if (type === DEPLOYMENT.toLowerCase()) return this.deployNested(run, r, by, made, journal);
    if (type === 'microsoft.resources/resourcegroups') {
      const sub = r.id.split('/')[2]!;
      const location = evaluateDeep(r.raw.location, r.scope);
      if (typeof location !== 'string')
        throw new InvalidInput(`resource group '${r.name}' needs a location`, { target: 'location' });
      await this.ctx.access.require(by.id, r.id, 'control/write', `subscription '${sub}' could not be found`);
      const existed = await s.groups.get(sub, r.name);
      const tags = (evaluateDeep(r.raw.tags, r.scope) as Record<string, string> | null) ?? undefined;
      const { row, created } = await s.groups.put(
        sub,
        r.name,
        { location, tags: tags ?? (existed ? JSON.parse(existed.tags ?? '{}') : {}) },
        by,
      );
      if (created) await record({ kind: 'group', id: r.id });
      return {
        id: r.id,
        name: row.name,
        type: 'Microsoft.Resources/resourceGroups',
        location: row.location,
        properties: { provisioningState: 'Succeeded' },
      };
    }
    const declaredType = s.types.get(type);
    if (declaredType && placementsOf(declaredType).includes('extension')) {
      // An extension resource (role assignments): made at the scope it extends, with the type's own
      // write access there (access/write for role assignments, as their REST route asks).
      const template = declaredType.template;
      if (!template || template === 'deployments')
        throw new TemplateError(`resource '${r.name}' has type '${r.type}', which templates cannot deploy`, r.name);
      const at = r.id.slice(0, r.id.toLowerCase().lastIndexOf('/providers/')) || '/';
      await this.ctx.access.require(by.id, at, declaredType.access.write, `scope '${at}' could not be found`);
      const sub = /^\/subscriptions\/([^/]+)/i.exec(at)?.[1] ?? run.target.subscriptionId;
      const rg = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(at)?.[1];
      const group = rg ? await s.groups.get(sub, rg) : undefined;
      const body = evaluateDeep(
        { ...r.raw, resources: undefined, dependsOn: undefined, condition: undefined, copy: undefined },
        r.scope,
      ) as Record<string, unknown>;
      const done = await template.deploy(
        {
          id: r.id,
          subscriptionId: sub,
          resourceGroup: { name: group?.name ?? '', location: group?.location ?? 'local' },
          name: r.id.split('/').pop()!,
          location: group?.location ?? 'local',
          tags: tagsOf(body.tags),
          body,
          scopeId: at,
        },
        by,
      );
      if (done.created) await record({ kind: 'resource', id: String(done.body.id) });
      return done.body;
    }
    const p = parseResourceId(r.id, `resource '${r.name}'`);
    const group = await s.groups.get(p.subscriptionId, p.resourceGroup);
    if (!group)
      throw new NotFound(
        `resource group '${p.resourceGroup}' could not be found (resource '${r.name}'); create it first`,
        { code: 'RESOURCE_GROUP_NOT_FOUND' },
      );
    await this.ctx.access.require(
      by.id,
      r.id,
      'control/write',
      `resource group '${p.resourceGroup}' could not be found`,
    );
    const body = evaluateDeep(
      { ...r.raw, resources: undefined, dependsOn: undefined, condition: undefined, copy: undefined },
      r.scope,
    ) as Record<string, unknown>;
    const location =
      typeof body.location === 'string' && body.location ? normaliseLocation(body.location) : group.location;
    const tags = tagsOf(body.tags);
    if (type === WORKSPACE.toLowerCase()) {
      const input: WorkspaceInput = {
        location,
        tags,
        kind: typeof body.kind === 'string' ? body.kind : undefined,
        identity: (body.identity as WorkspaceInput['identity']) ?? undefined,
        sku: body.sku as WorkspaceInput['sku'],
        properties: workspaceProperties(body.properties),
      };
      const { resource, created, operation } = await s.workspaces.put(
        p.subscriptionId,
        p.resourceGroup,
        p.name,
        input,
        by,
      );
      if (created) await record({ kind: 'workspace', id: resource.id });
      if (operation) {
        const done = await this.waitFor(operation.id);
        if (done.status !== 'Succeeded') {
          made.splice(
            made.findIndex((m) => m.id === resource.id),
            1,
          ); // the workspace undoes its own failed create
          throw new AtelierError(done.error?.message ?? 'the workspace could not be created', {
            code: isErrorCode(done.error?.code) ? done.error.code : 'WORKSPACE_CREATION_FAILED',
          });
        }
      }
      return s.workspaces.toArm(await s.resources.require(resource.id)) as Record<string, unknown>;
    }
    // Every other deployable type deploys through its declaration (resources/registry.ts).
    const declared = s.types.get(type)?.template;
    if (declared && declared !== 'deployments') {
      const done = await declared.deploy(
        {
          id: r.id,
          subscriptionId: p.subscriptionId,
          resourceGroup: { name: group.name, location: group.location },
          name: p.name,
          location,
          tags,
          body,
        },
        by,
      );
      if (done.created) await record({ kind: 'resource', id: String(done.body.id) });
      return done.body;
    }
    throw new TemplateError(`resource '${r.name}' has type '${r.type}', which this server does not serve`, r.name);
  }

  private async deployNested(
    run: TemplateRun,
    r: PlannedResource,
    by: Principal,
    made: Made[],
    journal: OperationJournal,
  ): Promise<Record<string, unknown>> {
    const raw = r.raw as { resourceGroup?: unknown; subscriptionId?: unknown; location?: unknown };
    const sub =
      raw.subscriptionId !== undefined
        ? String(evaluateDeep(raw.subscriptionId, r.scope)).toLowerCase()
        : run.target.subscriptionId;
    const atSub = r.id.toLowerCase().startsWith(`/subscriptions/${sub}/providers/`);
    let target: DeployScope = {
      subscriptionId: sub,
      tenantId: this.ctx.tenantId,
      deploymentName: r.name,
      location: typeof raw.location === 'string' ? String(evaluateDeep(raw.location, r.scope)) : undefined,
    };
    if (!atSub) {
      const rgName =
        raw.resourceGroup !== undefined
          ? String(evaluateDeep(raw.resourceGroup, r.scope))
          : run.target.resourceGroup!.name;
      const group = await this.services.groups.get(sub, rgName);
      if (!group)
        throw new NotFound(`resource group '${rgName}' of nested deployment '${r.name}' could not be found`, {
          code: 'RESOURCE_GROUP_NOT_FOUND',
        });
      target = {
        ...target,
        resourceGroup: { name: group.name, location: group.location, tags: JSON.parse(group.tags ?? '{}') },
      };
    }
    const { nestedRun: nested } = this.nested(run, r, target.resourceGroup, target);
    const plan = nested.plan();
    this.checkTypes(plan, nested);
    await this.deployPlan(nested, plan, by, made, journal, async () => {});
    return {
      id: r.id,
      name: r.name,
      type: DEPLOYMENT,
      properties: {
        provisioningState: 'Succeeded',
        outputs: nested.outputs(),
        outputResources: plan.map((x) => ({ id: x.id })),
      },
    };
  }

  /**
   * The run of a nested deployment. 'inner': its own parameters (given by the parent) and scope;
   * 'outer' (ARM's default): its expressions use the parent's parameters, variables and scope.
   */
  private nested(
    run: TemplateRun,
    r: PlannedResource,
    group: DeployScope['resourceGroup'],
    target?: DeployScope,
  ): { nestedRun: TemplateRun } {
    const raw = r.raw as {
      properties?: DeploymentBody['properties'];
      subscriptionId?: unknown;
      resourceGroup?: unknown;
      location?: unknown;
    };
    const props = raw.properties ?? {};
    const inner = String(props.expressionEvaluationOptions?.scope ?? 'outer').toLowerCase() === 'inner';
    const atSub = /^\/subscriptions\/[^/]+\/providers\//i.test(r.id);
    const scope: DeployScope = target ?? {
      subscriptionId:
        raw.subscriptionId !== undefined
          ? String(evaluateDeep(raw.subscriptionId, r.scope)).toLowerCase()
          : run.target.subscriptionId,
      tenantId: this.ctx.tenantId,
      deploymentName: r.name,
      // Before the run the nested group may not exist yet: its name is known, its location is taken as the parent's.
      resourceGroup: atSub
        ? undefined
        : {
            name:
              raw.resourceGroup !== undefined
                ? String(evaluateDeep(raw.resourceGroup, r.scope))
                : run.target.resourceGroup!.name,
            location: group?.location ?? 'local',
            tags: {},
          },
    };
    const template = props.template as Template;
    if (!inner && template.parameters && Object.keys(template.parameters).length) {
      throw new TemplateError(
        `nested deployment '${r.name}' declares parameters but its expressionEvaluationOptions.scope is 'outer'; set it to 'inner' to give them`,
        r.name,
      );
    }
    const nestedRun = inner
      ? new TemplateRun(template, this.givenParameters(evaluateDeep(props.parameters ?? {}, r.scope)), scope)
      : new TemplateRun(template, {}, scope, run.target, run);
    return { nestedRun };
  }

  private async waitFor(operationId: string): Promise<Operation> {
    for (;;) {
      const op = await this.services.operations.require(operationId);
      if (op.status !== 'InProgress') return op;
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** Removes what a failed deployment made, newest first (ARM itself would leave it). */
  private async rollback(made: Made[], by: Principal | undefined): Promise<void> {
    const s = this.services;
    const errors: unknown[] = [];
    for (const m of [...made].reverse()) {
      try {
        if (m.kind === 'workspace') {
          const ws = await s.resources.get(m.id);
          if (ws) await s.workspaces.finishDelete(ws, false);
        } else if (m.kind === 'resource') {
          const t = s.types.get(typeOfId(m.id))?.template;
          if (t && t !== 'deployments') await t.undo(m.id);
        }
        // Journals of deployments that ran before types were declared in the registry.
        else if (m.kind === 'dependent') await s.workspaces.dependents.deleteAny(m.id);
        else if (m.kind === 'record') await s.resources.delete(m.id);
        else if (m.kind === 'group') {
          const [, , sub, , name] = m.id.split('/');
          // A group the deployment made (with what is in it). The caller made it; the caller's record
          // is kept for the group delete hooks.
          if (by) await s.groups.delete(sub!, name!, by);
        }
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  }

  /** The ARM body of a deployment. */
  toArm(r: StoredResource): Record<string, unknown> {
    const p = r.properties;
    const properties: Record<string, unknown> = {
      templateHash: p.templateHash,
      parameters: p.parameters,
      mode: p.mode,
      provisioningState: p.provisioningState,
      timestamp: p.timestamp,
      duration: p.duration,
      correlationId: p.correlationId,
      providers: p.providers,
      dependencies: p.dependencies,
      outputs: p.outputs ?? {},
      outputResources: p.outputResources ?? [],
    };
    if (p.error) properties.error = p.error;
    const body: Record<string, unknown> = { id: r.id, name: r.name, type: DEPLOYMENT, tags: r.tags, properties };
    if (r.location) body.location = r.location;
    return body;
  }

  /** The operations list (GET …/deployments/{name}/operations). */
  operations(r: StoredResource): Record<string, unknown>[] {
    const ops = (r.properties.operations as OpRecord[] | undefined) ?? [];
    return ops.map((o) => ({
      id: `${r.id}/operations/${o.operationId}`,
      operationId: o.operationId,
      properties: {
        provisioningOperation: o.provisioningOperation,
        provisioningState: o.provisioningState,
        timestamp: o.timestamp,
        duration: o.duration,
        trackingId: r.properties.correlationId,
        serviceRequestId: r.properties.correlationId,
        statusCode: o.statusCode,
        ...(o.statusMessage ? { statusMessage: o.statusMessage } : {}),
        targetResource: o.targetResource,
      },
    }));
  }
}

/** The type of a resource id, also of an extension resource (`{scope}/providers/{ns}/{type}/{name}`). */
function typeOfId(id: string): string {
  const rest = id.slice(id.toLowerCase().lastIndexOf('/providers/') + '/providers/'.length).split('/');
  return [rest[0], ...rest.slice(1).filter((_, i) => i % 2 === 0)].join('/');
}

function errorOf(e: unknown, target?: string): RecordedError {
  return recordError(e, 'unexpected error: ', target);
}

function tagsOf(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidInput('tags must be an object of strings', { target: 'tags' });
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

/**
 * A workspace's properties as the clients' templates give them: booleans as 'true'/'false'
 * strings (the Azure resource provider reads those as booleans) and '' for settings left unset.
 */
function workspaceProperties(v: unknown): WorkspaceInput['properties'] {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidInput('the workspace properties must be an object', { target: 'properties' });
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  for (const k of WS_BOOLEANS)
    if (typeof out[k] === 'string' && /^(true|false)$/i.test(out[k] as string))
      out[k] = (out[k] as string).toLowerCase() === 'true';
  for (const k of WS_ENUMS_EMPTY_IS_UNSET) if (out[k] === '') delete out[k];
  for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
  return out;
}
