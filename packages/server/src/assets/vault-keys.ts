import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import type { ServerConfig } from '../config.js';
import type { Tables } from '../store/schema.js';
import type { Database, Tx } from '../store/database.js';
import { rowLocks } from '../store/row-locks.js';
import type { CustomerKeyProvider, KeyRing } from '../secrets/envelope.js';
import { open, seal } from '../secrets/envelope.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.js';
import { readResource, scanResources, type ResourceEngine } from '../resources/engine.js';

const generateKeyPair = promisify(crypto.generateKeyPair);

/** Key Vault's key-name rule (as for secrets): 1–127 letters, digits and '-'. */
export const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const RSA_SIZES = [2048, 3072, 4096];
const AES_SIZES = [128, 192, 256];
const RSA_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
const AES_OPS = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];

export interface VaultKeyRow {
  vault_key: string;
  name: string;
  name_key: string;
  version: string;
  kty: string;
  key_size: number;
  key_ops: string;
  public_jwk: string;
  material: string;
  enabled: number;
  tags: string;
  created_at: number;
  updated_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    vault_keys: VaultKeyRow;
  }
}

/** A key version as clients see it: never the private part or the AES bytes. */
export interface KeyMeta {
  name: string;
  version: string;
  /** 'RSA' | 'oct' */
  kty: string;
  keySize: number;
  keyOps: string[];
  /** The public JWK members (n, e) of an RSA key; empty for AES. */
  publicJwk: Record<string, string>;
  enabled: boolean;
  tags: Record<string, string>;
  created: number;
  updated: number;
}

export function checkKeyName(name: string): void {
  if (typeof name !== 'string' || !KEY_NAME.test(name)) {
    throw new InvalidInput(`key name '${String(name)}' is invalid: use 1–127 letters, digits and '-'`, {
      code: 'INVALID_KEY_VAULT_REQUEST',
      target: 'name',
    });
  }
}

function toMeta(r: VaultKeyRow): KeyMeta {
  return {
    name: r.name,
    version: r.version,
    kty: r.kty,
    keySize: Number(r.key_size),
    keyOps: JSON.parse(r.key_ops) as string[],
    publicJwk: JSON.parse(r.public_jwk) as Record<string, string>,
    enabled: Number(r.enabled) === 1,
    tags: JSON.parse(r.tags) as Record<string, string>,
    created: Number(r.created_at),
    updated: Number(r.updated_at),
  };
}

/** `<vault id lower case>/keys/<name lower case>/<version>`: how a data key names the customer key that wraps it. */
export function keyRef(vaultId: string, name: string, version: string): string {
  return `${vaultId.toLowerCase()}/keys/${name.toLowerCase()}/${version}`;
}

function parseRef(ref: string): { vaultKey: string; nameKey: string; version: string } {
  const m = /^(.+)\/keys\/([^/]+)\/([^/]+)$/.exec(ref);
  if (!m) throw new Error(`not a customer key reference: ${ref}`);
  return { vaultKey: m[1]!, nameKey: m[2]!, version: m[3]! };
}

/** What VaultKeyService needs of the context (AppContext has it all). */
export interface VaultKeyDeps {
  db: Kysely<Tables>;
  database: Pick<Database, 'write'>;
  keys: KeyRing;
  config: Pick<ServerConfig, 'publicUrl'>;
}

/**
 * Keys of a key vault (`{vault}/keys/{name}/{version}`, Key Vault's data-plane shapes): RSA
 * (2048/3072/4096) or AES ('oct', 128/192/256) keys, versioned; the private part never leaves the
 * server. Key material is sealed with a data key of its own per vault (owner `<vault>/keys`, wrapped
 * by the master key), separate from the vault's secrets, so a vault's key can protect that same
 * vault's secrets. As the `CustomerKeyProvider` of ctx.keys it wraps and unwraps workspace data keys
 * (RSA-OAEP-256, or AES-GCM), refusing while the key is disabled or after it is deleted.
 */
export class VaultKeyService implements CustomerKeyProvider {
  /** Test-only: called inside a delete's or disable's transaction after the in-use check, before the change. */
  testHooks: { inUseChecked?: (ref: string) => Promise<void> } = {};

  constructor(
    private readonly ctx: VaultKeyDeps,
    private readonly resources: ResourceEngine,
  ) {}

