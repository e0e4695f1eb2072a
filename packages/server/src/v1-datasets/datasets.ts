import crypto from 'node:crypto';
import YAML from 'yaml';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import { AtelierError, Conflict, InvalidInput, NotFound } from '../errors.js';

type Obj = Record<string, unknown>;
/** Properties of a data asset version registered through azureml-core: its dataset kind and definition. */
const TYPE_PROP = 'azureml.v1.datasetType';
const DEFINITION_PROP = 'azureml.v1.definition';
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
/** The names of saved (unregistered) datasets' anonymous data assets: this, then a hash of the definition. */
const SAVED_PREFIX = 'azureml-saved-';

/**
 * A saved dataset id (azureml-core keeps it and fetches the definition by it): the data asset
 * version it names, `{name}:{version}` in base64url — no table needed, and never a path separator.
 */
export function savedIdOf(name: string, version: string): string {
  return b64(`${name}:${version}`);
}
function fromSavedId(id: string): { name: string; version: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,700}$/.test(id)) return undefined;
  const s = Buffer.from(id, 'base64url').toString('utf8');
  const i = s.lastIndexOf(':');
  if (i <= 0 || i === s.length - 1 || b64(s) !== id) return undefined;
  return { name: s.slice(0, i), version: s.slice(i + 1) };
}

/** `azureml://datastores/{name}/paths/{path}` → its datastore and path. */
function dataPathOf(uri: unknown): { datastoreName: string; relativePath: string } | null {
  const m = typeof uri === 'string' ? /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/i.exec(uri) : null;
  return m ? { datastoreName: m[1]!, relativePath: m[2]! } : null;
}

/**
 * azureml-core's dataset service (`/dataset/v1.0/…`, `/data/v1.0/…/dataversion`): the registered
 * datasets of a workspace are its data assets (`W/data/{name}/versions/{v}`, what azure-ai-ml
 * registers and the studio shows) — one store. azureml-dataprep (5.x) describes a dataset as an
 * MLTable document (`paths` + `transformations`, in its dataflow's `meta.RsDataflow`); `register`
 * keeps it on the version (property `azureml.v1.definition`, with `azureml.v1.datasetType`) and the
 * version's `dataUri` is the dataset's first path, so other clients see where the data is. A version
 * made by another client gets the definition of its `dataUri` (a file, or every file below a folder).
 */
export class V1DatasetService {
  constructor(private readonly data: VersionedAssetService) {}

