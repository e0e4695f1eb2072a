import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import { InvalidInput, NotFound, NotImplemented } from '../../errors.js';
import type { MetricView } from '../../tracking/runs/types.js';
import type { TrackingServices } from '../../tracking/services.js';
import { LIMITS } from '../../tracking/shared/validation.js';
import { datasetSummaries } from '../../tracking/runs/dataset-summaries.js';
import { safeKey } from '../../blob/blob-store.js';
import { apiPaths, checkSafePath, READ_ONLY } from './common.js';

/**
 * MLflow's tracking REST API (mlflow/protos/service.proto), per workspace. Bodies are checked for
 * the fields' types by their contracts (@atelier/contracts) and for MLflow's rules in tracking/;
 * unknown fields are ignored, as MLflow's server ignores them (newer clients send fields older
 * servers do not know).
 */
/** MLflow's limits of its web UI's bulk routes (mlflow/server/handlers.py). */
const HISTORY_BULK_MAX_RUNS = 100;
const HISTORY_BULK_MAX_RESULTS = 25000;
const SEARCH_DATASETS_MAX_EXPERIMENTS = 20;
/** Each run's points are read whole (to sort them by time); beyond this the request is refused. */
const HISTORY_BULK_MAX_POINTS_PER_RUN = 1_000_000;

/** MLflow names the run `run_id`, older clients `run_uuid`. */
function runIdOf(o: { run_id?: unknown; run_uuid?: unknown }): unknown {
  return o.run_id !== undefined && o.run_id !== '' ? o.run_id : o.run_uuid;
}

