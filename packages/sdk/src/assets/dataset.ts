import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { Datastore } from './datastore.js';
import { linkOf, type HasServiceContext, type WorkspaceLink } from './link.js';
import { deleteAsset, setArchived } from './asset-lifecycle.js';
import type * as C from '@atelier/contracts';

/** A path on a datastore: `[datastore, 'path']` as the seed writes it, or a URI (azureml://…, https://…). */
export type DataPathLike = [Datastore, string] | { datastore: Datastore; path: string } | string;

export type ColumnType = 'int' | 'float' | 'bool' | 'datetime' | 'string';
export interface DelimitedOptions {
  separator?: string;
  header?: boolean;
  /** Convert values to the inferred column types (default true). */
  inferColumnTypes?: boolean;
}

interface Source {
  uri: string;
  link?: WorkspaceLink;
}

function toSource(p: DataPathLike): Source {
  if (typeof p === 'string') {
    if (!/^(azureml|https?):\/\//i.test(p))
      throw new ValidationError(
        `'${p}' is not a datastore path: use [datastore, 'path'] or an azureml:// or https:// URI`,
        { target: 'path' },
      );
    return { uri: p };
  }
  const [ds, path] = Array.isArray(p) ? p : [p.datastore, p.path];
  if (!(ds instanceof Datastore))
    throw new ValidationError('the first element of a data path must be a Datastore', { target: 'path' });
  if (typeof path !== 'string' || path.split('/').includes('..'))
    throw new ValidationError(`'${String(path)}' is not a path on datastore '${ds.name}'`, { target: 'path' });
  return { uri: ds.uri(path), link: ds.workspace };
}

function one(paths: DataPathLike | DataPathLike[]): Source {
  // [datastore, 'path'] is one path; any other array is a list of paths.
  const list =
    Array.isArray(paths) && !(paths[0] instanceof Datastore) ? (paths as DataPathLike[]) : [paths as DataPathLike];
  if (list.length !== 1)
    throw new ValidationError('give one file or one folder (put several files in one folder and give the folder)', {
      target: 'path',
    });
  return toSource(list[0]!);
}

type VersionBody = C.DataVersion;

/** Common to file and tabular datasets: what they point at and their registration. */
export abstract class Dataset {
  name?: string;
  version?: string;
  description?: string;
  tags: Record<string, string> = {};
  protected constructor(protected readonly source: Source) {}

  get uri(): string {
    return this.source.uri;
  }
  protected abstract kindProperties(): Record<string, string>;

  static readonly File = {
    /** The seed's `Dataset.File.from_files`: a file or folder on a datastore (or an https URI). */
    fromFiles(path: DataPathLike | DataPathLike[]): FileDataset {
      return new FileDataset(one(path));
    },
  };
  static readonly Tabular = {
    /** The seed's `Dataset.Tabular.from_delimited_files`: CSV/TSV rows with an inferred schema. */
    fromDelimitedFiles(path: DataPathLike | DataPathLike[], opts: DelimitedOptions = {}): TabularDataset {
      return new TabularDataset(one(path), opts);
    },
  };

  /**
   * Registers the dataset in the workspace as a new version of data asset `name` (versions are
   * immutable). Without `createNewVersion`, an existing name is returned as is when it points at the
   * same data, and is an error otherwise.
   */
  async register(
    ws: HasServiceContext | WorkspaceLink,
    opts: { name: string; description?: string; tags?: Record<string, string>; createNewVersion?: boolean },
  ): Promise<this> {
    const link = linkOf(ws);
    const base = `${link.id}/data/${encodeURIComponent(opts.name)}`;
    let container: { properties: { latestVersion?: string; nextVersion?: string } } | undefined;
    try {
      container = (
        await link.client.request<{ properties: { latestVersion?: string; nextVersion?: string } }>('GET', base, {
          what: `get dataset '${opts.name}'`,
        })
      ).body;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    if (container?.properties.latestVersion && !opts.createNewVersion) {
      const latest = (
        await link.client.request<VersionBody>(
          'GET',
          `${base}/versions/${encodeURIComponent(container.properties.latestVersion)}`,
        )
      ).body;
      if (latest.properties.dataUri !== this.uri)
        throw new ConflictError(
          `dataset '${opts.name}' is already registered with other data (${latest.properties.dataUri}); pass createNewVersion: true to add a version`,
          { code: 'DatasetExists' },
        );
      return this.adopt(link, opts.name, latest);
    }
    const version = container?.properties.nextVersion ?? '1';
    const dataType = this.uri.endsWith('/') ? 'uri_folder' : 'uri_file';
    const body = {
      properties: {
        dataType,
        dataUri: this.uri,
        ...(opts.description ? { description: opts.description } : {}),
        tags: opts.tags ?? {},
        properties: this.kindProperties(),
      },
    };
    const r = await link.client.request<VersionBody>('PUT', `${base}/versions/${encodeURIComponent(version)}`, {
      body,
      what: `register dataset '${opts.name}'`,
    });
    return this.adopt(link, opts.name, r.body);
  }

  /** @internal Takes the name and version the server gave. */
  adopt(link: WorkspaceLink, name: string, v: VersionBody): this {
    this.name = name;
    this.version = v.name;
    this.description = v.properties.description;
    this.tags = v.properties.tags ?? {};
    this.source.link ??= link;
    return this;
  }

  /** The seed's `Dataset.get_by_name`: a registered version (default the latest). */
  static async getByName(
    ws: HasServiceContext | WorkspaceLink,
    name: string,
    version: string | number = 'latest',
  ): Promise<FileDataset | TabularDataset> {
    const link = linkOf(ws);
    const base = `${link.id}/data/${encodeURIComponent(name)}`;
    let v = String(version);
    if (v === 'latest') {
      const c = await link.client.request<{ properties: { latestVersion?: string } }>('GET', base, {
        what: `get dataset '${name}'`,
      });
      if (!c.body.properties.latestVersion) throw new NotFoundError(`dataset '${name}' has no versions`);
      v = c.body.properties.latestVersion;
    }
    const r = await link.client.request<VersionBody>('GET', `${base}/versions/${encodeURIComponent(v)}`, {
      what: `get dataset '${name}' version ${v}`,
    });
    return Dataset.fromVersion(link, r.body, name);
  }

  /** Latest version of every data asset of the workspace. */
  static async list(ws: HasServiceContext | WorkspaceLink): Promise<Map<string, FileDataset | TabularDataset>> {
    const link = linkOf(ws);
    const out = new Map<string, FileDataset | TabularDataset>();
    for await (const c of link.client.list<{ name: string; properties: { latestVersion?: string } }>(
      `${link.id}/data`,
      { what: 'list datasets' },
    )) {
      if (!c.properties.latestVersion) continue;
      const r = await link.client.request<VersionBody>(
        'GET',
        `${link.id}/data/${encodeURIComponent(c.name)}/versions/${encodeURIComponent(c.properties.latestVersion)}`,
      );
      out.set(c.name, Dataset.fromVersion(link, r.body, c.name));
    }
    return out;
  }

  /**
   * Archives data asset `name` (with `version`: only that version). Archived ones are left out of
   * `Dataset.list` but can still be read by name and version (the seed's `dataset.archive()`).
   */
  static async archive(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await setArchived(ws, 'data', 'dataset', name, version, true);
  }

  /** Makes an archived data asset (or one version) active again (the seed's `dataset.reactivate()`). */
  static async restore(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await setArchived(ws, 'data', 'dataset', name, version, false);
  }

  /**
   * Deletes one version of data asset `name`, or with no `version` the name with every version (the
   * seed's `unregister_all_versions()`). The files on the datastore stay.
   */
  static async delete(ws: HasServiceContext | WorkspaceLink, name: string, version?: string): Promise<void> {
    await deleteAsset(ws, 'data', 'dataset', name, version);
  }

  private static fromVersion(link: WorkspaceLink, v: VersionBody, name: string): FileDataset | TabularDataset {
    const p = v.properties.properties ?? {};
    const source = { uri: v.properties.dataUri, link };
    const ds =
      p['atelier.datasetType'] === 'tabular'
        ? new TabularDataset(source, {
            separator: p['atelier.separator'] ?? ',',
            header: p['atelier.header'] !== 'false',
            inferColumnTypes: p['atelier.inferColumnTypes'] !== 'false',
          })
        : new FileDataset(source);
    return ds.adopt(link, name, v);
  }
}

/** Files on a datastore (the seed's FileDataset). */
export class FileDataset extends Dataset {
  constructor(source: Source) {
    super(source);
  }
  protected kindProperties(): Record<string, string> {
    return { 'atelier.datasetType': 'file' };
  }
  /** Downloads the dataset's files into a local folder. */
  async download(
    targetPath: string,
    opts: { overwrite?: boolean; showProgress?: boolean } = {},
  ): Promise<{ files: number; bytes: number }> {
    const { ds, path } = await resolveDatastorePath(this.source);
    return ds.download(targetPath, { prefix: path, ...opts });
  }
}

/** Rows of delimited files with an inferred schema (the seed's TabularDataset). */
export class TabularDataset extends Dataset {
  private readonly opts: Required<DelimitedOptions>;
  private limit?: number;
  constructor(source: Source, opts: DelimitedOptions = {}) {
    super(source);
    const separator = opts.separator ?? ',';
    if (typeof separator !== 'string' || separator.length !== 1)
      throw new ValidationError('separator must be one character', { target: 'separator' });
    this.opts = { separator, header: opts.header ?? true, inferColumnTypes: opts.inferColumnTypes ?? true };
  }
  protected kindProperties(): Record<string, string> {
    return {
      'atelier.datasetType': 'tabular',
      'atelier.separator': this.opts.separator,
      'atelier.header': String(this.opts.header),
      'atelier.inferColumnTypes': String(this.opts.inferColumnTypes),
    };
  }

  /** The first `n` rows, as a new dataset. */
  take(n: number): TabularDataset {
    if (!Number.isInteger(n) || n < 0) throw new ValidationError('take(n) needs a whole number n ≥ 0', { target: 'n' });
    const t = new TabularDataset(this.source, this.opts);
    t.limit = Math.min(n, this.limit ?? n);
    return t;
  }

  /** Column names and inferred types (from the first 1000 rows). */
  async schema(): Promise<{ name: string; type: ColumnType }[]> {
    const { columns, rows } = await this.readRaw(Math.min(this.limit ?? 1000, 1000));
    return columns.map((c, i) => ({ name: c, type: inferType(rows.map((r) => r[i] ?? '')) }));
  }

  /** Every row (or the first `take(n)`), as objects keyed by column name, values typed. */
  async toRecords(): Promise<Record<string, string | number | boolean | Date | null>[]> {
    const { columns, rows } = await this.readRaw(this.limit);
    const types = columns.map((_, i) =>
      this.opts.inferColumnTypes ? inferType(rows.map((r) => r[i] ?? '')) : 'string',
    );
    return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, convert(r[i] ?? '', types[i]!)])));
  }

  private async readRaw(limit?: number): Promise<{ columns: string[]; rows: string[][] }> {
    const streams = await openSources(this.source);
    let columns: string[] | undefined;
    const rows: string[][] = [];
    for (const stream of streams) {
      const parser = stream.pipe(
        parse({ delimiter: this.opts.separator, relax_column_count: true, skip_empty_lines: true, bom: true }),
      );
      let first = true;
      for await (const rec of parser as AsyncIterable<string[]>) {
        if (first && this.opts.header) {
          first = false;
          columns ??= rec.map((c, i) => c.trim() || `Column${i + 1}`);
          continue;
        }
        first = false;
        columns ??= rec.map((_, i) => `Column${i + 1}`);
        if (limit !== undefined && rows.length >= limit) break;
        rows.push(rec);
      }
      stream.destroy();
      if (limit !== undefined && rows.length >= limit) break;
    }
    return { columns: columns ?? [], rows };
  }
}

