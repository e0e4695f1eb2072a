import fs from 'node:fs';
import type { Command } from 'commander';
import { Model } from '@atelier/sdk';
import { globals } from '../context.js';
import { print, UsageError } from '../output.js';
import { trackingWorkspace, trackingWsOptions, type TrackingWsOpts } from './run.js';
import { progressBar } from '../progress.js';

function parseTags(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const t of list) {
    const i = t.indexOf('=');
    if (i <= 0) throw new UsageError(`--tags '${t}' must be key=value`);
    out[t.slice(0, i)] = t.slice(i + 1);
  }
  return out;
}
/** `name`, `name:version` (azureml-core's model id) and `--model-version`. */
function modelRef(ref: string, option: string | undefined): { model: string; version?: number } {
  const i = ref.lastIndexOf(':');
  const model = i > 0 ? ref.slice(0, i) : ref;
  const given = i > 0 ? ref.slice(i + 1) : undefined;
  if (given !== undefined && option !== undefined && given !== option)
    throw new UsageError(`'${ref}' and --model-version ${option} name different versions; give one`);
  const v = given ?? option;
  if (v === undefined) return { model };
  if (!/^[1-9]\d{0,9}$/.test(v)) throw new UsageError(`model version '${v}' must be a version number (1, 2, …)`);
  return { model, version: Number(v) };
}

/** `model list|show|download|register|tag|delete`: the workspace's model registry. */
export function modelCommands(program: Command): void {
  const model = program.command('model').description('registered models of a workspace (the model registry)');

  trackingWsOptions(model.command('list').description('list model versions (newest version first)'))
    .option('-n, --name <name>', 'only this model')
    .option('--tags <key=value...>', 'only versions with these tags')
    .option('--latest', 'only the latest version of each model')
    .action(async (o: TrackingWsOpts & { name?: string; tags?: string[]; latest?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await trackingWorkspace(g, o);
      const models = await Model.list(ws, { name: o.name, tags: parseTags(o.tags), latest: Boolean(o.latest) });
      print(
        models.map((m) => m.toJSON()),
        g,
        ['name', 'version', 'stage', 'tags', 'runId', 'createdTime', 'description'],
      );
    });

  trackingWsOptions(model.command('show <model>').description('a model version (default: the latest)'))
    .option('-v, --model-version <n>', 'version (or give the model as name:version)')
    .action(async (name: string, o: TrackingWsOpts & { modelVersion?: string }, cmd: Command) => {
      const g = globals(cmd);
      const { model, version } = modelRef(name, o.modelVersion);
      const ws = await trackingWorkspace(g, o);
      print((await Model.get(ws, model, { version })).toJSON(), g);
    });

  trackingWsOptions(
    model.command('download <model>').description("download a model version's files (streamed, with a progress bar)"),
  )
    .option('-v, --model-version <n>', 'version (default: the latest; or give the model as name:version)')
    .option('-t, --target-dir <dir>', 'folder to download into', '.')
    .option('--exist-ok', 'replace local files that already exist')
    .action(
      async (
        name: string,
        o: TrackingWsOpts & { modelVersion?: string; targetDir: string; existOk?: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const { model, version } = modelRef(name, o.modelVersion);
        const ws = await trackingWorkspace(g, o);
        const m = await Model.get(ws, model, { version });
        const bar = progressBar('Downloading');
        let bytes = 0;
        let files = 0;
        let where: string;
        try {
          where = await m.download(o.targetDir, {
            existOk: Boolean(o.existOk),
            onProgress: (p) => {
              bytes = p.bytesDone;
              files = p.filesDone;
              bar.onProgress(p);
            },
          });
        } finally {
          bar.stop();
        }
        print({ name: m.name, version: m.version, path: where, files, bytes }, g);
      },
    );

  trackingWsOptions(
    model
      .command('register <path>')
      .description('register a local file or folder as a new model version (uploaded streamed, with a progress bar)'),
  )
    .requiredOption('-n, --name <name>', 'model name')
    .option('--tags <key=value...>', 'tags of the version')
    .option('-d, --description <text>', 'description')
    .option('-r, --run-id <id>', "upload into this run's artifacts and link the version to it")
    .action(
      async (
        p: string,
        o: TrackingWsOpts & { name: string; tags?: string[]; description?: string; runId?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (!fs.existsSync(p)) throw new UsageError(`'${p}' does not exist`);
        const tags = parseTags(o.tags);
        const ws = await trackingWorkspace(g, o);
        const bar = progressBar('Uploading');
        let m: Model;
        try {
          m = await Model.register(ws, {
            modelPath: p,
            modelName: o.name,
            tags,
            description: o.description,
            runId: o.runId,
            onProgress: bar.onProgress,
          });
        } finally {
          bar.stop();
        }
        print(m.toJSON(), g);
      },
    );

  trackingWsOptions(
    model.command('tag <model>').description("set or remove a model version's tags (default: the latest version)"),
  )
    .option('-v, --model-version <n>', 'version (or give the model as name:version)')
    .option('--tags <key=value...>', 'tags to set (key=value …)')
    .option('--remove-tags <key...>', 'tag keys to remove')
    .action(
      async (
        name: string,
        o: TrackingWsOpts & { modelVersion?: string; tags?: string[]; removeTags?: string[] },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const tags = parseTags(o.tags);
        if (!tags && !o.removeTags?.length)
          throw new UsageError('say what to change: --tags key=value … or --remove-tags key …');
        const { model, version } = modelRef(name, o.modelVersion);
        const m = await Model.get(await trackingWorkspace(g, o), model, { version });
        const unknown = (o.removeTags ?? []).filter((k) => !(k in m.tags));
        if (unknown.length)
          throw new UsageError(`--remove-tags: model '${m.id}' has no tag ${unknown.map((k) => `'${k}'`).join(', ')}`);
        if (tags) await m.addTags(tags);
        if (o.removeTags?.length) await m.removeTags(o.removeTags);
        print(m.toJSON(), g);
      },
    );

  trackingWsOptions(
    model.command('delete <model>').description('delete a model version (the model goes with its last version)'),
  )
    .option('-v, --model-version <n>', 'version (or give the model as name:version)')
    .action(async (name: string, o: TrackingWsOpts & { modelVersion?: string }, cmd: Command) => {
      const g = globals(cmd);
      const { model, version } = modelRef(name, o.modelVersion);
      if (version === undefined)
        throw new UsageError('say which version to delete: name:version or --model-version <n>');
      const ws = await trackingWorkspace(g, o);
      await (await Model.get(ws, model, { version })).delete();
      print({ deleted: `${model}:${version}` }, g);
    });
}
