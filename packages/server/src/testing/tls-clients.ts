import fs from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import { fileURLToPath } from 'node:url';

/** Helpers of the tests that drive official clients against a server over HTTPS. */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * The Python with the client packages: ATELIER_TEST_PYTHON (CI), else the repository's .ci/.venv;
 * undefined when neither exists (ATELIER_TEST_STRICT=1: an error instead).
 */
export function clientPython(): string | undefined {
  const candidates = [process.env.ATELIER_TEST_PYTHON, path.join(ROOT, '.ci', '.venv', 'bin', 'python')].filter(
    Boolean,
  ) as string[];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found && process.env.ATELIER_TEST_STRICT === '1')
    throw new Error('ATELIER_TEST_PYTHON is not set: the Python client tests cannot run (see .ci/run)');
  return found;
}

/** A JSON request with a bearer token, trusting `ca`; a body that is not JSON comes back as text. */
export function httpsJson(
  method: string,
  url: string,
  ca: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** An access token from the server's token endpoint by client credentials. */
export function clientCredentialsToken(
  serverUrl: string,
  tenantId: string,
  ca: string,
  clientId: string,
  clientSecret: string,
): Promise<string> {
  return token(`${serverUrl}/${tenantId}/oauth2/v2.0/token`, ca, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope: `${serverUrl}/.default`,
  });
}

/** An ARM access token for a user, by the password grant. */
export function passwordToken(serverUrl: string, ca: string, username: string, password: string): Promise<string> {
  return token(`${serverUrl}/common/oauth2/v2.0/token`, ca, {
    grant_type: 'password',
    username,
    password,
    scope: 'https://management.azure.com/.default',
  });
}

function token(url: string, ca: string, form: Record<string, string>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const token = (JSON.parse(text) as { access_token?: string }).access_token;
          if (token) resolve(token);
          else reject(new Error(`no token (HTTP ${res.statusCode}): ${text.slice(0, 300)}`));
        });
      },
    );
    req.on('error', reject);
    req.end(new URLSearchParams(form).toString());
  });
}
