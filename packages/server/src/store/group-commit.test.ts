import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { openDatabase, type Database, type Tx } from './database.js';
import { freshPostgres, testDialects } from '../testing/harness.js';

async function count(tx: Tx, name?: string): Promise<number> {
  const rows =
    name === undefined
      ? await tx.rows<[number]>('select count(*) from tx_probe')
      : await tx.rows<[number]>('select count(*) from tx_probe where name = ?', [name]);
  return Number(rows[0]![0]);
}

/** A second connection to the same database: it sees only what is committed. */
interface Outside {
  committed(names: string[]): Promise<number>;
  close(): Promise<void>;
}

async function outside(database: Database, sqlitePath: string, url: string | undefined): Promise<Outside> {
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    return {
      committed: async (names) =>
        Number((await pool.query('select count(*)::int as c from tx_probe where name = any($1)', [names])).rows[0].c),
      close: () => pool.end(),
    };
  }
  assert.equal(database.dialect, 'sqlite');
  const reader = new SqliteDatabase(sqlitePath, { readonly: true });
  return {
    committed: async (names) =>
      (
        reader
          .prepare(`select count(*) as c from tx_probe where name in (${names.map(() => '?').join(',')})`)
          .get(...names) as { c: number }
      ).c,
    close: async () => void reader.close(),
  };
}

