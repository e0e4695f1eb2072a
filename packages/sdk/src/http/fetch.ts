import { ConnectionError } from '../errors.js';

/** Node's codes for a TLS certificate it does not trust (self-signed, unknown CA, wrong name, expired). */
const UNTRUSTED_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

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
    if (cause?.code && UNTRUSTED_CERT.has(cause.code)) {
      throw new ConnectionError(
        `the server at ${origin} answered, but this machine does not trust its TLS certificate (${cause.code}); trust the CA that signed it: NODE_EXTRA_CA_CERTS=<ca.pem> for Node (the server made with --tls prints the file), REQUESTS_CA_BUNDLE for Python`,
        { cause: e, code: 'UntrustedCertificate' },
      );
    }
    throw new ConnectionError(
      `cannot reach the Atelier server at ${origin} (${why}); is it running (\`atelier server start\`) and is the endpoint right?`,
      { cause: e },
    );
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
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new TypeError(`${from} '${endpoint}' must start with http:// or https://`);
  if (u.search || u.hash) throw new TypeError(`${from} '${endpoint}' must not carry a query or fragment`);
  if (u.username || u.password)
    throw new TypeError(`${from} must not carry credentials; sign in with \`atelier login\` instead`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}
