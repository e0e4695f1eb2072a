import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { startCheckpointer, type CheckpointReport } from './checkpointer.js';

describe('SQLite checkpoints in a worker thread', () => {
  it("copies committed pages into the database file while the writer's own checkpoint does not run", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-ckpt-'));
    const file = path.join(dir, 'db.sqlite');
    const database = await openDatabase({ sqlitePath: file, migrate: false });
    try {
      await sql`create table t (id integer primary key, data blob not null)`.execute(database.db);
      const before = fs.statSync(file).size;
      // 8 MiB in 1,000-page-sized commits: more than the default automatic checkpoint (1,000
      // pages) but less than the writer's own here (16,384), so only the worker moves them.
      const blob = Buffer.alloc(64 * 1024, 7);
      const insert = database.sqlite!.prepare('insert into t (data) values (?)');
      for (let i = 0; i < 128; i++) insert.run(blob);
      // (Bounded generously: the worker thread loads SQLite and checkpoints on a busy machine and disk.)
      const deadline = Date.now() + 30_000;
      while (fs.statSync(file).size < before + 8 * 1024 * 1024 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        fs.statSync(file).size >= before + 8 * 1024 * 1024,
        `the database file did not grow by the committed 8 MiB (${fs.statSync(file).size} bytes)`,
      );
    } finally {
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports each checkpoint and stops when asked', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-ckpt-'));
    const file = path.join(dir, 'db.sqlite');
    const database = await openDatabase({ sqlitePath: file, migrate: false });
    const reports: CheckpointReport[] = [];
    const errors: string[] = [];
    const c = startCheckpointer(file, {
      intervalMs: 20,
      onReport: (r) => reports.push(r),
      onError: (m) => errors.push(m),
    });
    try {
      await sql`create table t (id integer primary key)`.execute(database.db);
      // (Bounded generously: the worker thread loads SQLite and checkpoints on a busy machine and disk.)
      const deadline = Date.now() + 30_000;
      while (!reports.some((r) => r.log > 0 && r.checkpointed === r.log) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(
        reports.some((r) => r.log > 0 && r.checkpointed === r.log),
        JSON.stringify(reports.slice(-3)),
      );
      await c.stop();
      const n = reports.length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(reports.length, n, 'reports after stop()');
      assert.deepEqual(errors, []);
    } finally {
      await c.stop();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
