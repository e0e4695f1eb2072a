import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { Migrator, type Migration } from 'kysely';
import { startServer, type RunningServer } from '../server.js';
import type { ServerConfig } from '../config.js';
import type { ContextOptions } from '../context.js';
import { openDatabase, type Database, type DialectName } from '../store/database.js';
import { migrations } from '../store/migrations/index.js';
import { createMigratedSqlite, createPostgresDatabase } from './db-templates.js';

/**
 * Test support: real servers on random ports, real SQLite files, real PostgreSQL databases.
 * PostgreSQL comes from ATELIER_TEST_DATABASE_URL (a server where we may CREATE DATABASE); each
 * server gets a fresh database, dropped on close. With ATELIER_TEST_STRICT=1 (CI) a missing
 * PostgreSQL fails the run instead of skipping its half of the suite.
 */
export function testDialects(): DialectName[] {
  if (process.env.ATELIER_TEST_DATABASE_URL) return ['sqlite', 'postgres'];
  if (process.env.ATELIER_TEST_STRICT === '1') {
    throw new Error(
      'ATELIER_TEST_DATABASE_URL is not set but ATELIER_TEST_STRICT=1: PostgreSQL tests cannot run (start one with .ci/postgres.sh)',
    );
  }
  if (!warned) {
    warned = true;
    process.stderr.write('note: ATELIER_TEST_DATABASE_URL is not set; PostgreSQL variants of the tests are skipped\n');
  }
  return ['sqlite'];
}
let warned = false;

/**
 * The dialects of a suite driven by an external client or engine (the Python SDKs, azureml-core,
 * Ray): one, `preferred`, unless ATELIER_TEST_CLIENT_DIALECTS=both asks for every dialect of
 * testDialects(). Such a suite tests a protocol above the store, and its cost is mostly the
 * client's (interpreter starts, polling, engine work), which does not change with the dialect; the
 * store under it is tested on both dialects by the store and HTTP suites. Suites are spread over
 * both dialects (each names its own), so each dialect still serves real clients in every run.
 * Without PostgreSQL (and outside strict mode), a suite preferring it runs on SQLite.
 */
export function clientDialects(preferred: DialectName): DialectName[] {
  const all = testDialects();
  if (process.env.ATELIER_TEST_CLIENT_DIALECTS === 'both') return all;
  return all.includes(preferred) ? [preferred] : all;
}

export const ADMIN_PASSWORD = 'test-admin-password-1';

/**
 * scrypt's cost in test servers: N = 2^10 (~4 ms of CPU a hash) instead of 2^15 (~0.1 s). Every test
 * server hashes its admin's password and the harness signs in with it; the identity and fuzz suites
 * check passwords hundreds of times. The algorithm and every code path are the same; `bootstrap.test`
 * checks a server's own cost.
 */
export const TEST_PASSWORD_COST = { N: 1 << 10, r: 8, p: 1 };

/**
 * A fresh PostgreSQL database on the server at `base` (default ATELIER_TEST_DATABASE_URL): empty,
 * or with `migrated` a copy of the migrated template (db-templates.ts), for a server to start on
 * (it finds no migration to run). Returns its URL and a function that drops it. Tests and
 * benchmarks share it (the benchmarks' cold starts use empty ones).
 */
export async function freshPostgres(
  base: string | undefined = process.env.ATELIER_TEST_DATABASE_URL,
  prefix = 'atelier_t',
  opts: { migrated?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!base) throw new Error('ATELIER_TEST_DATABASE_URL is not set');
  const name = `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
  await createPostgresDatabase(base, name, opts);
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** freshPostgres() with `migrated`: a database for a server of a test to start on. */
export function migratedPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  return freshPostgres(undefined, undefined, { migrated: true });
}

/**
 * The store of a test on `dialect`: a fresh PostgreSQL database, or a SQLite file in `dir`; empty
 * (not migrated) unless `migrate`, which starts from the migrated template and runs the migration
 * check as a server does. `drop()` (after close) removes the PostgreSQL database.
 */
export async function openTestDatabase(
  dialect: DialectName,
  dir: string,
  opts: { migrate?: boolean } = {},
): Promise<{ database: Database; drop: () => Promise<void> }> {
  const migrate = opts.migrate ?? false;
  if (dialect === 'postgres') {
    const fresh = await freshPostgres(undefined, undefined, { migrated: migrate });
    try {
      return { database: await openDatabase({ url: fresh.url, migrate }), drop: fresh.drop };
    } catch (e) {
      await fresh.drop();
      throw e;
    }
  }
  const sqlitePath = path.join(dir, 'db.sqlite');
  if (migrate) await createMigratedSqlite(sqlitePath);
  return { database: await openDatabase({ sqlitePath, migrate }), drop: async () => {} };
}

/**
 * Applies the migrations named before `name` (e.g. '0280') to a test store, so a test can write rows
 * in the old schema and then watch `name` (and the rest) change them with migrateToLatest.
 */
export async function migrateBefore(database: Database, name: string): Promise<void> {
  const before = Object.fromEntries(Object.entries(migrations).filter(([n]) => n < name));
  const { error } = await new Migrator({
    db: database.db,
    provider: { getMigrations: async (): Promise<Record<string, Migration>> => before },
  }).migrateToLatest();
  if (error) throw error;
}

export interface TestServer {
  server: RunningServer;
  url: string;
  dialect: DialectName;
  home: string;
  /** A bearer token of the admin user (Owner of everything). */
  adminToken: string;
  subscriptionId: string;
  /** JSON request with the admin's token unless `token` is given (null = none). */
  request(
    method: string,
    url: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: any; text: string }>;
  /** Stops the server; with `keepData`, leaves the data (to restart on it). */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestServer(
  dialect: DialectName,
  {
    logDestination,
    ...overrides
  }: Partial<ServerConfig> & {
    home?: string;
    databaseUrl?: string;
    logDestination?: ContextOptions['logDestination'];
  } = {},
): Promise<TestServer> {
  const home = overrides.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-test-'));
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl = overrides.databaseUrl;
  // The server starts on a migrated copy (db-templates.ts) of a database it makes itself: a fresh
  // PostgreSQL one, or its SQLite file in a data root made here (a given one is left as it is).
  if (dialect === 'postgres' && !databaseUrl) {
    const fresh = await migratedPostgres();
    databaseUrl = fresh.url;
    drop = fresh.drop;
  } else if (dialect === 'sqlite' && !overrides.home) {
    await createMigratedSqlite(path.join(home, 'atelier.db'));
  }
  const server = await startServer(
    { port: 0, logLevel: 'silent', adminPassword: ADMIN_PASSWORD, ...overrides, home, databaseUrl },
    {},
    { logDestination, passwordCost: TEST_PASSWORD_COST },
  );
  const url = server.url;
  const tokenRes = await fetch(`${url}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: 'admin',
      password: ADMIN_PASSWORD,
      scope: 'https://management.azure.com/.default',
    }),
  });
  const adminToken = ((await tokenRes.json()) as { access_token: string }).access_token;
  const t: TestServer = {
    server,
    url,
    dialect,
    home,
    adminToken,
    subscriptionId: server.ctx.defaultSubscriptionId,
    async request(method, p, body, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? adminToken : opts.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(p.startsWith('http') ? p : `${url}${p}`, { method, headers, body: payload });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async close(opts = {}) {
      await server.close();
      if (!opts.keepData) {
        if (drop) await drop();
        if (!overrides.home) fs.rmSync(home, { recursive: true, force: true });
      }
    },
  };
  return t;
}
