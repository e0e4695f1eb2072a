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

/** `datastore list|files|upload|download|set-default|delete`: datastores of a workspace and the files in them. */
export function datastoreCommands(program: Command): void {
  const ds = program.command('datastore').description("a workspace's datastores and their files");

  wsOptions(ds.command('list').description('list the datastores of a workspace')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const ws = await workspaceOf(g, o);
      const rows = [...(await ws.datastores()).values()].map((d) => ({
        name: d.name,
        type: d.datastoreType,
        isDefault: d.isDefault,
        location:
          d.properties.containerName ?? d.properties.fileShareName ?? d.properties.bucket ?? d.properties.path ?? null,
      }));
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
