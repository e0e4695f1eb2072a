import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import type { Action } from '../../identity/rbac.js';
import type { ArtifactMetric, RunHistoryService, TextPoint, V1RunPatch } from '../../run-history/run-history.js';
import type { V1ArtifactService } from '../../v1-artifacts/artifacts.js';
import type { JobRunDetails } from '../../v1-execution/run-details.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const H = `/history/v1.0${V1_WORKSPACE}`;
const M = `/metric/v2.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type P = { experimentName?: string; experimentId?: string; runId?: string };

/** One metric point as MLflow stores it. */
type Point = { key: string; value: number; timestamp: number; step: number };
/**
 * The metrics of a body: MLflow points, text points (run-history keeps them beside MLflow, whose
 * metrics are numbers) and the artifact-backed metrics (run.log_image, …) with the file each points at.
 */
export interface MetricBody {
  points: Point[];
  texts: TextPoint[];
  artifacts: ArtifactMetric[];
}

function numeric(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/**
 * Points of azureml-core's metric bodies: v1 `{values: [{name, createdUtc, cells: [{name: value}]}]}`
 * and v2 `{values: [{name, value: [{createdUtc, step, data: {name: value}}]}]}`. Numbers (and
 * booleans) become MLflow metrics, strings text points; a table's column is the metric
 * `{name}.{column}` either way. Any other value (an object, a list, null) is refused with its name.
 */
export function metricPoints(body: unknown): MetricBody {
  const values = (body as { values?: unknown } | undefined)?.values;
  if (!Array.isArray(values)) throw new InvalidInput('values must be a list of metrics', { target: 'values' });
  const out: Point[] = [];
  const texts: TextPoint[] = [];
  const artifacts: ArtifactMetric[] = [];
  const seen = new Map<string, number>();
  const add = (
    name: string,
    data: Record<string, unknown>,
    at: unknown,
    step: unknown,
    where: string,
    type: string | undefined,
  ) => {
    const t = typeof at === 'string' ? Date.parse(at) : NaN;
    const ts = Number.isNaN(t) ? Date.now() : t;
    // A point without a step takes its position among the metric's points of this request, so a
    // list logged at one instant (run.log_list) keeps its order.
    const st = typeof step === 'number' && Number.isInteger(step) ? step : (seen.get(name) ?? 0);
    seen.set(name, st + 1);
    for (const [col, v] of Object.entries(data)) {
      // An artifact-backed metric (run.log_image, log_confusion_matrix, …) points at the file the client
      // uploaded first (the MLflow run's artifact); the pointer is kept apart from the numbers.
      if (typeof v === 'string' && v.startsWith('aml://artifactId/')) {
        artifacts.push({ name, type: type ?? null, location: v, createdUtc: new Date(ts).toISOString() });
        continue;
      }
      const key = col === name || Object.keys(data).length === 1 ? name : `${name}.${col}`;
      if (typeof v === 'string') {
        texts.push({ key, value: v, timestamp: ts, step: st });
        continue;
      }
      const n = numeric(v);
      if (n === undefined)
        throw new InvalidInput(
          `${where}: metric '${name}' has a value in '${col}' that is neither a number, a boolean nor a string`,
          { target: where },
        );
      out.push({ key, value: n, timestamp: ts, step: st });
    }
  };
  values.forEach((m, i) => {
    const dto = m as {
      name?: unknown;
      cells?: unknown;
      value?: unknown;
      createdUtc?: unknown;
      metricType?: unknown;
      properties?: { uxMetricType?: unknown } | null;
    };
    if (!dto || typeof dto.name !== 'string' || !dto.name)
      throw new InvalidInput(`values[${i}].name must be the metric's name`, { target: `values[${i}].name` });
    // v1 bodies name the kind in metricType, v2 in properties.uxMetricType (azureml.v1.image, …).
    const kind = dto.properties?.uxMetricType ?? dto.metricType;
    const type = typeof kind === 'string' && kind ? kind : undefined;
    if (Array.isArray(dto.cells))
      dto.cells.forEach((c, j) =>
        add(
          dto.name as string,
          (c ?? {}) as Record<string, unknown>,
          dto.createdUtc,
          undefined,
          `values[${i}].cells[${j}]`,
          type,
        ),
      );
    else if (Array.isArray(dto.value))
      dto.value.forEach((v, j) => {
        const p = v as { data?: unknown; createdUtc?: unknown; step?: unknown };
        add(
          dto.name as string,
          (p?.data ?? {}) as Record<string, unknown>,
          p?.createdUtc,
          p?.step,
          `values[${i}].value[${j}]`,
          type,
        );
      });
    else throw new InvalidInput(`values[${i}] has neither cells nor value`, { target: `values[${i}]` });
  });
  return { points: out, texts, artifacts };
}

