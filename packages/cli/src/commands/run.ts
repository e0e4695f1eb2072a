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

/** `run list|show`: the runs of a workspace's experiments (MLflow tracking). */
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
