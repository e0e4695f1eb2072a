import assert from 'node:assert/strict';
import type { TestServer } from './harness.js';

/**
 * Test support of the sign-in throttle (identity/sign-in-throttle.ts): makes the block on the keys
 * matching `keyLike` (an SQL LIKE pattern: `principal:alice`, `address:%`) last at least `minMs` more,
 * so that a test's next requests are surely answered while it holds, even on a loaded machine.
 *
 * A block lasts 1 s from the failure that earned it, doubling with each further failure: one with
 * less than `minMs` left is waited out, and `wrong(n)` — a wrong attempt through the door under test,
 * which is then checked (not 429) and counted — earns the next, twice as long.
 */
export async function lengthenBlock(
  t: TestServer,
  keyLike: string,
  wrong: (n: number) => Promise<number>,
  minMs = 3_000,
): Promise<void> {
  for (let n = 0; ; n++) {
    const rows = await t.server.ctx.db
      .selectFrom('sign_in_throttle')
      .select('blocked_until')
      .where('key', 'like', keyLike)
      .execute();
    const left = Math.max(0, ...rows.map((r) => Number(r.blocked_until))) - Date.now();
    if (left >= minMs) return;
    assert.ok(n < 5, `the block of ${keyLike} stays short: ${left} ms left after ${n} more failures`);
    await new Promise((r) => setTimeout(r, Math.max(0, left) + 50));
    const status = await wrong(n);
    assert.notEqual(status, 429, `a wrong attempt after the block of ${keyLike} ended is checked`);
  }
}
