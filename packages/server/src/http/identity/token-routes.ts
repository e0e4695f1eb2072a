import type { FastifyInstance, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { AppContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import type { Principal } from '../../identity/principals.js';
import type { IdentityServices } from '../../identity/services.js';
import { OAuthError, oauthErrorHandler } from './oauth-errors.js';
import { devicePage } from './device-page.js';
import { authorizeRoutes } from './authorize-page.js';

/**
 * Aliases MSAL and the Azure SDKs use for "the tenant of whoever signs in". `adfs` is MSAL's name for
 * a sign-in server of one's own: MSAL then reads that server's OpenID configuration instead of asking
 * `login.microsoftonline.com` to vouch for it (instance discovery), which is how azureml-core's
 * `ServicePrincipalAuthentication` (it builds an MSAL client with no way to turn discovery off)
 * signs in here.
 */
const TENANT_ALIASES = new Set(['common', 'organizations', 'consumers', 'adfs']);
const OIDC_SCOPES = ['openid', 'profile', 'offline_access', 'email'];
/** The client id a user sign-in gets when the client names none (plain curl, our CLI). */
export const DEFAULT_CLIENT_ID = 'atelier';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export function checkTenant(ctx: AppContext, tenant: string): void {
  if (tenant.toLowerCase() !== ctx.tenantId && !TENANT_ALIASES.has(tenant.toLowerCase())) {
    throw new NotFound(`tenant '${tenant}' is not this server's tenant (${ctx.tenantId}); use that GUID or 'common'`, {
      code: 'UNKNOWN_TENANT',
    });
  }
}

/** Maps a requested `scope` (v2) or `resource` (v1) to the token audience. */
export function audienceFromScope(scope: string | undefined, fallback: string): string {
  if (!scope) return fallback;
  const first = scope.split(/\s+/).find((s) => s && !OIDC_SCOPES.includes(s));
  if (!first) return fallback;
  return first.replace(/\/\.default$/, '').replace(/\/user_impersonation$/, '');
}

type Form = Record<string, string | undefined>;

function field(body: Form, name: string, max = 4096): string | undefined {
  const v = body[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `'${name}' must be given once, as a string`);
  if (v.length > max) throw new OAuthError('invalid_request', `'${name}' is too long (at most ${max} characters)`);
  return v;
}

function need(body: Form, name: string, grant: string): string {
  const v = field(body, name);
  if (!v) throw new OAuthError('invalid_request', `grant_type=${grant} needs '${name}'`);
  return v;
}

/** client_id/client_secret from the form (client_secret_post) or the Basic header (client_secret_basic). */
function clientCredentials(req: FastifyRequest, body: Form): { clientId?: string; clientSecret?: string } {
  const h = req.headers.authorization;
  if (h && /^basic /i.test(h)) {
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0)
      return {
        clientId: decodeURIComponent(decoded.slice(0, i)),
        clientSecret: decodeURIComponent(decoded.slice(i + 1)),
      };
    throw new OAuthError('invalid_client', 'the Basic authorization header must hold client_id:client_secret');
  }
  return { clientId: field(body, 'client_id', 200), clientSecret: field(body, 'client_secret', 512) };
}

interface Grant {
  principal: Principal;
  clientId: string;
  audience: string;
  scope: string;
  /** User sign-ins get a refresh token (and an id token when `openid` was asked). */
  refreshToken?: string;
  /** The OIDC nonce of an authorization request, repeated in the id token. */
  nonce?: string;
}

/**
 * OAuth2 token service shaped like Entra ID: v2 discovery, JWKS, token and device-code endpoints,
 * the v1 `/oauth2/token` (`resource=`) for older clients, and MSAL's instance discovery.
 */
export async function tokenRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; identity: IdentityServices },
): Promise<void> {
  const { ctx, identity: ids } = opts;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.setErrorHandler(oauthErrorHandler);
  const base = ctx.config.publicUrl;
  const host = new URL(base).host;

  const checkAudience = (aud: string): string => {
    if (!ctx.tokens.audiences.includes(aud)) {
      throw new OAuthError(
        'invalid_resource',
        `the resource '${aud}' is not served here; ask for '${base}/.default' (or a known Azure resource such as https://management.azure.com/.default)`,
      );
    }
    return aud;
  };

  const openidConfig = (t: string, v1: boolean) => ({
    issuer: `${base}/${ctx.tenantId}/v2.0`,
    token_endpoint: v1 ? `${base}/${t}/oauth2/token` : `${base}/${t}/oauth2/v2.0/token`,
    authorization_endpoint: v1 ? `${base}/${t}/oauth2/authorize` : `${base}/${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: v1 ? `${base}/${t}/oauth2/devicecode` : `${base}/${t}/oauth2/v2.0/devicecode`,
    jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
    end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'fragment'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', 'none'],
    grant_types_supported: ['authorization_code', 'password', 'client_credentials', 'refresh_token', DEVICE_GRANT],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'name', 'oid', 'tid', 'preferred_username', 'ver'],
    request_uri_parameter_supported: false,
    tenant_region_scope: null,
    cloud_instance_name: host,
    cloud_graph_host_name: host,
    msgraph_host: host,
    rbac_url: base,
  });

  app.get<{ Params: { tenant: string } }>(
    '/:tenant/v2.0/.well-known/openid-configuration',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req) => {
      checkTenant(ctx, req.params.tenant);
      return openidConfig(req.params.tenant, false);
    },
  );
  app.get<{ Params: { tenant: string } }>(
    '/:tenant/.well-known/openid-configuration',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req) => {
      checkTenant(ctx, req.params.tenant);
      // MSAL asks `adfs` for this document and then sends `scope`, so it gets the v2 endpoints.
      return openidConfig(req.params.tenant, req.params.tenant.toLowerCase() !== 'adfs');
    },
  );

  // MSAL's instance discovery (skipped with disableInstanceDiscovery, asked otherwise): this
  // server is its own cloud with one alias.
  app.get<{ Params: { tenant: string } }>(
    '/:tenant/discovery/instance',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req) => {
      checkTenant(ctx, req.params.tenant);
      return {
        tenant_discovery_endpoint: `${base}/${req.params.tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      };
    },
  );

  app.get<{ Params: { tenant: string } }>(
    '/:tenant/discovery/v2.0/keys',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req) => {
      checkTenant(ctx, req.params.tenant);
      return ctx.tokens.jwks();
    },
  );
  app.get<{ Params: { tenant: string } }>(
    '/:tenant/discovery/keys',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req) => {
      checkTenant(ctx, req.params.tenant);
      return ctx.tokens.jwks();
    },
  );

  await authorizeRoutes(app, {
    ctx,
    identity: ids,
    checkTenant: (t) => checkTenant(ctx, t),
    audienceOf: (scope) => checkAudience(audienceFromScope(scope, base)),
  });

  async function userGrant(
    principal: Principal,
    clientId: string,
    scope: string,
    audience: string,
    familyRefresh?: string,
  ): Promise<Grant> {
    const refreshToken = familyRefresh ?? (await ids.sessions.issueRefresh(principal.id, clientId, scope));
    return { principal, clientId, audience, scope, refreshToken };
  }

  /** The grant of a token request, shared by the v1 and v2 endpoints. */
  async function grant(req: FastifyRequest, body: Form, v1: boolean): Promise<Grant> {
    const grantType = field(body, 'grant_type', 200);
    const requested = v1 ? field(body, 'resource', 1000) : field(body, 'scope', 2000);
    const scope = v1 ? `${requested ?? base}/.default` : (requested ?? `${base}/.default`);
    const audience = checkAudience(v1 ? (requested ?? base) : audienceFromScope(requested, base));
    const address = req.ip;
    switch (grantType) {
      case 'client_credentials': {
        const { clientId, clientSecret } = clientCredentials(req, body);
        if (!clientId)
          throw new OAuthError(
            'invalid_request',
            "grant_type=client_credentials needs 'client_id' (the service principal's application id)",
          );
        if (!clientSecret) {
          if (field(body, 'client_assertion'))
            throw new OAuthError(
              'invalid_client',
              'certificate credentials (client_assertion) are not supported; use a client secret',
            );
          throw new OAuthError(
            'invalid_client',
            "grant_type=client_credentials needs 'client_secret' (in the form or a Basic header)",
          );
        }
        await ids.throttle.attempt([
          ['principal', clientId],
          ['address', address],
        ]);
        const principal = await ctx.principals.checkClientSecret(clientId, clientSecret);
        if (!principal)
          throw new OAuthError(
            'invalid_client',
            'wrong client_id or client_secret, or the secret has expired or the service principal is disabled (AADSTS7000215)',
          );
        await ids.throttle.succeeded([
          ['principal', clientId],
          ['address', address],
        ]);
        return { principal, clientId: principal.name, audience, scope };
      }
      case 'password': {
        const username = need(body, 'username', 'password');
        const password = need(body, 'password', 'password');
        await ids.throttle.attempt([
          ['principal', username],
          ['address', address],
        ]);
        const principal = await ctx.principals.checkPassword(username, password);
        if (!principal) throw new OAuthError('invalid_grant', 'wrong user name or password (AADSTS50126)');
        await ids.throttle.succeeded([
          ['principal', username],
          ['address', address],
        ]);
        return userGrant(principal, field(body, 'client_id', 200) ?? DEFAULT_CLIENT_ID, scope, audience);
      }
      case 'refresh_token': {
        const token = need(body, 'refresh_token', 'refresh_token');
        const r = await ids.sessions.redeemRefresh(token, field(body, 'client_id', 200));
        const principal = await ctx.principals.get(r.principalId);
        if (!principal) {
          await ids.sessions.revokeAll(r.principalId);
          throw new OAuthError('invalid_grant', 'the account of this refresh token is disabled or deleted');
        }
        // Entra lets one refresh token buy tokens for any resource the client may use.
        return userGrant(
          principal,
          r.clientId,
          requested ? scope : r.scope,
          requested ? audience : checkAudience(audienceFromScope(r.scope, base)),
          r.refreshToken,
        );
      }
      case 'authorization_code': {
        const code = need(body, 'code', 'authorization_code');
        const redirectUri = need(body, 'redirect_uri', 'authorization_code');
        const codeVerifier = need(body, 'code_verifier', 'authorization_code');
        const { clientId, clientSecret } = clientCredentials(req, body);
        const client = ids.clients.get(clientId);
        if (client.public && clientSecret)
          throw new OAuthError(
            'invalid_client',
            `client '${client.clientId}' is a public client: send no client_secret`,
          );
        const c = await ids.authorizationCodes.redeem(code, { clientId: client.clientId, redirectUri, codeVerifier });
        const principal = await ctx.principals.get(c.principalId);
        if (!principal) throw new OAuthError('invalid_grant', 'the account that signed in is disabled or deleted');
        // The code's own scope counts: the token request cannot widen what the user signed in for.
        const refreshToken = await ids.sessions.issueRefresh(principal.id, c.clientId, c.scope, c.familyId);
        return {
          ...(await userGrant(
            principal,
            c.clientId,
            c.scope,
            checkAudience(audienceFromScope(c.scope, base)),
            refreshToken,
          )),
          ...(c.nonce ? { nonce: c.nonce } : {}),
        };
      }
      case DEVICE_GRANT:
      case 'device_code': {
        const code = field(body, 'device_code') ?? field(body, 'code');
        if (!code) throw new OAuthError('invalid_request', `grant_type=${grantType} needs 'device_code'`);
        const d = await ids.sessions.pollDevice(code, field(body, 'client_id', 200));
        const principal = await ctx.principals.get(d.principalId);
        if (!principal)
          throw new OAuthError('invalid_grant', 'the account that approved this sign-in is disabled or deleted');
        const devAudience = requested ? audience : checkAudience(audienceFromScope(d.scope, base));
        return userGrant(principal, d.clientId, requested ? scope : d.scope, devAudience);
      }
      case undefined:
        throw new OAuthError(
          'invalid_request',
          "the request needs 'grant_type' (client_credentials, password, authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:device_code)",
        );
      default:
        throw new OAuthError(
          'unsupported_grant_type',
          `grant_type '${grantType}' is not supported; use client_credentials, password, authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:device_code`,
        );
    }
  }

  async function tokens(
    g: Grant,
    body: Form,
  ): Promise<{ access: string; expiresIn: number; expiresOn: number; idToken?: string; clientInfo?: string }> {
    const p = g.principal;
    const claims =
      p.kind === 'user'
        ? {
            oid: p.id,
            sub: p.id,
            idtyp: 'user',
            name: p.displayName,
            upn: p.name,
            unique_name: p.name,
            preferred_username: p.name,
            scp: 'user_impersonation',
            appid: g.clientId,
            azp: g.clientId,
          }
        : {
            oid: p.id,
            sub: p.id,
            idtyp: 'app',
            name: p.displayName,
            appid: p.name,
            azp: p.name,
            roles: [] as string[],
          };
    const { token, expiresIn, expiresOn } = await ctx.tokens.issue(claims, { audience: g.audience });
    const out: { access: string; expiresIn: number; expiresOn: number; idToken?: string; clientInfo?: string } = {
      access: token,
      expiresIn,
      expiresOn,
    };
    if (p.kind === 'user' && g.scope.split(/\s+/).includes('openid')) {
      out.idToken = await ctx.tokens.issueIdToken(
        { oid: p.id, name: p.displayName, preferred_username: p.name, ...(g.nonce ? { nonce: g.nonce } : {}) },
        g.clientId,
      );
    }
    // MSAL asks for client_info=1 to learn the account's home id.
    if (p.kind === 'user' && body.client_info === '1')
      out.clientInfo = Buffer.from(JSON.stringify({ uid: p.id, utid: ctx.tenantId })).toString('base64url');
    return out;
  }

  const form = (req: FastifyRequest): Form => {
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new OAuthError('invalid_request', 'send the request as application/x-www-form-urlencoded');
    return body as Form;
  };

  app.post<{ Params: { tenant: string } }>(
    '/:tenant/oauth2/v2.0/token',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req, reply) => {
      checkTenant(ctx, req.params.tenant);
      const body = form(req);
      const g = await grant(req, body, false);
      const t = await tokens(g, body);
      void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return {
        token_type: 'Bearer',
        scope: g.scope
          .split(/\s+/)
          .filter((s) => s !== 'offline_access' || g.refreshToken)
          .join(' '),
        expires_in: t.expiresIn,
        ext_expires_in: t.expiresIn,
        access_token: t.access,
        ...(g.refreshToken ? { refresh_token: g.refreshToken, refresh_token_expires_in: 14 * 86400 } : {}),
        ...(t.idToken ? { id_token: t.idToken } : {}),
        ...(t.clientInfo ? { client_info: t.clientInfo } : {}),
      };
    },
  );

  app.post<{ Params: { tenant: string } }>(
    '/:tenant/oauth2/token',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    async (req, reply) => {
      checkTenant(ctx, req.params.tenant);
      const body = form(req);
      const g = await grant(req, body, true);
      const t = await tokens(g, body);
      void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      // v1 answers numbers as strings, as Entra ID's v1 endpoint (and ADAL) do.
      return {
        token_type: 'Bearer',
        expires_in: String(t.expiresIn),
        ext_expires_in: String(t.expiresIn),
        expires_on: String(t.expiresOn),
        not_before: String(t.expiresOn - t.expiresIn),
        resource: g.audience,
        access_token: t.access,
        ...(g.refreshToken ? { refresh_token: g.refreshToken } : {}),
        ...(t.idToken ? { id_token: t.idToken } : {}),
      };
    },
  );

  const deviceCode = (v1: boolean) => async (req: FastifyRequest<{ Params: { tenant: string } }>) => {
    checkTenant(ctx, req.params.tenant);
    const body = form(req);
    const clientId = field(body, 'client_id', 200);
    if (!clientId)
      throw new OAuthError(
        'invalid_request',
        "the device code request needs 'client_id' (any name of your client application, e.g. 'atelier')",
      );
    const requested = v1 ? field(body, 'resource', 1000) : field(body, 'scope', 2000);
    const scope = v1
      ? `${requested ?? base}/.default openid offline_access`
      : (requested ?? `${base}/.default openid offline_access`);
    checkAudience(audienceFromScope(scope, base));
    await ids.throttle.check([['address', req.ip]]);
    const d = await ids.sessions.startDevice(clientId, scope);
    const uri = `${base}/device`;
    const message = `To sign in, open ${uri} in a browser and enter the code ${d.userCode} to authenticate.`;
    return v1
      ? {
          user_code: d.userCode,
          device_code: d.deviceCode,
          verification_url: uri,
          expires_in: String(d.expiresIn),
          interval: String(d.interval),
          message,
        }
      : {
          user_code: d.userCode,
          device_code: d.deviceCode,
          verification_uri: uri,
          verification_uri_complete: `${uri}?code=${d.userCode}`,
          expires_in: d.expiresIn,
          interval: d.interval,
          message,
        };
  };
  app.post(
    '/:tenant/oauth2/v2.0/devicecode',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    deviceCode(false),
  );
  app.post(
    '/:tenant/oauth2/devicecode',
    { config: { public: true }, schema: { tags: ['Identity'] } },
    deviceCode(true),
  );
  await devicePage(app, { ctx, identity: ids });
}
