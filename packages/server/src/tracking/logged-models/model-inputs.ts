import type { Kysely } from 'kysely';
import type { Tables } from '../../store/schema.js';
import { InvalidInput, NotFound } from '../../errors.js';
import type { Tx } from '../../store/tx.js';
import './tables.js';

/** Validates the `models` of a log-inputs request: a list of `{model_id}`. */
export function checkModelInputs(models: unknown, limit: number): string[] {
  if (models === undefined || models === null) return [];
  if (!Array.isArray(models)) throw new InvalidInput('models must be a list of {model_id} objects');
  if (models.length > limit)
    throw new InvalidInput(`A batch logging request can contain at most ${limit} models. Got ${models.length} models.`);
  return [
    ...new Set(
      models.map((m, i) => {
        const id = (
          typeof m === 'object' && m !== null ? (m as Record<string, unknown>).model_id : undefined
        ) as unknown;
        if (id === undefined || id === null || id === '')
          throw new InvalidInput(`Missing value for required parameter 'models[${i}].model_id'.`);
        if (typeof id !== 'string' || !/^[\w.-]{1,64}$/.test(id))
          throw new InvalidInput(
            `models[${i}].model_id must be a logged model id (letters, digits, '_', '-', '.'; at most 64)`,
          );
        return id;
      }),
    ),
  ];
}

/** Each id must be a logged model of the workspace (deleted ones count); the first that is not is named. */
export async function requireLoggedModels(tx: Tx, workspaceId: string, ids: string[]): Promise<void> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await tx.rows<[string]>(
      `select model_id from mlflow_logged_models where workspace_id = ? and model_id in (${chunk.map(() => '?').join(',')})`,
      [workspaceId, ...chunk],
    );
    for (const r of rows) found.add(r[0]);
  }
  const missing = ids.find((id) => !found.has(id));
  if (missing !== undefined)
    throw new NotFound(`Logged model with ID '${missing}' not found.`, { code: 'LOGGED_MODEL_NOT_FOUND' });
}

/** Records the models as inputs of the run (once each); each must be a logged model of the workspace. */
export async function writeModelInputs(tx: Tx, workspaceId: string, runId: string, modelIds: string[]): Promise<void> {
  await requireLoggedModels(tx, workspaceId, modelIds);
  for (const id of modelIds) {
    await tx.run(
      'insert into tracking_model_inputs (run_uuid, model_id, created_at) values (?, ?, ?) on conflict do nothing',
      [runId, id, Date.now()],
    );
  }
}

/** The model inputs of runs, by run, in the order they were logged. */
export async function readModelInputs(
  db: Kysely<Tables>,
  runIds: string[],
): Promise<Map<string, { model_id: string }[]>> {
  const out = new Map<string, { model_id: string }[]>();
  if (runIds.length === 0) return out;
  const rows = await db
    .selectFrom('tracking_model_inputs')
    .select(['run_uuid', 'model_id'])
    .where('run_uuid', 'in', runIds)
    .orderBy('run_uuid')
    .orderBy('created_at')
    .orderBy('model_id')
    .execute();
  for (const r of rows) {
    let l = out.get(r.run_uuid);
    if (!l) out.set(r.run_uuid, (l = []));
    l.push({ model_id: r.model_id });
  }
  return out;
}
