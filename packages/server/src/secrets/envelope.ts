import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';

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
  const data = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
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
    if (k.length !== 32) throw new Error('ATELIER_MASTER_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)');
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

/** Wraps and unwraps per-owner data keys; caches unwrapped keys in memory. */
export class KeyRing {
  private cache = new Map<string, Buffer>();
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly master: Buffer,
  ) {}

  sealWithMaster(value: string, aad = ''): string {
    return seal(this.master, value, aad);
  }
  openWithMaster(sealed: string, aad = ''): string {
    return open(this.master, sealed, aad).toString('utf8');
  }

  /** The data key of `owner` (made on first use). */
  async dataKey(owner: string): Promise<Buffer> {
    const ownerKey = owner.toLowerCase();
    const hit = this.cache.get(ownerKey);
    if (hit) return hit;
    let row = await this.db.selectFrom('data_keys').selectAll().where('owner_key', '=', ownerKey).executeTakeFirst();
    if (!row) {
      const key = crypto.randomBytes(32);
      await this.db
        .insertInto('data_keys')
        .values({ owner_key: ownerKey, wrapped: seal(this.master, key, ownerKey), wrapped_by: 'master', created_at: Date.now() })
        .onConflict((oc) => oc.column('owner_key').doNothing())
        .execute();
      row = await this.db.selectFrom('data_keys').selectAll().where('owner_key', '=', ownerKey).executeTakeFirstOrThrow();
    }
    const key = open(this.master, row.wrapped, ownerKey);
    this.cache.set(ownerKey, key);
    return key;
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
  }
}
