import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { AuthenticationError, ConfigurationError, ServiceError } from '../errors.js';
import { normaliseEndpoint } from '../http/fetch.js';
import { jwtClaims, type AccessToken, type Authentication, type GetTokenOptions } from './authentication.js';
import { passwordGrant, refreshGrant, type TokenGrant } from './oauth.js';
import { deviceCodeGrant, type DeviceCodeOptions } from './interactive-login.js';

/**
 * The CLI profile: which server the user signed in to, as whom, and the tokens, in
 * `~/.atelier/profile.json` (folder 0700, file 0600). `ATELIER_CONFIG_DIR` moves the folder.
 */
export interface Profile {
  version: 1;
  endpoint: string;
  /** The tenant signed in to (`common` or the server's GUID). */
  tenant: string;
  /** The tenant GUID from the token (`tid`), when the token says. */
  tenantId?: string;
  username: string;
  /** Default subscription for commands that are not told one. */
  subscriptionId?: string;
  accessToken: string;
  /** Epoch ms. */
  expiresOn: number;
  refreshToken?: string;
  savedAt: string;
}

export const PROFILE_FILE = 'profile.json';

const sameEndpoint = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function configDir(env: Record<string, string | undefined> = process.env): string {
  const dir = env.ATELIER_CONFIG_DIR?.trim();
  return dir ? path.resolve(dir) : path.join(os.homedir(), '.atelier');
}

export function profilePath(dir = configDir()): string {
  return path.join(dir, PROFILE_FILE);
}

/** The saved profile, or undefined when nobody signed in. A damaged file is a clear error. */
export function readProfile(dir = configDir()): Profile | undefined {
  const file = profilePath(dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigurationError(`cannot read the profile ${file}: ${(e as Error).message}`);
  }
  let p: Partial<Profile>;
  try {
    p = JSON.parse(text) as Partial<Profile>;
  } catch {
    throw new ConfigurationError(
      `the profile ${file} is not valid JSON; delete it (\`atelier logout\`) and sign in again`,
    );
  }
  if (
    !p ||
    p.version !== 1 ||
    typeof p.endpoint !== 'string' ||
    typeof p.accessToken !== 'string' ||
    typeof p.username !== 'string'
  ) {
    throw new ConfigurationError(
      `the profile ${file} is not one this SDK understands; delete it (\`atelier logout\`) and sign in again`,
    );
  }
  return p as Profile;
}

/** Writes the profile atomically with mode 0600 (the folder 0700): it holds tokens. */
export function writeProfile(profile: Profile, dir = configDir()): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = profilePath(dir);
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(profile, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new ConfigurationError(`cannot write the profile ${file}: ${(e as Error).message}`);
  }
  fs.chmodSync(file, 0o600);
}

/** Removes the saved profile (and so its tokens). Returns whether there was one. */
export function deleteProfile(dir = configDir()): boolean {
  const file = profilePath(dir);
  if (!fs.existsSync(file)) return false;
  fs.rmSync(file, { force: true });
  return true;
}

function profileFromGrant(
  endpoint: string,
  tenant: string,
  username: string,
  grant: TokenGrant,
  previous?: Profile,
): Profile {
  const claims = jwtClaims(grant.accessToken);
  const p: Profile = {
    version: 1,
    endpoint,
    tenant,
    username,
    accessToken: grant.accessToken,
    expiresOn: grant.expiresOnTimestamp,
    savedAt: new Date().toISOString(),
  };
  const tid = typeof claims.tid === 'string' ? claims.tid : previous?.tenantId;
  if (tid) p.tenantId = tid;
  if (previous?.subscriptionId) p.subscriptionId = previous.subscriptionId;
  const refresh = grant.refreshToken ?? previous?.refreshToken;
  if (refresh) p.refreshToken = refresh;
  return p;
}

export interface PasswordLoginOptions {
  endpoint: string;
  username: string;
  password: string;
  /** Tenant GUID, or `common` (default). */
  tenant?: string;
  /** Where to keep the profile (default `configDir()`). */
  configDir?: string;
}

/**
 * Saves what a sign-in gave as the profile (used by the password login here, and by the other
 * interactive grants, e.g. device code). Keeps the default subscription of an earlier profile of
 * the same server and user.
 */
export function saveLogin(
  endpoint: string,
  tenant: string,
  username: string,
  grant: TokenGrant,
  dir = configDir(),
): Profile {
  const ep = normaliseEndpoint(endpoint);
  let previous: Profile | undefined;
  try {
    previous = readProfile(dir);
  } catch {
    previous = undefined;
  }
  const same = previous && sameEndpoint(previous.endpoint, ep) && previous.username === username ? previous : undefined;
  const profile = profileFromGrant(
    ep,
    tenant,
    username,
    { ...grant, refreshToken: grant.refreshToken },
    same ? { ...same, refreshToken: undefined } : undefined,
  );
  writeProfile(profile, dir);
  return profile;
}

/** Signs in with a user name and password and saves the profile. Nothing is saved when it fails. */
export async function loginWithPassword(opts: PasswordLoginOptions): Promise<Profile> {
  const endpoint = normaliseEndpoint(opts.endpoint);
  if (!opts.username) throw new TypeError('a user name is needed to sign in');
  if (!opts.password) throw new TypeError('a password is needed to sign in');
  const tenant = opts.tenant ?? 'common';
  const grant = await passwordGrant(endpoint, tenant, opts.username, opts.password);
  return saveLogin(endpoint, tenant, opts.username, grant, opts.configDir ?? configDir());
}

