import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { freshPostgres, testDialects } from '../testing/harness.js';

// PostgreSQL only: SQLite has no connections to leave behind.
const postgres = testDialects().includes('postgres');

describe('database close (postgres)', { skip: postgres ? undefined : 'ATELIER_TEST_DATABASE_URL is not set' }, () => {
  it('leaves no connection on the server once close() returns, so the database can be dropped at once', async () => {
    for (let i = 0; i < 5; i++) {
      const { url, drop } = await freshPostgres();
      const name = new URL(url).pathname.slice(1);
      const database = await openDatabase({ url, migrate: false });
      // Several pooled connections at once, as concurrent requests make them.
      await Promise.all(Array.from({ length: 8 }, () => sql`select pg_sleep(0.01)`.execute(database.db)));
      const admin = new pg.Client({ connectionString: process.env.ATELIER_TEST_DATABASE_URL });
      await admin.connect();
      try {
        await database.close();
        const { rows } = await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [
          name,
        ]);
        assert.equal(rows[0].n, 0, 'connections of a closed pool are still open');
      } finally {
        await admin.end();
      }
      await drop();
    }
  });

  it('an idle connection ended by the server is reported, not thrown', async () => {
    const { url, drop } = await freshPostgres();
    const errors: Error[] = [];
    const database = await openDatabase({ url, migrate: false, onIdleError: (e) => errors.push(e) });
    try {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(database.db)).rows[0]!.pid;
      const admin = new pg.Client({ connectionString: process.env.ATELIER_TEST_DATABASE_URL });
      await admin.connect();
      await admin.query('select pg_terminate_backend($1)', [pid]);
      await admin.end();
      // The backend ends asynchronously (a signal to it): bounded by time, generously for a loaded machine.
      for (const end = Date.now() + 30_000; errors.length === 0 && Date.now() < end;)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(errors.length, 1);
      // The pool makes a new connection for the next query.
      assert.equal((await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows[0]!.one, 1);
    } finally {
      await database.close();
      await drop();
    }
  });
});
