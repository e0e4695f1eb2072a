import { NotFoundError } from '../errors.js';
import { linkOf, type HasServiceContext, type WorkspaceLink } from './link.js';
import { deleteAsset, setArchived } from './asset-lifecycle.js';
import type * as C from '@atelier/contracts';

type EnvVersionBody = C.EnvironmentVersion;

/**
 * An environment (the seed's `Environment`): base image or build context, conda file, pip
 * requirements, environment variables. Registered versions are immutable; curated ones
 * (`AzureML-…`) are in every workspace.
 */
export class Environment {
  /** The base image of an environment given neither `image` nor `build` (the seed's DEFAULT_CPU_IMAGE). */
  static readonly DEFAULT_CPU_IMAGE = 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04';
  version?: string;
  image?: string;
  condaFile?: string;
  pipRequirements?: string;
  environmentVariables: Record<string, string> = {};
  build?: { contextUri: string; dockerfilePath?: string };
  description?: string;
  tags: Record<string, string> = {};
  environmentType?: string;
  constructor(readonly name: string) {}

  private static from(name: string, v: EnvVersionBody): Environment {
    const e = new Environment(name);
    const p = v.properties;
    Object.assign(e, {
      version: v.name,
      image: p.image,
      condaFile: p.condaFile,
      pipRequirements: p.pipRequirements,
      build: p.build,
      description: p.description,
      environmentType: p.environmentType,
    });
    e.environmentVariables = p.environmentVariables ?? {};
    e.tags = p.tags ?? {};
    return e;
  }

  /**
   * Registers this definition as version `version` (default: the next number). Without `image` and
   * `build` it gets the seed's default base image, `Environment.DEFAULT_CPU_IMAGE`.
   */
  async register(ws: HasServiceContext | WorkspaceLink, version?: string): Promise<Environment> {
    const link = linkOf(ws);
    const base = `${link.id}/environments/${encodeURIComponent(this.name)}`;
    let v = version;
    if (!v) {
      try {
        v = (await link.client.request<C.AssetContainer>('GET', base)).body.properties.nextVersion ?? '1';
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        v = '1';
      }
    }
    const properties: Record<string, unknown> = { environmentVariables: this.environmentVariables, tags: this.tags };
    for (const k of ['image', 'condaFile', 'pipRequirements', 'build', 'description'] as const)
      if (this[k] !== undefined) properties[k] = this[k];
    if (this.image === undefined && this.build === undefined) properties.image = Environment.DEFAULT_CPU_IMAGE;
    const r = await link.client.request<EnvVersionBody>('PUT', `${base}/versions/${encodeURIComponent(v)}`, {
      body: { properties },
      what: `register environment '${this.name}'`,
    });
    return Environment.from(this.name, r.body);
  }

  /** A registered version (default the latest). */
  static async get(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<Environment> {
    const link = linkOf(ws);
    const base = `${link.id}/environments/${encodeURIComponent(name)}`;
    const v =
      version ??
      (
        await link.client.request<{ properties: { latestVersion?: string } }>('GET', base, {
          what: `get environment '${name}'`,
        })
      ).body.properties.latestVersion;
    if (!v) throw new NotFoundError(`environment '${name}' has no versions`);
    return Environment.from(
      name,
      (
        await link.client.request<EnvVersionBody>('GET', `${base}/versions/${encodeURIComponent(v)}`, {
          what: `get environment '${name}' version ${v}`,
        })
      ).body,
    );
  }

  /** The latest version of every environment of the workspace, curated ones included. */
  static async list(ws: HasServiceContext | WorkspaceLink): Promise<Map<string, Environment>> {
    const link = linkOf(ws);
    const out = new Map<string, Environment>();
    for await (const c of link.client.list<{ name: string; properties: { latestVersion?: string } }>(
      `${link.id}/environments`,
      { what: 'list environments' },
    )) {
      if (c.properties.latestVersion) out.set(c.name, await Environment.get(link, c.name, c.properties.latestVersion));
    }
    return out;
  }

  /** Archives environment `name` (with `version`: only that version): left out of lists, still readable. */
  static async archive(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await setArchived(ws, 'environments', 'environment', name, version, true);
  }

  /** Makes an archived environment (or one version) active again. */
  static async restore(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await setArchived(ws, 'environments', 'environment', name, version, false);
  }

  /** Deletes one version of environment `name`, or with no `version` the name with every version. */
  static async delete(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await deleteAsset(ws, 'environments', 'environment', name, version);
  }
}
