import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrap, resetAdminPassword, resetAdminPasswordAt } from './bootstrap.js';
import { verifyPassword } from './passwords.js';
import { openTestDatabase, testDialects } from '../testing/harness.js';
import type { Database } from '../store/database.js';

for (const dialect of testDialects()) {
  describe(`bootstrap and the offline admin password reset (${dialect})`, () => {
    let dir: string;
    let database: Database;
    let drop: () => Promise<void>;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bootstrap-'));
      ({ database, drop } = await openTestDatabase(dialect, dir, { migrate: true }));
    });
    after(async () => {
      await database?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const adminHash = async () =>
      await database.db
        .selectFrom('principals')
        .select(['password_hash', 'enabled'])
        .where('name_key', '=', 'admin')
        .executeTakeFirstOrThrow();

    it('a later admin password is reported as ignored, not used', async () => {
      const first = await bootstrap(database, 'first-password-1');
      assert.equal(first.adminCreated, true);
      assert.equal(first.adminPasswordIgnored, undefined);
      const again = await bootstrap(database, 'second-password-2');
      assert.equal(again.adminCreated, false);
      assert.equal(again.adminPasswordIgnored, true);
      assert.equal((await bootstrap(database)).adminPasswordIgnored, undefined, 'no password given, nothing ignored');
      assert.equal(await verifyPassword('first-password-1', (await adminHash()).password_hash), true);
      assert.equal(await verifyPassword('second-password-2', (await adminHash()).password_hash), false);
      // A server's own cost (test servers pass a cheaper one through ContextOptions.passwordCost).
      assert.match((await adminHash()).password_hash!, /^scrypt\$32768\$8\$1\$/);
    });

    it('resetAdminPassword sets it, enables the admin, and refuses a short one without changing anything', async () => {
      await database.db.updateTable('principals').set({ enabled: 0 }).where('name_key', '=', 'admin').execute();
      await assert.rejects(resetAdminPassword(database, 'short'), /8 to 256 characters/);
      assert.equal(await verifyPassword('first-password-1', (await adminHash()).password_hash), true);
      const r = await resetAdminPassword(database, 'reset-password-3');
      assert.equal(r.name, 'admin');
      const row = await adminHash();
      assert.equal(await verifyPassword('reset-password-3', row.password_hash), true);
      assert.equal(await verifyPassword('first-password-1', row.password_hash), false);
      assert.equal(Number(row.enabled), 1);
    });
  });
}

describe('resetAdminPasswordAt', () => {
  it('refuses a folder without a database instead of making one', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-empty-'));
    try {
      await assert.rejects(resetAdminPasswordAt({ home: empty }, 'reset-password-3'), /no Atelier database in/);
      assert.deepEqual(fs.readdirSync(empty), []);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
