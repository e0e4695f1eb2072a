import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Experiment, Workspace, type Run } from '@atelier/sdk';
import { globals, resolveWorkspace, type GlobalOptions } from '../context.js';
import { print, UsageError } from '../output.js';
import { confirm, parseTags } from '../prompt.js';

export interface TrackingWsOpts {
  workspace?: string;
  resourceGroup?: string;
}

/** The workspace named by `-w` (and `-g`), for the tracking and model commands. */
export async function trackingWorkspace(g: GlobalOptions, o: TrackingWsOpts): Promise<Workspace> {
  return resolveWorkspace(g, o);
}

export const trackingWsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)');

const row = (r: Run) => r.toJSON();

const TERMINAL = ['Completed', 'Failed', 'Canceled'];

/** The run `runId`, refusing to end one that has ended already (MLflow would silently rewrite its state). */
async function runToEnd(g: GlobalOptions, o: TrackingWsOpts, runId: string, verb: string): Promise<Run> {
  const r = await (await trackingWorkspace(g, o)).getRun(runId);
  const status = await r.getStatus();
  if (TERMINAL.includes(status))
    throw new Error(`run '${runId}' is ${status} already; only a running run can be ${verb}`);
  return r;
}

/** `run list|show|cancel|complete|fail|tag|download`: the runs of a workspace's experiments (MLflow tracking). */
export function runCommands(program: Command): void {
  const run = program.command('run').description("runs of a workspace's experiments (experiment tracking)");

  trackingWsOptions(run.command('list').description('list runs, newest first (top-level runs unless --all)'))
    .option('-e, --experiment <name>', 'only this experiment (default: every experiment)')
    .option('-a, --all', 'child runs too')
    .option('-s, --status <status>', 'only runs in this state: Running, Completed, Failed, Canceled')
    .option('--tags <key=value...>', 'only runs with these tags')
    .option('--top <n>', 'at most this many runs (newest first)', '100')
    .action(
      async (
        o: TrackingWsOpts & { experiment?: string; all?: boolean; status?: string; tags?: string[]; top: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        if (!/^[1-9]\d{0,6}$/.test(o.top)) throw new UsageError(`--top '${o.top}' must be a positive number`);
        const top = Number(o.top);
        const tags: Record<string, string> = {};
        for (const t of o.tags ?? []) {
          const i = t.indexOf('=');
          if (i <= 0) throw new UsageError(`--tags '${t}' must be key=value`);
          tags[t.slice(0, i)] = t.slice(i + 1);
        }
        const ws = await trackingWorkspace(g, o);
        const exps = o.experiment ? [await Experiment.get(ws, o.experiment)] : [...(await ws.experiments()).values()];
        const rows: Record<string, unknown>[] = [];
        for (const e of exps) {
          for (const r of await e.getRuns({
            includeChildren: Boolean(o.all),
            status: o.status,
            tags: o.tags ? tags : undefined,
            maxResults: top,
          }))
            rows.push(row(r));
        }
        rows.sort((a, b) => String(b.startTimeUtc ?? '').localeCompare(String(a.startTimeUtc ?? '')));
        print(rows.slice(0, top), g, [
          'id',
          'displayName',
          'experiment',
          'status',
          'parentId',
          'startTimeUtc',
          'endTimeUtc',
        ]);
      },
    );

  trackingWsOptions(run.command('show <runId>').description("a run's details, metrics and files"))
    .option('--no-metrics', 'leave out the metrics')
    .option('--no-files', 'leave out the file names')
    .action(async (runId: string, o: TrackingWsOpts & { metrics: boolean; files: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const ws = await trackingWorkspace(g, o);
      const r = await ws.getRun(runId);
      const details = await r.getDetails();
      print(
        {
          ...details,
          ...(o.metrics ? { metrics: await r.getMetrics() } : {}),
          ...(o.files ? { files: await r.getFileNames() } : {}),
          children: (await r.getChildren()).map((c) => c.id),
        },
        g,
      );
    });

  for (const [verb, past, what] of [
    ['cancel', 'canceled', 'mark a running run Canceled'],
    ['complete', 'completed', 'mark a running run Completed'],
    ['fail', 'failed', 'mark a running run Failed (--error keeps the reason as its tag `error`)'],
  ] as const) {
    const c = trackingWsOptions(run.command(`${verb} <runId>`).description(what));
    if (verb === 'fail') c.option('--error <message>', 'why it failed (kept as the tag `error`)');
    c.action(async (runId: string, o: TrackingWsOpts & { error?: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await runToEnd(g, o, runId, past);
      if (verb === 'cancel') await r.cancel();
      else if (verb === 'complete') await r.complete();
      else await r.fail(o.error);
      print({ id: r.id, status: await r.getStatus() }, g);
    });
  }

  trackingWsOptions(
    run
      .command('tag <runId>')
      .description("set or remove a run's tags (tags prefixed mlflow. and atelier. are the system's)"),
  )
    .option('--tags <key=value...>', 'tags to set (key=value …)')
    .option('--remove-tags <key...>', 'tag keys to remove')
    .action(async (runId: string, o: TrackingWsOpts & { tags?: string[]; removeTags?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const tags = parseTags(o.tags);
      if (!tags && !o.removeTags) throw new UsageError('say what to change: --tags key=value … or --remove-tags key …');
      for (const k of Object.keys(tags ?? {}))
        if (k.startsWith('mlflow.') || k.startsWith('atelier.'))
          throw new UsageError(`--tags '${k}': keys prefixed mlflow. or atelier. are the system's`);
      const r = await (await trackingWorkspace(g, o)).getRun(runId);
      if (tags) await r.setTags(tags);
      if (o.removeTags) {
        const have = await r.getTags();
        const unknown = o.removeTags.filter((k) => !(k in have));
        if (unknown.length)
          throw new UsageError(`--remove-tags: run '${runId}' has no tag ${unknown.map((k) => `'${k}'`).join(', ')}`);
        await r.removeTags(o.removeTags);
      }
      print({ id: r.id, tags: await r.getTags() }, g);
    });

  trackingWsOptions(
    run
      .command('download <runId>')
      .description(
        "download a run's files (all, or a file or the files below a folder with --path) into a local folder",
      ),
  )
    .option('--path <path>', "a file or folder of the run's files (default: all of them)")
    .option('-t, --target-dir <dir>', 'folder to download into (the files keep their paths below it)', '.')
    .option('--overwrite', 'replace local files that already exist')
    .action(
      async (
        runId: string,
        o: TrackingWsOpts & { path?: string; targetDir: string; overwrite?: boolean },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const r = await (await trackingWorkspace(g, o)).getRun(runId);
        const names = await r.getFileNames();
        const p = (o.path ?? '').replace(/^\/+|\/+$/g, '');
        const chosen = p ? names.filter((n) => n === p || n.startsWith(`${p}/`)) : names;
        if (!chosen.length)
          throw new UsageError(
            p ? `--path '${p}': run '${runId}' has no such file or folder` : `run '${runId}' has no files`,
          );
        const existing = chosen.map((n) => path.join(o.targetDir, ...n.split('/'))).filter((f) => fs.existsSync(f));
        if (existing.length && !o.overwrite)
          throw new UsageError(`'${existing[0]}' exists already; add --overwrite to replace local files`);
        let bytes = 0;
        for (const n of chosen) {
          const dest = path.join(o.targetDir, ...n.split('/'));
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          await r.downloadFile(n, dest, { overwrite: true });
          bytes += fs.statSync(dest).size;
        }
        print({ id: r.id, path: p, targetDir: o.targetDir, files: chosen.length, bytes }, g);
      },
    );

  const experiment = program.command('experiment').description("a workspace's experiments (MLflow tracking)");
  trackingWsOptions(experiment.command('list').description('list experiments'))
    .option('--view <view>', 'active (default), archived or all', 'active')
    .action(async (o: TrackingWsOpts & { view: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!['active', 'archived', 'all'].includes(o.view))
        throw new UsageError(`--view must be active, archived or all, got '${o.view}'`);
      const ws = await trackingWorkspace(g, o);
      print(
        (await Experiment.list(ws, { viewType: o.view as 'active' })).map((e) => e.toJSON()),
        g,
      );
    });
  trackingWsOptions(
    experiment.command('create <name>').description('create an experiment (made on first use otherwise)'),
  )
    .option('--tags <key=value...>', 'tags (key=value …)')
    .action(async (name: string, o: TrackingWsOpts & { tags?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const tags = parseTags(o.tags);
      const e = new Experiment(await trackingWorkspace(g, o), name);
      await e.ensure();
      for (const [k, v] of Object.entries(tags ?? {})) await e.tag(k, v);
      print((await Experiment.get(e.workspace, name)).toJSON(), g);
    });
  trackingWsOptions(
    experiment
      .command('delete <name>')
      .description('delete (archive) an experiment: its runs stay readable; `experiment restore` brings it back'),
  )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: TrackingWsOpts & { yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const e = await Experiment.get(await trackingWorkspace(g, o), name);
      await confirm(`Delete (archive) experiment '${name}'?`, o.yes);
      await e.archive();
      print((await Experiment.get(e.workspace, name)).toJSON(), g);
    });
  trackingWsOptions(
    experiment.command('restore <name>').description('bring back a deleted (archived) experiment'),
  ).action(async (name: string, o: TrackingWsOpts, cmd: Command) => {
    const g = globals(cmd);
    const e = await Experiment.get(await trackingWorkspace(g, o), name);
    await e.reactivate();
    print((await Experiment.get(e.workspace, name)).toJSON(), g);
  });
  trackingWsOptions(experiment.command('show <name>').description('an experiment by name')).action(
    async (name: string, o: TrackingWsOpts, cmd: Command) => {
      const g = globals(cmd);
      print((await Experiment.get(await trackingWorkspace(g, o), name)).toJSON(), g);
    },
  );
}
