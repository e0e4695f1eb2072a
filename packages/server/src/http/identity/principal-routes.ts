import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../../errors.js';
import type { Principal } from '../../identity/principals.js';
import type { Services } from '../../services.js';
import { verifyPassword } from '../../identity/passwords.js';
import { nextLink, pageParams } from '../arm/paging.js';
import { resolveWorkspaceById } from '../../resources/workspaces.js';

const PagingQuery = Type.Object(
  {
    $top: Type.Optional(Type.String()),
    $skipToken: Type.Optional(Type.String()),
    $skiptoken: Type.Optional(Type.String()),
    'api-version': Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const NewUser = Type.Object(
  {
    name: Type.String({ description: 'sign-in name: 1–64 letters, digits, . _ @ -' }),
    password: Type.String({ description: 'at least 8 characters' }),
    displayName: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const UserPatch = Type.Object(
  {
    displayName: Type.Optional(Type.String()),
    enabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const NewSp = Type.Object(
  {
    displayName: Type.String(),
    secretName: Type.Optional(Type.String()),
    expiresInDays: Type.Optional(Type.Integer({ description: '1–3650, default 365' })),
  },
  { additionalProperties: false },
);
const SpPatch = Type.Object(
  { displayName: Type.Optional(Type.String()), enabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const NewSecret = Type.Object(
  {
    secretName: Type.Optional(Type.String()),
    expiresInDays: Type.Optional(Type.Integer()),
    replace: Type.Optional(Type.Boolean({ description: 'delete the existing secrets (reset)' })),
  },
  { additionalProperties: false },
);
const NewToken = Type.Object(
  {
    name: Type.String({ description: "what the token is for: 1–100 letters, digits, spaces or '._:@()-'" }),
    expiresInDays: Type.Optional(Type.Integer({ description: '1–365, default 30' })),
    workspace: Type.Optional(Type.String({ description: 'ARM id of the one workspace the token may reach' })),
    readOnly: Type.Optional(Type.Boolean({ description: 'the token may only read' })),
  },
  { additionalProperties: false },
);
const PasswordChange = Type.Object(
  { currentPassword: Type.String(), newPassword: Type.String() },
  { additionalProperties: false },
);

/**
 * Principals: users and service principals (`/identity/…`). Managing them needs the Owner role at
 * the root scope ('/', a tenant administrator); anyone signed in may look one up by name or id
 * (to assign it a role) and manage their own sign-in.
 */
export async function principalRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  const ids = opts.services.identity;
  const tags = ['Identity'];

  const requireAdmin = async (req: FastifyRequest) => {
    if (!(await ctx.access.can(req.principal.id, '/', 'access/write'))) {
      throw new Forbidden('managing users and service principals needs the Owner role at the root scope (/)');
    }
  };
  const notSelf = (req: FastifyRequest, id: string, what: string) => {
    if (id === req.principal.id)
      throw new Conflict(`you cannot ${what} yourself; ask another administrator`, { code: 'CANNOT_CHANGE_SELF' });
  };
  const kindOf = (req: FastifyRequest): Principal['kind'] =>
    req.url.toLowerCase().startsWith('/identity/users') ? 'user' : 'servicePrincipal';

  app.get('/identity/me', { schema: { tags } }, async (req) => {
    const row = await ctx.principals.require(req.principal.id);
    const v = await ctx.principals.view(row);
    return { ...v, tenantId: ctx.tenantId, roleAssignments: await ctx.access.assignmentsOf(req.principal.id) };
  });

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/identity/me/password',
    { schema: { tags, body: PasswordChange } },
    async (req, reply) => {
      const row = await ctx.principals.require(req.principal.id);
      if (row.kind !== 'user') throw new InvalidInput('only users have passwords; service principals use secrets');
      await ids.throttle.attempt([
        ['principal', row.name],
        ['address', req.ip],
      ]);
      if (!(await verifyPassword(req.body.currentPassword, row.password_hash)))
        throw new InvalidInput('currentPassword is wrong', { target: 'currentPassword' });
      await ids.throttle.succeeded([
        ['principal', row.name],
        ['address', req.ip],
      ]);
      await ctx.principals.update(row.id, { password: req.body.newPassword });
      await ids.sessions.revokeAll(row.id);
      return reply.status(204).send();
    },
  );

  // Personal access tokens of the signed-in user: the secret is answered once, at creation.
  app.post<{ Body: { name: string; expiresInDays?: number; workspace?: string; readOnly?: boolean } }>(
    '/identity/me/tokens',
    { schema: { tags, body: NewToken } },
    async (req, reply) => {
      if (req.tokenLimits)
        throw new Forbidden(
          'a personal access token cannot make tokens; sign in with your password or the device code (`atelier login`)',
        );
      let workspace: string | undefined;
      if (req.body.workspace !== undefined) {
        // The workspace must exist and be visible to the user (its stored spelling is kept).
        const w = await resolveWorkspaceById(ctx, req.body.workspace).catch(() => undefined);
        if (!w || !(await ctx.access.canSee(req.principal.id, w.id)))
          throw new NotFound(`workspace '${req.body.workspace}' does not exist (or you have no role on it)`);
        workspace = w.id;
      }
      const made = await ids.personalAccessTokens.create(req.principal, { ...req.body, workspace });
      return reply.status(201).header('cache-control', 'no-store').send(made);
    },
  );
  app.get('/identity/me/tokens', { schema: { tags } }, async (req) => ({
    value: await ids.personalAccessTokens.list(req.principal.id),
  }));
  app.delete<{ Params: { id: string } }>(
    '/identity/me/tokens/:id',
    { schema: { tags, params: IdParams } },
    async (req) => ids.personalAccessTokens.revoke(req.principal.id, req.params.id),
  );

  app.post('/identity/me/revokeSignInSessions', { schema: { tags } }, async (req) => ({
    revoked: await ids.sessions.revokeAll(req.principal.id),
  }));

  app.get<{ Params: { id: string } }>(
    '/identity/principals/:id',
    { schema: { tags, params: IdParams } },
    async (req) => {
      const row = await ctx.principals.require(req.params.id);
      return {
        id: row.id,
        kind: row.kind,
        name: row.name,
        displayName: row.display_name,
        enabled: Boolean(row.enabled),
      };
    },
  );

  for (const [path, kind] of [
    ['/identity/users', 'user'],
    ['/identity/servicePrincipals', 'servicePrincipal'],
  ] as const) {
    app.get(path, { schema: { tags, querystring: PagingQuery } }, async (req) => {
      await requireAdmin(req);
      const { after, top } = pageParams(req);
      // page keys are '/'-prefixed (pageParams checks that); names are stored lower-cased.
      const rows = await ctx.principals.list(kind, { after: after?.slice(1), top });
      const page = rows.slice(0, top);
      const value = [];
      for (const r of page) value.push(await ctx.principals.view(r));
      return {
        value,
        nextLink: nextLink(
          ctx.config.publicUrl,
          req,
          page.length ? `/${page.at(-1)!.name_key}` : undefined,
          rows.length > top,
        ),
      };
    });

    app.get<{ Params: { id: string } }>(`${path}/:id`, { schema: { tags, params: IdParams } }, async (req) => {
      await requireAdmin(req);
      return ctx.principals.view(await ctx.principals.require(req.params.id, kind));
    });

    app.delete<{ Params: { id: string } }>(
      `${path}/:id`,
      { schema: { tags, params: IdParams } },
      async (req, reply) => {
        await requireAdmin(req);
        const row = await ctx.principals.require(req.params.id, kind);
        notSelf(req, row.id, 'delete');
        await ctx.principals.delete(row.id);
        ctx.access.invalidate(row.id);
        return reply.status(204).send();
      },
    );

    app.post<{ Params: { id: string } }>(
      `${path}/:id/revokeSignInSessions`,
      { schema: { tags, params: IdParams } },
      async (req) => {
        await requireAdmin(req);
        const row = await ctx.principals.require(req.params.id, kind);
        return { revoked: await ids.sessions.revokeAll(row.id) };
      },
    );
  }

  app.post<{ Body: { name: string; password: string; displayName?: string } }>(
    '/identity/users',
    { schema: { tags, body: NewUser } },
    async (req, reply) => {
      await requireAdmin(req);
      const p = await ctx.principals.createUser(
        req.body.name,
        req.body.password,
        req.body.displayName ?? req.body.name,
      );
      return reply.status(201).send(await ctx.principals.view(await ctx.principals.require(p.id)));
    },
  );

  app.patch<{ Params: { id: string }; Body: { displayName?: string; enabled?: boolean; password?: string } }>(
    '/identity/users/:id',
    { schema: { tags, params: IdParams, body: UserPatch } },
    async (req) => {
      await requireAdmin(req);
      const row = await ctx.principals.require(req.params.id, kindOf(req));
      if (req.body.enabled === false) notSelf(req, row.id, 'disable');
      await ctx.principals.update(row.id, req.body);
      if (req.body.enabled === false || req.body.password !== undefined) await ids.sessions.revokeAll(row.id);
      return ctx.principals.view(await ctx.principals.require(row.id));
    },
  );

  app.post<{ Body: { displayName: string; secretName?: string; expiresInDays?: number } }>(
    '/identity/servicePrincipals',
    { schema: { tags, body: NewSp } },
    async (req, reply) => {
      await requireAdmin(req);
      const { principal, secret } = await ctx.principals.createServicePrincipal(req.body.displayName, {
        expiresInDays: req.body.expiresInDays,
        secretName: req.body.secretName,
      });
      const view = await ctx.principals.view(await ctx.principals.require(principal.id));
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ ...view, tenantId: ctx.tenantId, secret });
    },
  );

  app.patch<{ Params: { id: string }; Body: { displayName?: string; enabled?: boolean } }>(
    '/identity/servicePrincipals/:id',
    { schema: { tags, params: IdParams, body: SpPatch } },
    async (req) => {
      await requireAdmin(req);
      const row = await ctx.principals.require(req.params.id, 'servicePrincipal');
      if (req.body.enabled === false) notSelf(req, row.id, 'disable');
      await ctx.principals.update(row.id, req.body);
      return ctx.principals.view(await ctx.principals.require(row.id));
    },
  );

  app.post<{ Params: { id: string }; Body: { secretName?: string; expiresInDays?: number; replace?: boolean } }>(
    '/identity/servicePrincipals/:id/secrets',
    { schema: { tags, params: IdParams, body: NewSecret } },
    async (req, reply) => {
      await requireAdmin(req);
      const row = await ctx.principals.require(req.params.id, 'servicePrincipal');
      const secret = await ctx.principals.addSecret(row.id, req.body);
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ appId: row.name, tenantId: ctx.tenantId, secret });
    },
  );

  app.delete<{ Params: { id: string; keyId: string } }>(
    '/identity/servicePrincipals/:id/secrets/:keyId',
    {
      schema: {
        tags,
        params: Type.Object({ id: Type.String({ maxLength: 200 }), keyId: Type.String({ maxLength: 36 }) }),
      },
    },
    async (req, reply) => {
      await requireAdmin(req);
      const row = await ctx.principals.require(req.params.id, 'servicePrincipal');
      await ctx.principals.deleteSecret(row.id, req.params.keyId);
      return reply.status(204).send();
    },
  );

  // Signing keys: list, rotate (nobody is logged out), retire one (its tokens stop working).
  app.get('/identity/signingKeys', { schema: { tags } }, async (req) => {
    await requireAdmin(req);
    return { value: await ctx.tokens.listKeys() };
  });
  app.post('/identity/signingKeys/rotate', { schema: { tags } }, async (req) => {
    await requireAdmin(req);
    const kid = await ctx.tokens.rotate();
    return { kid, value: await ctx.tokens.listKeys() };
  });
  app.post<{ Params: { kid: string } }>(
    '/identity/signingKeys/:kid/retire',
    { schema: { tags, params: Type.Object({ kid: Type.String({ maxLength: 64 }) }) } },
    async (req) => {
      await requireAdmin(req);
      if (!(await ctx.tokens.retire(req.params.kid)))
        throw new NotFound(`signing key '${req.params.kid}' does not exist or is already retired`);
      return { value: await ctx.tokens.listKeys() };
    },
  );
}
