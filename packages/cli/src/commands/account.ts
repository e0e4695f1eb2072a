import type { Command } from 'commander';
import {
  ArmClient,
  ProfileAuthentication,
  createClient,
  configDir,
  deleteProfile,
  listSubscriptions,
  loginWithPassword,
  normaliseEndpoint,
  readProfile,
  writeProfile,
  AuthenticationError,
  type Profile,
} from '@atelier/sdk';
import { jwtClaims, MANAGEMENT_AUDIENCE, resolveSubscription } from '@atelier/sdk';
import { globals } from '../context.js';
import { print, UsageError } from '../output.js';
import { ask } from '../prompt.js';

function accountView(p: Profile) {
  return {
    endpoint: p.endpoint,
    user: p.username,
    tenantId: p.tenantId ?? p.tenant,
    subscriptionId: p.subscriptionId ?? null,
    tokenExpiresOn: new Date(p.expiresOn).toISOString(),
    refreshable: Boolean(p.refreshToken),
    profile: `${configDir()}/profile.json`,
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `login`, `logout`, `account show|set`. */
export function accountCommands(program: Command): void {
  program
    .command('login')
    .description(
      'sign in to an Atelier server and keep the profile and token in ~/.atelier/ (ATELIER_CONFIG_DIR moves it)',
    )
    .option('--username <name>', 'user name (asked when not given)')
    .option('--password <password>', 'password (asked without echo when not given; prefer --password-stdin in scripts)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--tenant <tenant>', "tenant GUID or 'common'", 'common')
    .addHelpText(
      'after',
      '\nThe server: --endpoint, else ATELIER_ENDPOINT, else the current profile, else http://127.0.0.1:8700.',
    )
    .action(
      async (o: { username?: string; password?: string; passwordStdin?: boolean; tenant: string }, cmd: Command) => {
        const g = globals(cmd);
        const endpoint = normaliseEndpoint(
          g.endpoint ?? process.env.ATELIER_ENDPOINT ?? safeProfile()?.endpoint ?? 'http://127.0.0.1:8700',
        );
        const username = o.username ?? (await ask(`User name at ${endpoint}: `, { option: '--username' }));
        if (o.password && o.passwordStdin) throw new UsageError('give --password or --password-stdin, not both');
        const password =
          o.password ??
          (o.passwordStdin
            ? await readStdin()
            : await ask('Password: ', { silent: true, option: '--password or --password-stdin' }));
        if (!username) throw new UsageError('a user name is needed');
        if (!password) throw new UsageError('a password is needed');
        let profile = await loginWithPassword({ endpoint, username, password, tenant: o.tenant });
        // Default subscription: the one asked for, else the first the user can see.
        const client = new ArmClient(endpoint, new ProfileAuthentication());
        const subs = await listSubscriptions(client);
        const chosen = g.subscription
          ? subs.find((s) => s.subscriptionId.toLowerCase() === g.subscription!.toLowerCase())
          : subs[0];
        if (g.subscription && !chosen) {
          deleteProfile();
          throw new UsageError(
            `subscription ${g.subscription} is not one you can see (${subs.map((s) => s.subscriptionId).join(', ') || 'none'}); not signed in`,
          );
        }
        if (chosen) {
          profile = { ...profile, subscriptionId: chosen.subscriptionId };
          writeProfile(profile);
        }
        if (g.output === 'table') process.stderr.write(`Signed in to ${endpoint} as ${username}.\n`);
        print(accountView(profile), g);
      },
    );

  program
    .command('logout')
    .description('forget the saved profile and its tokens')
    .action((_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const had = deleteProfile();
      print({ signedOut: had, profile: `${configDir()}/profile.json` }, g);
    });

  const account = program.command('account').description('the signed-in account');
  account
    .command('show')
    .description('who is signed in, to which server, and the default subscription')
    .action((_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const p = readProfile();
      if (!p) throw new AuthenticationError('not signed in: run `atelier login`', { code: 'NotSignedIn' });
      print(accountView(p), g);
    });
  account
    .command('set')
    .description('choose the default subscription')
    .requiredOption('--subscription <id>', 'subscription id to use by default')
    .action(async (o: { subscription: string }, cmd: Command) => {
      const g = globals(cmd);
      const p = readProfile();
      if (!p) throw new AuthenticationError('not signed in: run `atelier login`', { code: 'NotSignedIn' });
      const subs = await listSubscriptions(new ArmClient(p.endpoint, new ProfileAuthentication()));
      const chosen = subs.find((s) => s.subscriptionId.toLowerCase() === o.subscription.toLowerCase());
      if (!chosen)
        throw new UsageError(
          `subscription ${o.subscription} is not one you can see (${subs.map((s) => s.subscriptionId).join(', ') || 'none'})`,
        );
      const next = readProfile() ?? p;
      writeProfile({ ...next, subscriptionId: chosen.subscriptionId });
      print(accountView({ ...next, subscriptionId: chosen.subscriptionId }), g);
    });
  account
    .command('get-access-token')
    .description(
      'an access token of the signed-in account (accepted by the control plane, MLflow and identity routes), as `az account get-access-token` prints it; it lasts about an hour',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const client = createClient({ endpoint: g.endpoint });
      const t = await client.auth.getToken({ endpoint: client.endpoint, audience: MANAGEMENT_AUDIENCE });
      const subscription = await resolveSubscription(client, g.subscription);
      const claims = jwtClaims(t.token);
      const expires = t.expiresOnTimestamp || (typeof claims.exp === 'number' ? claims.exp * 1000 : 0);
      print(
        {
          accessToken: t.token,
          expiresOn: expires ? new Date(expires).toISOString() : null,
          expires_on: expires ? Math.floor(expires / 1000) : null,
          subscription,
          tenant: typeof claims.tid === 'string' ? claims.tid : null,
          tokenType: 'Bearer',
        },
        g,
      );
    });
  account
    .command('list-subscriptions')
    .description('the subscriptions you can see')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      print(await listSubscriptions(createClient({ endpoint: g.endpoint })), g, [
        'subscriptionId',
        'displayName',
        'state',
      ]);
    });
}

function safeProfile(): Profile | undefined {
  try {
    return readProfile();
  } catch {
    return undefined;
  }
}
