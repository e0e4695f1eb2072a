import {
  evaluateDeep,
  evaluateString,
  isExpression,
  parametersNamed,
  TemplateError,
  type EvalScope,
  type Value,
} from './expressions.js';

/**
 * An ARM deployment template, planned: parameters (given values, `defaultValue`, `allowedValues`,
 * types), variables (evaluated on first use), resources flattened (child resources below a parent,
 * `copy` loops expanded), `condition`, names and `dependsOn` resolved and the resources put in a
 * topological order. Resource bodies are evaluated later, one at a time, just before each is
 * deployed (so `reference()` sees what was deployed before it).
 */
export interface Template {
  $schema?: string;
  contentVersion?: string;
  parameters?: Record<string, ParameterDecl>;
  variables?: Record<string, unknown>;
  resources?: RawResource[];
  outputs?: Record<string, { type?: string; value?: unknown; condition?: unknown }>;
  [k: string]: unknown;
}
export interface ParameterDecl {
  type?: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minLength?: number;
  maxLength?: number;
  metadata?: unknown;
}
export interface RawResource {
  type?: unknown;
  name?: unknown;
  apiVersion?: unknown;
  condition?: unknown;
  dependsOn?: unknown;
  copy?: { name?: unknown; count?: unknown; mode?: unknown; batchSize?: unknown };
  resources?: RawResource[];
  resourceGroup?: unknown;
  subscriptionId?: unknown;
  /** Of an extension resource: the id of what it extends. */
  scope?: unknown;
  [k: string]: unknown;
}

/** Where a (nested) deployment puts its resources. `resourceGroup` undefined: subscription scope. */
export interface DeployScope {
  subscriptionId: string;
  tenantId: string;
  resourceGroup?: { name: string; location: string; tags: Record<string, string> };
  deploymentName: string;
  location?: string;
}

export interface PlannedResource {
  /** Lower-cased id: the key of dependsOn. */
  key: string;
  id: string;
  type: string;
  name: string;
  /** Symbolic names dependsOn may use: `name`, `type/name`, the copy loop's name. */
  aliases: string[];
  raw: RawResource;
  dependsOn: string[];
  /** Evaluates expressions of this resource (with its copyIndex). */
  scope: EvalScope;
}

const SECURE = ['securestring', 'secureobject'];
const TYPES = ['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array'];

function checkType(name: string, type: string | undefined, v: Value): void {
  const t = (type ?? '').toLowerCase();
  if (!TYPES.includes(t))
    throw new TemplateError(
      `parameter '${name}' has type '${type}'; use one of string, securestring, int, bool, object, secureobject, array`,
      `parameters.${name}`,
    );
  const ok =
    t === 'string' || t === 'securestring'
      ? typeof v === 'string'
      : t === 'int'
        ? Number.isInteger(v)
        : t === 'bool'
          ? typeof v === 'boolean'
          : t === 'array'
            ? Array.isArray(v)
            : typeof v === 'object' && v !== null && !Array.isArray(v);
  const shown = SECURE.includes(t) ? 'a value of another type' : JSON.stringify(v);
  if (!ok) throw new TemplateError(`parameter '${name}' must be of type ${type}, got ${shown}`, `parameters.${name}`);
}

export class TemplateRun {
  private readonly paramValues = new Map<string, Value>();
  private readonly varValues = new Map<string, Value>();
  private readonly resolving = new Set<string>();
  /** Bodies of what this deployment made, by lower-cased id and by name (for `reference()`). */
  readonly deployed = new Map<string, Record<string, unknown>>();
  readonly scope: EvalScope;

  constructor(
    readonly template: Template,
    private readonly given: Record<string, unknown>,
    readonly target: DeployScope,
    /** The scope functions use (`outer` nested deployments: the parent's). */
    private readonly functionScope: DeployScope = target,
    private readonly outer?: TemplateRun,
  ) {
    if (typeof template !== 'object' || template === null || Array.isArray(template))
      throw new TemplateError('properties.template must be a JSON object', 'properties.template');
    if (template.resources !== undefined && !Array.isArray(template.resources))
      throw new TemplateError('template.resources must be an array', 'properties.template.resources');
    const declared = template.parameters ?? {};
    for (const name of Object.keys(given)) {
      if (!Object.keys(declared).some((d) => d.toLowerCase() === name.toLowerCase())) {
        throw new TemplateError(
          `parameter '${name}' is given but the template does not declare it; declared: ${Object.keys(declared).join(', ') || '(none)'}`,
          `properties.parameters.${name}`,
        );
      }
    }
    this.scope = this.makeScope();
  }

