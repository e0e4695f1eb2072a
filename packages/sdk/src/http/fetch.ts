import { ConnectionError } from '../errors.js';

/** `fetch` that turns "could not connect" into a ConnectionError saying where and what to check. */
export async function fetchOrThrow(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    let origin = url;
    try {
      origin = new URL(url).origin;
    } catch {
      /* keep the url as it is */
    }
    throw new ConnectionError(`cannot reach the Atelier server at ${origin} (${why}); is it running (\`atelier server start\`) and is the endpoint right?`, { cause: e });
  }
}

/** Reads a body as JSON when it is JSON; `undefined` otherwise (the text is returned too). */
export async function readBody(res: Response): Promise<{ body: unknown; text: string }> {
  const text = await res.text();
  if (!text) return { body: undefined, text };
  try {
    return { body: JSON.parse(text) as unknown, text };
  } catch {
    return { body: undefined, text };
  }
}

/** `http(s)://host[:port][/path]` without a trailing slash; throws a clear error for anything else. */
export function normaliseEndpoint(endpoint: string, from = 'endpoint'): string {
  let u: URL;
  try {
    u = new URL(endpoint.trim());
  } catch {
    throw new TypeError(`${from} '${endpoint}' is not a URL; use e.g. http://127.0.0.1:8700`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`${from} '${endpoint}' must start with http:// or https://`);
  if (u.search || u.hash) throw new TypeError(`${from} '${endpoint}' must not carry a query or fragment`);
  if (u.username || u.password) throw new TypeError(`${from} must not carry credentials; sign in with \`atelier login\` instead`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}
