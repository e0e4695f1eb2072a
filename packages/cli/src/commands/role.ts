import crypto from 'node:crypto';
import type { Command } from 'commander';
import { resolveSubscription } from '@atelier/sdk';
import { print, UsageError } from '../output.js';
import { confirm } from '../prompt.js';
import { identityClient, listAll, seg } from './identity-common.js';

interface Assignment {
  id: string;
  name: string;
  properties: {
    roleDefinitionId: string;
    principalId: string;
    principalType: string;
    scope: string;
    createdOn: string;
    description?: string | null;
  };
}
interface RoleDef {
  name: string;
  properties: { roleName: string; description: string };
}
const COLUMNS = ['role', 'principal', 'principalType', 'scope', 'name'];
const AUTHZ = '/providers/Microsoft.Authorization';

interface ScopeOptions {
  scope?: string;
  resourceGroup?: string;
  workspace?: string;
}

/** The scope: --scope as given, else subscription [/ resource group [/ workspace]]. */
async function scopeOf(
  client: Parameters<typeof resolveSubscription>[0],
  o: ScopeOptions,
  subscription: string | undefined,
): Promise<string> {
  if (o.scope) {
    if (o.resourceGroup || o.workspace)
      throw new UsageError('give --scope, or --resource-group [--workspace], not both');
    if (!o.scope.startsWith('/'))
      throw new UsageError(`--scope must be '/' or an id starting with /subscriptions/, got '${o.scope}'`);
    return o.scope.replace(/\/+$/, '') || '/';
  }
  if (o.workspace && !o.resourceGroup) throw new UsageError('--workspace needs --resource-group');
  const sub = await resolveSubscription(client, subscription);
  let s = `/subscriptions/${sub}`;
  if (o.resourceGroup) s += `/resourceGroups/${o.resourceGroup}`;
  if (o.workspace) s += `/providers/Microsoft.MachineLearningServices/workspaces/${o.workspace}`;
  return s;
}

const withScopeOptions = (c: Command) =>
  c
    .option('--scope <id>', "where the role applies: '/', /subscriptions/{id}, a resource group or resource id")
    .option('-g, --resource-group <name>', 'scope: this resource group of the subscription')
    .option('-w, --workspace <name>', 'scope: this workspace (with --resource-group)');

