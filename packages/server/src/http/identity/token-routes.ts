import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { AppContext } from '../../context.js';
import { InvalidInput, NotFound, Unauthenticated } from '../../errors.js';
import { oauthErrorHandler } from './oauth-errors.js';

/** Aliases MSAL and the Azure SDKs use for "the tenant of whoever signs in". */
const TENANT_ALIASES = new Set(['common', 'organizations', 'consumers']);

export function checkTenant(ctx: AppContext, tenant: string): void {
  if (tenant !== ctx.tenantId && !TENANT_ALIASES.has(tenant.toLowerCase())) {
    throw new NotFound(`tenant '${tenant}' is not this server's tenant (${ctx.tenantId}); use that GUID or 'common'`, { code: 'invalid_tenant' });
  }
}

/** Maps a requested `scope` (v2) or `resource` (v1) to the token audience. */
export function audienceFromScope(scope: string | undefined, fallback: string): string {
  if (!scope) return fallback;
  const first = scope.split(/\s+/).find((s) => s && !['openid', 'profile', 'offline_access', 'email'].includes(s));
  if (!first) return fallback;
  return first.replace(/\/\.default$/, '').replace(/\/user_impersonation$/, '');
}

/**
 * OAuth2 token service shaped like Entra ID's v2 endpoints: discovery document, JWKS, and the
 * token endpoint (password grant here; more grants come with the identity issue).
 */
export async function tokenRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const { ctx } = opts;
  await app.register(formbody);
  app.setErrorHandler(oauthErrorHandler);
  const base = ctx.config.publicUrl;

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', { config: { public: true } }, async (req) => {
    checkTenant(ctx, req.params.tenant);
    const t = req.params.tenant;
    return {
      issuer: `${base}/${ctx.tenantId}/v2.0`,
      token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
      jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
      response_types_supported: ['code', 'id_token', 'token id_token', 'token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['ES256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      grant_types_supported: ['password', 'client_credentials', 'refresh_token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      tenant_region_scope: null,
      cloud_instance_name: new URL(base).host,
      msgraph_host: new URL(base).host,
      rbac_url: base,
    };
  });

  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', { config: { public: true } }, async (req) => {
    checkTenant(ctx, req.params.tenant);
    return ctx.tokens.jwks();
  });

  app.post<{ Params: { tenant: string }; Body: Record<string, string> }>('/:tenant/oauth2/v2.0/token', { config: { public: true } }, async (req) => {
    checkTenant(ctx, req.params.tenant);
    const body = (req.body ?? {}) as Record<string, string>;
    if (typeof body !== 'object') throw new InvalidInput('send the token request as application/x-www-form-urlencoded');
    const grant = body.grant_type;
    if (grant === 'password') {
      if (!body.username || !body.password) throw new InvalidInput("grant_type=password needs 'username' and 'password'");
      const principal = await ctx.principals.checkPassword(body.username, body.password);
      if (!principal) throw new Unauthenticated('wrong user name or password', { code: 'invalid_grant' });
      const audience = audienceFromScope(body.scope, base);
      const { token, expiresIn } = await ctx.tokens.issue(
        { oid: principal.id, sub: principal.id, idtyp: 'user', name: principal.displayName, upn: principal.name, scp: 'user_impersonation' },
        { audience },
      );
      return { token_type: 'Bearer', scope: body.scope ?? `${audience}/.default`, expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token };
    }
    throw new InvalidInput(`grant_type '${grant ?? ''}' is not supported here; use 'password'`, { code: 'unsupported_grant_type' });
  });
}
