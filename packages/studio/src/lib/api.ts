import { accessToken, refresh } from './auth';

/** Plain fetch against the server's own REST routes (ARM, MLflow, identity), with the signed-in token. */
export const API_VERSION = '2025-09-01';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

async function send(
  method: string,
  url: string,
  body?: unknown,
  retried = false,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  const t = accessToken();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: init.signal,
  });
  if (res.status === 401 && !retried && t && (await refresh())) return send(method, url, body, true, init);
  return res;
}

/** A signed-in GET whose answer is read by the caller (streams, HEAD-like size checks); throws on errors. */
export async function open(
  url: string,
  init: { signal?: AbortSignal; headers?: Record<string, string>; method?: string } = {},
): Promise<Response> {
  const res = await send(init.method ?? 'GET', url, undefined, false, init);
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  let message = text || res.statusText;
  let code: string | undefined;
  try {
    const b = JSON.parse(text) as any;
    message = b?.error?.message ?? b?.message ?? b?.error_description ?? message;
    code = b?.error?.code ?? b?.error_code ?? b?.error;
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, message, code);
}

export async function request<T = any>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await send(method, url, body);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The bytes of a file route (artifacts), as a Blob. */
export async function download(url: string): Promise<Blob> {
  const res = await send('GET', url);
  if (!res.ok) throw await errorOf(res);
  return res.blob();
}

export const withVersion = (path: string) => `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;

/** ARM: every page of a list (`value` + `nextLink`). */
export async function armList<T = any>(path: string, max = 10_000): Promise<T[]> {
  const out: T[] = [];
  let url: string | undefined = withVersion(path);
  while (url && out.length < max) {
    const page: { value: T[]; nextLink?: string } = await request('GET', url);
    out.push(...page.value);
    const next = page.nextLink ? new URL(page.nextLink, location.origin) : undefined;
    url = next ? next.pathname + next.search : undefined;
  }
  return out;
}

export const arm = {
  get: <T = any>(path: string) => request<T>('GET', withVersion(path)),
  put: <T = any>(path: string, body: unknown) => request<T>('PUT', withVersion(path), body),
  post: <T = any>(path: string, body?: unknown) => request<T>('POST', withVersion(path), body),
  delete: (path: string) => request('DELETE', withVersion(path)),
};

/** Polls an ARM long-running operation (Azure-AsyncOperation) until it ends. */
export async function armWait(method: 'PUT' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const res = await send(method, withVersion(path), body);
  if (!res.ok) throw await errorOf(res);
  const op = res.headers.get('azure-asyncoperation') ?? res.headers.get('location');
  if (!op || res.status === 200) return;
  const u = new URL(op, location.origin);
  for (let i = 0; i < 600; i++) {
    const r = await send('GET', u.pathname + u.search);
    if (r.status === 202) {
      await new Promise((ok) => setTimeout(ok, 250));
      continue;
    }
    if (!r.ok) throw await errorOf(r);
    const b = (await r.json().catch(() => ({}))) as any;
    const status = String(b.status ?? 'Succeeded');
    if (status === 'Succeeded') return;
    if (status === 'Failed' || status === 'Canceled')
      throw new ApiError(500, b.error?.message ?? `operation ${status.toLowerCase()}`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
  throw new ApiError(504, 'the operation did not finish in time; look again later');
}

export interface WorkspaceRef {
  sub: string;
  group: string;
  name: string;
}

export const groupPath = (sub: string, group: string) =>
  `/subscriptions/${encodeURIComponent(sub)}/resourceGroups/${encodeURIComponent(group)}`;
export const wsPath = (w: WorkspaceRef) =>
  `${groupPath(w.sub, w.group)}/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(w.name)}`;
/** A workspace's MLflow tracking URI (path part). */
export const trackingPath = (w: WorkspaceRef) => `/mlflow/v1.0${wsPath(w)}`;

/** MLflow REST below a workspace's tracking URI. */
export function mlflow(w: WorkspaceRef) {
  const base = `${trackingPath(w)}/api/2.0/mlflow`;
  const qs = (q: Record<string, unknown>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (v === undefined || v === null || v === '') continue;
      if (Array.isArray(v)) for (const x of v) p.append(k, String(x));
      else p.set(k, String(v));
    }
    return p.toString();
  };
  return {
    get: <T = any>(route: string, q: Record<string, unknown> = {}) => request<T>('GET', `${base}/${route}?${qs(q)}`),
    post: <T = any>(route: string, body: unknown) => request<T>('POST', `${base}/${route}`, body),
    artifactUrl: (runId: string, path: string) => `${trackingPath(w)}/get-artifact?${qs({ path, run_uuid: runId })}`,
    modelVersionArtifactUrl: (name: string, version: string, path: string) =>
      `${trackingPath(w)}/model-versions/get-artifact?${qs({ name, version, path })}`,
    base,
    qs,
  };
}

export type Mlflow = ReturnType<typeof mlflow>;
