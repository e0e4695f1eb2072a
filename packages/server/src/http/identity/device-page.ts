import type { FastifyInstance } from 'fastify';
import { esc, html, page } from './html.js';
import type { AppContext } from '../../context.js';
import { AtelierError, TooManyRequests } from '../../errors.js';
import { HTTP_STATUS } from '../error-status.js';
import type { IdentityServices } from '../../identity/services.js';
import { SessionService } from '../../identity/sessions.js';

const devicePageOf = (body: string): string => page('Sign in a device', body);

function form(code: string, message?: { text: string; error?: boolean }): string {
  return devicePageOf(`${message ? `<p class="msg${message.error ? ' err' : ''}">${esc(message.text)}</p>` : ''}
<p>A program asked to act as you. Enter the code it showed you and sign in to approve it; you will then see which program it was.</p>
<form method="post" action="device" autocomplete="off">
<label for="code">Code</label><input id="code" name="code" class="code" required maxlength="16" value="${esc(code)}" placeholder="ABCD-EFGH">
<label for="username">User name</label><input id="username" name="username" required maxlength="64" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password" required maxlength="256" autocomplete="current-password">
<button type="submit" name="action" value="approve">Approve</button><button type="submit" name="action" value="deny">Deny</button>
</form>`);
}

/**
 * The device-code sign-in page (RFC 8628 §3.3): the user opens it in a browser, enters the code
 * the program showed, signs in with a user name and password, and approves or denies.
 */
export async function devicePage(
  app: FastifyInstance,
  opts: { ctx: AppContext; identity: IdentityServices },
): Promise<void> {
  const { ctx, identity: ids } = opts;

  // The code is only filled in: whether it is pending, and for which program, is told only to
  // someone who signed in (POST), so the page is no oracle for guessing codes.
  app.get<{ Querystring: { code?: string } }>(
    '/device',
    { config: { public: true }, schema: { hide: true } as object },
    async (req, reply) => {
      const code = typeof req.query.code === 'string' ? req.query.code.slice(0, 16) : '';
      return html(reply, 200, form(code));
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/device',
    { config: { public: true }, schema: { hide: true } as object },
    async (req, reply) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const str = (k: string, max: number) => (typeof b[k] === 'string' ? (b[k] as string).slice(0, max) : '');
      const code = str('code', 16);
      const username = str('username', 64);
      const password = str('password', 256);
      const action = str('action', 10);
      if (!code || !username || !password || (action !== 'approve' && action !== 'deny')) {
        return html(
          reply,
          400,
          form(code, {
            text: 'Enter the code, your user name and password, then choose Approve or Deny.',
            error: true,
          }),
        );
      }
      try {
        SessionService.normaliseUserCode(code);
        await ids.throttle.attempt([
          ['principal', username],
          ['address', req.ip],
        ]);
        const principal = await ctx.principals.checkPassword(username, password);
        if (!principal) return html(reply, 401, form(code, { text: 'Wrong user name or password.', error: true }));
        await ids.throttle.succeeded([
          ['principal', username],
          ['address', req.ip],
        ]);
        const ask = await ids.sessions.pendingDevice(code);
        const ok = await ids.sessions.decideDevice(code, principal.id, action === 'approve');
        if (!ok) {
          await ids.throttle.failed([['address', req.ip]]); // guessing codes counts as failures too
          return html(
            reply,
            404,
            form(code, {
              text: 'That code is unknown, already used or expired; start the sign-in again.',
              error: true,
            }),
          );
        }
        return html(
          reply,
          200,
          devicePageOf(
            action === 'approve'
              ? `<p class="msg">Signed in as <b>${esc(principal.name)}</b>: program <b>${esc(ask?.clientId ?? '?')}</b> may now act as you (access <b>${esc(ask?.scope ?? '?')}</b>). You can close this window and go back to the program.</p>`
              : `<p class="msg">Denied: program <b>${esc(ask?.clientId ?? '?')}</b> will not be signed in.</p>`,
          ),
        );
      } catch (e) {
        if (e instanceof TooManyRequests)
          return html(reply.header('retry-after', e.target ?? '60'), 429, form(code, { text: e.message, error: true }));
        if (e instanceof AtelierError && HTTP_STATUS[e.kind] < 500)
          return html(reply, HTTP_STATUS[e.kind], form(code, { text: e.message, error: true }));
        throw e;
      }
    },
  );
}