for (const dialect of testDialects()) {
  describe(`database.write: group commit (${dialect})`, () => {
    let database: Database;
    let dir: string;
    let file: string;
    let url: string | undefined;
    let drop: (() => Promise<void>) | undefined;
    let other: Outside;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-tx-'));
      file = path.join(dir, 'db.sqlite');
      if (dialect === 'postgres') ({ url, drop } = await freshPostgres());
      // One lane (PostgreSQL runs one group at a time with a pool of one, as SQLite always does), so
      // that writes started together are one group; the last test uses the default lanes.
      database = await openDatabase(url ? { url, migrate: false, poolSize: 1 } : { sqlitePath: file, migrate: false });
      await database.write(async (tx) => {
        await tx.run('create table tx_probe (name varchar(50) primary key, n integer not null)');
        await tx.run('create table tx_parent (id integer primary key)');
        await tx.run(
          'create table tx_child (id integer primary key, parent integer not null references tx_parent (id) deferrable initially deferred)',
        );
      });
      other = await outside(database, file, url);
    });
    after(async () => {
      await other?.close();
      await database?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('writes started together run in one open transaction, and each caller is answered only after its commit', async () => {
      const names = Array.from({ length: 10 }, (_, i) => `together${i}`);
      // What each member saw: its own transaction's rows of earlier members, and what another
      // connection saw of them (nothing while the shared transaction is open).
      const seen: { inside: number; outside: number }[] = [];
      const answered: number[] = [];
      await Promise.all(
        names.map((name, i) =>
          database
            .write(async (tx) => {
              const inside = await tx.rows<[number]>(
                `select count(*) from tx_probe where name in (${names.map(() => '?').join(',')})`,
                names,
              );
              seen[i] = { inside: Number(inside[0]![0]), outside: await other.committed(names) };
              await tx.run('insert into tx_probe (name, n) values (?, ?)', [name, i]);
              return i;
            })
            .then(async (v) => {
              // Answered: the row is committed, visible to everyone.
              assert.equal(await other.committed([name]), 1, `${name} was answered before it was committed`);
              answered.push(v);
            }),
        ),
      );
      assert.deepEqual(
        seen,
        names.map((_, i) => ({ inside: i, outside: 0 })),
      );
      assert.deepEqual(
        [...answered].sort((a, b) => a - b),
        names.map((_, i) => i),
      );
      assert.equal(await other.committed(names), names.length);
    });

    it('one that fails is undone alone (raw SQL and its Kysely alike) and its caller gets its error; the others commit', async () => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          database.write(async (tx) => {
            await tx.run('insert into tx_probe (name, n) values (?, ?)', [`a${i}`, i]);
            // Every 7th writes a second row (through the transaction's Kysely) and then fails: neither of its rows may stay.
            if (i % 7 === 3) {
              await tx.db
                .insertInto('tx_probe' as never)
                .values({ name: `extra${i}`, n: i } as never)
                .execute();
              throw new Error(`fail ${i}`);
            }
            return i;
          }),
        ),
      );
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
      assert.deepEqual(failed, [3, 10, 17, 24, 31, 38, 45]);
      for (const i of failed)
        assert.match(String((outcomes[i] as PromiseRejectedResult).reason), new RegExp(`fail ${i}`));
      for (const [i, o] of outcomes.entries()) if (o.status === 'fulfilled') assert.equal(o.value, i);
      const all = Array.from({ length: 50 }, (_, i) => [`a${i}`, `extra${i}`]).flat();
      assert.equal(await other.committed(all), 50 - failed.length);
      await database.read(async (tx) => {
        for (const i of failed) {
          assert.equal(await count(tx, `a${i}`), 0);
          assert.equal(await count(tx, `extra${i}`), 0);
        }
      });
    });

    it('a later write of the same group sees what an earlier one wrote; a database error fails only its own', async () => {
      const [first, second, third, fourth] = await Promise.allSettled([
        database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['same', 1])),
        database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['same', 2])),
        database.write(
          async (tx) => (await tx.rows<[number]>('select n from tx_probe where name = ?', ['same']))[0]?.[0],
        ),
        database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['after-error', 3])),
      ]);
      assert.equal(first.status, 'fulfilled');
      assert.equal(second.status, 'rejected');
      assert.match(String((second as PromiseRejectedResult).reason), /unique|duplicate/i);
      assert.equal(third.status, 'fulfilled');
      assert.equal(Number((third as PromiseFulfilledResult<unknown>).value), 1);
      assert.equal(fourth.status, 'fulfilled');
      assert.equal(await other.committed(['same', 'after-error']), 2);
    });

    it('when the shared commit fails, every member of the group is told so and nothing of it stays', async () => {
      await database.write((tx) => tx.run('insert into tx_parent (id) values (1)'));
      const outcomes = await Promise.allSettled([
        database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['doomed-a', 1])),
        // A deferred foreign key is checked at COMMIT: this member succeeds, the commit fails.
        database.write((tx) => tx.run('insert into tx_child (id, parent) values (?, ?)', [1, 999])),
        database.write((tx) => tx.run('insert into tx_child (id, parent) values (?, ?)', [2, 1])),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['rejected', 'rejected', 'rejected'],
      );
      assert.equal(await other.committed(['doomed-a']), 0);
      await database.read(async (tx) =>
        assert.equal(Number((await tx.rows<[number]>('select count(*) from tx_child'))[0]![0]), 0),
      );
      // The store goes on: the next write commits.
      await database.write((tx) => tx.run('insert into tx_child (id, parent) values (?, ?)', [3, 1]));
      await database.read(async (tx) =>
        assert.equal(Number((await tx.rows<[number]>('select count(*) from tx_child'))[0]![0]), 1),
      );
    });

    it('a write alone in its group may leave its last statement to the commit (PostgreSQL): answered after the commit; that statement failing fails the write and nothing stays', async () => {
      // Where the dialect has no settleAtCommit (SQLite), the write awaits its statement itself.
      const last = async (tx: Tx, sent: Promise<unknown>) => {
        if (!tx.settleAtCommit) return void (await sent);
        tx.settleAtCommit(sent);
      };
      const how = await database.write(async (tx) => {
        await tx.run('insert into tx_probe (name, n) values (?, ?)', ['settle-a', 1]);
        await last(tx, tx.run('insert into tx_probe (name, n) values (?, ?)', ['settle-b', 2]));
        return tx.settleAtCommit ? 'settled' : 'awaited';
      });
      assert.equal(how, url ? 'settled' : 'awaited');
      assert.equal(await other.committed(['settle-a', 'settle-b']), 2, 'answered after its commit');
      await assert.rejects(
        database.write(async (tx) => {
          await tx.run('insert into tx_probe (name, n) values (?, ?)', ['settle-c', 3]);
          // A duplicate key: the error comes back with the commit's answer.
          await last(tx, tx.run('insert into tx_probe (name, n) values (?, ?)', ['settle-a', 4]));
        }),
        /unique|duplicate/i,
      );
      assert.equal(await other.committed(['settle-c']), 0, 'nothing of the failed write stays');
      await database.read(async (tx) => assert.equal(await count(tx, 'settle-c'), 0));
      // The connection goes on serving writes.
      await database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', ['settle-d', 5]));
      assert.equal(await other.committed(['settle-d']), 1);
    });

    it('with several lanes (PostgreSQL), concurrent writes still share commits, each answered after its own', async () => {
      const wide = await openDatabase(url ? { url, migrate: false } : { sqlitePath: file, migrate: false });
      try {
        const names = Array.from({ length: 40 }, (_, i) => `lanes${i}`);
        const txids = await Promise.all(
          names.map((name, i) =>
            wide
              .write(async (tx) => {
                await tx.run('insert into tx_probe (name, n) values (?, ?)', [name, i]);
                // PostgreSQL: the transaction's id; SQLite has none (one writer: test 1 shows the groups).
                return url ? Number((await tx.rows<[number]>('select txid_current()'))[0]![0]) : 0;
              })
              .then(async (txid) => {
                assert.equal(await other.committed([name]), 1, `${name} was answered before it was committed`);
                return txid;
              }),
          ),
        );
        assert.equal(await other.committed(names), names.length);
        if (url)
          assert.ok(new Set(txids).size < names.length / 2, `40 writes took ${new Set(txids).size} transactions`);
      } finally {
        await wide.close();
      }
    });

    it('what a caller was told is committed is there after the database is opened again', async () => {
      const names = Array.from({ length: 20 }, (_, i) => `durable${i}`);
      await Promise.all(
        names.map((name, i) =>
          database.write((tx) => tx.run('insert into tx_probe (name, n) values (?, ?)', [name, i])),
        ),
      );
      const again = await openDatabase(url ? { url, migrate: false } : { sqlitePath: file, migrate: false });
      try {
        await again.read(async (tx) => {
          const [row] = await tx.rows<[number]>(
            `select count(*) from tx_probe where name in (${names.map(() => '?').join(',')})`,
            names,
          );
          assert.equal(Number(row![0]), 20);
        });
      } finally {
        await again.close();
      }
    });
  });
}
