import path from 'node:path';
import { InvalidInput } from './errors.js';
import type { BlobStoreConfig } from './blob/factory.js';

/** Everything the server reads from its environment, validated once at start. */
export interface ServerConfig {
  /** Data root: SQLite file, blob folders, master key. */
  home: string;
  host: string;
  port: number;
  /** What clients are told the server is (tracking URI, discovery, nextLink). No trailing slash. */
  publicUrl: string;
  /** postgres://… to use PostgreSQL; unset = SQLite file in `home`. */
  databaseUrl?: string;
  adminPassword?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest JSON request body, bytes. */
  bodyLimit: number;
  /** Lifetime of access tokens, seconds. */
  tokenTtlSeconds: number;
  /** Largest file one datastore upload (PUT W/datastores/{name}/files/{path}) may carry, bytes. */
  datastoreUploadLimit: number;
  /** Where storage accounts keep their bytes: folders in `home` or one S3-compatible bucket. */
  blobStore: BlobStoreConfig;
  /** Python that serves MLflow models deployed without an environmentId (it needs mlflow and the models' requirements). */
  servingPython?: string;
  /**
   * Storage endpoint suffix (a host name, e.g. `atelier.example.com`): when set, blob URIs the server
   * hands out are host-style `https://{account}.blob.{suffix}[:port]/{container}/{blob}` and requests to
   * such a host are the Blob REST subset of that account (azureml-core builds its upload clients from
   * the URI's host name, so it needs this form and a wildcard DNS record `*.blob.{suffix}` → the server).
   */
  storageSuffix?: string;
  /** Port of Ray Serve's HTTP ingress when the server starts Serve on an attached Ray cluster (a running Serve keeps its own). */
  rayServePort: number;
  /**
   * How often (ms) a server that serves online deployments re-reads their records, to follow what
   * another replica on the same database changed (a scale change, an update, a delete).
   */
  deploymentFollowMs: number;
}

export const CONFIG_DOC: Record<string, string> = {
  ATELIER_HOME: 'data root (SQLite file, blobs, master key); default ./.atelier',
  ATELIER_HOST: 'address to listen on; default 127.0.0.1',
  ATELIER_PORT: 'port to listen on (0 = any free port); default 8700',
  ATELIER_PUBLIC_URL: 'URL clients are told; default http(s)://HOST:PORT',
  ATELIER_DATABASE_URL: 'postgres://user:pass@host:port/db to use PostgreSQL; default SQLite in ATELIER_HOME',
  ATELIER_ADMIN_PASSWORD:
    'password of the admin user made on first start; default generated and printed once (later starts ignore it and say so; reset: atelier server reset-admin-password)',
  ATELIER_TLS_CERT: 'PEM certificate file: serve HTTPS',
  ATELIER_TLS_KEY: 'PEM private key file for ATELIER_TLS_CERT',
  ATELIER_LOG_LEVEL: 'fatal|error|warn|info|debug|trace|silent; default info',
  ATELIER_BODY_LIMIT: 'largest JSON request body in bytes; default 4194304',
  ATELIER_TOKEN_TTL: 'access token lifetime in seconds (60..86400); default 3600',
  ATELIER_MASTER_KEY: '32-byte base64 master key; default the file master.key in ATELIER_HOME',
  ATELIER_DATASTORE_ROOTS: 'absolute folders (separated by :) that server-folder datastores may use; default none',
  ATELIER_S3_ENDPOINTS: 'http(s) origins (comma-separated) that S3 datastores may use; default none',
  ATELIER_RAY_ADDRESSES:
    'http(s) origins (comma-separated) of Ray dashboards that Ray computes may attach, e.g. http://127.0.0.1:8265; default none',
  ATELIER_RAY_SERVE_PORT:
    "port of Ray Serve's HTTP ingress when the server starts Serve on an attached Ray cluster (online endpoints with a Ray compute); a Serve already running keeps its own; default 8000",
  ATELIER_DEPLOYMENT_FOLLOW_MS:
    "how often, in ms, a server re-reads the online deployments' records to follow what another replica on the same database changed (scale, update, delete) (100..3600000); default 3000",
  ATELIER_DATASTORE_UPLOAD_LIMIT:
    'largest file in bytes one datastore upload may carry (larger ones are refused with 413); default 10737418240 (10 GiB)',
  ATELIER_BLOB_STORE:
    "where storage accounts (artifacts, datastore files) keep their bytes: 'local' (folders in ATELIER_HOME, default) or s3://bucket/prefix",
  ATELIER_BLOB_S3_ENDPOINT: 'http(s) URL of an S3-compatible server for ATELIER_BLOB_STORE; default AWS S3',
  ATELIER_BLOB_S3_REGION: 'region of the bucket; default AWS_REGION, else us-east-1',
  ATELIER_BLOB_S3_ACCESS_KEY_ID:
    'access key of the bucket, with ATELIER_BLOB_S3_SECRET_ACCESS_KEY; default the AWS SDK chain (AWS_ACCESS_KEY_ID…, profiles, roles)',
  ATELIER_BLOB_S3_SECRET_ACCESS_KEY: 'secret of ATELIER_BLOB_S3_ACCESS_KEY_ID',
  ATELIER_SERVING_PYTHON:
    "absolute path of a Python (with mlflow) that serves MLflow models deployed without an environmentId; default: build one from the model's requirements",
  ATELIER_JOBS_PYTHON: 'the Python of jobs without an environment; default python3 on the PATH',
  ATELIER_BLOB_S3_PATH_STYLE:
    'true|false: bucket in the URL path; default true with ATELIER_BLOB_S3_ENDPOINT, else false',
  ATELIER_STORAGE_SUFFIX:
    'host name whose subdomains {account}.blob.{suffix} reach this server (wildcard DNS; with --tls the certificate covers them): blob URIs are handed out in that host-style form, which azureml-core needs to upload run files; default none (path-style /blob/{account}/…)',
  ATELIER_UV:
    'path of the uv binary that builds Python environments (ATELIER_HOME/environments); default uv on PATH or beside python3, else python3 -m venv + pip',
};

