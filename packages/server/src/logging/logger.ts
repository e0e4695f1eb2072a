import pino from 'pino';

/** Paths of request bodies and headers the logger must never print. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.client_secret',
  '*.secret',
  '*.value',
];

/** What replaces the data of a high-business-impact workspace in a log line. */
export const HBI_REDACTED = '[redacted: hbiWorkspace]';

/** Fixed messages (no data in them) kept in the log lines of HBI workspaces. */
const FIXED_MESSAGES = new Set([
  'incoming request',
  'request completed',
  'request failed',
  'stream closed prematurely',
  'request aborted',
]);

const WORKSPACE_IN_PATH =
  /\/subscriptions\/([^/?#]+)\/resourceGroups\/([^/?#]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/?#]+)/i;
const VAULT_IN_PATH =
  /\/subscriptions\/([^/?#]+)\/resourceGroups\/([^/?#]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/?#]+)/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Which workspaces are high business impact (`hbiWorkspace: true`), kept in memory so that the
 * logger can decide synchronously: by ARM id, by GUID, and by the key vault they use (its secret
 * names are their data). Loaded at start, updated by this server's creates and deletes, reloaded
 * every few seconds (other servers on the same database) and soon after a miss. A workspace the
 * cache does not know is treated as HBI until it is known (fail closed).
 */
export class HbiWorkspaces {
  /** Lower-cased workspace ARM id or GUID → hbi. */
  private workspaces = new Map<string, boolean>();
  /** Lower-cased key vault ids used by an HBI workspace. */
  private vaults = new Set<string>();
  private read?: () => Promise<{ id: string; properties: Record<string, unknown> }[]>;
  private timer?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private lastLoad = 0;
  static readonly REFRESH_MS = 5000;

  /** `read`: every workspace (id and properties), e.g. from the resource engine. */
  async start(read: () => Promise<{ id: string; properties: Record<string, unknown> }[]>): Promise<void> {
    this.read = read;
    await this.load();
    this.timer = setInterval(() => void this.load().catch(() => {}), HbiWorkspaces.REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads every workspace's hbi flag (coalesced: one load at a time). */
  load(): Promise<void> {
    if (!this.read) return Promise.resolve();
    if (this.loading) return this.loading;
    const read = this.read;
    this.loading = (async () => {
      const rows = await read();
      const workspaces = new Map<string, boolean>();
      const vaults = new Set<string>();
      for (const r of rows) {
        const p = r.properties as { hbiWorkspace?: boolean; workspaceId?: string; keyVault?: string };
        const hbi = Boolean(p.hbiWorkspace);
        workspaces.set(r.id.toLowerCase(), hbi);
        if (p.workspaceId) workspaces.set(p.workspaceId.toLowerCase(), hbi);
        if (hbi && p.keyVault) vaults.add(p.keyVault.toLowerCase());
      }
      this.workspaces = workspaces;
      this.vaults = vaults;
      this.lastLoad = Date.now();
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** This server made (or is making) a workspace. */
  set(id: string, workspaceId: string | undefined, hbi: boolean, keyVault?: string): void {
    this.workspaces.set(id.toLowerCase(), hbi);
    if (workspaceId) this.workspaces.set(workspaceId.toLowerCase(), hbi);
    if (hbi && keyVault) this.vaults.add(keyVault.toLowerCase());
  }

  /** This server is deleting a workspace: unknown (so HBI) from now on. */
  forget(id: string, workspaceId?: string): void {
    this.workspaces.delete(id.toLowerCase());
    if (workspaceId) this.workspaces.delete(workspaceId.toLowerCase());
  }

  private miss(): void {
    // At most one reload a second from misses; meanwhile the unknown workspace counts as HBI.
    if (this.read && Date.now() - this.lastLoad > 1000) {
      this.lastLoad = Date.now();
      void this.load().catch(() => {});
    }
  }

  /** Whether the workspace (ARM id or GUID) is HBI; unknown ones are, until known. */
  isHbi(idOrGuid: string): boolean {
    const hit = this.workspaces.get(idOrGuid.toLowerCase());
    if (hit !== undefined) return hit;
    this.miss();
    return true;
  }

  /**
   * Whether a URL or path is about the data of an HBI workspace: below its ARM id (control plane,
   * assets, MLflow) or below the key vault it uses.
   */
  urlIsHbi(url: string): boolean {
    // The matched prefix is the id itself (lower-cased; decoded only when it has %-escapes).
    const w = WORKSPACE_IN_PATH.exec(url);
    if (w) return this.isHbi(w[0].includes('%') ? decode(w[0]) : w[0]);
    const v = VAULT_IN_PATH.exec(url);
    if (v) return this.vaults.has((v[0].includes('%') ? decode(v[0]) : v[0]).toLowerCase());
    return false;
  }

  /** Whether a log line's fields name an HBI workspace: a workspace GUID, or any ARM id / path below an HBI one. */
  fieldsAreHbi(o: Record<string, unknown>): boolean {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'string') continue;
      // Any field holding an ARM id or a path below one (workspace, resourceId, url, deployment, …).
      if (v.includes('/subscriptions/') && this.urlIsHbi(v)) return true;
      if ((k === 'workspace' || k === 'workspaceId') && GUID.test(v) && this.isHbi(v)) return true;
    }
    const req = o.req as { url?: unknown } | undefined;
    return Boolean(req && typeof req.url === 'string' && this.urlIsHbi(req.url));
  }
}

/** The path of a URL up to and including the workspace (or key vault) id: what an HBI line keeps. */
export function redactUrl(url: string): string {
  const m = WORKSPACE_IN_PATH.exec(url) ?? VAULT_IN_PATH.exec(url);
  if (!m) return HBI_REDACTED;
  return `${url.slice(0, m.index + m[0].length)}/${HBI_REDACTED}`;
}

/** What replaces a SAS signature (`sig=`) in a logged URL: the Blob REST subset's URLs carry one. */
export const SAS_REDACTED = '[redacted]';
const SAS_SIGNATURE = /([?&]sig=)[^&#]*/gi;

/** A URL with its SAS signature (a bearer credential for the blob or container) replaced. */
export function redactSas(url: string): string {
  return url.replace(SAS_SIGNATURE, `$1${SAS_REDACTED}`);
}

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  host?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}

/** A log line's object for an HBI workspace: only fields that cannot hold its data. */
function redactFields(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { hbi: true };
  const req = o.req as RequestLike | undefined;
  if (req && typeof req === 'object')
    out.req = {
      method: req.method,
      url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
      remoteAddress: req.ip,
    };
  if (o.res !== undefined) out.res = o.res;
  if (typeof o.responseTime === 'number') out.responseTime = o.responseTime;
  const err = o.err as { name?: string; code?: unknown; statusCode?: unknown; status?: unknown } | undefined;
  if (err && typeof err === 'object') {
    // Type and codes only: messages and stacks name runs, paths, secrets.
    out.err = {
      type: err.name ?? 'Error',
      code: typeof err.code === 'string' ? err.code : undefined,
      statusCode:
        typeof err.statusCode === 'number' ? err.statusCode : typeof err.status === 'number' ? err.status : undefined,
      message: HBI_REDACTED,
    };
  }
  for (const k of ['workspace', 'workspaceId', 'workspaceArmId']) {
    const v = o[k];
    if (typeof v === 'string') out[k] = v.startsWith('/') ? redactUrl(v).replace(`/${HBI_REDACTED}`, '') : v;
  }
  return out;
}

/**
 * The server's logger. One rule for every line, request lines and others alike: a line about a
 * high-business-impact workspace (a request below its id or its key vault's, or fields naming it)
 * keeps only fields that cannot carry its data (method, the path up to the workspace id, status,
 * timing, error type and code) and no free-text message except Fastify's fixed ones.
 */
export function createLogger(level: string, hbi: HbiWorkspaces, destination?: pino.DestinationStream): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    redact: REDACT,
    serializers: {
      req(req: RequestLike) {
        const url = typeof req.url === 'string' ? req.url : undefined;
        const isHbi = url !== undefined && hbi.urlIsHbi(url);
        return {
          method: req.method,
          url: isHbi && url ? redactUrl(url) : url && redactSas(url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
          ...(isHbi ? { hbi: true } : {}),
        };
      },
      res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
      // A redacted error (a plain object) is printed as it is.
      err: (e: unknown) => (e instanceof Error ? pino.stdSerializers.err(e) : e),
    },
    hooks: {
      logMethod(args, method) {
        const first = args[0] as unknown;
        const marked = (this as unknown as Record<symbol, string>)[pino.symbols.chindingsSym]?.includes('"hbi":true');
        const obj: Record<string, unknown> | undefined =
          first instanceof Error
            ? { err: first }
            : first && typeof first === 'object'
              ? (first as Record<string, unknown>)
              : undefined;
        if (!marked && !(obj && hbi.fieldsAreHbi(obj))) return method.apply(this, args as Parameters<typeof method>);
        const msgIndex = obj ? 1 : 0;
        const msg = args[msgIndex];
        const keptMsg = typeof msg === 'string' && FIXED_MESSAGES.has(msg) ? msg : HBI_REDACTED;
        return method.apply(this, [redactFields(obj ?? {}), keptMsg] as unknown as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Fastify's per-request logger factory: a request below an HBI workspace gets a child logger
 * marked `hbi: true`, so every line logged for it (by Fastify or by handlers, errors included) is
 * redacted by the hook above. The child is made when the request first logs (`RequestLogger`).
 */
export function hbiChildLoggerFactory(hbi: HbiWorkspaces) {
  return function childLoggerFactory(
    this: unknown,
    logger: pino.Logger,
    bindings: pino.Bindings,
    opts: pino.ChildLoggerOptions,
    rawReq: { url?: string },
  ): pino.Logger {
    return new RequestLogger(() => {
      const isHbi = typeof rawReq?.url === 'string' && hbi.urlIsHbi(rawReq.url);
      return logger.child(isHbi ? { ...bindings, hbi: true } : bindings, opts);
    }) as unknown as pino.Logger;
  };
}

/**
 * A request's logger, whose pino child (its bindings serialized, the HBI check made) is made on
 * the first line the request logs. At the default level most requests log nothing, and making a
 * child for each was ~3 % of a small request's server CPU (`npm run bench -- --only create-run
 * --profile`). It has the methods Fastify requires of a logger and the ones handlers call.
 */
class RequestLogger {
  #child: pino.Logger | undefined;
  constructor(private readonly make: () => pino.Logger) {}
  private get logger(): pino.Logger {
    return (this.#child ??= this.make());
  }
  get level(): string {
    return this.logger.level;
  }
  fatal(...args: Parameters<pino.LogFn>): void {
    this.logger.fatal(...args);
  }
  error(...args: Parameters<pino.LogFn>): void {
    this.logger.error(...args);
  }
  warn(...args: Parameters<pino.LogFn>): void {
    this.logger.warn(...args);
  }
  info(...args: Parameters<pino.LogFn>): void {
    this.logger.info(...args);
  }
  debug(...args: Parameters<pino.LogFn>): void {
    this.logger.debug(...args);
  }
  trace(...args: Parameters<pino.LogFn>): void {
    this.logger.trace(...args);
  }
  silent(): void {}
  isLevelEnabled(level: string): boolean {
    return this.logger.isLevelEnabled(level);
  }
  child(bindings: pino.Bindings, opts?: pino.ChildLoggerOptions): pino.Logger {
    return this.logger.child(bindings, opts);
  }
}
