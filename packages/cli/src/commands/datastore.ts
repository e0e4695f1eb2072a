import fs from 'node:fs';
import type { Command } from 'commander';
import { Datastore, Workspace } from '@atelier/sdk';
import { globals, resolveWorkspace, type GlobalOptions } from '../context.js';
import { print, UsageError } from '../output.js';
import { progressBar } from '../progress.js';
import { confirm } from '../prompt.js';
import { wsOptions as workspaceOptions } from './ws-options.js';

interface WsOpts {
  workspace?: string;
  resourceGroup?: string;
  datastore?: string;
}

async function workspaceOf(g: GlobalOptions, o: WsOpts): Promise<Workspace> {
  return resolveWorkspace(g, o);
}

async function datastoreOf(g: GlobalOptions, o: WsOpts): Promise<Datastore> {
  const ws = await workspaceOf(g, o);
  return o.datastore ? Datastore.get(ws, o.datastore) : ws.getDefaultDatastore();
}

const wsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)')
    .option('-d, --datastore <name>', "datastore (default: the workspace's default datastore)");

interface CreateOpts extends WsOpts {
  type?: string;
  accountName?: string;
  containerName?: string;
  accountKey?: string;
  accountKeyFile?: string;
  sasToken?: string;
  sasTokenFile?: string;
  subscription?: string;
  storageResourceGroup?: string;
  path?: string;
  endpointUrl?: string;
  bucket?: string;
  region?: string;
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  secretAccessKeyFile?: string;
}

const DATASTORE_TYPES = ['azure-blob', 'server-folder', 's3'] as const;

/**
 * A secret from its flag, else the file its `-file` flag names, else an environment variable:
 * never echoed back (the command prints the datastore, whose secrets the server never returns).
 */
function secretOf(
  value: string | undefined,
  file: string | undefined,
  flag: string,
  envName: string,
): string | undefined {
  if (value !== undefined && file !== undefined) throw new UsageError(`give --${flag} or --${flag}-file, not both`);
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new UsageError(`--${flag}-file '${file}' does not exist`);
    const v = fs.readFileSync(file, 'utf8').trim();
    if (!v) throw new UsageError(`--${flag}-file '${file}' is empty`);
    return v;
  }
  return value ?? (process.env[envName] || undefined);
}

const required = (v: string | undefined, flag: string, type: string): string => {
  if (!v) throw new UsageError(`a ${type} datastore needs --${flag}`);
  return v;
};

const datastoreRow = (d: Datastore) => ({
  name: d.name,
  type: d.datastoreType,
  isDefault: d.isDefault,
  location:
    d.properties.containerName ?? d.properties.fileShareName ?? d.properties.bucket ?? d.properties.path ?? null,
  credentialsType: (d.properties.credentials as { credentialsType?: string } | undefined)?.credentialsType ?? null,
});

