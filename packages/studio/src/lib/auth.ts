/**
 * Sign-in with our own OAuth2 service: authorization code + PKCE (RFC 7636), client `atelier-studio`,
 * redirect URI `{origin}/studio/callback`. Tokens live in sessionStorage (this tab only, gone when it
 * closes; never localStorage) and in memory; the access token is refreshed with the refresh token a
 * minute before it expires, and once more when an answer is 401. Sign-out revokes the sessions
 * server-side (`POST /identity/me/revokeSignInSessions`) and forgets the tokens.
 */
export const CLIENT_ID = 'atelier-studio';
const TENANT = 'common';
const SCOPE = 'https://management.azure.com/.default offline_access openid';
const KEY = 'atelier.studio.tokens';
const PENDING = 'atelier.studio.pkce';

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  /** epoch ms */
  expires_at: number;
}

let tokens: Tokens | null = load();
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

function load(): Tokens | null {
  try {
    const t = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Tokens | null;
    return t && typeof t.access_token === 'string' ? t : null;
  } catch {
    return null;
  }
}

function save(t: Tokens | null): void {
  tokens = t;
  if (t) sessionStorage.setItem(KEY, JSON.stringify(t));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const l of listeners) l();
}

function schedule(): void {
  clearTimeout(refreshTimer);
  if (!tokens?.refresh_token) return;
  const inMs = Math.max(5_000, tokens.expires_at - Date.now() - 60_000);
  refreshTimer = setTimeout(() => void refresh(), inMs);
}
schedule();

export function onAuthChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function accessToken(): string | null {
  return tokens?.access_token ?? null;
}

export function signedIn(): boolean {
  return tokens !== null;
}

/** The claims of the access token (display only: the server checks the signature). */
export function claims(): Record<string, unknown> {
  const t = tokens?.access_token;
  if (!t) return {};
  try {
    const b = t.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(b)))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const redirectUri = () => `${location.origin}/studio/callback`;

/** Starts the authorization-code flow: off to the server's sign-in page, back at /studio/callback. */
export async function signIn(returnTo: string = location.hash || '#/'): Promise<void> {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(`/${TENANT}/oauth2/v2.0/authorize?${q}`);
}

async function tokenRequest(form: Record<string, string>): Promise<Tokens> {
  const res = await fetch(`/${TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, any>;
  if (!res.ok || typeof body.access_token !== 'string')
    throw new Error(body.error_description || body.error || `token service answered ${res.status}`);
  return {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    expires_at: Date.now() + Number(body.expires_in ?? 3600) * 1000,
  };
}

/**
 * At /studio/callback: trades the code for tokens (checking the state), then returns to the view that
 * asked for sign-in. Returns an error message, or null when there was nothing to do.
 */
export async function completeSignIn(): Promise<string | null> {
  if (location.pathname !== '/studio/callback') return null;
  const q = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
    returnTo: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  const back = (hash: string) => history.replaceState(null, '', `/${hash}`);
  if (q.get('error')) {
    back('#/');
    return `Sign-in failed: ${q.get('error_description') || q.get('error')}`;
  }
  const code = q.get('code');
  if (!pending || !code || q.get('state') !== pending.state) {
    back('#/');
    return 'Sign-in did not complete (the answer does not match the request made from this tab). Sign in again.';
  }
  try {
    save(
      await tokenRequest({
        grant_type: 'authorization_code',
        code,
        code_verifier: pending.verifier,
        redirect_uri: redirectUri(),
        client_id: CLIENT_ID,
      }),
    );
    back(pending.returnTo.startsWith('#') ? pending.returnTo : '#/');
    return null;
  } catch (e) {
    back('#/');
    return `Sign-in failed: ${(e as Error).message}`;
  }
}

/** Renews the access token; false (and signed out) when that is no longer possible. */
export function refresh(): Promise<boolean> {
  if (refreshing) return refreshing;
  const rt = tokens?.refresh_token;
  if (!rt) {
    save(null);
    return Promise.resolve(false);
  }
  refreshing = tokenRequest({ grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID, scope: SCOPE })
    .then((t) => {
      save({ ...t, refresh_token: t.refresh_token ?? rt });
      return true;
    })
    .catch(() => {
      save(null);
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function signOut(): Promise<void> {
  const t = tokens?.access_token;
  if (t)
    await fetch('/identity/me/revokeSignInSessions', {
      method: 'POST',
      headers: { authorization: `Bearer ${t}` },
    }).catch(() => undefined);
  save(null);
  location.hash = '#/';
}
