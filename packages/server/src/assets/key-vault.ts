import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { VaultSecretRow } from '../store/tables.js';
import { seal, open } from '../secrets/envelope.js';
import { InvalidInput, NotFound } from '../errors.js';

/** Key Vault's secret-name rule: 1–127 letters, digits and '-'. */
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** Key Vault's largest secret value (25 KiB). */
export const MAX_SECRET_BYTES = 25 * 1024;

export interface SecretMeta {
  name: string;
  contentType?: string;
  tags: Record<string, string>;
  enabled: boolean;
  version: string;
  created: number;
  updated: number;
}
export interface Secret extends SecretMeta {
  value: string;
}

export function checkSecretName(name: string): void {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    throw new InvalidInput(`secret name '${String(name)}' is invalid: use 1–127 letters, digits and '-'`, {
      code: 'INVALID_KEY_VAULT_REQUEST',
      target: 'name',
    });
  }
}

function toMeta(row: VaultSecretRow): SecretMeta {
  const m: SecretMeta = {
    name: row.name,
    tags: row.tags ? JSON.parse(row.tags) : {},
    enabled: row.enabled === 1,
    version: row.version,
    created: Number(row.created_at),
    updated: Number(row.updated_at),
  };
  if (row.content_type) m.contentType = row.content_type;
  return m;
}

/**
 * Secrets of a key vault (`Microsoft.KeyVault/vaults/{name}`), in table `vault_secrets`. Values are
 * sealed with the vault's data key (envelope encryption, ctx.keys) and bound to their vault and
 * name (AES-GCM additional data), so a value copied to another row does not open.
 */
export class VaultSecretService {
  constructor(private readonly ctx: AppContext) {}

  /** Removes every secret of a deleted vault. */
  async forgetVault(vaultId: string): Promise<void> {
    await this.ctx.db.deleteFrom('vault_secrets').where('vault_key', '=', vaultId.toLowerCase()).execute();
  }

  private aad(vaultKey: string, nameKey: string): string {
    return `${vaultKey}/secrets/${nameKey}`;
  }

  async set(
    vaultId: string,
    name: string,
    value: string,
    opts: { contentType?: string; tags?: Record<string, string>; enabled?: boolean } = {},
  ): Promise<SecretMeta> {
    checkSecretName(name);
    if (typeof value !== 'string')
      throw new InvalidInput('secret value must be a string', { code: 'INVALID_KEY_VAULT_REQUEST', target: 'value' });
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES)
      throw new InvalidInput(`secret '${name}' is too large: at most ${MAX_SECRET_BYTES} bytes`, {
        code: 'INVALID_KEY_VAULT_REQUEST',
        target: 'value',
      });
    if (opts.contentType !== undefined && (typeof opts.contentType !== 'string' || opts.contentType.length > 255)) {
      throw new InvalidInput('contentType must be a string of at most 255 characters', {
        code: 'INVALID_KEY_VAULT_REQUEST',
        target: 'contentType',
      });
    }
    const vaultKey = vaultId.toLowerCase();
    const nameKey = name.toLowerCase();
    const sealed = seal(await this.ctx.keys.dataKey(vaultKey), value, this.aad(vaultKey, nameKey));
    const now = Date.now();
    const row: VaultSecretRow = {
      vault_key: vaultKey,
      name,
      name_key: nameKey,
      value: sealed,
      content_type: opts.contentType ?? null,
      tags: JSON.stringify(opts.tags ?? {}),
      enabled: opts.enabled === false ? 0 : 1,
      version: crypto.randomBytes(16).toString('hex'),
      created_at: now,
      updated_at: now,
    };
    await this.ctx.db
      .insertInto('vault_secrets')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['vault_key', 'name_key']).doUpdateSet({
          value: row.value,
          content_type: row.content_type,
          tags: row.tags,
          enabled: row.enabled,
          version: row.version,
          updated_at: now,
        }),
      )
      .execute();
    return toMeta((await this.row(vaultKey, nameKey))!);
  }

  private row(vaultKey: string, nameKey: string): Promise<VaultSecretRow | undefined> {
    return this.ctx.db
      .selectFrom('vault_secrets')
      .selectAll()
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .executeTakeFirst();
  }

  async find(vaultId: string, name: string): Promise<Secret | undefined> {
    checkSecretName(name);
    const vaultKey = vaultId.toLowerCase();
    const row = await this.row(vaultKey, name.toLowerCase());
    if (!row) return undefined;
    const value = open(await this.ctx.keys.dataKey(vaultKey), row.value, this.aad(vaultKey, row.name_key)).toString(
      'utf8',
    );
    return { ...toMeta(row), value };
  }

  async get(vaultId: string, name: string): Promise<Secret> {
    const s = await this.find(vaultId, name);
    if (!s)
      throw new NotFound(`A secret with (name/id) ${name} was not found in this key vault.`, {
        code: 'SECRET_NOT_FOUND',
      });
    if (!s.enabled)
      throw new InvalidInput(`secret '${name}' is disabled; enable it to read its value`, { code: 'SECRET_DISABLED' });
    return s;
  }

  /** Names and attributes only: never values. Keyset paging by lower-cased name. */
  async list(vaultId: string, opts: { after?: string; top?: number } = {}): Promise<SecretMeta[]> {
    let q = this.ctx.db
      .selectFrom('vault_secrets')
      .selectAll()
      .where('vault_key', '=', vaultId.toLowerCase())
      .orderBy('name_key');
    if (opts.after) q = q.where('name_key', '>', opts.after.toLowerCase());
    if (opts.top) q = q.limit(opts.top);
    return (await q.execute()).map(toMeta);
  }

  async delete(vaultId: string, name: string): Promise<SecretMeta> {
    checkSecretName(name);
    const vaultKey = vaultId.toLowerCase();
    const row = await this.row(vaultKey, name.toLowerCase());
    if (!row)
      throw new NotFound(`A secret with (name/id) ${name} was not found in this key vault.`, {
        code: 'SECRET_NOT_FOUND',
      });
    await this.ctx.db
      .deleteFrom('vault_secrets')
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', row.name_key)
      .execute();
    return toMeta(row);
  }

  /** Removes a secret if present (cleanup paths). */
  async remove(vaultId: string, name: string): Promise<void> {
    await this.ctx.db
      .deleteFrom('vault_secrets')
      .where('vault_key', '=', vaultId.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .execute();
  }

  /** Whether the vault's data key opens its secrets (diagnostics). Returns the first failure. */
  async verify(vaultId: string): Promise<{ checked: number; error?: string }> {
    const vaultKey = vaultId.toLowerCase();
    const rows = await this.ctx.db
      .selectFrom('vault_secrets')
      .selectAll()
      .where('vault_key', '=', vaultKey)
      .limit(100)
      .execute();
    let key: Buffer;
    try {
      key = await this.ctx.keys.dataKey(vaultKey);
    } catch (e) {
      return { checked: 0, error: `the vault's data key cannot be unwrapped: ${(e as Error).message}` };
    }
    for (const r of rows) {
      try {
        open(key, r.value, this.aad(vaultKey, r.name_key));
      } catch {
        return { checked: rows.length, error: `secret '${r.name}' does not decrypt with the vault's data key` };
      }
    }
    return { checked: rows.length };
  }
}
