import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1DatasetService } from '../../v1-datasets/datasets.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const D = `/dataset/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };

/**
 * Why the rest of azureml-core's dataset API is not served: azureml-core 1.61 makes and reads
 * dataset objects only through azureml-dataprep (a native Rust/.NET library): `Dataset.File.from_files`
 * and `Tabular.from_delimited_files` build a dataprep dataflow on the client, `register` sends it,
 * and `get_by_name` / `get_by_id` rebuild a dataset from the service's dataprep definition (its
 * "legacyDataflow"), which `to_pandas_dataframe`, `download` and `mount` then run. The tested client
 * environment cannot hold azureml-dataprep (5.5.0 pins azure-identity 1.17, older than the one
 * azure-ai-ml needs), and a dataflow is dataprep's private format.
 */
const DATAPREP =
  "azureml-core's datasets are built from azureml-dataprep dataflows (Dataset.File.from_files, Tabular.from_delimited_files, register, get_by_name, to_pandas_dataframe, download, mount), which this server does not make or read; register and read data as data assets instead: azure-ai-ml's ml_client.data (Data(path='azureml://datastores/{datastore}/paths/{path}')), PUT W/data/{name}/versions/{v}, or the datastore's files. ws.datasets lists those data assets.";

/**
 * azureml-core's dataset service (`/dataset/v1.0/…`): the list (`ws.datasets`, `Dataset.get_all`
 * keys and registrations) over the workspace's data assets; every other route answers 501 with
 * {@link DATAPREP}.
 */
export async function datasetRoutes(app: FastifyInstance, opts: { ctx: AppContext; datasets: V1DatasetService }) {
  const { ctx, datasets } = opts;
  app.get<{ Querystring: { pageSize?: string; continuationToken?: string } }>(`${D}/datasets`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    const size = Math.min(Math.max(Number(req.query.pageSize) || 100, 1), 1000);
    return datasets.list(w, size, req.query.continuationToken || undefined);
  });
  const unserved = async () => {
    throw new NotImplemented(DATAPREP, { code: 'NOT_IMPLEMENTED' });
  };
  app.all(`${D}/datasets/*`, HIDE, unserved);
  app.post(`${D}/datasets`, HIDE, unserved);
  app.delete(`${D}/datasets`, HIDE, unserved);
  app.all(`${D}/saveddatasets`, HIDE, unserved);
  app.all(`${D}/saveddatasets/*`, HIDE, unserved);
  app.all(`/data/v1.0${V1_WORKSPACE}/dataversion/*`, HIDE, unserved);
}