export async function trackingRoutes(app: FastifyInstance, ctx: AppContext, svc: TrackingServices): Promise<void> {
  const { experiments, runs, metrics, artifacts } = svc;
  const ws = (req: FastifyRequest) => req.workspace.workspaceId;
  const TAGS = ['MLflow tracking'];
  const post = <B extends TSchema, R extends TSchema>(
    path: string,
    body: B,
    response: R,
    handler: (req: FastifyRequest<{ Body: Static<B> }>) => Promise<Static<R>>,
    readOnly = false,
  ) => {
    for (const p of apiPaths(path)) {
      app.post<{ Body: Static<B> }>(
        p,
        {
          ...(readOnly ? READ_ONLY : {}),
          schema: { body, response: { 200: response, ...C.MlflowErrorResponses }, tags: TAGS },
        },
        handler,
      );
    }
  };
  const get = <Q extends TSchema, R extends TSchema>(
    path: string,
    querystring: Q,
    response: R,
    handler: (req: FastifyRequest<{ Querystring: Static<Q> }>) => Promise<Static<R>>,
  ) => {
    for (const p of apiPaths(path)) {
      app.get<{ Querystring: Static<Q> }>(
        p,
        { schema: { querystring, response: { 200: response, ...C.MlflowErrorResponses }, tags: TAGS } },
        handler,
      );
    }
  };

  // Experiments
  post('/mlflow/experiments/create', C.CreateExperimentRequest, C.CreateExperimentResponse, async (req) => ({
    experiment_id: await experiments.create(ws(req), req.body.name, req.body.artifact_location, req.body.tags),
  }));
  get('/mlflow/experiments/get', C.GetExperimentQuery, C.GetExperimentResponse, async (req) => ({
    experiment: await experiments.get(ws(req), req.query.experiment_id),
  }));
  get('/mlflow/experiments/get-by-name', C.GetExperimentByNameQuery, C.GetExperimentResponse, async (req) => ({
    experiment: await experiments.getByName(ws(req), req.query.experiment_name),
  }));
  post(
    '/mlflow/experiments/search',
    C.SearchExperimentsRequest,
    C.SearchExperimentsResponse,
    async (req) => experiments.search(ws(req), req.body),
    true,
  );
  get('/mlflow/experiments/search', C.SearchExperimentsRequest, C.SearchExperimentsResponse, async (req) =>
    experiments.search(ws(req), req.query),
  );
  post('/mlflow/experiments/update', C.UpdateExperimentRequest, C.Empty, async (req) => {
    await experiments.rename(ws(req), req.body.experiment_id, req.body.new_name);
    return {};
  });
  post('/mlflow/experiments/delete', C.ExperimentIdRequest, C.Empty, async (req) => {
    await experiments.delete(ws(req), req.body.experiment_id);
    return {};
  });
  post('/mlflow/experiments/restore', C.ExperimentIdRequest, C.Empty, async (req) => {
    await experiments.restore(ws(req), req.body.experiment_id);
    return {};
  });
  post('/mlflow/experiments/set-experiment-tag', C.SetExperimentTagRequest, C.Empty, async (req) => {
    await experiments.setTag(ws(req), req.body.experiment_id, req.body.key, req.body.value);
    return {};
  });
  post('/mlflow/experiments/delete-experiment-tag', C.DeleteExperimentTagRequest, C.Empty, async (req) => {
    await experiments.deleteTag(ws(req), req.body.experiment_id, req.body.key);
    return {};
  });

  // Runs
  post('/mlflow/runs/create', C.CreateRunRequest, C.RunResponse, async (req) => ({
    run: await runs.create(ws(req), req.body, req.principal.name),
  }));
  get('/mlflow/runs/get', C.GetRunQuery, C.RunResponse, async (req) => ({
    run: await runs.get(ws(req), runIdOf(req.query)),
  }));
  post('/mlflow/runs/update', C.UpdateRunRequest, C.UpdateRunResponse, async (req) => ({
    run_info: await runs.update(ws(req), runIdOf(req.body), req.body),
  }));
  post('/mlflow/runs/delete', C.RunIdRequest, C.Empty, async (req) => {
    await runs.delete(ws(req), runIdOf(req.body));
    return {};
  });
  post('/mlflow/runs/restore', C.RunIdRequest, C.Empty, async (req) => {
    await runs.restore(ws(req), runIdOf(req.body));
    return {};
  });
  post('/mlflow/runs/log-metric', C.LogMetricRequest, C.Empty, async (req) => {
    await runs.logMetric(ws(req), runIdOf(req.body), req.body);
    return {};
  });
  post('/mlflow/runs/log-parameter', C.LogParamRequest, C.Empty, async (req) => {
    await runs.logParam(ws(req), runIdOf(req.body), req.body);
    return {};
  });
  post('/mlflow/runs/set-tag', C.SetTagRequest, C.Empty, async (req) => {
    await runs.setTag(ws(req), runIdOf(req.body), req.body.key, req.body.value);
    return {};
  });
  post('/mlflow/runs/delete-tag', C.DeleteTagRequest, C.Empty, async (req) => {
    await runs.deleteTag(ws(req), req.body.run_id, req.body.key);
    return {};
  });
  post('/mlflow/runs/log-batch', C.LogBatchRequest, C.Empty, async (req) => {
    await runs.logBatch(ws(req), req.body.run_id, req.body);
    return {};
  });
  post('/mlflow/runs/log-inputs', C.LogInputsRequest, C.Empty, async (req) => {
    await runs.logInputs(ws(req), req.body.run_id, req.body);
    return {};
  });
  post('/mlflow/runs/outputs', C.LogOutputsRequest, C.Empty, async (req) => {
    await runs.logOutputs(ws(req), req.body.run_id, req.body);
    return {};
  });
  post('/mlflow/runs/log-model', C.LogModelRequest, C.Empty, async (req) => {
    await runs.logModel(ws(req), req.body.run_id, req.body.model_json);
    return {};
  });
  post(
    '/mlflow/runs/search',
    C.SearchRunsRequest,
    C.SearchRunsResponse,
    async (req) => runs.search(ws(req), req.body),
    true,
  );
  get('/mlflow/runs/search', C.SearchRunsRequest, C.SearchRunsResponse, async (req) => runs.search(ws(req), req.query));

  // Metrics
  get('/mlflow/metrics/get-history', C.GetMetricHistoryQuery, C.GetMetricHistoryResponse, async (req) =>
    metrics.history(ws(req), { ...req.query, run_id: runIdOf(req.query) }),
  );
  get(
    '/mlflow/metrics/get-history-bulk-interval',
    C.GetMetricHistoryBulkIntervalQuery,
    C.MetricsWithRunIdResponse,
    async (req) => metrics.bulkInterval(ws(req), req.query),
  );

  // Atelier's own: min/max/last per x-bucket of a metric of up to 100 runs (the studio's charts).
  get('/mlflow/metrics/get-history-buckets', C.GetMetricBucketsQuery, C.GetMetricBucketsResponse, async (req) =>
    metrics.buckets(ws(req), req.query),
  );

  // MLflow's web UI: the whole history of one metric of several runs, each run's points in
  // (timestamp, step, value) order, runs in id order (mlflow/server/handlers.py, get_metric_history_bulk_handler).
  get('/mlflow/metrics/get-history-bulk', C.GetMetricHistoryBulkQuery, C.MetricsWithRunIdResponse, async (req) => {
    const runIds =
      req.query.run_id === undefined ? [] : Array.isArray(req.query.run_id) ? req.query.run_id : [req.query.run_id];
    if (runIds.length === 0) throw new InvalidInput('GetMetricHistoryBulk request must specify at least one run_id.');
    if (runIds.length > HISTORY_BULK_MAX_RUNS)
      throw new InvalidInput(
        `GetMetricHistoryBulk request cannot specify more than ${HISTORY_BULK_MAX_RUNS} run_ids. Received ${runIds.length} run_ids.`,
      );
    const key = req.query.metric_key;
    if (typeof key !== 'string') throw new InvalidInput('GetMetricHistoryBulk request must specify a metric_key.');
    let max = HISTORY_BULK_MAX_RESULTS;
    if (req.query.max_results !== undefined) {
      if (!/^\d{1,9}$/.test(req.query.max_results) || Number(req.query.max_results) < 1)
        throw new InvalidInput(
          `Invalid value ${String(req.query.max_results)} for parameter 'max_results' supplied. It must be a positive integer.`,
        );
      max = Math.min(Number(req.query.max_results), HISTORY_BULK_MAX_RESULTS);
    }
    const out: (MetricView & { run_id: string })[] = [];
    for (const runId of [...new Set(runIds)].sort()) {
      if (out.length >= max) break;
      // Read in pages, so that a metric over the limit is refused before it is all in memory.
      const points: MetricView[] = [];
      let token: string | undefined;
      do {
        let page: Awaited<ReturnType<typeof metrics.history>>;
        try {
          page = await metrics.history(ws(req), {
            run_id: runId,
            metric_key: key,
            max_results: String(LIMITS.historyMaxResults),
            page_token: token,
          });
        } catch (e) {
          // As MLflow's store: a run that is not there (or not an id) contributes nothing.
          if (e instanceof NotFound || e instanceof InvalidInput) {
            points.length = 0;
            break;
          }
          throw e;
        }
        for (const m of page.metrics) points.push(m);
        token = page.next_page_token;
        if (points.length > HISTORY_BULK_MAX_POINTS_PER_RUN) {
          throw new InvalidInput(
            `metric '${key}' of run ${runId} has more than ${HISTORY_BULK_MAX_POINTS_PER_RUN} points; read it with get-history (paged) or get-history-bulk-interval (sampled)`,
          );
        }
      } while (token);
      const num = (v: MetricView['value']): number => (typeof v === 'number' ? v : Number(v));
      points.sort((a, b) => a.timestamp - b.timestamp || a.step - b.step || num(a.value) - num(b.value));
      for (const m of points)
        out.push({ key: m.key, value: m.value, timestamp: m.timestamp, step: m.step, run_id: runId });
    }
    return { metrics: out.slice(0, max) };
  });

  // MLflow's web UI: the datasets runs of these experiments used, with their context (distinct).
  post(
    '/mlflow/experiments/search-datasets',
    C.SearchDatasetsRequest,
    C.SearchDatasetsResponse,
    async (req) => {
      const ids = req.body.experiment_ids ?? [];
      if (ids.length === 0) throw new InvalidInput('SearchDatasets request must specify at least one experiment_id.');
      if (ids.length > SEARCH_DATASETS_MAX_EXPERIMENTS)
        throw new InvalidInput(
          `SearchDatasets request cannot specify more than ${SEARCH_DATASETS_MAX_EXPERIMENTS} experiment_ids. Received ${ids.length} experiment_ids.`,
        );
      return { dataset_summaries: await datasetSummaries(ctx.database, ws(req), ids) };
    },
    true,
  );

  // MLflow's prompt engineering UI (a run made from a prompt template and an AI gateway route): not built.
  post('/mlflow/runs/create-promptlab-run', C.CreatePromptlabRunRequest, C.Empty, async () => {
    throw new NotImplemented(
      'runs/create-promptlab-run (MLflow prompt engineering UI runs) is not implemented by this server; log the prompt, parameters and output into an ordinary run with runs/create and runs/log-batch instead.',
    );
  });

  // Artifacts of a run, listed from its artifact root (bytes are served by the mlflow-artifacts routes).
  get('/mlflow/artifacts/list', C.ListArtifactsQuery, C.ListArtifactsResponse, async (req) => {
    const rel = safeKey(checkSafePath(typeof req.query.path === 'string' ? req.query.path : ''), 'path');
    const run = await runs.row(ws(req), runIdOf(req.query));
    const root = run.artifact_uri;
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(root);
    if (!m) {
      throw new InvalidInput(
        `this run's artifacts are at '${root}', outside this server; list them with a client that can read that location`,
      );
    }
    const base = safeKey(m[1]!, 'artifact root');
    const files = await artifacts.list(req.workspace, rel ? `${base}/${rel}` : base);
    const out: C.ListArtifactsResponse = { root_uri: root };
    if (files.length) out.files = files.map((f) => ({ ...f, path: rel ? `${rel}/${f.path}` : f.path }));
    return out;
  });
}