  private async latest(ws: WorkspaceInfo, name: string): Promise<StoredResource | undefined> {
    try {
      const all: StoredResource[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await this.data.listVersions(ws, name, { after, top: 1000 });
        all.push(...page.value);
        if (!page.hasMore || !page.lastKey) break;
        after = page.lastKey;
      }
      const n = (r: StoredResource) => (/^\d+$/.test(r.name) ? Number(r.name) : -1);
      return all.sort((a, b) => n(a) - n(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).pop();
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return undefined;
      throw e;
    }
  }

  /** The long form of a workspace datastore URI (what azureml-dataprep resolves); other URIs as they are. */
  private longUri(ws: WorkspaceInfo, uri: string): string {
    const m = /^azureml:\/\/datastores\/(.+)$/i.exec(uri);
    return m
      ? `azureml://subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/workspaces/${ws.name}/datastores/${m[1]}`
      : uri;
  }

  /** The MLTable definition of a version: the one registered through azureml-core, or one made from its dataUri. */
  definition(ws: WorkspaceInfo, v: StoredResource): { yaml: string; type: 'file' | 'tabular' } {
    const p = v.properties as Obj;
    const props = (p.properties ?? {}) as Record<string, string>;
    if (props[DEFINITION_PROP])
      return { yaml: props[DEFINITION_PROP], type: props[TYPE_PROP] === 'tabular' ? 'tabular' : 'file' };
    const uri = this.longUri(ws, String(p.dataUri ?? ''));
    const kind = p.dataType === 'uri_file' ? 'file' : p.dataType === 'mltable' ? 'folder' : 'pattern';
    const path = kind === 'pattern' ? `${uri.replace(/\/+$/, '')}/**` : uri;
    return { yaml: YAML.stringify({ type: 'mltable', paths: [{ [kind]: path }] }), type: 'file' };
  }

  /** The v1 DatasetDto of a data asset version (the latest one, in lists). */
  dto(ws: WorkspaceInfo, container: StoredResource, v: StoredResource): Obj {
    const c = container.properties as Obj;
    const p = v.properties as Obj;
    const type = String(p.dataType ?? '');
    const def = this.definition(ws, v);
    return {
      datasetId: container.id,
      name: container.name,
      description: (p.description as string | undefined) ?? (c.description as string | undefined) ?? null,
      tags: { ...((c.tags as Obj | undefined) ?? {}), ...((p.tags as Obj | undefined) ?? {}) },
      isVisible: true,
      datasetType: def.type,
      createdTime: v.createdAt ? new Date(v.createdAt).toISOString() : undefined,
      latest: {
        datasetId: container.id,
        versionId: v.name,
        savedDatasetId: savedIdOf(container.name, v.name),
        dataflow: JSON.stringify({ blocks: [], meta: { RsDataflow: def.yaml } }),
        dataPath: dataPathOf(p.dataUri),
        properties: { dataType: type, dataUri: p.dataUri ?? null },
      },
    };
  }

  /** Every version of a data asset, oldest first (numeric versions by number); [] when there is none. */
  private async versions(ws: WorkspaceInfo, name: string, includeArchived = false): Promise<StoredResource[]> {
    const all: StoredResource[] = [];
    try {
      let after: string | undefined;
      for (;;) {
        const page = await this.data.listVersions(ws, name, { after, top: 1000, includeArchived });
        all.push(...page.value);
        if (!page.hasMore || !page.lastKey) break;
        after = page.lastKey;
      }
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return [];
      throw e;
    }
    const n = (r: StoredResource) => (/^\d+$/.test(r.name) ? Number(r.name) : -1);
    return all.sort((a, b) => n(a) - n(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** `Dataset.get_by_name(ws, name, version)`: one version, or the latest. */
  async byName(ws: WorkspaceInfo, name: string, version?: string): Promise<Obj> {
    const container = await this.data.getContainer(ws, name).catch((e: unknown) => {
      if (e instanceof AtelierError && e.kind === 'not_found')
        throw new NotFound(`dataset '${name}' could not be found`, { code: 'ASSET_NOT_FOUND' });
      throw e;
    });
    let v: StoredResource | undefined;
    if (version !== undefined) v = await this.data.getVersion(ws, name, version);
    else v = (await this.versions(ws, name)).pop();
    if (!v) throw new NotFound(`dataset '${name}' has no versions`, { code: 'ASSET_NOT_FOUND' });
    return this.dto(ws, container, v);
  }

  /** `Dataset.get_by_id`: the registered dataset of a saved dataset id (a page of one, as the client asks). */
  async bySavedId(ws: WorkspaceInfo, id: string): Promise<Obj> {
    const ref = fromSavedId(id);
    if (!ref) return { value: [] };
    try {
      // An unregistered (saved) dataset is no registration: the client then reads saveddatasets/{id}.
      const v = await this.data.getVersion(ws, ref.name, ref.version);
      if (v.properties.isAnonymous === true) return { value: [] };
      return { value: [await this.byName(ws, ref.name, ref.version)] };
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return { value: [] };
      throw e;
    }
  }

  /** `GET saveddatasets/{id}`: a saved dataset (here: a registered version) in the SavedDatasetDto shape. */
  async saved(ws: WorkspaceInfo, id: string): Promise<Obj> {
    const ref = fromSavedId(id);
    if (!ref) throw new NotFound(`saved dataset '${id}' could not be found`, { code: 'ASSET_NOT_FOUND' });
    const d = await this.byName(ws, ref.name, ref.version);
    const latest = d.latest as Obj;
    return { id, datasetType: d.datasetType, properties: {}, dataflowJson: latest.dataflow, dataPath: latest.dataPath };
  }

  /** The MLTable definition and kind of a saved dataset (NotFound when the id names none). */
  async savedDefinition(ws: WorkspaceInfo, id: string): Promise<{ yaml: string; type: 'file' | 'tabular' }> {
    const ref = fromSavedId(id);
    if (!ref) throw new NotFound(`saved dataset '${id}' could not be found`, { code: 'ASSET_NOT_FOUND' });
    return this.definition(ws, await this.data.getVersion(ws, ref.name, ref.version));
  }

  /**
   * `/data/v1.0/…/dataversion/{name}/versions/{v}`: what azureml-dataprep reads a dataset from —
   * `legacyDataflow` (the MLTable definition) and, for a data asset, `dataVersion` (`dataUri`, `dataType`).
   * `unregistered-{savedId}` names a saved dataset (azureml-core asks so after every get).
   */
  async dataVersion(ws: WorkspaceInfo, name: string, version: string): Promise<Obj> {
    let ref = { name, version };
    if (name.startsWith('unregistered-')) {
      const r = fromSavedId(name.slice('unregistered-'.length));
      if (!r) throw new NotFound(`saved dataset '${name}' could not be found`, { code: 'ASSET_NOT_FOUND' });
      ref = r;
    }
    const v = await this.data.getVersion(ws, ref.name, ref.version);
    const p = v.properties as Obj;
    const TYPES: Record<string, string> = { uri_file: 'UriFile', uri_folder: 'UriFolder', mltable: 'MLTable' };
    return {
      legacyDataflow: this.definition(ws, v).yaml,
      dataVersion: {
        dataUri: this.longUri(ws, String(p.dataUri ?? '')),
        dataType: TYPES[String(p.dataType)] ?? p.dataType,
        versionId: v.name,
        description: p.description ?? null,
        tags: p.tags ?? {},
      },
    };
  }

  /**
   * A dataset's kind and azureml-dataprep dataflow JSON → its MLTable definition and the data asset
   * fields (`dataUri`: the first path, `dataType`), checked before anything is written.
   */
  private parse(
    datasetType: unknown,
    dataflow: unknown,
    target: string,
  ): { type: 'file' | 'tabular'; yaml: string; dataUri: string; dataType: string } {
    const type = datasetType === 'tabular' ? 'tabular' : datasetType === 'file' ? 'file' : undefined;
    if (!type) throw new InvalidInput("datasetType must be 'file' or 'tabular'", { target: 'datasetType' });
    let yaml: string | undefined;
    try {
      const flow = JSON.parse(String(dataflow ?? '')) as Obj;
      const meta = isObj(flow.meta) ? flow.meta : {};
      if (Array.isArray(flow.blocks) && flow.blocks.length)
        throw new InvalidInput(
          "the dataset's dataflow has legacy dataprep blocks; this server keeps MLTable definitions (azureml-dataprep 4.x and later make them): upgrade azureml-dataprep",
          { target },
        );
      if (typeof meta.RsDataflow === 'string') yaml = meta.RsDataflow;
    } catch (e) {
      if (e instanceof AtelierError) throw e;
    }
    if (!yaml)
      throw new InvalidInput(
        `${target} must be azureml-dataprep's dataflow JSON with its MLTable definition (meta.RsDataflow)`,
        { target },
      );
    let doc: unknown;
    try {
      doc = YAML.parse(yaml);
    } catch (e) {
      throw new InvalidInput(`the dataset's MLTable definition is not YAML: ${(e as Error).message}`, {
        target,
      });
    }
    const paths = isObj(doc) && Array.isArray(doc.paths) ? doc.paths : [];
    const first = paths[0];
    const kind = isObj(first)
      ? (['file', 'folder', 'pattern'] as const).find((k) => typeof first[k] === 'string')
      : undefined;
    if (!kind || !isObj(first))
      throw new InvalidInput('the dataset must name at least one path (file, folder or pattern)', {
        target,
      });
    let dataUri = String(first[kind]);
    // A pattern's data asset URI is the folder its wildcards start below; without wildcards it names
    // a folder when it ends in '/', else a file (azureml-core writes every path as a pattern).
    let dataType = kind === 'file' ? 'uri_file' : 'uri_folder';
    if (kind === 'pattern') {
      const folder = dataUri.replace(/[^/]*[*?[].*$/, '');
      if (folder !== dataUri) dataUri = folder;
      else if (!dataUri.endsWith('/')) dataType = 'uri_file';
    }
    if (yaml.length > 4096)
      throw new InvalidInput(`the dataset's definition is ${yaml.length} characters; at most 4096 are kept`, {
        target,
      });
    return { type, yaml, dataUri, dataType };
  }

  /**
   * `dataset.register(ws, name, …)` (`POST …/datasets`): a data asset version from the dataset's
   * MLTable definition. A name that exists is a 409 unless `ifExistsOk` (create_new_version): then
   * the same definition answers the latest version and another one makes the next version.
   * Everything is checked before anything is written.
   */
  async register(ws: WorkspaceInfo, body: unknown, ifExistsOk: boolean, by: Principal): Promise<Obj> {
    if (!isObj(body)) throw new InvalidInput('the dataset must be a JSON object', { target: 'body' });
    const name = body.name;
    if (typeof name !== 'string' || !name)
      throw new InvalidInput("name must be the dataset's name", { target: 'name' });
    const latest = isObj(body.latest) ? body.latest : {};
    const { type, yaml, dataUri, dataType } = this.parse(body.datasetType, latest.dataflow, 'latest.dataflow');
    // Versions of an unregistered (archived) name keep their numbers: a new registration takes the next.
    const every = await this.versions(ws, name, true);
    const all = every.filter((r) => r.properties.isArchived !== true);
    const last = all[all.length - 1];
    const props = (last?.properties as Obj | undefined)?.properties as Record<string, string> | undefined;
    if (last && !ifExistsOk)
      throw new Conflict(`a dataset named '${name}' exists; register with create_new_version=True to add a version`, {
        code: 'CONFLICT',
      });
    if (last && props?.[DEFINITION_PROP] === yaml && props?.[TYPE_PROP] === type)
      return this.dto(ws, await this.data.getContainer(ws, name), last);
    const numbers = every.map((r) => Number(r.name)).filter((x) => Number.isInteger(x));
    const version = String(numbers.length ? Math.max(...numbers) + 1 : 1);
    const description = typeof body.description === 'string' ? body.description : undefined;
    const tags = isObj(body.tags) ? body.tags : undefined;
    const { resource } = await this.data.putVersion(
      ws,
      name,
      version,
      {
        properties: {
          dataType,
          dataUri,
          ...(description !== undefined ? { description } : {}),
          ...(tags ? { tags } : {}),
          properties: { [TYPE_PROP]: type, [DEFINITION_PROP]: yaml },
        },
      },
      by,
    );
    // A name registered again after unregister_all_versions is listed again (its old versions stay archived).
    if (every.length && (await this.data.getContainer(ws, name)).properties.isArchived === true)
      await this.data.setArchived(ws, name, false, by);
    return this.dto(ws, await this.data.getContainer(ws, name), resource);
  }

  /**
   * `POST …/saveddatasets` (azureml-core's `_ensure_saved`: `dataset.id` of an unregistered dataset,
   * a dataset given to a model or a run without registering it): an anonymous data asset version
   * (`isAnonymous`, as Azure keeps unregistered data), named by the hash of its definition, so the
   * same definition saved again is the same saved dataset. Not in `ws.datasets`; `Dataset.get_by_id`
   * reads it back as an unregistered dataset.
   */
  async ensureSaved(ws: WorkspaceInfo, body: unknown, by: Principal): Promise<Obj> {
    if (!isObj(body)) throw new InvalidInput('the saved dataset must be a JSON object', { target: 'body' });
    const { type, yaml, dataUri, dataType } = this.parse(body.datasetType, body.dataflowJson, 'dataflowJson');
    const name = `${SAVED_PREFIX}${crypto.createHash('sha256').update(`${type}\n${yaml}`).digest('hex').slice(0, 40)}`;
    const put = () =>
      this.data.putVersion(
        ws,
        name,
        '1',
        {
          properties: {
            dataType,
            dataUri,
            isAnonymous: true,
            properties: { [TYPE_PROP]: type, [DEFINITION_PROP]: yaml },
          },
        },
        by,
      );
    try {
      await put();
    } catch (e) {
      // The same definition saved at the same moment by another request: that one is this one.
      if (!(e instanceof AtelierError && e.kind === 'conflict')) throw e;
      await this.data.getVersion(ws, name, '1');
    }
    return this.saved(ws, savedIdOf(name, '1'));
  }

  /** The data asset name of a registered dataset id (the container's ARM id, `W/data/{name}`). */
  private nameOfId(ws: WorkspaceInfo, datasetId: string): string {
    const prefix = `${ws.id}/data/`.toLowerCase();
    const name = datasetId.toLowerCase().startsWith(prefix) ? datasetId.slice(prefix.length) : '';
    if (!name || name.includes('/'))
      throw new NotFound(`dataset '${datasetId}' could not be found in workspace '${ws.name}'`, {
        code: 'ASSET_NOT_FOUND',
      });
    return name;
  }

  /**
   * `dataset.update(description, tags)`, `add_tags`, `remove_tags` (`PUT …/datasets/{datasetId}`, a
   * whole DatasetDto): the description and tags of the version the dataset object names
   * (`latest.versionId`; the latest when none) — the data asset version's own, changed through the
   * same checks as ARM's PUT. Its definition cannot change (versions are immutable). A tag the client
   * leaves out that is on the data asset itself (`W/data/{name}`, set through ARM) is refused by name.
   */
  async update(ws: WorkspaceInfo, datasetId: string, body: unknown, by: Principal): Promise<Obj> {
    const name = this.nameOfId(ws, datasetId);
    if (!isObj(body)) throw new InvalidInput('the dataset must be a JSON object (a DatasetDto)', { target: 'body' });
    if (body.name !== undefined && body.name !== null && String(body.name).toLowerCase() !== name.toLowerCase())
      throw new InvalidInput(
        `name '${String(body.name)}' is not the dataset's name '${name}'; a dataset cannot be renamed`,
        {
          target: 'name',
        },
      );
    const description = body.description;
    if (description !== undefined && description !== null && typeof description !== 'string')
      throw new InvalidInput('description must be a string', { target: 'description' });
    const tags = body.tags;
    if (tags !== undefined && tags !== null && (!isObj(tags) || Object.values(tags).some((v) => typeof v !== 'string')))
      throw new InvalidInput('tags must be an object of strings', { target: 'tags' });
    const container = await this.data.getContainer(ws, name).catch((e: unknown) => {
      if (e instanceof AtelierError && e.kind === 'not_found')
        throw new NotFound(`dataset '${name}' could not be found`, { code: 'ASSET_NOT_FOUND' });
      throw e;
    });
    const latest = isObj(body.latest) ? body.latest : {};
    const versionId = latest.versionId ?? latest.version_id;
    const v =
      versionId !== undefined && versionId !== null && versionId !== ''
        ? await this.data.getVersion(ws, name, String(versionId))
        : (await this.versions(ws, name)).pop();
    if (!v) throw new NotFound(`dataset '${name}' has no versions`, { code: 'ASSET_NOT_FOUND' });
    const changes: Obj = {};
    if (typeof description === 'string') changes.description = description;
    if (isObj(tags)) {
      const own = (container.properties.tags ?? {}) as Record<string, string>;
      const lost = Object.keys(own).filter((k) => !(k in tags));
      if (lost.length)
        throw new InvalidInput(
          `tag${lost.length > 1 ? 's' : ''} ${lost.map((k) => `'${k}'`).join(', ')} ${lost.length > 1 ? 'are' : 'is'} on the data asset '${name}' itself, not on its version: change ${lost.length > 1 ? 'them' : 'it'} through ARM W/data/${name}`,
          { target: 'tags' },
        );
      // The version keeps what differs from the data asset's own tags.
      changes.tags = Object.fromEntries(Object.entries(tags).filter(([k, val]) => own[k] !== val));
    }
    const updated = Object.keys(changes).length ? await this.data.updateVersion(ws, name, v.name, changes, by) : v;
    return this.dto(ws, container, updated);
  }

  /**
   * `dataset.unregister_all_versions()` (`DELETE …/datasets/{name}`): the data asset and every
   * version of it are archived, as Azure does — gone from `ws.datasets`, azure-ai-ml's and the studio's
   * lists, still readable by version (jobs that used them keep their inputs). Registering the name
   * again lists it again, numbering on from the archived versions.
   */
  async unregister(ws: WorkspaceInfo, name: string, by: Principal): Promise<void> {
    await this.data.getContainer(ws, name).catch((e: unknown) => {
      if (e instanceof AtelierError && e.kind === 'not_found')
        throw new NotFound(`dataset '${name}' could not be found`, { code: 'ASSET_NOT_FOUND' });
      throw e;
    });
    await this.data.setArchived(ws, name, true, by);
  }

  /** One page of the workspace's data assets (latest version each), after `token` (a container name). */
  async list(ws: WorkspaceInfo, pageSize: number, token?: string) {
    const page = await this.data.listContainers(ws, { after: token, top: pageSize });
    const value: Obj[] = [];
    for (const c of page.value) {
      const v = await this.latest(ws, c.name);
      // Saved (unregistered) datasets are not registrations.
      if (v && v.properties.isAnonymous !== true) value.push(this.dto(ws, c, v));
    }
    return { value, ...(page.hasMore && page.lastKey ? { continuationToken: page.lastKey } : {}) };
  }
}