  private makeScope(copy?: { loop: string; index: number }): EvalScope {
    const f = this.functionScope;
    return {
      parameter: (n) => (this.outer ? this.outer.scope.parameter(n) : this.parameter(n)),
      variable: (n) => (this.outer ? this.outer.scope.variable(n) : this.variable(n)),
      subscription: () => ({
        id: `/subscriptions/${f.subscriptionId}`,
        subscriptionId: f.subscriptionId,
        tenantId: f.tenantId,
        displayName: f.subscriptionId,
      }),
      resourceGroup: () => {
        if (!f.resourceGroup)
          throw new TemplateError('resourceGroup() cannot be used in a subscription-level deployment');
        const g = f.resourceGroup;
        return {
          id: `/subscriptions/${f.subscriptionId}/resourceGroups/${g.name}`,
          name: g.name,
          type: 'Microsoft.Resources/resourceGroups',
          location: g.location,
          tags: g.tags,
          properties: { provisioningState: 'Succeeded' },
        };
      },
      deployment: () => ({ name: f.deploymentName, properties: { templateLink: null }, location: f.location }),
      reference: (idOrName, full) => {
        const key = idOrName.toLowerCase();
        const hit =
          this.deployed.get(key) ??
          this.outer?.deployed.get(key) ??
          [...this.deployed.entries()].find(([k]) => k.endsWith(`/${key}`))?.[1];
        if (!hit)
          throw new TemplateError(
            `reference('${idOrName}'): only resources this deployment has already deployed can be referenced; add it to dependsOn, or deploy it in this template`,
          );
        return full ? hit : (hit.properties ?? {});
      },
      copyIndex: copy
        ? (loop) => {
            if (loop && loop.toLowerCase() !== copy.loop.toLowerCase())
              throw new TemplateError(`copyIndex('${loop}'): this resource is in copy loop '${copy.loop}'`);
            return copy.index;
          }
        : undefined,
    };
  }

  parameter(name: string): Value {
    const decls = this.template.parameters ?? {};
    const declName = Object.keys(decls).find((d) => d.toLowerCase() === name.toLowerCase());
    if (declName === undefined)
      throw new TemplateError(
        `parameters('${name}'): the template declares no such parameter; declared: ${Object.keys(decls).join(', ') || '(none)'}`,
      );
    if (this.paramValues.has(declName)) return this.paramValues.get(declName);
    const decl = decls[declName]!;
    const key = `p:${declName}`;
    if (this.resolving.has(key))
      throw new TemplateError(`parameter '${declName}' refers to itself through its defaultValue`);
    this.resolving.add(key);
    try {
      const givenName = Object.keys(this.given).find((g) => g.toLowerCase() === declName.toLowerCase());
      let v: Value;
      // A value of null counts as not given (ARM uses the defaultValue then); azure-ai-ml sends nulls.
      if (givenName !== undefined && this.given[givenName] !== null) v = this.given[givenName];
      else if ('defaultValue' in decl) v = evaluateDeep(decl.defaultValue, this.scope);
      else
        throw new TemplateError(
          `parameter '${declName}' has no value: give it in properties.parameters (${declName}: {value: …}) or give the template a defaultValue`,
          `properties.parameters.${declName}`,
        );
      checkType(declName, decl.type, v);
      if (
        Array.isArray(decl.allowedValues) &&
        !decl.allowedValues.some((a) => JSON.stringify(a) === JSON.stringify(v))
      ) {
        const shown = SECURE.includes(String(decl.type).toLowerCase())
          ? 'not one of the allowed values'
          : JSON.stringify(v);
        throw new TemplateError(
          `parameter '${declName}' is ${shown}; allowed values: ${decl.allowedValues.map((a) => JSON.stringify(a)).join(', ')}`,
          `properties.parameters.${declName}`,
        );
      }
      if (typeof v === 'string' || Array.isArray(v)) {
        if (decl.minLength !== undefined && v.length < decl.minLength)
          throw new TemplateError(
            `parameter '${declName}' is shorter than its minLength ${decl.minLength}`,
            `properties.parameters.${declName}`,
          );
        if (decl.maxLength !== undefined && v.length > decl.maxLength)
          throw new TemplateError(
            `parameter '${declName}' is longer than its maxLength ${decl.maxLength}`,
            `properties.parameters.${declName}`,
          );
      }
      this.paramValues.set(declName, v);
      return v;
    } finally {
      this.resolving.delete(key);
    }
  }

  variable(name: string): Value {
    const vars = this.template.variables ?? {};
    const vName = Object.keys(vars).find((d) => d.toLowerCase() === name.toLowerCase());
    if (vName === undefined) throw new TemplateError(`variables('${name}'): the template declares no such variable`);
    if (vName === 'copy') throw new TemplateError('variable copy loops are not supported');
    if (this.varValues.has(vName)) return this.varValues.get(vName);
    const key = `v:${vName}`;
    if (this.resolving.has(key)) throw new TemplateError(`variable '${vName}' refers to itself`);
    this.resolving.add(key);
    try {
      const v = evaluateDeep(vars[vName], this.scope);
      this.varValues.set(vName, v);
      return v;
    } finally {
      this.resolving.delete(key);
    }
  }

