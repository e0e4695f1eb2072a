import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Tables } from '../store/schema.js';
import { TooManyRequests } from '../errors.js';
import './tables.js';

/** How many wrong attempts are free, per kind of key, within WINDOW_MS. */
const FREE = { principal: 5, address: 20 } as const;
const WINDOW_MS = 15 * 60_000;
const MAX_BLOCK_MS = 15 * 60_000;

export type ThrottleKind = keyof typeof FREE;
type Keys = [ThrottleKind, string | undefined][];

/**
 * Slows brute force: past a few wrong passwords or secrets for one principal (or many from one
 * client address) within 15 minutes, further attempts are refused without being checked, for a
 * time that doubles with every further failure (1 s, 2 s, 4 s … up to 15 minutes). Kept in the
 * database so every replica sees the same counts.
 *
 * An attempt is counted *before* the secret is checked (`attempt`), in one statement per key that
 * also sets the block the count earns, and refused when a block is on: so simultaneous attempts,
 * on one server or several, each take their own place in the count and cannot all be checked at
 * once. A right secret then takes the attempt back (`succeeded`).
 */
export class SignInThrottle {
  constructor(private readonly db: Kysely<Tables>) {}

  private static key(kind: ThrottleKind, value: string): string {
    return `${kind}:${value.toLowerCase().slice(0, 280)}`;
  }

  private static keys(keys: Keys): { kind: ThrottleKind; key: string }[] {
    return keys.filter(([, v]) => v).map(([kind, v]) => ({ kind, key: SignInThrottle.key(kind, v!) }));
  }

  /** The end of the block that the `failures`-th failure (an SQL expression) earns, at `now`: 0 while free. */
  private static blockAfter(failures: RawBuilder<number>, free: number, now: number): RawBuilder<number> {
    const steps: RawBuilder<unknown>[] = [];
    for (let over = 1; 1000 * 2 ** (over - 1) < MAX_BLOCK_MS; over++)
      steps.push(sql`when ${failures} = ${sql.lit(free + over)} then ${sql.lit(now + 1000 * 2 ** (over - 1))}`);
    return sql<number>`case when ${failures} <= ${sql.lit(free)} then 0 ${sql.join(steps, sql` `)} else ${sql.lit(now + MAX_BLOCK_MS)} end`;
  }

  private static tooMany(until: number, now: number): TooManyRequests {
    const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
    return new TooManyRequests(`too many failed sign-in attempts; try again in ${retryAfter} s`, {
      code: 'TOO_MANY_SIGN_IN_ATTEMPTS',
      target: String(retryAfter),
    });
  }

  /**
   * Counts one failure for `key` (a fresh window starts at 1) and sets the block it earns, in one
   * statement. With `unlessBlocked`, nothing is counted while the key is blocked: returns false.
   */
  private async count(kind: ThrottleKind, key: string, now: number, unlessBlocked: boolean): Promise<boolean> {
    const expired = sql<boolean>`sign_in_throttle.window_start < ${sql.lit(now - WINDOW_MS)}`;
    const failures = sql<number>`(case when ${expired} then 1 else sign_in_throttle.failures + 1 end)`;
    const q = this.db
      .insertInto('sign_in_throttle')
      .values({ key, failures: 1, window_start: now, blocked_until: 0 })
      .onConflict((oc) => {
        const update = oc.column('key').doUpdateSet({
          failures,
          window_start: sql<number>`case when ${expired} then ${sql.lit(now)} else sign_in_throttle.window_start end`,
          blocked_until: SignInThrottle.blockAfter(failures, FREE[kind], now),
        });
        return unlessBlocked ? update.where('sign_in_throttle.blocked_until', '<=', now) : update;
      });
    const row = await q.returning('key').executeTakeFirst();
    return row !== undefined;
  }

  /** Takes back one counted attempt of `key`; the block goes with it once the count is free again. */
  private async uncount(kind: ThrottleKind, key: string): Promise<void> {
    await this.db
      .updateTable('sign_in_throttle')
      .set({
        failures: sql<number>`failures - 1`,
        blocked_until: sql<number>`case when failures - 1 <= ${sql.lit(FREE[kind])} then 0 else blocked_until end`,
      })
      .where('key', '=', key)
      .where('failures', '>', 0)
      .execute();
  }

  /** Throws 429 (with the seconds to wait) when any of the keys is blocked now; counts nothing. */
  async check(keys: Keys): Promise<void> {
    const ks = SignInThrottle.keys(keys).map((k) => k.key);
    if (ks.length === 0) return;
    const now = Date.now();
    const rows = await this.db.selectFrom('sign_in_throttle').select('blocked_until').where('key', 'in', ks).execute();
    const until = Math.max(0, ...rows.map((r) => Number(r.blocked_until)));
    if (until > now) throw SignInThrottle.tooMany(until, now);
  }

  /**
   * Before checking a secret: counts the attempt against every key, as a failure until `succeeded`
   * says otherwise, or throws 429 — counting nothing — when any key is blocked.
   */
  async attempt(keys: Keys): Promise<void> {
    const now = Date.now();
    const done: { kind: ThrottleKind; key: string }[] = [];
    for (const k of SignInThrottle.keys(keys)) {
      if (await this.count(k.kind, k.key, now, true)) {
        done.push(k);
        continue;
      }
      for (const d of done) await this.uncount(d.kind, d.key);
      const rows = await this.db
        .selectFrom('sign_in_throttle')
        .select('blocked_until')
        .where('key', '=', k.key)
        .execute();
      throw SignInThrottle.tooMany(Math.max(now + 1000, ...rows.map((r) => Number(r.blocked_until))), now);
    }
    // Now and then, drop counts whose window and block are over (guessed names would pile up).
    if (Math.random() < 0.02) {
      await this.db
        .deleteFrom('sign_in_throttle')
        .where('window_start', '<', now - WINDOW_MS)
        .where('blocked_until', '<', now)
        .execute();
    }
  }

  /** A failure that was not counted by `attempt` (e.g. guessing device codes). */
  async failed(keys: Keys): Promise<void> {
    const now = Date.now();
    for (const k of SignInThrottle.keys(keys)) await this.count(k.kind, k.key, now, false);
  }

  /** The secret was right: the principal's count is cleared, the address's attempt taken back. */
  async succeeded(keys: Keys): Promise<void> {
    for (const k of SignInThrottle.keys(keys)) {
      if (k.kind === 'principal') await this.db.deleteFrom('sign_in_throttle').where('key', '=', k.key).execute();
      else await this.uncount(k.kind, k.key);
    }
  }
}