async function resolveDatastorePath(source: Source): Promise<{ ds: Datastore; path: string }> {
  const m = /^azureml:\/\/(?:.*\/)?datastores\/([^/]+)\/paths\/?(.*)$/i.exec(source.uri);
  if (!m) throw new ValidationError(`'${source.uri}' is not on a datastore of the workspace`);
  if (!source.link)
    throw new ValidationError('register the dataset (or get it by name) first, so it knows its workspace');
  return { ds: await Datastore.get(source.link, decodeURIComponent(m[1]!)), path: decodeURIComponent(m[2]!) };
}

/** The byte streams of a source: one file, or the delimited files of a folder in name order. */
async function openSources(source: Source): Promise<Readable[]> {
  if (/^https?:\/\//i.test(source.uri)) {
    const res = await fetch(source.uri);
    if (!res.ok || !res.body) throw new NotFoundError(`${source.uri} answered ${res.status}`);
    return [Readable.fromWeb(res.body as unknown as import('node:stream/web').ReadableStream)];
  }
  const { ds, path } = await resolveDatastorePath(source);
  const files = (await ds.listFiles(path, { recursive: true })).filter((f) => !f.isDir);
  if (files.length === 0) throw new NotFoundError(`no files at '${path}' in datastore '${ds.name}'`);
  const picked = files.length === 1 ? files : files.filter((f) => /\.(csv|tsv|txt|psv)$/i.test(f.path));
  const out: Readable[] = [];
  for (const f of picked) out.push(await ds.openFile(f.path));
  return out;
}

const INT = /^[-+]?\d+$/;
const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const BOOL = /^(true|false)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function inferType(values: string[]): ColumnType {
  const v = values.map((x) => x.trim()).filter((x) => x !== '');
  if (v.length === 0) return 'string';
  if (v.every((x) => INT.test(x) && Number.isSafeInteger(Number(x)))) return 'int';
  if (v.every((x) => FLOAT.test(x))) return 'float';
  if (v.every((x) => BOOL.test(x))) return 'bool';
  if (v.every((x) => DATE.test(x) && !Number.isNaN(Date.parse(x)))) return 'datetime';
  return 'string';
}

function convert(raw: string, type: ColumnType): string | number | boolean | Date | null {
  const x = raw.trim();
  if (x === '') return type === 'string' ? raw : null;
  switch (type) {
    case 'int':
    case 'float':
      return Number(x);
    case 'bool':
      return x.toLowerCase() === 'true';
    case 'datetime':
      return new Date(x);
    default:
      return raw;
  }
}
