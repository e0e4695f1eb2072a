import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database, type Tx } from './database.js';
import { freshPostgres, testDialects } from '../testing/harness.js';

class Refused extends Error {}

for (const dialect of testDialects()) {
  describe(`database.batch: many small writes in one member of a group (${dialect})`, () => {
    let database: Database;
    let dir: string;
    let drop: (() => Promise<void>) | undefined;
    /** What another connection sees (committed rows only). */
    let committed: (names: string[]) => Promise<number>;
    let closeOther: () => Promise<void>;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-batch-'));
      let url: string | undefined;
      if (dialect === 'postgres') ({ url, drop } = await freshPostgres());
      database = await openDatabase(
        url ? { url, migrate: false } : { sqlitePath: path.join(dir, 'db.sqlite'), migrate: false },
      );
      await database.write(async (tx) => {
        await tx.run(
          'create table batch_probe (name varchar(50) primary key, k varchar(10) not null, n integer not null)',
        );
      });
      // A second database handle on the same data: it sees only what is committed.
      const other = await openDatabase(
        url ? { url, migrate: false, poolSize: 1 } : { sqlitePath: path.join(dir, 'db.sqlite'), migrate: false },
      );
      committed = (names) =>
        other.read(async (tx) => {
          const [r] = await tx.rows<[number]>(
            `select count(*) from batch_probe where name in (${names.map(() => '?').join(',')})`,
            names,
          );
          return Number(r![0]);
        });
      closeOther = () => other.close();
    });
    after(async () => {
      await closeOther?.();
      await database?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A batch whose items insert one row each; records the order items ran in, per key. */
    function probe() {
      const txs = new Set<Tx>();
      const ran: { name: string; k: string; at: 'start' | 'end' }[] = [];
      const add = database.batch<{ name: string; k: string; refuse?: boolean }, string>({
        key: (i) => i.k,
        isolated: (e) => e instanceof Refused,
        async run(tx, i) {
          txs.add(tx);
          ran.push({ name: i.name, k: i.k, at: 'start' });
          const [seen] = await tx.rows<[number]>('select count(*) from batch_probe where k = ?', [i.k]);
          if (i.refuse) throw new Refused(`refused ${i.name}`);
          await tx.run('insert into batch_probe (name, k, n) values (?, ?, ?)', [i.name, i.k, Number(seen![0])]);
          ran.push({ name: i.name, k: i.k, at: 'end' });
          return i.name;
        },
      });
      return { add, txs, ran };
    }

    it('items that arrive together share transactions and are answered only after their commit', async () => {
      const { add, txs } = probe();
      const names = Array.from({ length: 40 }, (_, i) => `together${i}`);
      await Promise.all(
        names.map((name, i) =>
          add({ name, k: `t${i}` }).then(async (v) => {
            assert.equal(v, name);
            assert.equal(await committed([name]), 1, `${name} was answered before it was committed`);
          }),
        ),
      );
      assert.equal(await committed(names), 40);
      assert.ok(txs.size < 40, `40 items took ${txs.size} write members`);
    });

    it('items of one key run one after the other in arrival order, seeing each other', async () => {
      const { add, ran } = probe();
      const items = Array.from({ length: 12 }, (_, i) => ({ name: `ordered${i}`, k: i % 2 ? 'oddkey' : 'evenkey' }));
      await Promise.all(items.map((i) => add(i)));
      for (const k of ['oddkey', 'evenkey']) {
        const mine = ran.filter((r) => r.k === k);
        // start, end, start, end, … in arrival order: never two of one key at once.
        const expected = items.filter((i) => i.k === k).flatMap((i) => [`start ${i.name}`, `end ${i.name}`]);
        assert.deepEqual(
          mine.map((r) => `${r.at} ${r.name}`),
          expected,
        );
      }
      const counts = await database.read((tx) =>
        tx.rows<[string, number]>("select name, n from batch_probe where k in ('oddkey', 'evenkey') order by n, name"),
      );
      // Each saw the rows of its key written before it (n = 0, 1, 2, … per key).
      assert.deepEqual(
        counts.map((r) => Number(r[1])),
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
      );
    });

    it('an item refused before it wrote fails alone; the others are committed', async () => {
      const { add } = probe();
      const items = Array.from({ length: 10 }, (_, i) => ({ name: `refuse${i}`, k: `r${i}`, refuse: i === 3 }));
      const out = await Promise.allSettled(items.map((i) => add(i)));
      assert.equal(out[3]!.status, 'rejected');
      assert.ok((out[3] as PromiseRejectedResult).reason instanceof Refused);
      assert.equal(out.filter((o) => o.status === 'fulfilled').length, 9);
      assert.equal(await committed(items.map((i) => i.name)), 9);
      assert.equal(await committed(['refuse3']), 0);
    });

    it('a database error fails only its own item: the batch is undone and each item runs again alone', async () => {
      const { add } = probe();
      await add({ name: 'taken', k: 'x0' });
      // 'taken' again violates the primary key: the whole batch rolls back, the others are retried alone.
      const items = Array.from({ length: 10 }, (_, i) => ({ name: i === 4 ? 'taken' : `dberr${i}`, k: `d${i}` }));
      const out = await Promise.allSettled(items.map((i) => add(i)));
      assert.equal(out[4]!.status, 'rejected');
      assert.ok(!((out[4] as PromiseRejectedResult).reason instanceof Refused));
      assert.equal(out.filter((o) => o.status === 'fulfilled').length, 9);
      assert.equal(await committed(items.filter((_, i) => i !== 4).map((i) => i.name)), 9);
    });
    it('many: the whole batch in one call; a refused outcome fails alone, a throw runs each item alone', async () => {
      const calls: number[] = [];
      const add = database.batch<{ name: string; refuse?: boolean }, string>({
        key: (i) => i.name,
        isolated: () => false,
        async run(tx, i) {
          await tx.run('insert into batch_probe (name, k, n) values (?, ?, ?)', [i.name, 'many', 1]);
          return `alone ${i.name}`;
        },
        async many(tx, items) {
          calls.push(items.length);
          const keep = items.filter((i) => !i.refuse);
          if (keep.length)
            await tx.run(
              `insert into batch_probe (name, k, n) values ${keep.map(() => "(?, 'many', ?)").join(',')}`,
              keep.flatMap((i) => [i.name, keep.length]),
            );
          return items.map((i) =>
            i.refuse ? { ok: false, error: new Refused(i.name) } : { ok: true, value: `many ${i.name}` },
          );
        },
      });
      const items = Array.from({ length: 20 }, (_, i) => ({ name: `many${i}`, refuse: i === 5 }));
      const out = await Promise.allSettled(items.map((i) => add(i)));
      assert.ok(calls.length < 20, `20 items took ${calls.length} calls`);
      assert.ok((out[5] as PromiseRejectedResult).reason instanceof Refused);
      out.forEach((o, i) => {
        if (i !== 5) assert.deepEqual(o, { status: 'fulfilled', value: `many many${i}` });
      });
      assert.equal(await committed(items.map((i) => i.name)), 19);
      // 'many3' again violates the primary key inside many: undone, then each runs alone.
      const again = [{ name: 'many3' }, { name: 'many-after' }];
      const out2 = await Promise.allSettled(again.map((i) => add(i)));
      assert.equal(out2[0]!.status, 'rejected');
      assert.deepEqual(out2[1], { status: 'fulfilled', value: 'alone many-after' });
      assert.equal(await committed(['many-after']), 1);
    });

    it('manyIsOneStatement: a batch of one statement is answered after its commit; a failed one leaves nothing', async () => {
      const add = database.batch<{ name: string }, string>({
        key: (i) => i.name,
        isolated: () => false,
        async run(tx, i) {
          await tx.run('insert into batch_probe (name, k, n) values (?, ?, ?)', [i.name, 'one', 1]);
          return `alone ${i.name}`;
        },
        async many(tx, items) {
          await tx.run(
            `insert into batch_probe (name, k, n) values ${items.map(() => "(?, 'one', ?)").join(',')}`,
            items.flatMap((i) => [i.name, items.length]),
          );
          return items.map((i) => ({ ok: true, value: `many ${i.name}` }));
        },
        manyIsOneStatement: true,
      });
      const names = Array.from({ length: 20 }, (_, i) => `one${i}`);
      await Promise.all(
        names.map((name) =>
          add({ name }).then(async (v) => {
            assert.equal(v, `many ${name}`);
            assert.equal(await committed([name]), 1, `${name} was answered before it was committed`);
          }),
        ),
      );
      // 'one3' again violates the primary key: the statement is undone as a whole, then each item runs alone.
      const out = await Promise.allSettled([add({ name: 'one3' }), add({ name: 'one-after' })]);
      assert.equal(out[0]!.status, 'rejected');
      assert.deepEqual(out[1], { status: 'fulfilled', value: 'alone one-after' });
      assert.equal(await committed(['one-after']), 1);
    });

    it('a one-statement write that sends a second statement is refused before that statement goes out', async () => {
      if (dialect === 'sqlite') {
        // SQLite has no statement-is-its-transaction mode: such a write is an ordinary transaction.
        await database.write(
          async (tx) => {
            await tx.run("insert into batch_probe (name, k, n) values ('two-a', 'two', 1)");
            await tx.run("insert into batch_probe (name, k, n) values ('two-b', 'two', 1)");
          },
          { oneStatement: true },
        );
        assert.equal(await committed(['two-a', 'two-b']), 2);
        return;
      }
      await assert.rejects(
        database.write(
          async (tx) => {
            await tx.run("insert into batch_probe (name, k, n) values ('two-a', 'two', 1)");
            await tx.run("insert into batch_probe (name, k, n) values ('two-b', 'two', 1)");
          },
          { oneStatement: true },
        ),
        /second statement/,
      );
      assert.equal(await committed(['two-b']), 0);
    });
  });
}
