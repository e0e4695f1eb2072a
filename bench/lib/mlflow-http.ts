import { Readable } from 'node:stream';
import { Pool } from 'undici';

/**
 * A minimal MLflow REST client for load generation: one keep-alive connection pool per server,
 * JSON in and out, artifacts streamed. Any non-2xx answer throws with the server's message.
 */
export class MlflowHttp {
  private readonly pool: Pool;
  private readonly prefix: string;
  private readonly headers: Record<string, string>;

  constructor(
    readonly trackingUri: string,
    auth: { token?: string },
    connections: number,
  ) {
    const u = new URL(trackingUri);
    this.pool = new Pool(u.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      bodyTimeout: 600_000,
      headersTimeout: 600_000,
    });
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.headers = auth.token ? { authorization: `Bearer ${auth.token}` } : {};
  }

  async post<T = any>(api: string, body: unknown): Promise<T> {
    return this.json<T>('POST', `${this.prefix}/api/2.0/mlflow/${api}`, JSON.stringify(body));
  }

  async get<T = any>(api: string, query: Record<string, string | number | string[]>): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
    return this.json<T>('GET', `${this.prefix}/api/2.0/mlflow/${api}?${q}`);
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body?: string): Promise<T> {
    const res = await this.pool.request({
      method,
      path,
      headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
      body,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300)
      throw new Error(`${method} ${shorten(path)} → HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Uploads `length` bytes from `source` to the mlflow-artifacts proxy path (streamed). */
  async upload(artifactPath: string, source: Readable, length: number): Promise<void> {
    const path = `${this.prefix}/api/2.0/mlflow-artifacts/artifacts/${encodePath(artifactPath)}`;
    const res = await this.pool.request({
      method: 'PUT',
      path,
      headers: { ...this.headers, 'content-type': 'application/octet-stream', 'content-length': String(length) },
      body: source,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300)
      throw new Error(`PUT ${shorten(path)} → HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  }

  /** Downloads an artifact through the proxy, passing each chunk to `onChunk`; returns the byte count. */
  async download(artifactPath: string, onChunk?: (b: Buffer) => void): Promise<number> {
    const path = `${this.prefix}/api/2.0/mlflow-artifacts/artifacts/${encodePath(artifactPath)}`;
    const res = await this.pool.request({ method: 'GET', path, headers: this.headers });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`GET ${shorten(path)} → HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    let n = 0;
    for await (const chunk of res.body) {
      n += (chunk as Buffer).length;
      onChunk?.(chunk as Buffer);
    }
    return n;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

function shorten(path: string): string {
  const i = path.indexOf('/api/2.0/');
  return i > 0 ? `…${path.slice(i)}` : path;
}

/**
 * The artifact proxy path of a run's artifact root: `mlflow-artifacts:/a/b`,
 * `mlflow-artifacts://host/a/b` and `http(s)://…/api/2.0/mlflow-artifacts/artifacts/a/b` → `a/b`.
 */
export function proxyPathOf(artifactUri: string): string {
  const anchor = '/api/2.0/mlflow-artifacts/artifacts/';
  const i = artifactUri.indexOf(anchor);
  if (i >= 0) return artifactUri.slice(i + anchor.length).replace(/\/+$/, '');
  const m = /^mlflow-artifacts:(\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
  if (m) return m[2]!.replace(/\/+$/, '');
  throw new Error(
    `the run's artifact root '${artifactUri}' is not served by the mlflow-artifacts proxy; start the server with proxied artifacts`,
  );
}
