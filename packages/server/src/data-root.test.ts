import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, testDialects, migratedPostgres } from './testing/harness.js';

const mode = (p: string) => fs.statSync(p).mode & 0o777;

/** Every file and folder below `dir`. */
function below(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f)));
}

// The data root holds the database, the master key and every blob: nobody but the server's user may read it.
for (const dialect of testDialects()) {
  describe(`data root permissions (${dialect})`, { skip: process.platform === 'win32' }, () => {
    it('is 0700 with files 0600, also when an older server left it readable', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-perm-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      const previous = process.umask(0o022);
      let t: Awaited<ReturnType<typeof startTestServer>> | undefined;
      try {
        fs.chmodSync(home, 0o755);
        t = await startTestServer(dialect, { home, databaseUrl: pg?.url });
        const rg = await t!.request(
          'PUT',
          `/subscriptions/${t!.subscriptionId}/resourceGroups/perm-rg?api-version=2025-09-01`,
          { location: 'local' },
        );
        assert.equal(rg.status, 201, rg.text);
        const acct = `/subscriptions/${t!.subscriptionId}/resourceGroups/perm-rg/providers/Microsoft.Storage/storageAccounts/permacct${dialect[0]}`;
        assert.equal((await t!.request('PUT', `${acct}?api-version=2023-01-01`, { location: 'local' })).status, 201);
        const check = () => {
          assert.equal(mode(home), 0o700, 'data root');
          const all = below(home);
          assert.ok(all.some((f) => f.endsWith('master.key')));
          if (dialect === 'sqlite')
            assert.ok(
              all.some((f) => f.endsWith('atelier.db-wal')),
              all.join(' '),
            );
          for (const f of all) {
            const st = fs.lstatSync(f);
            if (st.isSymbolicLink()) continue;
            assert.equal(st.mode & 0o077, 0, `${path.relative(home, f)} is ${(st.mode & 0o777).toString(8)}`);
          }
        };
        check();
        await t.close({ keepData: true });
        t = undefined;
        // An older server's root: world-readable folder and files.
        fs.chmodSync(home, 0o755);
        for (const f of below(home)) fs.chmodSync(f, fs.statSync(f).isDirectory() ? 0o755 : 0o644);
        t = await startTestServer(dialect, { home, databaseUrl: pg?.url });
        check();
      } finally {
        await t?.close({ keepData: true });
        process.umask(previous);
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
