import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { lengthenBlock } from '../../testing/throttle.js';

/**
 * The sign-in throttle's per-address count (issue 13, items 3 and 10): many user names guessed
 * from one address, and device codes guessed by someone who can sign in, both end in 429 — and
 * then even a right password from that address waits. Each case has its own server: a blocked
 * 127.0.0.1 would refuse every later test of a shared one.
 */
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

for (const dialect of testDialects()) {
  describe(`sign-in throttle per address (${dialect})`, () => {
    let t: TestServer | undefined;
    after(async () => {
      await t?.close();
    });

    const grant = (url: string, username: string, password: string) =>
      fetch(`${url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ grant_type: 'password', username, password, scope: `${url}/.default` }),
      }).then((r) => r.status);

    it('60 simultaneous guesses over 60 user names from one address: at most the free 20 and a few are checked', async () => {
      t = await startTestServer(dialect);
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: 60 }, (_, i) => grant(t!.url, `nobody-${i}`, `guess-${i}`)),
      );
      const checked = statuses.filter((s) => s !== 429);
      // 20 free failures for an address, the 21st attempt (which starts the first 1 s block), then one
      // more each time a block (1 s, 2 s, 4 s …) ends while the 100 are being answered.
      const seconds = (Date.now() - started) / 1000;
      const bound = 21 + Math.ceil(Math.log2(seconds + 1));
      assert.ok(statuses.includes(429), statuses.join(','));
      assert.ok(checked.length <= bound, `checked ${checked.length} of 60 in ${seconds} s (at most ${bound})`);
      assert.ok(
        checked.every((s) => s === 400 || s === 401),
        `a guess that was checked is refused: ${statuses.join(',')}`,
      );
      // While the address is blocked, the administrator's right password from it waits too. The
      // burst's last block may be over, or nearly, and on a loaded machine the next request can take
      // a while to be checked: the block is made long enough first (by more guesses, checked).
      await lengthenBlock(t, 'address:%', (n) => grant(t!.url, `nobody-more-${n}`, 'guess'));
      assert.equal(await grant(t.url, 'admin', ADMIN_PASSWORD), 429);
      await t.close();
      t = undefined;
    });

    it('guessing device codes after a right sign-in ends in 429 on the device page', async () => {
      t = await startTestServer(dialect);
      const statuses: number[] = [];
      for (let i = 0; i < 30 && !statuses.includes(429); i++) {
        const res = await fetch(`${t.url}/device`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form({
            code: `ZZZZ-ZZ${String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26))}`,
            username: 'admin',
            password: ADMIN_PASSWORD,
            action: 'approve',
          }),
        });
        await res.text();
        statuses.push(res.status);
        if (res.status === 429) assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
      }
      assert.ok(
        statuses.slice(0, 20).every((s) => s === 404),
        statuses.join(','),
      );
      assert.equal(statuses.at(-1), 429, `unknown codes are throttled: ${statuses.join(',')}`);
      await t.close();
      t = undefined;
    });
  });
}