/** `datastore list|files|upload|download|set-default|create|delete`: datastores of a workspace and the files in them. */
export function datastoreCommands(program: Command): void {
  const ds = program.command('datastore').description("a workspace's datastores and their files");

  wsOptions(ds.command('list').description('list the datastores of a workspace')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const ws = await workspaceOf(g, o);
      const rows = [...(await ws.datastores()).values()].map(datastoreRow);
      print(rows, g, ['name', 'type', 'isDefault', 'location']);
    },
  );

  wsOptions(
    ds
      .command('files [prefix]')
      .description('list the files below a path of a datastore')
      .option('-r, --recursive', 'every file below, not just the direct children'),
  ).action(async (prefix: string | undefined, o: WsOpts & { recursive?: boolean }, cmd: Command) => {
    const g = globals(cmd);
    const d = await datastoreOf(g, o);
    print(await d.listFiles(prefix ?? '', { recursive: Boolean(o.recursive) }), g, [
      'path',
      'size',
      'isDir',
      'modified',
    ]);
  });

  wsOptions(
    ds
      .command('upload <paths...>')
      .description('upload local files and folders to a datastore (streamed, with a progress bar)'),
  )
    .option('-t, --target-path <path>', 'folder in the datastore to upload into (default: its root)')
    .option('--overwrite', 'replace files that already exist')
    .action(async (paths: string[], o: WsOpts & { targetPath?: string; overwrite?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      for (const p of paths) if (!fs.existsSync(p)) throw new UsageError(`'${p}' does not exist`);
      const d = await datastoreOf(g, o);
      const bar = progressBar('Uploading');
      let files = 0;
      let bytes = 0;
      try {
        const singles = paths.filter((p) => fs.statSync(p).isFile());
        if (singles.length) {
          const r = await d.uploadFiles(singles, {
            targetPath: o.targetPath,
            overwrite: Boolean(o.overwrite),
            showProgress: false,
            onProgress: bar.onProgress,
          });
          files += r.files;
          bytes += r.bytes;
        }
        for (const folder of paths.filter((p) => fs.statSync(p).isDirectory())) {
          const r = await d.upload(folder, {
            targetPath: o.targetPath,
            overwrite: Boolean(o.overwrite),
            showProgress: false,
            onProgress: bar.onProgress,
          });
          files += r.files;
          bytes += r.bytes;
        }
      } finally {
        bar.stop();
      }
      print({ datastore: d.name, targetPath: o.targetPath ?? '', files, bytes }, g);
    });

  wsOptions(
    ds
      .command('download <prefix> <dest>')
      .description(
        'download a file or the files below a folder of a datastore into a local folder (streamed, with a progress bar)',
      ),
  )
    .option('--overwrite', 'replace local files that already exist')
    .action(async (prefix: string, dest: string, o: WsOpts & { overwrite?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const d = await datastoreOf(g, o);
      const bar = progressBar('Downloading');
      let r: { files: number; bytes: number };
      try {
        r = await d.download(dest, {
          prefix,
          overwrite: Boolean(o.overwrite),
          showProgress: false,
          onProgress: bar.onProgress,
        });
      } finally {
        bar.stop();
      }
      print({ datastore: d.name, prefix, dest, files: r.files, bytes: r.bytes }, g);
    });

  workspaceOptions(
    ds
      .command('set-default <name>')
      .description('make a datastore the default one (where uploads and data assets go when none is named)'),
  ).action(async (name: string, o: WsOpts, cmd: Command) => {
    const g = globals(cmd);
    const ws = await workspaceOf(g, o);
    await ws.setDefaultDatastore(name);
    print({ name, isDefault: true }, g);
  });

  workspaceOptions(
    ds
      .command('create <name>')
      .description(
        'register a datastore (or replace the registration of that name): an Azure blob container, a folder on the server or an S3 bucket',
      ),
  )
    .requiredOption('--type <type>', `kind of datastore: ${DATASTORE_TYPES.join(', ')}`)
    .option('--account-name <name>', 'azure-blob: the storage account')
    .option('--container-name <name>', 'azure-blob: the blob container')
    .option(
      '--account-key <key>',
      'azure-blob: an account key (or --account-key-file, or ATELIER_DATASTORE_ACCOUNT_KEY)',
    )
    .option('--account-key-file <file>', 'azure-blob: a file holding the account key')
    .option(
      '--sas-token <token>',
      'azure-blob: a SAS token instead of a key (or --sas-token-file, or ATELIER_DATASTORE_SAS_TOKEN)',
    )
    .option('--sas-token-file <file>', 'azure-blob: a file holding the SAS token')
    .option('--subscription <id>', "azure-blob: the storage account's subscription (default: the workspace's)")
    .option('--storage-resource-group <group>', "azure-blob: the storage account's resource group")
    .option('--path <folder>', 'server-folder: an absolute folder the administrator allowed (ATELIER_DATASTORE_ROOTS)')
    .option('--endpoint-url <url>', 's3: the S3-compatible endpoint')
    .option('--bucket <bucket>', 's3: the bucket')
    .option('--region <region>', 's3: the region')
    .option('--prefix <prefix>', 's3: a key prefix inside the bucket')
    .option('--access-key-id <id>', 's3: the access key id (or AWS_ACCESS_KEY_ID)')
    .option(
      '--secret-access-key <key>',
      's3: the secret access key (or --secret-access-key-file, or AWS_SECRET_ACCESS_KEY)',
    )
    .option('--secret-access-key-file <file>', 's3: a file holding the secret access key')
    .addHelpText(
      'after',
      '\nSecrets are sent to the server (kept encrypted in the workspace key vault) and never printed.\n' +
        'Examples:\n' +
        '  atelier datastore create team --type azure-blob --account-name acct --container-name team --account-key-file key.txt\n' +
        '  atelier datastore create shared --type server-folder --path /srv/data\n' +
        '  atelier datastore create lake --type s3 --endpoint-url http://minio:9000 --bucket lake --access-key-id AK --secret-access-key-file sk.txt',
    )
    .action(async (name: string, o: CreateOpts, cmd: Command) => {
      const g = globals(cmd);
      const type = o.type as (typeof DATASTORE_TYPES)[number];
      if (!DATASTORE_TYPES.includes(type))
        throw new UsageError(`--type must be one of ${DATASTORE_TYPES.join(', ')}, got '${o.type}'`);
      const given = (flags: string[]) => flags.filter((f) => o[f as keyof CreateOpts] !== undefined);
      // Each type's own flags; every other type's flags are refused by name.
      const own: Record<(typeof DATASTORE_TYPES)[number], string[]> = {
        'azure-blob': [
          'accountName',
          'containerName',
          'accountKey',
          'accountKeyFile',
          'sasToken',
          'sasTokenFile',
          'subscription',
          'storageResourceGroup',
        ],
        'server-folder': ['path'],
        s3: ['endpointUrl', 'bucket', 'region', 'prefix', 'accessKeyId', 'secretAccessKey', 'secretAccessKeyFile'],
      };
      const foreign = DATASTORE_TYPES.filter((t) => t !== type).flatMap((t) => own[t]);
      const wrong = given(foreign);
      if (wrong.length)
        throw new UsageError(
          `${wrong.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} ${wrong.length > 1 ? 'do' : 'does'} not apply to a ${type} datastore`,
        );
      let d: Datastore;
      if (type === 'azure-blob') {
        const accountKey = secretOf(o.accountKey, o.accountKeyFile, 'account-key', 'ATELIER_DATASTORE_ACCOUNT_KEY');
        const sasToken = secretOf(o.sasToken, o.sasTokenFile, 'sas-token', 'ATELIER_DATASTORE_SAS_TOKEN');
        if (accountKey && sasToken) throw new UsageError('give an account key or a SAS token, not both');
        const opts = {
          datastoreName: name,
          accountName: required(o.accountName, 'account-name', type),
          containerName: required(o.containerName, 'container-name', type),
          ...(accountKey ? { accountKey } : {}),
          ...(sasToken ? { sasToken } : {}),
          ...(o.subscription ? { subscriptionId: o.subscription } : {}),
          ...(o.storageResourceGroup ? { resourceGroup: o.storageResourceGroup } : {}),
        };
        d = await Datastore.registerAzureBlobContainer(await workspaceOf(g, o), opts);
      } else if (type === 'server-folder') {
        const opts = { datastoreName: name, path: required(o.path, 'path', type) };
        d = await Datastore.registerServerFolder(await workspaceOf(g, o), opts);
      } else {
        const opts = {
          datastoreName: name,
          endpoint: required(o.endpointUrl, 'endpoint-url', type),
          bucket: required(o.bucket, 'bucket', type),
          ...(o.region ? { region: o.region } : {}),
          ...(o.prefix ? { prefix: o.prefix } : {}),
          accessKeyId: required(o.accessKeyId ?? (process.env.AWS_ACCESS_KEY_ID || undefined), 'access-key-id', type),
          secretAccessKey: required(
            secretOf(o.secretAccessKey, o.secretAccessKeyFile, 'secret-access-key', 'AWS_SECRET_ACCESS_KEY'),
            'secret-access-key',
            type,
          ),
        };
        d = await Datastore.registerS3(await workspaceOf(g, o), opts);
      }
      print(datastoreRow(d), g);
    });

  workspaceOptions(
    ds
      .command('delete <name>')
      .description(
        "delete a datastore's registration (its files stay where they are; the default and system datastores cannot be deleted)",
      ),
  )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: WsOpts & { yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const d = await Datastore.get(await workspaceOf(g, o), name);
      await confirm(`Delete datastore '${d.name}'? (its files stay)`, o.yes);
      await d.delete();
      print({ deleted: d.name }, g);
    });
}