/**
 * azureml-core's run history (`/history/v1.0/…`) and metrics (`/metric/v2.0/…`) services:
 * experiments (get, create, query), runs (create-or-update, get, by experiment name or id, by
 * workspace, query with azureml-core's filters, children), metrics (post, batch) — over the MLflow tracking store (run-history/run-history.ts).
 * Reading needs `data/read`, writing `data/write`, as the MLflow routes.
 */
export async function runHistoryRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; history: RunHistoryService; artifacts: V1ArtifactService; jobRuns?: JobRunDetails },
) {
  const { ctx, history, artifacts, jobRuns } = opts;
  // A job's run (Experiment.submit) carries where run.cancel() posts to stop its job.
  const withCancel = async <T extends { runId: string }>(w: WorkspaceInfo, dto: T): Promise<T> => {
    const job = jobRuns ? await jobRuns.jobOf(w, dto.runId) : undefined;
    return job && jobRuns ? { ...dto, cancelUri: jobRuns.cancelUri(w, job) } : dto;
  };
  const ws = async (req: FastifyRequest, action: Action): Promise<WorkspaceInfo> => workspaceFor(ctx, req, action);
  const experimentOf = async (w: WorkspaceInfo, p: P, create: boolean) => {
    if (p.experimentId !== undefined) return history.getExperimentById(w.workspaceId, p.experimentId);
    return create
      ? history.ensureExperiment(w.workspaceId, p.experimentName!)
      : history.getExperiment(w.workspaceId, p.experimentName!);
  };
  const runDto = async (w: WorkspaceInfo, runId: string) => {
    const r = await history.getRun(w.workspaceId, runId);
    return withCancel(w, history.runDto(r, await history.experimentNameOf(w.workspaceId, r)));
  };

  // Experiments
  app.get<{ Params: P }>(`${H}/experiments/:experimentName`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    return history.experimentDto(await history.getExperiment(w.workspaceId, req.params.experimentName!));
  });
  app.post<{ Params: P }>(`${H}/experiments/:experimentName`, HIDE, async (req) => {
    const w = await ws(req, 'data/write');
    return history.experimentDto(await history.ensureExperiment(w.workspaceId, req.params.experimentName!));
  });
  app.put<{ Params: P }>(`${H}/experiments/:experimentName`, HIDE, async (req) => {
    const w = await ws(req, 'data/write');
    return history.experimentDto(await history.ensureExperiment(w.workspaceId, req.params.experimentName!));
  });
  app.get<{ Params: P }>(`${H}/experimentids/:experimentId`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    return history.experimentDto(await experimentOf(w, req.params, false));
  });
  // Experiment.archive() / reactivate() / tag() / set_tags(): azureml-core's ModifyExperimentDto.
  app.patch<{ Params: P }>(`${H}/experimentids/:experimentId`, HIDE, async (req) => {
    const w = await ws(req, 'data/write');
    const e = await experimentOf(w, req.params, false);
    return history.experimentDto(await history.updateExperiment(w.workspaceId, e, req.body));
  });
  // Experiment.delete(ws, id): gone for good with its runs (azureml-core polls a 202; the delete is done when this answers 200).
  app.delete<{ Params: P }>(`${H}/experimentids/:experimentId`, HIDE, async (req, reply) => {
    const w = await ws(req, 'data/write');
    const e = await experimentOf(w, req.params, false);
    await history.deleteExperiment(w, e);
    return reply.status(200).send({});
  });
  app.post<{ Params: P }>(`${H}/experimentids/:experimentId/tags::delete`, HIDE, async (req) => {
    const w = await ws(req, 'data/write');
    const e = await experimentOf(w, req.params, false);
    return history.deleteExperimentTags(w.workspaceId, e, req.body);
  });
  app.post(`${H}/experiments::query`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    const found = await history.queryExperiments(w.workspaceId, req.body);
    // One page: azureml-core follows continuationToken only when it is set.
    return { value: found.map((e) => history.experimentDto(e)), continuationToken: null };
  });

  // Runs: create-or-update, get
  for (const base of [`${H}/experiments/:experimentName`, `${H}/experimentids/:experimentId`]) {
    app.patch<{ Params: P }>(`${base}/runs/:runId`, HIDE, async (req) => {
      const w = await ws(req, 'data/write');
      const e = await experimentOf(w, req.params, true);
      const r = await history.patchRun(
        w.workspaceId,
        e,
        req.params.runId!,
        (req.body ?? {}) as V1RunPatch,
        req.principal.name,
      );
      return withCancel(w, history.runDto(r, e.name));
    });
    app.post<{ Params: P }>(`${base}/runs/:runId/events`, HIDE, async (req, reply) => {
      const w = await ws(req, 'data/write');
      const e = await experimentOf(w, req.params, false);
      await history.event(w.workspaceId, e, req.params.runId!, req.body, req.principal.name);
      return reply.status(200).send({});
    });
    app.post<{ Params: P }>(`${base}/runs::query`, HIDE, async (req) => {
      const w = await ws(req, 'data/read');
      const e = await experimentOf(w, req.params, false);
      return {
        value: await history.queryRuns(w.workspaceId, e, (req.body as { filter?: unknown } | undefined)?.filter),
      };
    });
    app.get<{ Params: P }>(`${base}/runs/:runId/children`, HIDE, async (req) => {
      const w = await ws(req, 'data/read');
      await experimentOf(w, req.params, false);
      // One page: azureml-core follows continuationToken only when it is set.
      return { value: await history.children(w.workspaceId, req.params.runId!), continuationToken: null };
    });
    app.get<{ Params: P }>(`${base}/runs/:runId`, HIDE, async (req) => {
      const w = await ws(req, 'data/read');
      return runDto(w, req.params.runId!);
    });
    app.post<{ Params: P }>(`${base}/runs/:runId/metrics`, HIDE, async (req, reply) => {
      const w = await ws(req, 'data/write');
      await history.logMetrics(w.workspaceId, req.params.runId!, metricPoints({ values: [req.body] }));
      return reply.status(200).send({});
    });
    app.post<{ Params: P }>(`${base}/runs/:runId/batch/metrics`, HIDE, async (req) => {
      const w = await ws(req, 'data/write');
      await history.logMetrics(w.workspaceId, req.params.runId!, metricPoints(req.body));
      return { values: [], errors: [] };
    });
    // (…/experimentids/{id}/runs/{id}/details and W/runs/{id}/details are the jobs' (history-routes.ts).)
    if (base.includes(':experimentName'))
      app.get<{ Params: P }>(`${base}/runs/:runId/details`, HIDE, async (req) => {
        const w = await ws(req, 'data/read');
        // A job's run (Experiment.submit, azure-ai-ml): its job's status, error and live log files.
        const job = jobRuns ? await jobRuns.jobOf(w, req.params.runId!) : undefined;
        if (job && jobRuns) return jobRuns.details(w, job);
        const r = await history.getRun(w.workspaceId, req.params.runId!);
        const dto = history.runDto(r, await history.experimentNameOf(w.workspaceId, r));
        return {
          runId: dto.runId,
          runUuid: dto.runUuid,
          target: dto.target,
          status: dto.status,
          startTimeUtc: dto.startTimeUtc,
          endTimeUtc: dto.endTimeUtc,
          tags: dto.tags,
          properties: dto.properties,
          submittedBy: dto.userId,
          inputDatasets: [],
          outputDatasets: [],
          // The run's log files (its artifacts below logs/, azureml-logs/, user_logs/, system_logs/) with read URIs.
          logFiles: await artifacts.runLogFiles(w, dto.runId),
          error: history.errorOf(r),
          warnings: [],
        };
      });
    app.get<{ Params: P }>(`${base}/runs/:runId/metricsingest/wait`, HIDE, async (req, reply) => {
      await ws(req, 'data/read');
      // Metrics are stored when their POST answers: nothing to wait for.
      return reply.status(200).send({});
    });
    app.post<{ Params: P }>(`${base}/runs/:runId/metricsingest/wait`, HIDE, async (req, reply) => {
      await ws(req, 'data/read');
      // Metrics are stored when their POST answers: nothing to wait for.
      return reply.status(200).send({});
    });
  }
  app.get<{ Params: P }>(`${H}/runs/:runId`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    return runDto(w, req.params.runId!);
  });

  // Metrics v2 (azureml-core's run.log since 1.4x; get_metrics reads through list + full)
  app.post<{ Params: P }>(`${M}/runs/:runId/list`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    const { numbers, texts, artifacts } = await history.metricNames(w.workspaceId, req.params.runId!);
    const column = (name: string) => (numbers.includes(name) ? 'Double' : texts.includes(name) ? 'String' : 'Artifact');
    return {
      value: [...new Set([...numbers, ...texts, ...artifacts])]
        .sort()
        .map((name) => ({ metricKey: { namespace: '', name }, columns: { [name]: column(name) } })),
    };
  });
  app.post<{ Params: P }>(`${M}/runs/:runId/full`, HIDE, async (req) => {
    const w = await ws(req, 'data/read');
    const name = (req.body as { metricName?: unknown } | undefined)?.metricName;
    if (typeof name !== 'string' || !name)
      throw new InvalidInput("metricName must be the metric's name", { target: 'metricName' });
    const points = await history.metricHistory(w.workspaceId, req.params.runId!, name);
    const texts = points ? undefined : await history.textMetricHistory(w.workspaceId, req.params.runId!, name);
    if (texts)
      return {
        name,
        columns: { [name]: 'String' },
        properties: { uxMetricType: 'azureml.v1.scalar' },
        value: texts.map((p, i) => ({
          metricId: `${req.params.runId}.${name}.${i}`,
          createdUtc: new Date(p.timestamp).toISOString(),
          step: p.step,
          data: { [name]: p.value },
        })),
      };
    if (!points) {
      // An artifact-backed metric: azureml-core reads the file its first value points at.
      const a = await history.artifactMetric(w.workspaceId, req.params.runId!, name);
      if (!a) throw new NotFound(`run '${req.params.runId}' has no metric '${name}'`, { code: 'NOT_FOUND' });
      return {
        name,
        columns: { [name]: 'Artifact' },
        ...(a.type ? { properties: { uxMetricType: a.type } } : {}),
        value: [{ metricId: `${req.params.runId}.${name}.0`, createdUtc: a.createdUtc, data: { [name]: a.location } }],
      };
    }
    return {
      name,
      columns: { [name]: 'Double' },
      // MLflow keeps numbers only, so every metric reads back as azureml-core's scalar kind (repeated logs: a list).
      properties: { uxMetricType: 'azureml.v1.scalar' },
      value: points.map((p, i) => ({
        metricId: `${req.params.runId}.${name}.${i}`,
        createdUtc: new Date(p.timestamp).toISOString(),
        step: p.step,
        data: { [name]: p.value },
      })),
    };
  });
  app.post<{ Params: P }>(`${M}/runs/:runId/batch`, HIDE, async (req) => {
    const w = await ws(req, 'data/write');
    await history.logMetrics(w.workspaceId, req.params.runId!, metricPoints(req.body));
    return { errors: [] };
  });
}