  /**
   * Runs `change` in one write transaction with the in-use check of `ref`, holding the key's rows
   * (`versions`: all of them, or one) so that no write can make data depend on them in between
   * (`hold` waits for this one, then finds the key gone or disabled).
   */
  private async changeUnused(
    r: VaultKeyRow,
    versions: 'all' | 'one',
    check: { ref: string; what: string; change: string },
    change: (tx: Tx) => Promise<void>,
  ): Promise<void> {
    await this.ctx.database.write(async (tx) => {
      let q = tx.db
        .selectFrom('vault_keys')
        .select('version')
        .where('vault_key', '=', r.vault_key)
        .where('name_key', '=', r.name_key);
      if (versions === 'one') q = q.where('version', '=', r.version);
      if (!(await rowLocks(tx).forUpdate(q).execute()).length)
        throw new NotFound(`key '${r.name}' was deleted by another request`, { code: 'KEY_NOT_FOUND' });
      await this.requireUnused(check.ref, check.what, check.change, undefined, tx);
      await this.testHooks.inUseChecked?.(check.ref);
      await change(tx);
    });
  }

  private materialOwner(vaultKey: string): string {
    return `${vaultKey}/keys`;
  }
  private aad(vaultKey: string, nameKey: string, version: string): string {
    return keyRef(vaultKey, nameKey, version);
  }

  /** Creates a key, or a new version of an existing one (which becomes the current version). */
  async create(
    vaultId: string,
    name: string,
    opts: { kty: string; keySize?: number; keyOps?: string[]; enabled?: boolean; tags?: Record<string, string> },
  ): Promise<KeyMeta> {
    checkKeyName(name);
    const kty = /^RSA(-HSM)?$/i.test(opts.kty ?? '') ? 'RSA' : /^oct(-HSM)?$/i.test(opts.kty ?? '') ? 'oct' : undefined;
    if (!kty) {
      throw new InvalidInput(
        `kty '${String(opts.kty)}' is not supported: use 'RSA' (or 'RSA-HSM') or 'oct' (AES, or 'oct-HSM')`,
        { code: 'INVALID_KEY_VAULT_REQUEST', target: 'kty' },
      );
    }
    const sizes = kty === 'RSA' ? RSA_SIZES : AES_SIZES;
    const keySize = opts.keySize ?? (kty === 'RSA' ? 2048 : 256);
    if (!sizes.includes(keySize))
      throw new InvalidInput(`key_size ${keySize} is not valid for kty '${kty}': use one of ${sizes.join(', ')}`, {
        code: 'INVALID_KEY_VAULT_REQUEST',
        target: 'key_size',
      });
    const allowedOps = kty === 'RSA' ? RSA_OPS : AES_OPS;
    const keyOps = opts.keyOps ?? allowedOps;
    for (const op of keyOps) {
      if (!allowedOps.includes(op))
        throw new InvalidInput(
          `key_ops: '${op}' is not an operation of a ${kty} key; use some of ${allowedOps.join(', ')}`,
          { code: 'INVALID_KEY_VAULT_REQUEST', target: 'key_ops' },
        );
    }
    let publicJwk: Record<string, string> = {};
    let material: Buffer;
    if (kty === 'RSA') {
      const pair = await generateKeyPair('rsa', { modulusLength: keySize, publicExponent: 0x10001 });
      const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>;
      publicJwk = { n: jwk.n!, e: jwk.e! };
      material = pair.privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer;
    } else {
      material = crypto.randomBytes(keySize / 8);
    }
    const gone = () =>
      new NotFound(`key vault '${vaultId}' was deleted by another request`, { code: 'KEY_VAULT_NOT_FOUND' });
    if (!(await this.resources.get(vaultId))) throw gone();
    const vaultKey = vaultId.toLowerCase();
    const nameKey = name.toLowerCase();
    const version = crypto.randomBytes(16).toString('hex');
    const now = Date.now();
    // The name keeps the casing of its first version.
    const first = await this.ctx.db
      .selectFrom('vault_keys')
      .select('name')
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .executeTakeFirst();
    const row: VaultKeyRow = {
      vault_key: vaultKey,
      name: first?.name ?? name,
      name_key: nameKey,
      version,
      kty,
      key_size: keySize,
      key_ops: JSON.stringify(keyOps),
      public_jwk: JSON.stringify(publicJwk),
      material: seal(
        await this.ctx.keys.dataKey(this.materialOwner(vaultKey)),
        material,
        this.aad(vaultKey, nameKey, version),
      ),
      enabled: opts.enabled === false ? 0 : 1,
      tags: JSON.stringify(opts.tags ?? {}),
      created_at: now,
      updated_at: now,
    };
    // Written holding the vault FOR SHARE: a delete of the vault waits for this key and then checks
    // it too, or this waits for the delete and then finds the vault gone.
    await this.ctx.database.write(async (tx) => {
      if (!(await this.resources.lock(tx, vaultId, 'share'))) throw gone();
      await tx.db.insertInto('vault_keys').values(row).execute();
    });
    return toMeta(row);
  }

