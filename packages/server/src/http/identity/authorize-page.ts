import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { AtelierError, TooManyRequests } from '../../errors.js';
import { HTTP_STATUS } from '../error-status.js';
import type { IdentityServices } from '../../identity/services.js';
import { checkCodeChallenge } from '../../identity/authorization-codes.js';
import type { OAuthClient } from '../../identity/oauth-clients.js';
import { esc, html, page } from './html.js';

/** The cookie of the double-submit CSRF check of the sign-in form. */
const CSRF_COOKIE = 'atelier_authorize_csrf';
const OIDC_ONLY = ['openid', 'profile', 'offline_access', 'email'];

/** The authorization request's own parameters, carried through the form as hidden fields. */
const REQUEST_FIELDS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'login_hint',
] as const;
type AuthorizeRequest = Partial<Record<(typeof REQUEST_FIELDS)[number], string>>;

/** An error told to the client by redirect (RFC 6749 §4.1.2.1): the redirect URI is known good. */
class RedirectError extends Error {
  constructor(
    readonly target: RedirectTarget,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

type RedirectTarget = Pick<Checked, 'redirectUri' | 'responseMode' | 'state'>;

/** An error shown to the user, never redirected: the client or redirect URI cannot be trusted. */
class PageError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Checked {
  client: OAuthClient;
  redirectUri: string;
  responseMode: 'query' | 'fragment';
  scope: string;
  codeChallenge: string;
  state?: string;
  nonce?: string;
}

/** Reads the request's parameters (query or form): each at most once, as text, of bounded length. */
function readRequest(source: Record<string, unknown>): AuthorizeRequest {
  const out: AuthorizeRequest = {};
  for (const name of REQUEST_FIELDS) {
    const v = source[name];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw new PageError(400, `'${name}' must be given once`);
    if (v.length > 2048) throw new PageError(400, `'${name}' is too long (at most 2048 characters)`);
    out[name] = v;
  }
  return out;
}

function redirectTo(c: RedirectTarget, params: Record<string, string>): string {
  const q = new URLSearchParams(params);
  if (c.state !== undefined) q.set('state', c.state);
  if (c.responseMode === 'fragment') return `${c.redirectUri}#${q.toString()}`;
  const u = new URL(c.redirectUri);
  for (const [k, v] of q) u.searchParams.append(k, v);
  return u.toString();
}

function readCookie(req: FastifyRequest, name: string): string | undefined {
  // One cookie is read, so a small parser here rather than another plugin.
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * The authorization endpoint of the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636),
 * for registered clients only (the built-in Studio): a server-rendered sign-in form, then a 302 to
 * the client's registered redirect URI with `code` and `state`. A request naming an unknown client
 * or an unregistered redirect URI gets an error page and never a redirect; other errors go back to
 * the redirect URI as `error=` (RFC 6749 §4.1.2.1). The form is protected from cross-site posts by a
 * double-submit token (an HttpOnly SameSite=Strict cookie that a hidden field must repeat) and an
 * `Origin` check; wrong passwords count in the same sign-in throttle as the password grant.
 */
export async function authorizeRoutes(
  app: FastifyInstance,
  opts: {
    ctx: AppContext;
    identity: IdentityServices;
    checkTenant: (tenant: string) => void;
    /** The audience a scope asks for, or throws when it is not served here. */
    audienceOf: (scope: string) => string;
  },
): Promise<void> {
  const { ctx, identity: ids } = opts;
  const base = ctx.config.publicUrl.replace(/\/+$/, '');
  const origin = new URL(base).origin;
  const secure = base.startsWith('https:');

  /** Checks the request in RFC 6749's order: client and redirect URI first (page errors), then the rest (redirected). */
  function check(r: AuthorizeRequest): Checked {
    let client: OAuthClient;
    let redirectUri: string;
    try {
      client = ids.clients.get(r.client_id);
      redirectUri = ids.clients.redirectUri(client, r.redirect_uri);
    } catch (e) {
      throw new PageError(400, (e as Error).message);
    }
    const responseMode = r.response_mode ?? 'query';
    if (responseMode !== 'query' && responseMode !== 'fragment')
      throw new RedirectError(
        { redirectUri, responseMode: 'query', state: r.state },
        'invalid_request',
        'response_mode must be query or fragment',
      );
    const c = { redirectUri, responseMode, state: r.state } as Checked;
    const fail = (error: string, message: string) => new RedirectError(c, error, message);
    if (r.response_type !== 'code')
      throw fail('unsupported_response_type', "response_type must be 'code' (the authorization-code flow with PKCE)");
    try {
      c.codeChallenge = checkCodeChallenge(r.code_challenge, r.code_challenge_method);
    } catch (e) {
      throw fail('invalid_request', (e as Error).message);
    }
    const scope = r.scope ?? `${base}/.default openid profile offline_access`;
    try {
      opts.audienceOf(scope);
    } catch (e) {
      throw fail('invalid_scope', (e as Error).message);
    }
    // There is no browser session to reuse: a request that forbids the sign-in form cannot succeed.
    if (r.prompt === 'none') throw fail('login_required', 'the user must sign in (prompt=none cannot be honoured)');
    c.client = client;
    c.scope = scope;
    c.nonce = r.nonce;
    return c;
  }

  function form(r: AuthorizeRequest, c: Checked, csrf: string, message?: string, username?: string): string {
    const hidden = REQUEST_FIELDS.filter((k) => r[k] !== undefined)
      .map((k) => `<input type="hidden" name="${k}" value="${esc(r[k]!)}">`)
      .join('');
    const scopes = c.scope
      .split(/\s+/)
      .filter((s) => s && !OIDC_ONLY.includes(s))
      .join(', ');
    return page(
      'Sign in',
      `${message ? `<p class="msg err">${esc(message)}</p>` : ''}
<p><b>${esc(c.client.displayName)}</b> asks you to sign in to Atelier${scopes ? ` (access to ${esc(scopes)})` : ''}.</p>
<form method="post" autocomplete="on">${hidden}<input type="hidden" name="csrf" value="${esc(csrf)}">
<label for="username">User name</label><input id="username" name="username" required maxlength="64" autocomplete="username" value="${esc(username ?? r.login_hint ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" required maxlength="256" autocomplete="current-password">
<button type="submit" name="action" value="sign_in">Sign in</button><button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>`,
    );
  }

  const errorPage = (reply: FastifyReply, status: number, message: string) =>
    html(
      reply,
      status,
      page(
        'Sign-in failed',
        `<p class="msg err">${esc(message)}</p><p>Go back to the application and start the sign-in again.</p>`,
      ),
    );

  const redirect = (reply: FastifyReply, location: string) =>
    reply.status(302).header('location', location).header('cache-control', 'no-store').send();

  /** Answers an error the way RFC 6749 wants it: redirected when the redirect URI is trusted, else a page. */
  const answerError = (reply: FastifyReply, e: unknown) => {
    if (e instanceof RedirectError)
      return redirect(reply, redirectTo(e.target, { error: e.error, error_description: e.message }));
    if (e instanceof PageError) return errorPage(reply, e.status, e.message);
    if (e instanceof AtelierError && HTTP_STATUS[e.kind] < 500) return errorPage(reply, HTTP_STATUS[e.kind], e.message);
    throw e;
  };

  const csrfCookie = (value: string) =>
    `${CSRF_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600${secure ? '; Secure' : ''}`;

  for (const p of ['/:tenant/oauth2/v2.0/authorize', '/:tenant/oauth2/authorize']) {
    app.get<{ Params: { tenant: string }; Querystring: Record<string, unknown> }>(
      p,
      { config: { public: true }, schema: { tags: ['Identity'] } },
      async (req, reply) => {
        try {
          opts.checkTenant(req.params.tenant);
          const r = readRequest(req.query ?? {});
          const c = check(r);
          // A fresh token for each form shown; the cookie keeps the latest (one sign-in at a time per browser).
          const csrf = readCookie(req, CSRF_COOKIE) ?? crypto.randomBytes(32).toString('base64url');
          void reply.header('set-cookie', csrfCookie(csrf));
          return html(reply, 200, form(r, c, csrf));
        } catch (e) {
          return answerError(reply, e);
        }
      },
    );

    app.post<{ Params: { tenant: string }; Body: Record<string, unknown> }>(
      p,
      { config: { public: true }, schema: { tags: ['Identity'] } },
      async (req, reply) => {
        try {
          opts.checkTenant(req.params.tenant);
          const body = req.body && typeof req.body === 'object' ? req.body : {};
          const r = readRequest(body);
          // Cross-site posts: the browser says where the form came from, and a page of another
          // site can neither read nor set the cookie the hidden field must repeat.
          const from = req.headers.origin;
          if (from && from !== 'null' && from !== origin)
            throw new PageError(403, 'the sign-in form was sent from another site; open the sign-in page again');
          const cookie = readCookie(req, CSRF_COOKIE);
          const sent = typeof body.csrf === 'string' ? body.csrf : '';
          if (!cookie || !sent || !sameText(cookie, sent))
            throw new PageError(
              403,
              'the sign-in form expired or did not come from this server (cookies must be allowed); open the sign-in page again',
            );
          const c = check(r);
          const str = (k: string, max: number) =>
            typeof body[k] === 'string' ? (body[k] as string).slice(0, max) : '';
          const action = str('action', 10);
          if (action === 'cancel')
            return redirect(
              reply,
              redirectTo(c, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }),
            );
          const username = str('username', 64);
          const password = str('password', 256);
          if (action !== 'sign_in' || !username || !password)
            return html(reply, 400, form(r, c, cookie, 'Enter your user name and password.', username));
          const keys: ['principal' | 'address', string][] = [
            ['principal', username],
            ['address', req.ip],
          ];
          try {
            await ids.throttle.attempt(keys);
          } catch (e) {
            if (e instanceof TooManyRequests)
              return html(reply.header('retry-after', e.target ?? '60'), 429, form(r, c, cookie, e.message, username));
            throw e;
          }
          const principal = await ctx.principals.checkPassword(username, password);
          if (!principal) return html(reply, 401, form(r, c, cookie, 'Wrong user name or password.', username));
          await ids.throttle.succeeded(keys);
          const code = await ids.authorizationCodes.issue({
            principalId: principal.id,
            clientId: c.client.clientId,
            redirectUri: c.redirectUri,
            codeChallenge: c.codeChallenge,
            scope: c.scope,
            nonce: c.nonce,
          });
          return redirect(reply, redirectTo(c, { code }));
        } catch (e) {
          return answerError(reply, e);
        }
      },
    );
  }
}
