import type { Command } from 'commander';
import { print } from '../output.js';
import { confirm } from '../prompt.js';
import { identityClient, listAll, seg } from './identity-common.js';

interface SecretView {
  keyId: string;
  displayName: string;
  hint: string;
  createdAt: string;
  expiresOn: string;
  expired: boolean;
  value?: string;
}
interface SpView {
  id: string;
  appId: string;
  displayName: string;
  enabled: boolean;
  createdAt: string;
  secrets?: SecretView[];
  tenantId?: string;
  secret?: SecretView;
  /** The principal of a user-assigned managed identity: its ARM id (it has no secrets). */
  managedIdentity?: string;
}
const COLUMNS = ['displayName', 'appId', 'enabled', 'secrets', 'id'];
const row = (s: SpView) => ({
  displayName: s.displayName,
  appId: s.appId,
  enabled: s.enabled,
  secrets: (s.secrets ?? [])
    .map((k) => `${k.hint}… until ${k.expiresOn.slice(0, 10)}${k.expired ? ' (expired)' : ''}`)
    .join('; '),
  id: s.id,
  ...(s.managedIdentity ? { managedIdentity: s.managedIdentity } : {}),
});

const ONCE =
  'The secret is shown only now: store it safely (it cannot be read again; `atelier sp reset-secret` makes a new one).\n';

function parseDays(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 3650)
    throw new TypeError(`--expires-in-days must be a whole number from 1 to 3650, got '${v}'`);
  return Number(v);
}

/** `atelier sp create|list|show|delete|reset-secret`: service principals (client id + secret). */
export function spCommands(program: Command): void {
  const sp = program
    .command('sp')
    .description(
      'service principals: programs that sign in with a client id and secret (needs Owner at the root scope)',
    );
  sp.command('create')
    .description('create a service principal; prints its client id, tenant and secret (shown once)')
    .requiredOption('--display-name <text>', 'what it is for, e.g. "nightly training"')
    .option('--expires-in-days <days>', 'lifetime of the secret, 1–3650 (default 365)', parseDays)
    .action(async (o: { displayName: string; expiresInDays?: number }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      const r = await client.request<SpView>('POST', '/identity/servicePrincipals', {
        body: { displayName: o.displayName, ...(o.expiresInDays ? { expiresInDays: o.expiresInDays } : {}) },
        what: 'create service principal',
      });
      const b = r.body;
      print(
        {
          appId: b.appId,
          tenantId: b.tenantId,
          displayName: b.displayName,
          id: b.id,
          secret: b.secret?.value,
          secretExpiresOn: b.secret?.expiresOn,
        },
        g,
      );
      process.stderr.write(ONCE);
    });
  sp.command('list')
    .description('list service principals (secrets by hint and expiry only)')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      print(
        (await listAll<SpView>(client, '/identity/servicePrincipals', 'list service principals')).map(row),
        g,
        COLUMNS,
      );
    });
  sp.command('show <appId>')
    .description('show a service principal (by application id or object id)')
    .action(async (appId: string, _o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      const b = (
        await client.request<SpView>('GET', `/identity/servicePrincipals/${seg(appId)}`, {
          what: `show service principal '${appId}'`,
        })
      ).body;
      print({ ...row(b), secrets: b.secrets }, g);
    });
  sp.command('reset-secret <appId>')
    .description('make a new secret (shown once); the old ones stop working unless --append')
    .option('--append', 'keep the existing secrets (for a rollover)')
    .option('--expires-in-days <days>', 'lifetime of the secret, 1–3650 (default 365)', parseDays)
    .action(async (appId: string, o: { append?: boolean; expiresInDays?: number }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      const r = await client.request<{ appId: string; tenantId: string; secret: SecretView }>(
        'POST',
        `/identity/servicePrincipals/${seg(appId)}/secrets`,
        {
          body: { replace: !o.append, ...(o.expiresInDays ? { expiresInDays: o.expiresInDays } : {}) },
          what: `reset the secret of '${appId}'`,
        },
      );
      print(
        {
          appId: r.body.appId,
          tenantId: r.body.tenantId,
          secret: r.body.secret.value,
          secretExpiresOn: r.body.secret.expiresOn,
          keyId: r.body.secret.keyId,
        },
        g,
      );
      process.stderr.write(ONCE);
    });
  sp.command('delete <appId>')
    .description('delete a service principal with its secrets and role assignments')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (appId: string, o: { yes?: boolean }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      await confirm(`Delete service principal '${appId}' and its role assignments?`, o.yes);
      await client.request('DELETE', `/identity/servicePrincipals/${seg(appId)}`, {
        what: `delete service principal '${appId}'`,
      });
      print({ deleted: appId }, g);
    });
}
