import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TokenAuthentication, Workspace } from '@atelier/sdk';
import { startTestServer, type TestServer } from '../../server/src/testing/harness.js';

/** The real `atelier` command, for tests that run it as a child process. */
export const ATELIER_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'atelier.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is JSON. */
  json: any;
}

/**
 * Runs `atelier args…` with exactly the environment given (plus PATH), `input` on standard input,
 * and collects what it printed.
 */
export function runAtelier(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; input?: string },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ATELIER_BIN, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', TMPDIR: os.tmpdir(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A real server, a workspace made through the SDK, a private home and the `atelier` runner in it. */
export interface CliFixture {
  t: TestServer;
  /** A fresh folder: HOME, the working folder and (below `cfg/`) ATELIER_CONFIG_DIR of every run. */
  home: string;
  ws: Workspace;
  /** The environment every run gets: the home, the server and the admin's token. */
  env: Record<string, string>;
  /** `atelier args…` in `home` as the admin (`opts.env` adds to or replaces variables of `env`). */
  atelier(args: string[], opts?: { env?: Record<string, string>; input?: string; cwd?: string }): Promise<CliRun>;
  close(): Promise<void>;
}

/**
 * The set-up of the CLI's tests: a real server (SQLite unless `dialect` says otherwise), workspace
 * `name` in resource group `{name}-rg` made through the SDK, and a private home. With `writeConfig`
 * the workspace's `.azureml/config.json` is written into the home, so commands find it as
 * `Workspace.fromConfig` does.
 */
export async function cliFixture(
  name: string,
  opts: { location?: string; writeConfig?: boolean; dialect?: 'sqlite' | 'postgres' } = {},
): Promise<CliFixture> {
  const t = await startTestServer(opts.dialect ?? 'sqlite');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `atelier-${name}-`));
  const close = async () => {
    await t.close();
    fs.rmSync(home, { recursive: true, force: true });
  };
  const env = {
    HOME: home,
    ATELIER_CONFIG_DIR: path.join(home, 'cfg'),
    ATELIER_ENDPOINT: t.url,
    ATELIER_TOKEN: t.adminToken,
  };
  try {
    const ws = await Workspace.create({
      name,
      subscriptionId: t.subscriptionId,
      resourceGroup: `${name}-rg`,
      ...(opts.location ? { location: opts.location } : {}),
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: env.ATELIER_CONFIG_DIR },
    });
    if (opts.writeConfig) ws.writeConfig({ path: path.join(home, '.azureml') });
    return {
      t,
      home,
      ws,
      env,
      atelier: (args, o = {}) =>
        runAtelier(args, {
          cwd: o.cwd ?? home,
          env: { ...env, ...o.env },
          ...(o.input !== undefined ? { input: o.input } : {}),
        }),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
