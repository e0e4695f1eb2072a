import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import { AtelierError } from '../errors.js';

type Obj = Record<string, unknown>;

/** `azureml://datastores/{name}/paths/{path}` → its datastore and path. */
function dataPathOf(uri: unknown): { datastoreName: string; relativePath: string } | null {
  const m = typeof uri === 'string' ? /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/i.exec(uri) : null;
  return m ? { datastoreName: m[1]!, relativePath: m[2]! } : null;
}

/**
 * azureml-core's dataset service (`/dataset/v1.0/…`) as far as it can be served: the registered
 * datasets of a workspace are its data assets (`W/data/{name}/versions/{v}`, what azure-ai-ml
 * registers), listed in the v1 shape (`ws.datasets`, `Dataset.get_all`). Everything that makes or
 * reads a v1 dataset object needs azureml-dataprep's dataflow (see http/azureml-v1/dataset-routes.ts).
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

  /** The v1 DatasetDto of a data asset and its latest version. */
  dto(container: StoredResource, v: StoredResource): Obj {
    const c = container.properties as Obj;
    const p = v.properties as Obj;
    const type = String(p.dataType ?? '');
    return {
      datasetId: container.id,
      name: container.name,
      description: (p.description as string | undefined) ?? (c.description as string | undefined) ?? null,
      tags: { ...((c.tags as Obj | undefined) ?? {}), ...((p.tags as Obj | undefined) ?? {}) },
      isVisible: true,
      datasetType: type === 'mltable' ? 'tabular' : 'file',
      latest: {
        datasetId: container.id,
        versionId: v.name,
        savedDatasetId: v.id,
        dataflow: null,
        dataPath: dataPathOf(p.dataUri),
        properties: { dataType: type, dataUri: p.dataUri ?? null },
      },
    };
  }

  /** One page of the workspace's data assets (latest version each), after `token` (a container name). */
  async list(ws: WorkspaceInfo, pageSize: number, token?: string) {
    const page = await this.data.listContainers(ws, { after: token, top: pageSize });
    const value: Obj[] = [];
    for (const c of page.value) {
      const v = await this.latest(ws, c.name);
      if (v) value.push(this.dto(c, v));
    }
    return { value, ...(page.hasMore && page.lastKey ? { continuationToken: page.lastKey } : {}) };
  }
}
