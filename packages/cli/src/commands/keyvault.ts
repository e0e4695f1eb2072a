import type { Command } from 'commander';
import type { Keyvault } from '@atelier/sdk';
import { globals, resolveWorkspace, type GlobalOptions } from '../context.js';
import { print, UsageError } from '../output.js';
import { parseTags } from '../prompt.js';
import { readStdinLine } from './identity-common.js';

interface KvOpts {
  workspace?: string;
  resourceGroup?: string;
  vault?: string;
}

/** The vault named by --vault (an ARM id), else the workspace's own (-w), reached through the workspace's server. */
async function vaultOf(g: GlobalOptions, o: KvOpts): Promise<Keyvault> {
  const ws = await resolveWorkspace(g, o);
  return o.vault ? ws.getKeyvault(o.vault) : ws.getDefaultKeyvault();
}

const kvOptions = (c: Command): Command =>
  c
    .option(
      '-w, --workspace <name>',
      'workspace (its key vault unless --vault is given; default: the one in .azureml/config.json)',
    )
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)')
    .option('--vault <armId>', 'another key vault, by ARM id');

const KEY_COLUMNS = ['name', 'version', 'kty', 'enabled', 'kid'];

/** `keyvault key create|list|show|versions|enable|disable|delete`: keys for customer-managed encryption. */
export function keyvaultCommands(program: Command): void {
  const kv = program
    .command('keyvault')
    .alias('kv')
    .description('key vault secrets and keys (keys: customer-managed keys for workspace encryption)');
  const key = kv.command('key').description('keys of a key vault');

  kvOptions(key.command('create <name>').description('create a key, or a new version of it'))
    .option('--kty <type>', 'RSA (default) or oct (AES)', 'RSA')
    .option('--size <bits>', 'RSA: 2048 (default), 3072, 4096; oct: 128, 192, 256 (default)')
    .option('--tags <key=value...>', 'tags (key=value …)')
    .action(async (name: string, o: KvOpts & { kty: string; size?: string; tags?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      if (o.kty !== 'RSA' && o.kty !== 'oct') throw new UsageError(`--kty must be RSA or oct, got '${o.kty}'`);
      if (o.size !== undefined && !/^\d+$/.test(o.size))
        throw new UsageError(`--size must be a number of bits, got '${o.size}'`);
      const v = await vaultOf(g, o);
      print(
        await v.createKey(name, { kty: o.kty, keySize: o.size ? Number(o.size) : undefined, tags: parseTags(o.tags) }),
        g,
        KEY_COLUMNS,
      );
    });

  kvOptions(key.command('list').description('list keys (ids and attributes)')).action(
    async (o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await vaultOf(g, o)).listKeys(), g, ['name', 'enabled', 'kid']);
    },
  );

  kvOptions(
    key
      .command('show <name> [version]')
      .description('a key version (default the current one): public part and attributes'),
  ).action(async (name: string, version: string | undefined, o: KvOpts, cmd: Command) => {
    const g = globals(cmd);
    print(await (await vaultOf(g, o)).getKey(name, version), g, KEY_COLUMNS);
  });

  kvOptions(key.command('versions <name>').description('every version of a key, newest first')).action(
    async (name: string, o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await vaultOf(g, o)).listKeyVersions(name), g, ['version', 'enabled', 'kid']);
    },
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    kvOptions(
      key
        .command(`${verb} <name> [version]`)
        .description(
          `${verb} a key version (default the current one)${enabled ? '' : ': data it protects cannot be read until it is enabled again'}`,
        ),
    ).action(async (name: string, version: string | undefined, o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await vaultOf(g, o)).setKeyEnabled(name, enabled, version), g, KEY_COLUMNS);
    });
  }

  kvOptions(
    key
      .command('delete <name>')
      .description('delete a key and all its versions (data it protects can no longer be read)'),
  ).action(async (name: string, o: KvOpts, cmd: Command) => {
    const g = globals(cmd);
    await (await vaultOf(g, o)).deleteKey(name);
    print({ deleted: name }, g);
  });

  const secret = kv.command('secret').description('secrets of a key vault (values are encrypted at rest)');

  kvOptions(secret.command('set <name>').description('set a secret (a new value replaces the old one)'))
    .option(
      '--value <value>',
      'the value (prefer --value-stdin: a command line is visible to other users of the machine)',
    )
    .option('--value-stdin', 'read the value from standard input')
    .option('--content-type <type>', 'content type kept with the secret')
    .action(
      async (
        name: string,
        o: KvOpts & { value?: string; valueStdin?: boolean; contentType?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if ((o.value === undefined) === !o.valueStdin)
          throw new UsageError('give the value with --value or --value-stdin (one of them)');
        const value = o.value ?? (await readStdinLine());
        await (await vaultOf(g, o)).setSecret(name, value, o.contentType);
        print({ name, set: true }, g);
      },
    );

  kvOptions(secret.command('list').description('list secrets (names and attributes, never values)')).action(
    async (o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await vaultOf(g, o)).listSecrets(), g);
    },
  );

  kvOptions(secret.command('show <name>').description('a secret with its value (handle the output with care)')).action(
    async (name: string, o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      const v = await vaultOf(g, o);
      print({ name, value: await v.getSecret(name), contentType: (await v.getSecretContentType(name)) ?? null }, g);
    },
  );

  kvOptions(secret.command('delete <name>').description('delete a secret')).action(
    async (name: string, o: KvOpts, cmd: Command) => {
      const g = globals(cmd);
      await (await vaultOf(g, o)).deleteSecret(name);
      print({ deleted: name }, g);
    },
  );
}