/** `atelier role assignment create|list|delete` and `atelier role list`. */
export function roleCommands(program: Command): void {
  const role = program.command('role').description('role-based access: who may do what, where');
  role
    .command('list')
    .description('list the built-in roles')
    .action(async (_o: unknown, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      const defs = await listAll<RoleDef>(client, `${AUTHZ}/roleDefinitions`, 'list roles');
      print(
        defs.map((d) => ({ role: d.properties.roleName, id: d.name, description: d.properties.description })),
        g,
        ['role', 'id', 'description'],
      );
    });
  const assignment = role
    .command('assignment')
    .description('role assignments (Microsoft.Authorization/roleAssignments)');

  const principalOf = async (client: ReturnType<typeof identityClient>['client'], assignee: string) =>
    (
      await client.request<{ id: string; name: string; kind: string }>('GET', `/identity/principals/${seg(assignee)}`, {
        what: `find '${assignee}'`,
      })
    ).body;
  const roleNames = async (client: ReturnType<typeof identityClient>['client']) => {
    const defs = await listAll<RoleDef>(client, `${AUTHZ}/roleDefinitions`, 'list roles');
    return new Map(defs.map((d) => [d.name, d.properties.roleName]));
  };
  const show = (a: Assignment, names: Map<string, string>, principals: Map<string, string>) => ({
    role: names.get(a.properties.roleDefinitionId.split('/').pop()!) ?? a.properties.roleDefinitionId,
    principal: principals.get(a.properties.principalId) ?? a.properties.principalId,
    principalType: a.properties.principalType,
    scope: a.properties.scope,
    name: a.name,
    id: a.id,
  });

  withScopeOptions(
    assignment
      .command('create')
      .description('give a user or service principal a role at a scope')
      .requiredOption('--assignee <name>', 'user name, application id or object id')
      .requiredOption('--role <role>', "Owner, Contributor, Reader or 'AzureML Data Scientist'"),
  )
    .option('--description <text>', 'why')
    .action(async (o: ScopeOptions & { assignee: string; role: string; description?: string }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      const scope = await scopeOf(client, o, g.subscription);
      const p = await principalOf(client, o.assignee);
      const names = await roleNames(client);
      const roleId = [...names].find(([, n]) => n.toLowerCase() === o.role.toLowerCase())?.[0];
      if (!roleId) throw new UsageError(`unknown role '${o.role}'; roles are: ${[...names.values()].join(', ')}`);
      const r = await client.request<Assignment>(
        'PUT',
        `${scope === '/' ? '' : scope}${AUTHZ}/roleAssignments/${crypto.randomUUID()}`,
        {
          body: {
            properties: {
              roleDefinitionId: `${AUTHZ}/roleDefinitions/${roleId}`,
              principalId: p.id,
              ...(o.description ? { description: o.description } : {}),
            },
          },
          what: `assign '${o.role}' to '${o.assignee}'`,
        },
      );
      print(show(r.body, names, new Map([[p.id, p.name]])), g);
    });

  withScopeOptions(
    assignment
      .command('list')
      .description(
        'list role assignments at a scope (default: the subscription), with those inherited from above and made below',
      )
      .option('--assignee <name>', 'only those of this user or service principal'),
  ).action(async (o: ScopeOptions & { assignee?: string }, cmd: Command) => {
    const { g, client } = identityClient(cmd);
    const scope = await scopeOf(client, o, g.subscription);
    const p = o.assignee ? await principalOf(client, o.assignee) : undefined;
    const path = `${scope === '/' ? '' : scope}${AUTHZ}/roleAssignments${p ? `?$filter=${encodeURIComponent(`principalId eq '${p.id}'`)}` : ''}`;
    const list = await listAll<Assignment>(client, path, 'list role assignments');
    const names = await roleNames(client);
    const principals = new Map<string, string>();
    for (const id of new Set(list.map((a) => a.properties.principalId))) {
      try {
        principals.set(id, (await principalOf(client, id)).name);
      } catch {
        /* a deleted principal: show its id */
      }
    }
    print(
      list.map((a) => show(a, names, principals)),
      g,
      COLUMNS,
    );
  });

  withScopeOptions(
    assignment
      .command('delete')
      .description('remove role assignments: by --ids, or by --assignee (and --role) at a scope')
      .option('--ids <id...>', 'full ids of role assignments')
      .option('--assignee <name>', 'user name, application id or object id')
      .option('--role <role>', 'only this role')
      .option('-y, --yes', 'do not ask for confirmation'),
  ).action(
    async (o: ScopeOptions & { ids?: string[]; assignee?: string; role?: string; yes?: boolean }, cmd: Command) => {
      const { g, client } = identityClient(cmd);
      let ids = o.ids ?? [];
      if (!ids.length) {
        if (!o.assignee) throw new UsageError('give --ids, or --assignee with a scope (--scope or --resource-group)');
        const scope = await scopeOf(client, o, g.subscription);
        const p = await principalOf(client, o.assignee);
        const names = await roleNames(client);
        const all = await listAll<Assignment>(
          client,
          `${scope === '/' ? '' : scope}${AUTHZ}/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${p.id}'`)}`,
          'list role assignments',
        );
        ids = all
          .filter((a) => a.properties.scope.toLowerCase() === scope.toLowerCase())
          .filter(
            (a) =>
              !o.role ||
              names.get(a.properties.roleDefinitionId.split('/').pop()!)?.toLowerCase() === o.role.toLowerCase(),
          )
          .map((a) => a.id);
        if (!ids.length)
          throw new UsageError(`'${o.assignee}' has no${o.role ? ` '${o.role}'` : ''} role assignment at ${scope}`);
      }
      await confirm(`Delete ${ids.length} role assignment(s)?`, o.yes);
      for (const id of ids) {
        if (!/\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}$/i.test(id))
          throw new UsageError(`'${id}' is not a role assignment id`);
        await client.request('DELETE', id, { what: `delete role assignment ${id}` });
      }
      print({ deleted: ids }, g);
    },
  );
}