  private async rows(vaultKey: string, nameKey: string): Promise<VaultKeyRow[]> {
    // Newest first: the current version is the first.
    return this.ctx.db
      .selectFrom('vault_keys')
      .selectAll()
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .orderBy('created_at', 'desc')
      .orderBy('version', 'desc')
      .execute();
  }

  private async row(vaultId: string, name: string, version?: string): Promise<VaultKeyRow> {
    checkKeyName(name);
    const all = await this.rows(vaultId.toLowerCase(), name.toLowerCase());
    if (!all.length)
      throw new NotFound(`A key with (name/id) ${name} was not found in this key vault.`, { code: 'KEY_NOT_FOUND' });
    if (!version) return all[0]!;
    const hit = all.find((r) => r.version === version);
    if (!hit) throw new NotFound(`key '${name}' has no version '${version}'`, { code: 'KEY_NOT_FOUND' });
    return hit;
  }

  /** A version (default the current one): public part and attributes only. */
  async get(vaultId: string, name: string, version?: string): Promise<KeyMeta> {
    return toMeta(await this.row(vaultId, name, version));
  }

  ref(vaultId: string, name: string, version: string): string {
    return keyRef(vaultId, name, version);
  }

  /** The current version of each key, by lower-cased name (keyset paging). */
  async list(vaultId: string, opts: { after?: string; top?: number } = {}): Promise<KeyMeta[]> {
    let q = this.ctx.db
      .selectFrom('vault_keys')
      .selectAll()
      .where('vault_key', '=', vaultId.toLowerCase())
      .orderBy('name_key')
      .orderBy('created_at', 'desc')
      .orderBy('version', 'desc');
    if (opts.after) q = q.where('name_key', '>', opts.after.toLowerCase());
    const out: KeyMeta[] = [];
    let last: string | undefined;
    // Few versions per key: reading them all and keeping the first of each name is simplest.
    for (const r of await q.execute()) {
      if (r.name_key === last) continue;
      last = r.name_key;
      out.push(toMeta(r));
      if (opts.top && out.length >= opts.top) break;
    }
    return out;
  }

  async versions(vaultId: string, name: string): Promise<KeyMeta[]> {
    checkKeyName(name);
    const all = await this.rows(vaultId.toLowerCase(), name.toLowerCase());
    if (!all.length)
      throw new NotFound(`A key with (name/id) ${name} was not found in this key vault.`, { code: 'KEY_NOT_FOUND' });
    return all.map(toMeta);
  }

  /** Changes attributes of a version (default the current one): enabled, tags, key_ops. */
  async update(
    vaultId: string,
    name: string,
    version: string | undefined,
    changes: { enabled?: boolean; tags?: Record<string, string>; keyOps?: string[] },
  ): Promise<KeyMeta> {
    const r = await this.row(vaultId, name, version);
    const allowedOps = r.kty === 'RSA' ? RSA_OPS : AES_OPS;
    for (const op of changes.keyOps ?? []) {
      if (!allowedOps.includes(op))
        throw new InvalidInput(
          `key_ops: '${op}' is not an operation of a ${r.kty} key; use some of ${allowedOps.join(', ')}`,
          { code: 'INVALID_KEY_VAULT_REQUEST', target: 'key_ops' },
        );
    }
    const stopsWrapping =
      changes.keyOps !== undefined && !(changes.keyOps.includes('wrapKey') && changes.keyOps.includes('unwrapKey'));
    const set: Partial<VaultKeyRow> = { updated_at: Date.now() };
    if (changes.enabled !== undefined) set.enabled = changes.enabled ? 1 : 0;
    if (changes.tags !== undefined) set.tags = JSON.stringify(changes.tags);
    if (changes.keyOps !== undefined) set.key_ops = JSON.stringify(changes.keyOps);
    const write = async (tx: Pick<Tx, 'db'>) => {
      await tx.db
        .updateTable('vault_keys')
        .set(set)
        .where('vault_key', '=', r.vault_key)
        .where('name_key', '=', r.name_key)
        .where('version', '=', r.version)
        .execute();
    };
    if (changes.enabled === false || stopsWrapping) {
      const check = {
        ref: keyRef(r.vault_key, r.name_key, r.version),
        what: `key '${r.name}' version ${r.version}`,
        change: changes.enabled === false ? 'disabled' : 'kept from wrapping',
      };
      await this.changeUnused(r, 'one', check, write);
    } else await write(this.ctx);
    if (changes.enabled === false || changes.keyOps !== undefined)
      this.ctx.keys.dropCustomerKey(keyRef(r.vault_key, r.name_key, r.version));
    return this.get(vaultId, name, r.version);
  }

