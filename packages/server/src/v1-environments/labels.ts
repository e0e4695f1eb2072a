import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import { InvalidInput } from '../errors.js';
import './tables.js';

/** A label: as an asset version (a letter or digit, then letters, digits, '-', '_', '.'; at most 100). */
const LABEL = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$/;
/** The label every client resolves to the newest version (azure-ai-ml does so itself); no row can take it. */
export const LATEST = 'latest';

/**
 * Environment labels: a label names one version of an environment name (Azure's semantics). Setting
 * a version's labels makes them exactly that list: a label another version had moves here, a label
 * this version had and the list leaves out is removed — in one write transaction. A label row keeps
 * the labelled version's creation time, so a version deleted and made again under the same number is
 * not what the old label named.
 */
export class EnvironmentLabels {
  constructor(private readonly ctx: AppContext) {}

  /** Checks a `Labels` list (the client's body); the labels, in order, without repeats. */
  static check(labels: unknown): string[] {
    if (!Array.isArray(labels))
      throw new InvalidInput('Labels must be a list of label names (e.g. ["production"])', { target: 'Labels' });
    const out: string[] = [];
    for (const l of labels) {
      if (typeof l !== 'string' || !LABEL.test(l))
        throw new InvalidInput(
          `label ${JSON.stringify(l)} is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 100)`,
          { target: 'Labels' },
        );
      if (l.toLowerCase() === LATEST)
        throw new InvalidInput(
          `the label '${LATEST}' always names the newest version and cannot be set; choose another label`,
          { target: 'Labels' },
        );
      if (!out.includes(l)) out.push(l);
    }
    return out;
  }

  /** Makes `labels` exactly the labels of `version` (a stored version of `name`). */
  async set(ws: WorkspaceInfo, name: string, version: StoredResource, labels: string[], by: string): Promise<void> {
    const nameKey = name.toLowerCase();
    const now = Date.now();
    await this.ctx.database.write(async ({ db }) => {
      let del = db
        .deleteFrom('environment_labels')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name_key', '=', nameKey)
        .where('version', '=', version.name);
      if (labels.length) del = del.where('label', 'not in', labels);
      await del.execute();
      for (const label of labels) {
        const row = {
          workspace_id: ws.workspaceId,
          name_key: nameKey,
          label,
          version: version.name,
          version_created_at: version.createdAt,
          updated_at: now,
          updated_by: by,
        };
        await db
          .insertInto('environment_labels')
          .values(row)
          .onConflict((oc) =>
            oc.columns(['workspace_id', 'name_key', 'label']).doUpdateSet({
              version: row.version,
              version_created_at: row.version_created_at,
              updated_at: now,
              updated_by: by,
            }),
          )
          .execute();
      }
    });
  }

  /** The version a label names: `{version, createdAt}`, or undefined. */
  async find(
    ws: WorkspaceInfo,
    name: string,
    label: string,
  ): Promise<{ version: string; createdAt: number } | undefined> {
    const row = await this.ctx.db
      .selectFrom('environment_labels')
      .select(['version', 'version_created_at'])
      .where('workspace_id', '=', ws.workspaceId)
      .where('name_key', '=', name.toLowerCase())
      .where('label', '=', label)
      .executeTakeFirst();
    return row && { version: row.version, createdAt: Number(row.version_created_at) };
  }

  async forgetWorkspace(ws: { workspaceId: string }): Promise<void> {
    await this.ctx.db.deleteFrom('environment_labels').where('workspace_id', '=', ws.workspaceId).execute();
  }
}
