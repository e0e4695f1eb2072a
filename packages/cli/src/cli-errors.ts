import type { Command, Option } from 'commander';

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The SDK's (and the server's) option names whose CLI flag is named otherwise: the SDK name, and
 * the flag's attribute name (commander's camel case of the long flag). Every other option name is
 * its flag in kebab case (`existOk` → `--exist-ok`, `targetPath` → `--target-path`).
 */
export const RENAMED: Readonly<Record<string, string>> = {
  subscriptionId: 'subscription',
  workspaceName: 'workspace',
  // compute create: the SDK's provisioning configuration, the flags of the Azure ML v2 YAML.
  minNodes: 'minInstances',
  maxNodes: 'maxInstances',
  idleSecondsBeforeScaledown: 'idleTimeBeforeScaleDown',
  vmSize: 'size',
  vmPriority: 'tier',
  // private-endpoint create: privateEndpointConfig.*
  vnetSubnetName: 'subnetName',
  // keyvault key create
  keySize: 'size',
  // role assignment create|list|delete: the server's body fields
  principalId: 'assignee',
  roleDefinitionId: 'role',
  // run list, experiment list, login
  maxResults: 'top',
  viewType: 'view',
  tenantId: 'tenant',
  // model register
  modelName: 'name',
  // datastore create --type s3 (--endpoint is the global option naming the Atelier server)
  endpoint: 'endpointUrl',
};

/** The option of `cmd` (or of an ancestor: the global options) whose attribute is `name`. */
function optionFor(cmd: Command | undefined, name: string): Option | undefined {
  for (let c: Command | null | undefined = cmd; c; c = c.parent) {
    for (const o of c.options) {
      if (o.attributeName() === name) return o;
      if (o.negate && o.long === `--no-${kebab(name)}`) return o;
    }
  }
  return undefined;
}

/**
 * The flag of `cmd` that sets the SDK or server option `name` (`a.b.name`: the last part, so that
 * `privateEndpointConfig.addressPrefixes` and `properties.description` are found too).
 */
export function flagFor(cmd: Command | undefined, name: string): string | undefined {
  const last = name.split('.').at(-1)!;
  const o = optionFor(cmd, RENAMED[last] ?? last);
  if (!o) return undefined;
  if (o.negate) return o.long;
  return [o.short, o.long].filter(Boolean).join('/');
}

/**
 * Rewrites an error of the SDK or the server in the flags of the command that failed: its advice
 * ("pass existOk: true" → "add --exist-ok"; "say which with resourceGroup" → "say which with
 * -g/--resource-group") and the option names it mentions ("minNodes (3) is more than maxNodes (1)"
 * → "--min-instances (3) is more than --max-instances (1)"; "properties.description: too long" →
 * "--description: too long"). A name the command has no flag for is left as it is.
 *
 * One table for every command: commander knows each command's options, `RENAMED` the few whose
 * flag is not the option name.
 */
export function inFlags(message: string, cmd: Command | undefined): string {
  const long = (name: string) => {
    const f = flagFor(cmd, name);
    return f ? f.split('/').at(-1)! : undefined;
  };
  return (
    message
      .replace(/\bpass ([\w.]+): true\b/g, (all, name: string) => {
        const flag = flagFor(cmd, name);
        if (!flag) return all;
        return flag.startsWith('--no-') ? `leave out ${flag}` : `add ${flag}`;
      })
      .replace(/\bpass ([\w.]+): false\b/g, (all, name: string) => {
        const flag = flagFor(cmd, name);
        return flag?.startsWith('--no-') ? `add ${flag}` : all;
      })
      .replace(/\bwith (subscriptionId|resourceGroup|workspaceName)\b/g, (all, name: string) => {
        const flag = flagFor(cmd, name);
        return flag ? `with ${flag}` : all;
      })
      // A camel-case option name, or a dotted path (properties.description, privateEndpointConfig.name).
      .replace(
        /(?<![-\w./])((?:[a-z]\w*\.)+[a-z]\w*|[a-z]+[A-Z]\w*)(?![\w/])/g,
        (all, name: string) => long(name) ?? all,
      )
  );
}
