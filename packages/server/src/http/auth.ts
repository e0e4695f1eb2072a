import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { Forbidden, Unauthenticated } from '../errors.js';
import type { IdentityServices } from '../identity/services.js';
import { shouldAudit } from '../identity/audit.js';
import { WORKSPACE_SCOPE_CLAIM } from '../identity/token-scopes.js';
import { PersonalAccessTokens, beyondReadOnly, type TokenLimits } from '../identity/personal-access-tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set for every route that is not `config: { public: true }`. */
    principal: Principal;
    /** Set when the request is signed with a personal access token: what that token may reach. */
    tokenLimits?: TokenLimits;
  }
  interface FastifyContextConfig {
    /** Route needs no authentication (health, discovery, OIDC metadata, token endpoint). */
    public?: boolean;
  }
}

/**
 * Authenticates every request before routing completes: `Authorization: Bearer <jwt>` (our tokens)
 * or `Bearer atp_…` (a personal access token), or `Basic` user:password or user:personal access token
 * (what MLflow sends for MLFLOW_TRACKING_USERNAME/PASSWORD). A personal access token limited to a
 * workspace or to reading is held to that here, before any route runs.
 */
async function authPlugin(app: FastifyInstance, opts: { ctx: AppContext; identity: IdentityServices }): Promise<void> {
  const { ctx, identity } = opts;
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (req.routeOptions.config?.public) return;
    req.principal = await authenticate(ctx, identity, req.headers.authorization, req.ip, req);
    if (req.tokenLimits) {
      const refused = beyondReadOnly(req.tokenLimits, req.method, req.routeOptions.config?.mlflowAccess === 'read');
      if (refused) throw new Forbidden(refused);
    }
  });
  // The audit log: every successful change on the control plane and identity routes (who, what,
  // when, from where, with what status) — never bodies, never query strings.
  app.addHook('onResponse', async (req, reply) => {
    if (!req.principal) return;
    const path = req.url.split('?')[0]!;
    if (!shouldAudit(req.method, path, reply.statusCode)) return;
    try {
      await identity.audit.record({
        principal: req.principal,
        method: req.method,
        path,
        route: req.routeOptions.url ?? path,
        status: reply.statusCode,
        clientAddress: req.ip,
        requestId: String(req.id),
      });
    } catch (err) {
      req.log.error({ err: (err as Error).message }, 'could not write the audit log');
    }
  });
}

/**
 * A workspace-scoped token (given to a job's processes) reaches only routes of that workspace:
 * the route's subscription, resource group and workspace parameters must be the token's. Checked
 * on the routed parameters, so no spelling of the path gets around it.
 */
function checkWorkspaceScope(scope: unknown, req: FastifyRequest | undefined): void {
  if (scope === undefined) return;
  const p = (req?.params ?? {}) as Record<string, string | undefined>;
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)$/i.exec(
      String(scope),
    );
  const same = (a: string | undefined, b: string | undefined) =>
    a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
  if (!m || !same(p.subscriptionId, m[1]) || !same(p.resourceGroupName, m[2]) || !same(p.workspaceName, m[3]))
    throw new Forbidden(
      `this token reaches only the workspace ${String(scope)} (a job's token, or a limited personal access token)`,
      {
        code: 'FORBIDDEN',
      },
    );
}

/** A personal access token's principal, its workspace limit checked and its limits noted on the request. */
function limited(pat: { principal: Principal; limits: TokenLimits }, req: FastifyRequest | undefined): Principal {
  checkWorkspaceScope(pat.limits.workspace, req);
  if (req) req.tokenLimits = pat.limits;
  return pat.principal;
}

export async function authenticate(
  ctx: AppContext,
  identity: IdentityServices,
  header: string | undefined,
  address?: string,
  req?: FastifyRequest,
): Promise<Principal> {
  if (!header)
    throw new Unauthenticated(
      'authentication required: send Authorization: Bearer <token> (get one with `atelier login`)',
      { code: 'AUTHENTICATION_REQUIRED' },
    );
  const [scheme, value] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer' && value) {
    const token = value.trim();
    if (PersonalAccessTokens.looksLikeToken(token)) {
      const pat = await identity.personalAccessTokens.verify(token);
      if (!pat)
        throw new Unauthenticated(
          'the personal access token is not valid: unknown, expired or revoked, or its user is disabled',
          { code: 'INVALID_TOKEN' },
        );
      return limited(pat, req);
    }
    const claims = await ctx.tokens.verify(token);
    checkWorkspaceScope(claims[WORKSPACE_SCOPE_CLAIM], req);
    const principal = await ctx.principals.get(claims.oid);
    if (!principal)
      throw new Unauthenticated('the principal of this token is disabled or deleted', { code: 'INVALID_TOKEN' });
    return principal;
  }
  if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      const name = decoded.slice(0, i);
      const secret = decoded.slice(i + 1);
      // A personal access token as the password (MLFLOW_TRACKING_PASSWORD), for its own user.
      if (PersonalAccessTokens.looksLikeToken(secret)) {
        const pat = await identity.personalAccessTokens.verify(secret);
        if (pat && pat.principal.name.toLowerCase() === name.toLowerCase()) return limited(pat, req);
      }
      const principal = await identity.basic.signIn(name, secret, address);
      if (principal) return principal;
    }
    throw new Unauthenticated('wrong user name or password', { code: 'WRONG_CREDENTIALS' });
  }
  throw new Unauthenticated("the Authorization header must be 'Bearer <token>' or 'Basic <base64 user:password>'", {
    code: 'AUTHENTICATION_REQUIRED',
  });
}

export default fp(authPlugin, { name: 'atelier-auth' });
