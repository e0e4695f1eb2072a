import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1DatasetService } from '../../v1-datasets/datasets.js';
import type { DatasetProfiles } from '../../v1-datasets/profiles.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const D = `/dataset/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type Q = { pageSize?: string; continuationToken?: string; versionId?: string; ifExistsOk?: string };

/**
 * azureml-core's dataset service (`/dataset/v1.0/…`) and the dataset definitions azureml-dataprep
 * reads (`/data/v1.0/…/dataversion/…`) over the workspace's data assets (v1-datasets/): `register`,
 * `Dataset.get_by_name`, `get_by_id`, `ws.datasets` / `Dataset.get_all`, `update` / `add_tags` /
 * `remove_tags`, `unregister_all_versions`. Reading needs
 * `control/read`, registering `assets/write`, as `W/data` through ARM. What is not served answers 501.
 */
export async function datasetRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; datasets: V1DatasetService; profiles: DatasetProfiles },
) {
  const { ctx, datasets, profiles } = opts;
  app.get<{ Querystring: Q }>(`${D}/datasets`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    const size = Math.min(Math.max(Number(req.query.pageSize) || 100, 1), 1000);
    return datasets.list(w, size, req.query.continuationToken || undefined);
  });
  app.post<{ Querystring: Q }>(`${D}/datasets`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return datasets.register(w, req.body, req.query.ifExistsOk === 'true', req.principal);
  });
  app.get<{ Params: { name: string }; Querystring: Q }>(`${D}/datasets/query/name=:name`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return datasets.byName(w, req.params.name, req.query.versionId || undefined);
  });
  app.get<{ Params: { id: string } }>(`${D}/datasets/query/savedDatasetId=:id`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return datasets.bySavedId(w, req.params.id);
  });
  app.get<{ Params: { id: string } }>(`${D}/saveddatasets/:id`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return datasets.saved(w, req.params.id);
  });
  app.get<{ Params: { name: string; version: string } }>(
    `/data/v1.0${V1_WORKSPACE}/dataversion/:name/versions/:version`,
    HIDE,
    async (req) => {
      const w = await workspaceFor(ctx, req, 'control/read');
      return datasets.dataVersion(w, req.params.name, req.params.version);
    },
  );

  // dataset.update / add_tags / remove_tags: the whole DatasetDto at its id (the data asset's ARM id).
  app.put<{ Params: { datasetId: string } }>(`${D}/datasets/:datasetId`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return datasets.update(w, req.params.datasetId, req.body, req.principal);
  });
  // dataset.id of an unregistered dataset (a dataset given to a model or run without registering).
  app.post(`${D}/saveddatasets`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return datasets.ensureSaved(w, req.body, req.principal);
  });
  // dataset.unregister_all_versions(): archived, as Azure does.
  app.delete<{ Params: { name: string } }>(`${D}/datasets/:name`, HIDE, async (req, reply) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    await datasets.unregister(w, req.params.name, req.principal);
    return reply.status(200).send();
  });

  // Profiles (v1-datasets/profiles.ts): submit_profile_run, get_profile, get_profile_runs. Computing one
  // reads the data and writes a run: `data/write` (as run files) on top of registering datasets' rights.
  type PQ = {
    computeTarget?: string;
    experimentName?: string;
    datastoreName?: string;
    count?: string;
    continuationToken?: string;
  };
  app.post<{ Params: { id: string }; Querystring: PQ }>(
    `${D}/saveddatasets/:id/profilewithpreview`,
    HIDE,
    async (req) => {
      const w = await workspaceFor(ctx, req, 'data/write');
      return profiles.submit(w, req.params.id, req.query, req.principal);
    },
  );
  app.post<{ Params: { datasetId: string } }>(`${D}/datasets/:datasetId/actions/result`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return profiles.result(w, req.body);
  });
  app.post<{ Params: { datasetId: string }; Querystring: PQ }>(
    `${D}/datasets/:datasetId/actions/listactionsfromrequest`,
    HIDE,
    async (req) => {
      const w = await workspaceFor(ctx, req, 'control/read');
      const count = Math.min(Math.max(Number(req.query.count) || 100, 1), 1000);
      return profiles.list(w, req.body, count, req.query.continuationToken || undefined);
    },
  );

  const unserved = (what: string) => async () => {
    throw new NotImplemented(what, { code: 'NOT_IMPLEMENTED' });
  };
  const SAVED_OTHER =
    'saving a dataset from a data path or a request (saveddatasets/from-data-path, from-request) is not served: no azureml-core 1.61 method sends these requests (only its generated _restclient operations ensure_saved_from_data_path / ensure_saved_from_request do); Dataset.File.from_files / Dataset.Tabular.from_delimited_files save a dataset through POST saveddatasets';
  app.post(`${D}/saveddatasets/*`, HIDE, unserved(SAVED_OTHER));
  app.all(
    `${D}/datasets/*`,
    HIDE,
    unserved(
      "this dataset operation is not served. Dataset snapshots (datasets/{id}/datasetSnapshots) cannot be reached from azureml-core 1.61: its Dataset.create_snapshot / get_snapshot / get_all_snapshots / delete_snapshot and DatasetSnapshot call azureml.data._dataset_client._DatasetClient, which raises NotImplementedError ('no longer supported') before sending. A registered dataset is a data asset version: change it through ARM W/data/{name}/versions/{v} (azure-ai-ml's ml_client.data); profiles: TabularDataset.submit_profile_run / get_profile",
    ),
  );
}
