import type { Command } from 'commander';
import { print, UsageError } from '../output.js';
import { ask, confirm } from '../prompt.js';
import { identityClient, listAll, readStdinLine, seg } from './identity-common.js';

interface UserView {
  id: string;
  name: string;
  displayName: string;
  enabled: boolean;
  createdAt: string;
}
const COLUMNS = ['name', 'displayName', 'enabled', 'id', 'createdAt'];
const row = (u: UserView) => ({
  name: u.name,
  displayName: u.displayName,
  enabled: u.enabled,
  id: u.id,
  createdAt: u.createdAt,
});

async function password(
  o: { password?: string; passwordStdin?: boolean },
  question = 'Password for the new user: ',
): Promise<string> {
  if (o.password && o.passwordStdin) throw new UsageError('give --password or --password-stdin, not both');
  if (o.password) return o.password;
  if (o.passwordStdin) return readStdinLine();
  const first = await ask(question, { silent: true, option: '--password or --password-stdin' });
  const again = await ask('Again: ', { silent: true, option: '--password or --password-stdin' });
  if (first !== again) throw new UsageError('the two passwords differ');
  return first;
}

/** `atelier user create|list|show|enable|disable|set-password|delete` (tenant administrators: Owner at /). */
export function userCommands(program: Command): void {
  const user = program.command('user').description('users who sign in with a password (needs Owner at the root scope)');
  user
    .command('create <name>')
    .description('create a user')
    .option('--display-name <text>', 'name shown to people (default: the user name)')
    .option('--password <password>', 'password (asked without echo when not given; prefer --password-stdin in scripts)')
    .option('--password-stdin', 'read the password from standard input')
    .action(
      async (name: string, o: { displayName?: string; password?: string; passwordStdin?: boolean }, cmd: Command) => {
        const { g, client } = identityClient(cmd);
        const pw = await password(o);
        const r = await client.request<UserView>('POST', '/identity/users', {
          body: { name, password: pw, ...(o.displayName ? { displayName: o.displayName } : {}) },
          what: `create user '${name}'`,
        });
        print(row(r.body), g);
      },
    );
  user
    .command('list')
    .description('list users')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      print((await listAll<UserView>(client, '/identity/users', 'list users')).map(row), g, COLUMNS);
    });
  user
    .command('show <name>')
    .description('show a user (by name or object id)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      print(
        row(
          (await client.request<UserView>('GET', `/identity/users/${seg(name)}`, { what: `show user '${name}'` })).body,
        ),
        g,
      );
    });
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    user
      .command(`${verb} <name>`)
      .description(
        enabled ? 'let a disabled user sign in again' : 'stop a user from signing in (its tokens stop working at once)',
      )
      .action(async (name: string, _o: unknown, cmd: Command) => {
        const { g, client } = identityClient(cmd);
        print(
          row(
            (
              await client.request<UserView>('PATCH', `/identity/users/${seg(name)}`, {
                body: { enabled },
                what: `${verb} user '${name}'`,
              })
            ).body,
          ),
          g,
        );
      });
  }
  user
    .command('set-password [name]')
    .description("change your own password (with the current one), or, as an Owner, set another user's")
    .option(
      '--password <password>',
      'the new password (asked without echo when not given; prefer --password-stdin in scripts)',
    )
    .option('--password-stdin', 'read the new password from standard input')
    .option('--current-password <password>', 'your current password, for your own (asked without echo when not given)')
    .addHelpText(
      'after',
      "\nYour own: every sign-in session of yours ends (sign in again). Another user's (needs Owner at /): that user signs in with the new one.\nA lost admin password: `atelier server reset-admin-password` on the server's data root.",
    )
    .action(
      async (
        name: string | undefined,
        o: { password?: string; passwordStdin?: boolean; currentPassword?: string },
        cmd: Command,
      ) => {
        const { g, client } = identityClient(cmd);
        if (name !== undefined) {
          if (o.currentPassword !== undefined)
            throw new UsageError(
              "--current-password is for your own password; an Owner sets another user's without it",
            );
          const pw = await password(o, `New password for '${name}': `);
          const r = await client.request<UserView>('PATCH', `/identity/users/${seg(name)}`, {
            body: { password: pw },
            what: `set the password of user '${name}'`,
          });
          print({ ...row(r.body), passwordChanged: true }, g);
          return;
        }
        const current =
          o.currentPassword ?? (await ask('Current password: ', { silent: true, option: '--current-password' }));
        const pw = await password(o, 'New password: ');
        const me = (await client.request<UserView>('GET', '/identity/me', { what: 'show who is signed in' })).body;
        await client.request('POST', '/identity/me/password', {
          body: { currentPassword: current, newPassword: pw },
          what: 'change your password',
        });
        print(
          {
            ...row(me),
            passwordChanged: true,
            signedOut: 'every sign-in session of this user ended: run `atelier login` again',
          },
          g,
        );
      },
    );
  user
    .command('delete <name>')
    .description('delete a user with its role assignments and sign-in sessions')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: { yes?: boolean }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      await confirm(`Delete user '${name}' and its role assignments?`, o.yes);
      await client.request('DELETE', `/identity/users/${seg(name)}`, { what: `delete user '${name}'` });
      print({ deleted: name }, g);
    });
}
