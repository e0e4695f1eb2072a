import type { Kysely } from 'kysely';
import type { Tables } from '../store/schema.js';
import { TooManyRequests } from '../errors.js';
import './tables.js';

/** How many wrong attempts are free, per kind of key, within WINDOW_MS. */
const FREE = { principal: 5, address: 20 } as const;
const WINDOW_MS = 15 * 60_000;
const MAX_BLOCK_MS = 15 * 60_000;

export type ThrottleKind = keyof typeof FREE;

/**
 * Slows brute force: past a few wrong passwords or secrets for one principal (or many from one
 * client address) within 15 minutes, further attempts are refused without being checked, for a
 * time that doubles with every further failure (1 s, 2 s, 4 s … up to 15 minutes). Kept in the
 * database so every replica sees the same counts.
 */
export class SignInThrottle {
  constructor(private readonly db: Kysely<Tables>) {}

  private static key(kind: ThrottleKind, value: string): string {
    return `${kind}:${value.toLowerCase().slice(0, 280)}`;
  }

  /**
   * Throws 429 (with the seconds to wait) when any of the keys is blocked now; otherwise tells
   * whether any has failures on record (only then does a success need to clear them).
   */
  async check(keys: [ThrottleKind, string | undefined][]): Promise<boolean> {
    const ks = keys.filter(([, v]) => v).map(([k, v]) => SignInThrottle.key(k, v!));
    if (ks.length === 0) return false;
    const now = Date.now();
    const rows = await this.db.selectFrom('sign_in_throttle').selectAll().where('key', 'in', ks).execute();
    const until = Math.max(0, ...rows.map((r) => r.blocked_until));
    if (until > now) {
      const retryAfter = Math.ceil((until - now) / 1000);
      throw new TooManyRequests(`too many failed sign-in attempts; try again in ${retryAfter} s`, { code: 'too_many_attempts', target: String(retryAfter) });
    }
    return rows.some((r) => r.key.startsWith('principal:'));
  }

  async failed(keys: [ThrottleKind, string | undefined][]): Promise<void> {
    const now = Date.now();
    // Now and then, drop counts whose window and block are over (guessed names would pile up).
    if (Math.random() < 0.02) {
      await this.db.deleteFrom('sign_in_throttle').where('window_start', '<', now - WINDOW_MS).where('blocked_until', '<', now).execute();
    }
    for (const [kind, v] of keys) {
      if (!v) continue;
      const key = SignInThrottle.key(kind, v);
      await this.db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('sign_in_throttle').selectAll().where('key', '=', key).executeTakeFirst();
        const fresh = !row || now - row.window_start > WINDOW_MS;
        const failures = fresh ? 1 : row.failures + 1;
        const over = failures - FREE[kind];
        const blockedUntil = over > 0 ? now + Math.min(MAX_BLOCK_MS, 1000 * 2 ** (over - 1)) : 0;
        const values = { failures, window_start: fresh ? now : row.window_start, blocked_until: blockedUntil };
        if (row) await trx.updateTable('sign_in_throttle').set(values).where('key', '=', key).execute();
        else {
          await trx
            .insertInto('sign_in_throttle')
            .values({ key, ...values })
            .onConflict((oc) => oc.column('key').doUpdateSet(values))
            .execute();
        }
      });
    }
  }

  /** A right password clears the principal's count (not the address's). */
  async succeeded(kind: ThrottleKind, value: string): Promise<void> {
    await this.db.deleteFrom('sign_in_throttle').where('key', '=', SignInThrottle.key(kind, value)).execute();
  }
}
