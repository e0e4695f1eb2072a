import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../store/database.js';
import { freshPostgres, testDialects } from '../../testing/harness.js';
import { withTx, type Tx } from './tx.js';

async function count(tx: Tx, name?: string): Promise<number> {
  const rows = name === undefined ? await tx.rows<[number]>('select count(*) from tx_probe') : await tx.rows<[number]>('select count(*) from tx_probe where name = ?', [name]);
  return Number(rows[0]![0]);
}

for (const dialect of testDialects()) {
  describe(`write transactions (${dialect})`, () => {
    let database: Database;
    let dir: string;
    let drop: (() => Promise<void>) | undefined;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-tx-'));
      let url: string | undefined;
      if (dialect === 'postgres') ({ url, drop } = await freshPostgres());
      database = await openDatabase(url ? { url, migrate: false } : { sqlitePath: path.join(dir, 'db.sqlite'), migrate: false });
      await withTx(database, async (tx) => {
        await tx.run('create table tx_probe (name varchar(50) primary key, n integer not null)');
      });
    });
    after(async () => {
      await database?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('transactions started together all commit; one that fails is undone alone and its caller gets its error', async () => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          withTx(database, async (tx) => {
            await tx.run('insert into tx_probe (name, n) values (?, ?)', [`a${i}`, i]);
            // Every 7th writes a second row and then fails: neither of its rows may stay.
            if (i % 7 === 3) {
              await tx.run('insert into tx_probe (name, n) values (?, ?)', [`extra${i}`, i]);
              throw new Error(`fail ${i}`);
            }
            return i;
          }),
        ),
      );
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
      assert.deepEqual(failed, [3, 10, 17, 24, 31, 38, 45]);
      for (const i of failed) assert.match(String((outcomes[i] as PromiseRejectedResult).reason), new RegExp(`fail ${i}`));
      for (const [i, o] of outcomes.entries()) if (o.status === 'fulfilled') assert.equal(o.value, i);
      await withTx(database, async (tx) => {
        assert.equal(await count(tx), 50 - failed.length);
        for (const i of failed) {
          assert.equal(await count(tx, `a${i}`), 0);
          assert.equal(await count(tx, `extra${i}`), 0);
        }
      });
    });

    it('a later transaction sees what an earlier one of the same group wrote; a constraint error fails only its own', async () => {
      const [first, second, third] = await Promise.allSettled([
        withTx(database, (tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['same', 1])),
        withTx(database, (tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['same', 2])),
        withTx(database, async (tx) => (await tx.rows<[number]>('select n from tx_probe where name = ?', ['same']))[0]?.[0]),
      ]);
      if (dialect === 'postgres') {
        // Separate transactions there: which insert wins is the server's choice, but only one does.
        assert.equal([first, second].filter((o) => o.status === 'fulfilled').length, 1);
        return;
      }
      assert.equal(first.status, 'fulfilled');
      assert.equal(second.status, 'rejected');
      assert.equal(third.status, 'fulfilled');
      assert.equal(Number((third as PromiseFulfilledResult<unknown>).value), 1);
    });

    it('what a caller was told is committed is there after the database is opened again', async () => {
      if (dialect !== 'sqlite') return;
      await Promise.all(Array.from({ length: 20 }, (_, i) => withTx(database, (tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', [`durable${i}`, i]))));
      const again = await openDatabase({ sqlitePath: path.join(dir, 'db.sqlite'), migrate: false });
      try {
        const rows = again.sqlite!.prepare("select count(*) as c from tx_probe where name like 'durable%'").get() as { c: number };
        assert.equal(rows.c, 20);
      } finally {
        await again.close();
      }
    });
  });
}