  /** Deletes a key with all its versions; data keys it wraps can no longer be opened. */
  async delete(vaultId: string, name: string): Promise<KeyMeta> {
    const r = await this.row(vaultId, name);
    const check = { ref: `${r.vault_key}/keys/${r.name_key}/`, what: `key '${r.name}'`, change: 'deleted' };
    await this.changeUnused(r, 'all', check, async (tx) => {
      await tx.db
        .deleteFrom('vault_keys')
        .where('vault_key', '=', r.vault_key)
        .where('name_key', '=', r.name_key)
        .execute();
    });
    this.ctx.keys.dropCustomerKey(`${r.vault_key}/keys/${r.name_key}/`);
    return toMeta(r);
  }

  /**
   * The workspaces (ARM ids) whose data a customer key protects: `ref` is a key version's ref, or
   * ends in '/' for every version below it (a key, or all keys of a vault). Found from the
   * workspaces' encryption setting and from the data keys still wrapped by the key.
   */
  async dependents(ref: string, tx: Pick<Tx, 'db'> = this.ctx): Promise<string[]> {
    const matches = (x: string) => (ref.endsWith('/') ? x.startsWith(ref) : x === ref);
    const workspaces = (
      await scanResources(tx.db, { type: 'Microsoft.MachineLearningServices/workspaces', topLevel: true })
    ).map((w) => ({
      id: w.id,
      idKey: w.id.toLowerCase(),
      props: w.properties as { cmkRef?: string; keyVault?: string },
    }));
    const out = new Set<string>();
    for (const w of workspaces) if (w.props.cmkRef && matches(w.props.cmkRef)) out.add(w.id);
    const wrapped = (
      await tx.db
        .selectFrom('data_keys')
        .select(['owner_key', 'wrapped_by'])
        .where('wrapped_by', '<>', 'master')
        .execute()
    ).filter((d) => d.wrapped_by.startsWith('cmk:') && matches(d.wrapped_by.slice(4)));
    for (const d of wrapped) {
      const owner = workspaces.find(
        (w) => w.idKey === d.owner_key || String(w.props.keyVault ?? '').toLowerCase() === d.owner_key,
      );
      out.add(owner?.id ?? d.owner_key);
    }
    return [...out].sort();
  }

  /**
   * Refuses (409 naming them) while any workspace's data depends on `ref` (see `dependents`),
   * leaving out those `goesToo` says are deleted along with it.
   */
  async requireUnused(
    ref: string,
    what: string,
    change: string,
    goesToo?: (workspaceId: string) => boolean,
    tx?: Pick<Tx, 'db'>,
  ): Promise<void> {
    const users = (await this.dependents(ref, tx)).filter((u) => !goesToo?.(u));
    if (!users.length) return;
    throw new Conflict(
      `${what} cannot be ${change}: it protects the data of ${users.length === 1 ? 'workspace' : 'workspaces'} ${users.map((u) => `'${u}'`).join(', ')}, which would become unreadable for good. Rotate ${users.length === 1 ? 'that workspace' : 'them'} to another key first (PATCH properties.encryption.keyVaultProperties.keyIdentifier) or delete ${users.length === 1 ? 'it' : 'them'}.`,
      { code: 'KEY_IN_USE' },
    );
  }

  /** Holds every key row of a vault FOR UPDATE in `tx` (the vault's delete, before its in-use check). */
  async holdVaultKeys(tx: Tx, vaultId: string): Promise<void> {
    await rowLocks(tx)
      .forUpdate(tx.db.selectFrom('vault_keys').select('version').where('vault_key', '=', vaultId.toLowerCase()))
      .execute();
  }

  /** Removes every key of a vault (the vault is being deleted). */
  async forgetVault(vaultId: string): Promise<void> {
    const vaultKey = vaultId.toLowerCase();
    await this.ctx.db.deleteFrom('vault_keys').where('vault_key', '=', vaultKey).execute();
    await this.ctx.keys.forget(this.materialOwner(vaultKey));
    this.ctx.keys.dropCustomerKey(`${vaultKey}/keys/`);
  }