const SKEW_MS = 60_000;

/** Refreshes under way in this process, by profile folder. */
const refreshing = new Map<string, Promise<AccessToken>>();

const LOCK_STALE_MS = 30_000;

/**
 * An exclusive lock on the profile between processes: a lock file made with O_EXCL. A lock older
 * than 30 s is taken as left by a crashed process and removed. Returns the release function.
 */
async function lockProfile(dir: string, waitMs = 15_000): Promise<() => void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = path.join(dir, 'profile.lock');
  const started = Date.now();
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => fs.rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new ConfigurationError(`cannot lock the profile (${lock}): ${(e as Error).message}`);
    }
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { force: true });
    } catch {
      /* released meanwhile */
    }
    if (Date.now() - started > waitMs)
      throw new ConfigurationError(
        `the profile is locked by another process (${lock}); if none is running, delete that file`,
      );
    await new Promise((r) => setTimeout(r, 25 + Math.random() * 25));
  }
}

/**
 * The token of `atelier login`, refreshed with the stored refresh token when it is about to
 * expire (the new tokens are saved back). Without a refresh token an expired sign-in is an
 * AuthenticationError that says to sign in again.
 */
export class ProfileAuthentication implements Authentication {
  constructor(private readonly dir = configDir()) {}

  get description(): string {
    const p = this.peek();
    return p
      ? `the profile of ${p.username} at ${p.endpoint} (${profilePath(this.dir)})`
      : `the profile in ${profilePath(this.dir)}`;
  }

  private peek(): Profile | undefined {
    try {
      return readProfile(this.dir);
    } catch {
      return undefined;
    }
  }

  async getToken(opts: GetTokenOptions): Promise<AccessToken> {
    const p = readProfile(this.dir);
    if (!p)
      throw new AuthenticationError('not signed in: run `atelier login`, set ATELIER_TOKEN, or pass an auth object', {
        code: 'NotSignedIn',
      });
    if (!sameEndpoint(p.endpoint, opts.endpoint)) {
      throw new AuthenticationError(
        `signed in to ${p.endpoint}, not to ${opts.endpoint}: run \`atelier login --endpoint ${opts.endpoint}\``,
        { code: 'NotSignedIn' },
      );
    }
    const fresh = p.expiresOn - Date.now() > SKEW_MS;
    if (fresh && !opts.forceRefresh) return { token: p.accessToken, expiresOnTimestamp: p.expiresOn };
    // A refresh token is single-use (a second use revokes the sign-in), so concurrent refreshes
    // (in this process, or other processes sharing the profile) are made into one.
    const key = path.resolve(this.dir);
    let running = refreshing.get(key);
    if (!running) {
      running = this.refreshOnce(p, Boolean(opts.forceRefresh)).finally(() => refreshing.delete(key));
      refreshing.set(key, running);
    }
    return running;
  }

  private async refreshOnce(seen: Profile, forced: boolean): Promise<AccessToken> {
    const release = await lockProfile(this.dir);
    try {
      // Another process may have refreshed while we waited for the lock.
      const p = readProfile(this.dir) ?? seen;
      const renewedMeanwhile = p.accessToken !== seen.accessToken && p.expiresOn - Date.now() > SKEW_MS;
      if (renewedMeanwhile) return { token: p.accessToken, expiresOnTimestamp: p.expiresOn };
      if (!p.refreshToken) {
        const why = forced
          ? 'the server refused the saved token'
          : `the sign-in of ${p.username} expired at ${new Date(p.expiresOn).toISOString()}`;
        throw new AuthenticationError(`${why} and the server gave no refresh token: run \`atelier login\` again`, {
          code: 'TokenExpired',
        });
      }
      let grant: TokenGrant;
      try {
        grant = await refreshGrant(p.endpoint, p.tenant, p.refreshToken);
      } catch (e) {
        if (e instanceof AuthenticationError || (e as { status?: number }).status === 400) {
          throw new AuthenticationError(
            `the sign-in of ${p.username} could not be renewed (${(e as Error).message}): run \`atelier login\` again`,
            { code: 'TokenExpired', cause: e },
          );
        }
        throw e;
      }
      const next = profileFromGrant(p.endpoint, p.tenant, p.username, grant, p);
      writeProfile(next, this.dir);
      return { token: next.accessToken, expiresOnTimestamp: next.expiresOn };
    } finally {
      release();
    }
  }
}

/** `atelier login --device-code`: signs in through the browser and saves the profile. */
export async function loginWithDeviceCode(opts: DeviceCodeOptions & { configDir?: string }): Promise<Profile> {
  const grant = await deviceCodeGrant(opts);
  const claims = jwtClaims(grant.accessToken) as { upn?: string; preferred_username?: string };
  const username = claims.upn ?? claims.preferred_username;
  if (!username) throw new ServiceError('the token of the device sign-in names no user');
  return saveLogin(
    normaliseEndpoint(opts.endpoint),
    opts.tenant ?? 'common',
    username,
    grant,
    opts.configDir ?? configDir(),
  );
}