/** ATELIER_STORAGE_SUFFIX, checked: a DNS name of at least two labels, lower-cased. */
export function storageSuffix(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase().replace(/\.+$/, '');
  if (!/^(?=.{3,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(s))
    throw new InvalidInput(
      `ATELIER_STORAGE_SUFFIX must be a DNS name such as atelier.example.com (no scheme, port or path), got '${v}'`,
    );
  return s;
}

const BUCKET = /^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** ATELIER_BLOB_STORE and its ATELIER_BLOB_S3_* settings, checked (the bucket itself is checked at start). */
export function blobStoreConfig(env: NodeJS.ProcessEnv): BlobStoreConfig {
  const raw = (env.ATELIER_BLOB_STORE ?? '').trim();
  const s3Vars = Object.keys(env).filter((k) => k.startsWith('ATELIER_BLOB_S3_') && env[k]);
  if (raw === '' || raw === 'local') {
    if (s3Vars.length)
      throw new InvalidInput(
        `${s3Vars.join(', ')} set, but ATELIER_BLOB_STORE is not an s3:// URL; set ATELIER_BLOB_STORE=s3://bucket/prefix or remove them`,
      );
    return { kind: 'local' };
  }
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(raw);
  if (!m) throw new InvalidInput(`ATELIER_BLOB_STORE must be 'local' or s3://bucket/prefix, got '${raw}'`);
  const bucket = m[1]!;
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw new InvalidInput(
      `ATELIER_BLOB_STORE: '${bucket}' is not a valid bucket name (3–63 lower-case letters, digits, dots and hyphens)`,
    );
  const rawPrefix = m[2] ?? '';
  if (/(^|\/)\.\.?(\/|$)|\\|\0/.test(rawPrefix))
    throw new InvalidInput(
      `ATELIER_BLOB_STORE: the prefix '${rawPrefix}' must not contain '.', '..', backslashes or NUL`,
    );
  const prefix = rawPrefix.split('/').filter(Boolean).join('/');
  let endpoint = env.ATELIER_BLOB_S3_ENDPOINT || undefined;
  if (endpoint) {
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw new InvalidInput(`ATELIER_BLOB_S3_ENDPOINT must be an http(s) URL, got '${endpoint}'`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new InvalidInput('ATELIER_BLOB_S3_ENDPOINT must use http or https');
    if (u.username || u.password)
      throw new InvalidInput(
        'ATELIER_BLOB_S3_ENDPOINT must not carry credentials; use ATELIER_BLOB_S3_ACCESS_KEY_ID and ATELIER_BLOB_S3_SECRET_ACCESS_KEY',
      );
    endpoint = endpoint.replace(/\/+$/, '');
  }
  const region = env.ATELIER_BLOB_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  if (!/^[a-z0-9-]{1,50}$/.test(region))
    throw new InvalidInput(`ATELIER_BLOB_S3_REGION must be a region name like 'us-east-1', got '${region}'`);
  const accessKeyId = env.ATELIER_BLOB_S3_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.ATELIER_BLOB_S3_SECRET_ACCESS_KEY || undefined;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw new InvalidInput(
      'ATELIER_BLOB_S3_ACCESS_KEY_ID and ATELIER_BLOB_S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS SDK chain)',
    );
  const pathStyle = env.ATELIER_BLOB_S3_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && pathStyle !== 'true' && pathStyle !== 'false')
    throw new InvalidInput(`ATELIER_BLOB_S3_PATH_STYLE must be true or false, got '${pathStyle}'`);
  return {
    kind: 's3',
    bucket,
    prefix,
    endpoint,
    region,
    forcePathStyle: pathStyle ? pathStyle === 'true' : Boolean(endpoint),
    credentials: accessKeyId ? { accessKeyId, secretAccessKey: secretAccessKey! } : undefined,
  };
}

function servingPython(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (!path.isAbsolute(raw))
    throw new InvalidInput(`ATELIER_SERVING_PYTHON must be an absolute path of a Python interpreter, got '${raw}'`);
  return raw;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function intIn(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim()))
    throw new InvalidInput(`${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new InvalidInput(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const home = path.resolve(overrides.home ?? env.ATELIER_HOME ?? '.atelier');
  const host = overrides.host ?? env.ATELIER_HOST ?? '127.0.0.1';
  const port =
    overrides.port ?? (env.ATELIER_PORT !== undefined ? intIn('ATELIER_PORT', env.ATELIER_PORT, 0, 65535) : 8700);
  const tlsCert = overrides.tlsCert ?? (env.ATELIER_TLS_CERT || undefined);
  const tlsKey = overrides.tlsKey ?? (env.ATELIER_TLS_KEY || undefined);
  if (Boolean(tlsCert) !== Boolean(tlsKey))
    throw new InvalidInput('ATELIER_TLS_CERT and ATELIER_TLS_KEY must be set together');
  const logLevel = (overrides.logLevel ?? env.ATELIER_LOG_LEVEL ?? 'info') as ServerConfig['logLevel'];
  if (!LEVELS.includes(logLevel))
    throw new InvalidInput(`ATELIER_LOG_LEVEL must be one of ${LEVELS.join(', ')}, got '${logLevel}'`);
  const databaseUrl = overrides.databaseUrl ?? (env.ATELIER_DATABASE_URL || undefined);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new InvalidInput(
      'ATELIER_DATABASE_URL must start with postgres:// or postgresql:// (leave it unset for SQLite)',
    );
  }
  let publicUrl = overrides.publicUrl ?? env.ATELIER_PUBLIC_URL;
  if (publicUrl) {
    let u: URL;
    try {
      u = new URL(publicUrl);
    } catch {
      throw new InvalidInput(`ATELIER_PUBLIC_URL must be an absolute http(s) URL, got '${publicUrl}'`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new InvalidInput('ATELIER_PUBLIC_URL must use http or https');
    publicUrl = publicUrl.replace(/\/+$/, '');
  } else {
    const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    publicUrl = `${tlsCert ? 'https' : 'http'}://${h}:${port}`;
  }
  return {
    home,
    host,
    port,
    publicUrl,
    databaseUrl,
    adminPassword: overrides.adminPassword ?? (env.ATELIER_ADMIN_PASSWORD || undefined),
    tlsCert,
    tlsKey,
    logLevel,
    bodyLimit:
      overrides.bodyLimit ??
      (env.ATELIER_BODY_LIMIT ? intIn('ATELIER_BODY_LIMIT', env.ATELIER_BODY_LIMIT, 1024, 1 << 30) : 4 * 1024 * 1024),
    tokenTtlSeconds:
      overrides.tokenTtlSeconds ??
      (env.ATELIER_TOKEN_TTL ? intIn('ATELIER_TOKEN_TTL', env.ATELIER_TOKEN_TTL, 60, 86400) : 3600),
    datastoreUploadLimit:
      overrides.datastoreUploadLimit ??
      (env.ATELIER_DATASTORE_UPLOAD_LIMIT
        ? intIn('ATELIER_DATASTORE_UPLOAD_LIMIT', env.ATELIER_DATASTORE_UPLOAD_LIMIT, 1, 2 ** 50)
        : 10 * 1024 ** 3),
    blobStore: overrides.blobStore ?? blobStoreConfig(env),
    servingPython: overrides.servingPython ?? servingPython(env.ATELIER_SERVING_PYTHON),
    storageSuffix: storageSuffix(overrides.storageSuffix ?? (env.ATELIER_STORAGE_SUFFIX || undefined)),
    rayServePort:
      overrides.rayServePort ??
      (env.ATELIER_RAY_SERVE_PORT ? intIn('ATELIER_RAY_SERVE_PORT', env.ATELIER_RAY_SERVE_PORT, 1, 65535) : 8000),
    deploymentFollowMs:
      overrides.deploymentFollowMs ??
      (env.ATELIER_DEPLOYMENT_FOLLOW_MS
        ? intIn('ATELIER_DEPLOYMENT_FOLLOW_MS', env.ATELIER_DEPLOYMENT_FOLLOW_MS, 100, 3_600_000)
        : 3_000),
  };
}

/**
 * An administrator's allow-list of http(s) origins, from a comma-separated environment variable
 * (`variable`, whose value is `raw`): each entry's origin; none when unset. An entry that is not
 * an http(s) URL is a 400 saying `${variable} must list ${shape}`.
 */
export function originList(raw: string | undefined, variable: string, shape: string): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      try {
        const u = new URL(x);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
        return u.origin;
      } catch {
        throw new InvalidInput(`${variable} must list ${shape}; '${x}' is not one`);
      }
    });
}