  /** The key id clients see: `{server}{vault id}/keys/{name}/{version}`. */
  async kid(ref: string, tx: Pick<Tx, 'db'> = this.ctx): Promise<string> {
    const { vaultKey, nameKey, version } = parseRef(ref);
    const vault = await readResource(tx.db, vaultKey);
    const key = await tx.db
      .selectFrom('vault_keys')
      .select('name')
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .executeTakeFirst();
    return `${this.ctx.config.publicUrl}${vault?.id ?? vaultKey}/keys/${key?.name ?? nameKey}/${version}`;
  }

  /** The row of a usable key version for wrapping: exists, enabled, allows the operation. */
  private async usable(ref: string, op: 'wrapKey' | 'unwrapKey'): Promise<VaultKeyRow> {
    const { vaultKey, nameKey, version } = parseRef(ref);
    const row = await this.ctx.db
      .selectFrom('vault_keys')
      .selectAll()
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .where('version', '=', version)
      .executeTakeFirst();
    if (!row) {
      throw new Forbidden(
        `the customer-managed key ${await this.kid(ref)} that encrypts this data no longer exists (its key or key vault was deleted); the data it protects cannot be decrypted`,
        { code: 'CUSTOMER_KEY_NOT_FOUND' },
      );
    }
    if (Number(row.enabled) !== 1) {
      throw new Forbidden(
        `the customer-managed key ${await this.kid(ref)} that encrypts this data is disabled; enable it (PATCH the key version with attributes.enabled = true) to read the data again`,
        {
          code: 'CUSTOMER_KEY_DISABLED',
        },
      );
    }
    const ops = JSON.parse(row.key_ops) as string[];
    if (!ops.includes(op)) {
      throw new Forbidden(
        `the customer-managed key ${await this.kid(ref)} does not allow '${op}'; add it to the key's key_ops`,
        { code: 'CUSTOMER_KEY_OPERATION_NOT_ALLOWED' },
      );
    }
    return row;
  }

  private async material(row: VaultKeyRow): Promise<Buffer> {
    return open(
      await this.ctx.keys.dataKey(this.materialOwner(row.vault_key)),
      row.material,
      this.aad(row.vault_key, row.name_key, row.version),
    );
  }

  async check(ref: string): Promise<void> {
    await this.usable(ref, 'unwrapKey');
  }

  async hold(tx: Tx, ref: string): Promise<void> {
    const { vaultKey, nameKey, version } = parseRef(ref);
    const q = tx.db
      .selectFrom('vault_keys')
      .select(['name', 'enabled', 'key_ops'])
      .where('vault_key', '=', vaultKey)
      .where('name_key', '=', nameKey)
      .where('version', '=', version);
    const row = await rowLocks(tx).forShare(q).executeTakeFirst();
    const ops = row ? (JSON.parse(row.key_ops) as string[]) : [];
    if (!row || Number(row.enabled) !== 1 || !ops.includes('wrapKey') || !ops.includes('unwrapKey')) {
      throw new Conflict(
        `the customer-managed key ${await this.kid(ref, tx)} was ${row ? 'disabled (or kept from wrapping)' : 'deleted'} by another request at the same time; nothing was put under it. Give a usable key and retry`,
        { code: 'KEY_CHANGED' },
      );
    }
  }

  async wrap(ref: string, key: Buffer, aad: string): Promise<Buffer> {
    const row = await this.usable(ref, 'wrapKey');
    const m = await this.material(row);
    if (row.kty === 'RSA') {
      return crypto.publicEncrypt(
        {
          key: crypto.createPrivateKey({ key: m, format: 'der', type: 'pkcs8' }),
          padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        key,
      );
    }
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv(`aes-${m.length * 8}-gcm` as crypto.CipherGCMTypes, m, iv);
    c.setAAD(Buffer.from(aad));
    const data = Buffer.concat([c.update(key), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), data]);
  }

  async unwrap(ref: string, wrapped: Buffer, aad: string): Promise<Buffer> {
    const row = await this.usable(ref, 'unwrapKey');
    const m = await this.material(row);
    if (row.kty === 'RSA') {
      return crypto.privateDecrypt(
        {
          key: crypto.createPrivateKey({ key: m, format: 'der', type: 'pkcs8' }),
          padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        wrapped,
      );
    }
    const d = crypto.createDecipheriv(`aes-${m.length * 8}-gcm` as crypto.CipherGCMTypes, m, wrapped.subarray(0, 12));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(wrapped.subarray(12, 28));
    return Buffer.concat([d.update(wrapped.subarray(28)), d.final()]);
  }
}