  /** Every declared parameter's value (checks them all, even unused ones, as ARM does). */
  parameterValues(): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const name of Object.keys(this.template.parameters ?? {})) out[name] = this.parameter(name);
    return out;
  }

  /** Parameters as a deployment reports them (secure values left out). */
  reportedParameters(): Record<string, { type: string; value?: Value }> {
    const out: Record<string, { type: string; value?: Value }> = {};
    for (const [name, decl] of Object.entries(this.template.parameters ?? {})) {
      const type = String(decl.type ?? 'String');
      const t = type.charAt(0).toUpperCase() + type.slice(1);
      out[name] = SECURE.includes(type.toLowerCase()) ? { type: t } : { type: t, value: this.parameter(name) };
    }
    return out;
  }

  /** Resources whose condition holds, flattened and in an order that honours every dependsOn. */
  plan(): PlannedResource[] {
    this.parameterValues();
    const all: PlannedResource[] = [];
    const skipped = new Set<string>();
    const expand = (raw: RawResource, parent: PlannedResource | undefined, where: string) => {
      if (typeof raw !== 'object' || raw === null) throw new TemplateError(`${where} must be an object`, where);
      const copies: { scope: EvalScope; loop?: string }[] = [];
      if (raw.copy !== undefined) {
        const loop = this.scope && evaluateDeep(raw.copy.name, this.scope);
        const count = evaluateDeep(raw.copy.count, this.scope);
        if (typeof loop !== 'string' || !loop)
          throw new TemplateError(`${where}.copy.name must be a name`, `${where}.copy.name`);
        if (!Number.isInteger(count) || (count as number) < 0 || (count as number) > 800)
          throw new TemplateError(`${where}.copy.count must be an integer from 0 to 800`, `${where}.copy.count`);
        for (let i = 0; i < (count as number); i++) copies.push({ scope: this.makeScope({ loop, index: i }), loop });
      } else copies.push({ scope: this.scope });
      for (const { scope, loop } of copies) {
        const type = evaluateDeep(raw.type, scope);
        const name = evaluateDeep(raw.name, scope);
        if (typeof type !== 'string' || !type)
          throw new TemplateError(
            `${where}.type must be a resource type such as 'Microsoft.Storage/storageAccounts'`,
            `${where}.type`,
          );
        if (typeof name !== 'string' || !name)
          throw new TemplateError(`${where}.name must be a non-empty string`, `${where}.name`);
        const fullType =
          parent && !type.includes('/')
            ? `${parent.type}/${type}`
            : parent && type.split('/').length === 1
              ? `${parent.type}/${type}`
              : type;
        const fullName = parent && !name.startsWith(`${parent.name}/`) ? `${parent.name}/${name}` : name;
        const condition = raw.condition === undefined ? true : evaluateDeep(raw.condition, scope);
        if (typeof condition !== 'boolean')
          throw new TemplateError(
            `${where}.condition must be true or false, got ${JSON.stringify(condition)}`,
            `${where}.condition`,
          );
        const id = this.idOf(fullType, fullName, raw, scope, where);
        const deps = raw.dependsOn === undefined ? [] : evaluateDeep(raw.dependsOn, scope);
        if (!Array.isArray(deps) || deps.some((d) => typeof d !== 'string'))
          throw new TemplateError(`${where}.dependsOn must be an array of resource ids or names`, `${where}.dependsOn`);
        const r: PlannedResource = {
          key: id.toLowerCase(),
          id,
          type: fullType,
          name: fullName,
          aliases: [
            fullName.toLowerCase(),
            `${fullType}/${fullName}`.toLowerCase(),
            ...(loop ? [loop.toLowerCase()] : []),
          ],
          raw,
          dependsOn: [...(deps as string[]), ...(parent ? [parent.id] : [])],
          scope,
        };
        if (!condition || (parent && skipped.has(parent.key))) {
          skipped.add(r.key);
          for (const a of r.aliases) skipped.add(a);
        } else all.push(r);
        (raw.resources ?? []).forEach((child, i) => expand(child, r, `${where}.resources[${i}]`));
      }
    };
    (this.template.resources ?? []).forEach((r, i) => expand(r, undefined, `resources[${i}]`));
    return this.order(all, skipped);
  }

  private idOf(type: string, name: string, raw: RawResource, scope: EvalScope, where: string): string {
    const segs = type.split('/');
    const names = name.split('/');
    if (segs.length < 2 || names.length !== segs.length - 1)
      throw new TemplateError(
        `${where}: resource type '${type}' needs ${Math.max(segs.length - 1, 1)} name segment(s), name '${name}' has ${names.length}`,
        `${where}.name`,
      );
    const sub =
      raw.subscriptionId !== undefined ? String(evaluateDeep(raw.subscriptionId, scope)) : this.target.subscriptionId;
    const rg =
      raw.resourceGroup !== undefined
        ? String(evaluateDeep(raw.resourceGroup, scope))
        : this.target.resourceGroup?.name;
    if (type.toLowerCase() === 'microsoft.resources/resourcegroups')
      return `/subscriptions/${sub}/resourceGroups/${name}`;
    // An extension resource (role assignments) names what it extends in `scope`: a resource id, a
    // group or subscription id, or '/'; its id is `{scope}/providers/{type}/{name}`, as ARM builds it.
    if (raw.scope !== undefined) {
      const at = evaluateDeep(raw.scope, scope);
      if (typeof at !== 'string' || !/^\/(subscriptions\/[^/]+(\/.*)?)?$/i.test(at))
        throw new TemplateError(
          `${where}.scope must be the id of what the resource extends (a resource, group or subscription id, or '/'), got ${JSON.stringify(at)}`,
          `${where}.scope`,
        );
      let ext = `${at.replace(/\/+$/, '')}/providers/${segs[0]}`;
      for (let i = 0; i < names.length; i++) ext += `/${segs[i + 1]}/${names[i]}`;
      return ext;
    }
    const nestedAtSub =
      type.toLowerCase() === 'microsoft.resources/deployments' &&
      raw.resourceGroup === undefined &&
      raw.location !== undefined;
    let id =
      rg === undefined || nestedAtSub
        ? `/subscriptions/${sub}/providers/${segs[0]}`
        : `/subscriptions/${sub}/resourceGroups/${rg}/providers/${segs[0]}`;
    for (let i = 0; i < names.length; i++) id += `/${segs[i + 1]}/${names[i]}`;
    return id;
  }

  private order(all: PlannedResource[], skipped: Set<string>): PlannedResource[] {
    const find = (dep: string): PlannedResource[] | 'skipped' | undefined => {
      const d = dep.toLowerCase();
      const hits = all.filter(
        (r) =>
          r.key === d ||
          r.aliases.includes(d) ||
          (d.includes('/providers/') && r.key.endsWith(d.slice(d.indexOf('/providers/')))),
      );
      if (hits.length) return hits;
      // Dependencies on resources whose condition is false are ignored (as ARM does).
      if (
        skipped.has(d) ||
        [...skipped].some((s) => d.includes('/providers/') && s.endsWith(d.slice(d.indexOf('/providers/'))))
      )
        return 'skipped';
      // So is a full resource id of something this template does not deploy: there is nothing of
      // this deployment to wait for (azure-ai-ml's feature-store template depends on the
      // workspace's store connections, which no template of it deploys). A bare name must be declared.
      if (/^\/subscriptions\/[^/]+\/.*\/providers\//i.test(d)) return 'skipped';
      return undefined;
    };
    const edges = new Map<PlannedResource, PlannedResource[]>();
    for (const r of all) {
      const out: PlannedResource[] = [];
      for (const dep of r.dependsOn) {
        const hit = find(dep);
        if (hit === 'skipped') continue;
        if (!hit)
          throw new TemplateError(
            `resource '${r.name}' (${r.type}) depends on '${dep}', which is not defined in the template; remove it from dependsOn or add that resource`,
            'dependsOn',
          );
        out.push(...hit.filter((h) => h !== r));
      }
      edges.set(r, out);
    }
    const sorted: PlannedResource[] = [];
    const state = new Map<PlannedResource, 'visiting' | 'done'>();
    const visit = (r: PlannedResource, path: PlannedResource[]) => {
      const s = state.get(r);
      if (s === 'done') return;
      if (s === 'visiting')
        throw new TemplateError(`circular dependency: ${[...path, r].map((p) => p.name).join(' → ')}`, 'dependsOn');
      state.set(r, 'visiting');
      for (const d of edges.get(r)!) visit(d, [...path, r]);
      state.set(r, 'done');
      sorted.push(r);
    };
    for (const r of all) visit(r, []);
    return sorted;
  }

  /** The template's outputs (after deployment). */
  outputs(): Record<string, { type: string; value: Value }> {
    const out: Record<string, { type: string; value: Value }> = {};
    for (const [name, o] of Object.entries(this.template.outputs ?? {})) {
      if (o.condition !== undefined && evaluateDeep(o.condition, this.scope) !== true) continue;
      out[name] = { type: String(o.type ?? 'String'), value: evaluateDeep(o.value, this.scope) };
    }
    return out;
  }
}

export { evaluateDeep, evaluateString, isExpression, parametersNamed, TemplateError };
