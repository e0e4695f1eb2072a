import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import type { Database, Tx } from '../store/database.js';

/**
 * Envelope encryption (AES-256-GCM). A master key (32 bytes, file `master.key` in the data root,
 * mode 0600, or ATELIER_MASTER_KEY as base64) wraps one data key per owner (a key vault, a
 * workspace); data keys encrypt values. Ciphertext format: `v1:<iv>:<tag>:<data>` in base64url.
 * node:crypto does this directly; no library adds anything here.
 */
export function seal(key: Buffer, plaintext: Buffer | string, aad = ''): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
  ]);
  return `v1:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${data.toString('base64url')}`;
}

export function open(key: Buffer, sealed: string, aad = ''): Buffer {
  const parts = sealed.split(':');
  if (parts.length !== 4 || parts[0] !== 'v1') throw new Error('not a sealed value');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1]!, 'base64url'));
  if (aad) decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(parts[2]!, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(parts[3]!, 'base64url')), decipher.final()]);
}

export function loadMasterKey(home: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (env.ATELIER_MASTER_KEY) {
    const k = Buffer.from(env.ATELIER_MASTER_KEY, 'base64');
    if (k.length !== 32)
      throw new Error('ATELIER_MASTER_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)');
    return k;
  }
  const file = path.join(home, 'master.key');
  try {
    const k = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (k.length !== 32) throw new Error(`${file} is not a 32-byte base64 key`);
    return k;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  fs.mkdirSync(home, { recursive: true });
  const k = crypto.randomBytes(32);
  // 'wx': never overwrite a key another process just wrote.
  try {
    fs.writeFileSync(file, k.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return k;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(home, env);
    throw e;
  }
}

/**
 * A customer-managed key (a key of a key vault) that wraps data keys instead of the master key
 * alone. `ref` is `<vault id, lower case>/keys/<name, lower case>/<version>`. Every method throws a
 * business error that says what to do when the key is missing or disabled.
 */
export interface CustomerKeyProvider {
  wrap(ref: string, key: Buffer, aad: string): Promise<Buffer>;
  unwrap(ref: string, wrapped: Buffer, aad: string): Promise<Buffer>;
  /** Throws unless the key exists and is enabled (cheap; rechecked while an unwrapped key is cached). */
  check(ref: string): Promise<void>;
  /**
   * Holds the key version for the rest of the write transaction `tx`, which is about to make data
   * depend on it: a concurrent delete or disable of the key waits for the commit (and then finds the
   * data it protects), or, when it came first, this throws a 409 saying the key went meanwhile.
   */
  hold(tx: Tx, ref: string): Promise<void>;
}

/** How long an unwrapped data key under a customer key is used before the key's state is read again. */
export const CUSTOMER_KEY_RECHECK_MS = 2000;
const CMK_PREFIX = 'cmk:';

interface CachedKey {
  key: Buffer;
  /** Customer key ref, when the data key is wrapped by one. */
  ref?: string;
  checkedAt: number;
}

/**
 * Wraps and unwraps per-owner data keys; caches unwrapped keys in memory. A data key is wrapped by
 * the master key (`wrapped_by` = 'master'), or — for a workspace with customer-managed keys — first
 * by the customer's key and then by the master key (`wrapped_by` = 'cmk:<ref>'), so opening it needs
 * that key to exist and be enabled.
 */
export class KeyRing {
  private cache = new Map<string, CachedKey>();
  private customer?: CustomerKeyProvider;
  private readonly db: Kysely<Tables>;
  /**
   * Bumped whenever cached keys are dropped (`forget`, `dropCustomerKey`). A `dataKey` that began
   * before a drop still answers what it read, but does not cache it: its read may predate the drop
   * (a forgotten owner's row read just before its delete), and a cached key outlives its row — what
   * it sealed next could never be opened again once the process restarts. (A rotation — `protect`
   * with another customer key — needs no drop: it keeps the data key's bytes, so a read that raced
   * it caches a key that is still right, and its next recheck finds the new wrapping.)
   */
  private drops = 0;
  /** Test-only: `protectHeld` is called inside `protect`'s transaction once the customer key is held, before the data key is written; `keyRead` in `dataKey` once the key is read and opened, before it is cached. */
  testHooks: { protectHeld?: (owner: string) => Promise<void>; keyRead?: (owner: string) => Promise<void> } = {};
  constructor(
    private readonly database: Pick<Database, 'db' | 'write'>,
    private readonly master: Buffer,
  ) {
    this.db = database.db;
  }

  /** Registers the provider of customer-managed keys (the key vault keys feature). */
  setCustomerKeys(provider: CustomerKeyProvider): void {
    this.customer = provider;
  }

  sealWithMaster(value: string, aad = ''): string {
    return seal(this.master, value, aad);
  }
  openWithMaster(sealed: string, aad = ''): string {
    return open(this.master, sealed, aad).toString('utf8');
  }

  private provider(): CustomerKeyProvider {
    if (!this.customer)
      throw new Error('customer-managed keys are not available on this server (no key provider registered)');
    return this.customer;
  }

  private async unwrapRow(ownerKey: string, row: { wrapped: string; wrapped_by: string }): Promise<CachedKey> {
    const inner = open(this.master, row.wrapped, ownerKey);
    if (!row.wrapped_by.startsWith(CMK_PREFIX)) return { key: inner, checkedAt: Date.now() };
    const ref = row.wrapped_by.slice(CMK_PREFIX.length);
    return { key: await this.provider().unwrap(ref, inner, ownerKey), ref, checkedAt: Date.now() };
  }

  /** The data key of `owner` (made on first use, wrapped by the master key). */
  async dataKey(owner: string): Promise<Buffer> {
    const ownerKey = owner.toLowerCase();
    const drops = this.drops;
    const hit = this.cache.get(ownerKey);
    if (hit) {
      if (!hit.ref) return hit.key;
      if (Date.now() - hit.checkedAt < CUSTOMER_KEY_RECHECK_MS) return hit.key;
      this.cache.delete(ownerKey);
      // Another server may have re-wrapped it (rotation): then it is opened again below, with the new key.
      const row = await this.db
        .selectFrom('data_keys')
        .select('wrapped_by')
        .where('owner_key', '=', ownerKey)
        .executeTakeFirst();
      if (row && row.wrapped_by === CMK_PREFIX + hit.ref) {
        await this.provider().check(hit.ref);
        hit.checkedAt = Date.now();
        if (drops === this.drops) this.cache.set(ownerKey, hit);
        return hit.key;
      }
    }
    let row = await this.db.selectFrom('data_keys').selectAll().where('owner_key', '=', ownerKey).executeTakeFirst();
    if (!row) {
      const key = crypto.randomBytes(32);
      await this.db
        .insertInto('data_keys')
        .values({
          owner_key: ownerKey,
          wrapped: seal(this.master, key, ownerKey),
          wrapped_by: 'master',
          created_at: Date.now(),
        })
        .onConflict((oc) => oc.column('owner_key').doNothing())
        .execute();
      row = await this.db
        .selectFrom('data_keys')
        .selectAll()
        .where('owner_key', '=', ownerKey)
        .executeTakeFirstOrThrow();
    }
    const entry = await this.unwrapRow(ownerKey, row);
    await this.testHooks.keyRead?.(ownerKey);
    if (drops === this.drops) this.cache.set(ownerKey, entry);
    return entry.key;
  }

  /** 'master', or the ref of the customer key that wraps the data key of `owner`; undefined when it has none yet. */
  async wrappedBy(owner: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('data_keys')
      .select('wrapped_by')
      .where('owner_key', '=', owner.toLowerCase())
      .executeTakeFirst();
    if (!row) return undefined;
    return row.wrapped_by.startsWith(CMK_PREFIX) ? row.wrapped_by.slice(CMK_PREFIX.length) : row.wrapped_by;
  }

  /**
   * Wraps the data key of `owner` with the customer key `ref` (made now if the owner has none; the
   * same key is kept otherwise, so what it sealed stays readable). Also used to rotate to a new
   * key version: opening the current wrapping needs the current key to be usable.
   */
  async protect(owner: string, ref: string): Promise<void> {
    const ownerKey = owner.toLowerCase();
    const key = await this.dataKey(ownerKey);
    const wrapped = seal(this.master, await this.provider().wrap(ref, key, ownerKey), ownerKey);
    // The key is held while the data comes to depend on it: a delete or disable of the key that
    // checked for dependent data just now either waits for this commit or makes this fail (409).
    await this.database.write(async (tx) => {
      await this.provider().hold(tx, ref);
      await this.testHooks.protectHeld?.(ownerKey);
      await tx.db
        .insertInto('data_keys')
        .values({ owner_key: ownerKey, wrapped, wrapped_by: CMK_PREFIX + ref, created_at: Date.now() })
        .onConflict((oc) => oc.column('owner_key').doUpdateSet({ wrapped, wrapped_by: CMK_PREFIX + ref }))
        .execute();
    });
    this.cache.set(ownerKey, { key, ref, checkedAt: Date.now() });
  }

  /** Wraps the data key of `owner` with the master key alone again (needs its customer key usable). */
  async unprotect(owner: string): Promise<void> {
    const ownerKey = owner.toLowerCase();
    const row = await this.db
      .selectFrom('data_keys')
      .select('wrapped_by')
      .where('owner_key', '=', ownerKey)
      .executeTakeFirst();
    if (!row || row.wrapped_by === 'master') return;
    const key = await this.dataKey(ownerKey);
    await this.db
      .updateTable('data_keys')
      .set({ wrapped: seal(this.master, key, ownerKey), wrapped_by: 'master' })
      .where('owner_key', '=', ownerKey)
      .execute();
    this.cache.set(ownerKey, { key, checkedAt: Date.now() });
  }

  /** Drops cached data keys wrapped by customer keys whose ref starts with `refPrefix` (a key was disabled or deleted). */
  dropCustomerKey(refPrefix: string): void {
    const p = refPrefix.toLowerCase();
    this.drops++;
    for (const [owner, entry] of this.cache) if (entry.ref?.startsWith(p)) this.cache.delete(owner);
  }

  async encrypt(owner: string, value: string): Promise<string> {
    return seal(await this.dataKey(owner), value, owner.toLowerCase());
  }
  async decrypt(owner: string, sealed: string): Promise<string> {
    return open(await this.dataKey(owner), sealed, owner.toLowerCase()).toString('utf8');
  }
  async forget(owner: string): Promise<void> {
    const ownerKey = owner.toLowerCase();
    this.cache.delete(ownerKey);
    await this.db.deleteFrom('data_keys').where('owner_key', '=', ownerKey).execute();
    // After the delete: a dataKey in flight since before it (its row read before the delete) does
    // not cache, and one that cached meanwhile is dropped.
    this.drops++;
    this.cache.delete(ownerKey);
  }
}
