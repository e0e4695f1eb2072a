import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import type { ServerConfig } from './config.js';
import { openDatabase, type Database } from './store/database.js';
import type { Tables } from './store/schema.js';
import { KeyRing, loadMasterKey } from './secrets/envelope.js';
import { HbiWorkspaces, createLogger } from './logging/logger.js';
import { TokenService } from './identity/tokens.js';
import { PrincipalService } from './identity/principals.js';
import type { ScryptCost } from './identity/passwords.js';
import { AccessControl } from './identity/rbac.js';
import { ADMIN_PASSWORD_IGNORED, bootstrap, type BootstrapResult } from './identity/bootstrap.js';
import { BlobStores } from './blob/factory.js';
import { scanResources } from './resources/engine.js';

/** Everything a request handler or domain service may need, made once per server process. */
export interface AppContext {
  config: ServerConfig;
  database: Database;
  db: Kysely<Tables>;
  keys: KeyRing;
  tokens: TokenService;
  principals: PrincipalService;
  access: AccessControl;
  tenantId: string;
  defaultSubscriptionId: string;
  /** Folder of local blob containers (storage accounts), below the data root (when `blobs` is local). */
  blobRoot: string;
  /** The blob store factory: every store of a storage account or datastore comes from it. */
  blobs: BlobStores;
  /** This process, for operations it runs. */
  instanceId: string;
  log: pino.Logger;
  /** Which workspaces are high business impact (their data is kept out of the log). */
  hbi: HbiWorkspaces;
  bootstrap: BootstrapResult;
  /** Work to do when the server stops (closing pools, timers). Run in reverse order. */
  onClose: (() => Promise<void> | void)[];
}

export interface ContextOptions {
  /** Where log lines go (default stdout), e.g. a stream a test reads. */
  logDestination?: pino.DestinationStream;
  /**
   * scrypt's cost for the passwords this server hashes (default SCRYPT_COST). For tests only, which
   * start hundreds of servers and sign in thousands of times: a lower cost is a weaker hash. Never
   * read from the environment or the command line.
   */
  passwordCost?: ScryptCost;
}

/**
 * The data root holds the database, the master key and the blobs: it is the server's alone. Files
 * the server makes from now on are 0600 and folders 0700 (umask 077); a root left readable by an
 * older version is tightened, everything in it (once: while the root is 0700, deeper entries are
 * out of others' reach anyway, and only the top level is checked at each start).
 */
export function secureDataRoot(home: string): void {
  if (process.platform === 'win32') return;
  try {
    process.umask(0o077);
  } catch {
    // Worker threads cannot change the umask; the chmods below still hold.
  }
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const loose = (fs.statSync(home).mode & 0o077) !== 0;
  fs.chmodSync(home, 0o700);
  // Top-level entries every start (cheap); everything below once, when the root was found loose.
  const folders = [home];
  while (folders.length) {
    const dir = folders.pop()!;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isSymbolicLink()) continue;
      const p = path.join(dir, entry.name);
      fs.chmodSync(p, entry.isDirectory() ? 0o700 : 0o600);
      if (entry.isDirectory() && loose) folders.push(p);
    }
  }
}

export async function createContext(config: ServerConfig, opts: ContextOptions = {}): Promise<AppContext> {
  secureDataRoot(config.home);
  const hbi = new HbiWorkspaces();
  const logger = createLogger(config.logLevel, hbi, opts.logDestination);
  const blobRoot = path.join(config.home, 'blobs');
  const blobs = new BlobStores(config.blobStore, blobRoot);
  // A blob store that cannot be used stops the start, saying what to fix.
  try {
    await blobs.check();
  } catch (e) {
    blobs.close();
    throw new Error(`the blob store (ATELIER_BLOB_STORE) cannot be used: ${(e as Error).message}`);
  }
  const database = await openDatabase({
    url: config.databaseUrl,
    sqlitePath: path.join(config.home, 'atelier.db'),
    onIdleError: (e) =>
      logger.warn(
        { err: e },
        'a pooled PostgreSQL connection failed; it was dropped and a new one is made when needed',
      ),
    onCheckpointError: (message) =>
      logger.warn({ message }, 'a background SQLite checkpoint failed; the next one tries again'),
  });
  try {
    await hbi.start(() =>
      scanResources(database.db, { type: 'Microsoft.MachineLearningServices/workspaces', topLevel: true }),
    );
    const boot = await bootstrap(database, config.adminPassword, opts.passwordCost);
    if (boot.adminPasswordIgnored) logger.warn(ADMIN_PASSWORD_IGNORED);
    const keys = new KeyRing(database, loadMasterKey(config.home));
    const tokens = new TokenService(database.db, keys, config.publicUrl, boot.tenantId, config.tokenTtlSeconds);
    await tokens.init();
    const ctx: AppContext = {
      config,
      database,
      db: database.db,
      keys,
      tokens,
      principals: new PrincipalService(database, boot.tenantId, opts.passwordCost),
      access: new AccessControl(database.db),
      tenantId: boot.tenantId,
      defaultSubscriptionId: boot.defaultSubscriptionId,
      blobRoot,
      blobs,
      instanceId: crypto.randomUUID(),
      log: logger,
      hbi,
      bootstrap: boot,
      onClose: [() => blobs.close(), () => hbi.stop()],
    };
    return ctx;
  } catch (e) {
    hbi.stop();
    blobs.close();
    await database.close().catch(() => {});
    throw e;
  }
}
