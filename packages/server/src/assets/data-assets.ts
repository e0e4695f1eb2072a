import type { AppContext } from '../context.js';
import type { ResourceEngine } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspaces.js';
import { safeKey } from '../blob/blob-store.js';
import { InvalidInput } from '../errors.js';
import type { DatastoreService } from './datastores.js';
import type { Principal } from '../identity/principals.js';
import { VersionedAssetService, type VersionedKind } from './versioned-assets.js';
import { invalid, str, type Obj } from './validate.js';

export const DATA_TYPES = ['uri_file', 'uri_folder', 'mltable'] as const;
const SCHEMES = ['azureml:', 'https:', 'http:', 'wasbs:', 'abfss:', 's3:', 'file:'];

/** A parsed `azureml://…/datastores/{name}/paths/{path}` URI (the datastore-relative form of a data asset). */
export interface DatastoreUri {
  datastore: string;
  path: string;
}

/**
 * Parses `azureml://datastores/{ds}/paths/{p}` and the long form
 * `azureml://subscriptions/{s}/resourcegroups/{g}/workspaces/{w}/datastores/{ds}/paths/{p}`.
 */
export function parseDatastoreUri(uri: string): DatastoreUri | undefined {
  const m =
    /^azureml:\/\/(?:subscriptions\/[^/]+\/resource[gG]roups\/[^/]+\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/[^/]+\/)?datastores\/([^/]+)\/paths\/?(.*)$/i.exec(
      uri,
    );
  if (!m) return undefined;
  return { datastore: m[1]!, path: safeKey(decodeURIComponent(m[2]!), 'the path of dataUri') };
}

/**
 * An `mltable` data asset is a folder holding an `MLTable` file (the table's definition); the URI may
 * name the folder or the file itself. Checked in the datastore, with the caller's access.
 */
async function requireMLTableFile(
  datastores: DatastoreService,
  ws: WorkspaceInfo,
  ref: DatastoreUri,
  by: Principal,
): Promise<void> {
  const folder = ref.path.replace(/\/+$/, '');
  const file = /(^|\/)MLTable$/.test(folder) ? folder : folder ? `${folder}/MLTable` : 'MLTable';
  const backend = await datastores.backend(ws, ref.datastore, by, 'read');
  const st = await backend.stat(file);
  if (!st || st.isDir) {
    throw invalid(
      'properties.dataUri',
      `an mltable data asset's folder must contain an MLTable file, and '${file}' is not a file in datastore '${ref.datastore}'; upload the MLTable file into the folder first, or register the folder as uri_folder`,
    );
  }
}

export function checkDataType(v: unknown): string {
  const hit = DATA_TYPES.find((t) => t.toLowerCase() === String(v).toLowerCase());
  if (!hit) throw invalid('properties.dataType', `must be one of ${DATA_TYPES.join(', ')}; got '${String(v)}'`);
  return hit;
}

/** Data assets `W/data/{name}/versions/{v}`: where the data is (a URI), and of which kind. */
export function dataService(
  ctx: AppContext,
  engine: ResourceEngine,
  datastores: DatastoreService,
): VersionedAssetService {
  const kind: VersionedKind = {
    segment: 'data',
    label: 'data asset',
    containerType: 'Microsoft.MachineLearningServices/workspaces/data',
    versionType: 'Microsoft.MachineLearningServices/workspaces/data/versions',
    keys: ['dataType', 'dataUri', 'referencedUris'],
    containerKey: 'dataType',
    checkContainerKey: checkDataType,
    async validate(ws: WorkspaceInfo, _name: string, p: Obj, by: Principal): Promise<Obj> {
      const dataType = checkDataType(str(p, 'dataType', 'properties', { required: true }));
      const dataUri = str(p, 'dataUri', 'properties', { required: true, max: 2000 })!;
      const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(dataUri)?.[0]?.toLowerCase();
      if (!scheme || !SCHEMES.includes(scheme)) {
        throw invalid(
          'properties.dataUri',
          `must be a URI like azureml://datastores/<datastore>/paths/<path> (or http(s)://, wasbs://, abfss://, s3://); got '${dataUri}'`,
        );
      }
      if (scheme === 'file:')
        throw invalid(
          'properties.dataUri',
          'local file URIs cannot be shared through the workspace; upload the files to a datastore first (datastore.upload) and use its azureml:// URI',
        );
      if (scheme === 'azureml:') {
        const ref = parseDatastoreUri(dataUri);
        if (!ref)
          throw invalid(
            'properties.dataUri',
            `azureml URIs must look like azureml://datastores/<datastore>/paths/<path>; got '${dataUri}'`,
          );
        if (
          /\/workspaces\/([^/]+)\//i.exec(dataUri)?.[1]?.toLowerCase() !== undefined &&
          /\/workspaces\/([^/]+)\//i.exec(dataUri)![1]!.toLowerCase() !== ws.name.toLowerCase()
        ) {
          throw invalid(
            'properties.dataUri',
            'refers to a datastore of another workspace; register the data in that workspace',
          );
        }
        await datastores.get(ws, ref.datastore).catch(() => {
          throw invalid('properties.dataUri', `datastore '${ref.datastore}' does not exist in workspace '${ws.name}'`);
        });
        if (dataType === 'uri_file' && (!ref.path || dataUri.endsWith('/')))
          throw invalid('properties.dataUri', 'a uri_file must name a file, not a folder');
        if (dataType === 'mltable') await requireMLTableFile(datastores, ws, ref, by);
      } else {
        try {
          new URL(dataUri);
        } catch {
          throw invalid('properties.dataUri', `is not a valid URI: '${dataUri}'`);
        }
      }
      const out: Obj = { dataType, dataUri };
      if (p.referencedUris !== undefined) {
        if (dataType !== 'mltable') throw invalid('properties.referencedUris', 'is only for mltable data');
        if (
          !Array.isArray(p.referencedUris) ||
          p.referencedUris.some((u) => typeof u !== 'string' || u.length > 2000) ||
          p.referencedUris.length > 1000
        ) {
          throw invalid('properties.referencedUris', 'must be a list of at most 1000 URIs');
        }
        out.referencedUris = p.referencedUris;
      }
      return out;
    },
  };
  void InvalidInput;
  return new VersionedAssetService(ctx, engine, kind);
}
