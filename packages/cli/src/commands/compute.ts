import fs from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  AmlCompute,
  ComputeTarget,
  RayCompute,
  ValidationError,
  type ComputeConfiguration,
  type ComputeResource,
} from '@atelier/sdk';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { confirm, parseTags } from '../prompt.js';
import { withSpinner } from '../spinner.js';
import { inFlags } from '../cli-errors.js';
import { wsOptions, type WsOpts } from './ws-options.js';

const COLUMNS = ['name', 'type', 'provisioningState', 'state', 'size', 'nodes', 'maxNodes'];

/** One line of `compute list`. */
export function computeRow(c: ComputeResource): Record<string, unknown> {
  const p = c.properties;
  const inner = p.properties ?? {};
  return {
    name: c.name,
    type: p.computeType,
    provisioningState: p.provisioningState ?? null,
    state: inner.state ?? null,
    size: inner.vmSize ?? inner.dashboardUrl ?? null,
    nodes: inner.currentNodeCount ?? null,
    maxNodes: inner.scaleSettings?.maxNodeCount ?? null,
  };
}

interface CreateOpts extends WsOpts {
  file?: string;
  type?: string;
  size?: string;
  minInstances?: string;
  maxInstances?: string;
  idleTimeBeforeScaleDown?: string;
  tier?: string;
  dashboardUrl?: string;
  address?: string;
  description?: string;
  tags?: string[];
  wait: boolean;
}

function wholeNumber(v: unknown, flag: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : /^\d+$/.test(String(v).trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number, got '${String(v)}'`);
  return n;
}

/**
 * An Azure ML v2 compute file (`type: amlcompute`, `size`, `min_instances`, `max_instances`,
 * `idle_time_before_scale_down`, `tier`, `description`, `tags`) as create options; flags win.
 */
function fromFile(file: string): Partial<CreateOpts> & { name?: string; tagMap?: Record<string, string> } {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: expected a mapping`);
  const d = doc as Record<string, unknown>;
  const known = [
    '$schema',
    'name',
    'type',
    'size',
    'min_instances',
    'max_instances',
    'idle_time_before_scale_down',
    'tier',
    'description',
    'tags',
    'location',
    'dashboard_url',
    'address',
  ];
  for (const k of Object.keys(d))
    if (!known.includes(k)) throw new UsageError(`${file}: '${k}' is not a compute field here (${known.join(', ')})`);
  const str = (k: string) => (d[k] === undefined || d[k] === null ? undefined : String(d[k]));
  let tagMap: Record<string, string> | undefined;
  if (d.tags !== undefined) {
    if (!d.tags || typeof d.tags !== 'object' || Array.isArray(d.tags))
      throw new UsageError(`${file}: 'tags' must be a mapping`);
    tagMap = Object.fromEntries(Object.entries(d.tags as object).map(([k, v]) => [k, String(v)]));
  }
  return {
    name: str('name'),
    type: str('type'),
    size: str('size'),
    minInstances: str('min_instances'),
    maxInstances: str('max_instances'),
    idleTimeBeforeScaleDown: str('idle_time_before_scale_down'),
    tier: str('tier'),
    description: str('description'),
    dashboardUrl: str('dashboard_url'),
    address: str('address'),
    tagMap,
  };
}

function configOf(o: CreateOpts, fileTags?: Record<string, string>): ComputeConfiguration {
  const type = (o.type ?? 'amlcompute').toLowerCase();
  const tags = { ...(fileTags ?? {}), ...(parseTags(o.tags) ?? {}) };
  const tagOpt = Object.keys(tags).length ? { tags } : {};
  if (type === 'ray') {
    if (!o.dashboardUrl) throw new UsageError('--type ray needs --dashboard-url http://host:8265 (the Ray Jobs API)');
    for (const [flag, v] of [
      ['--size', o.size],
      ['--min-instances', o.minInstances],
      ['--max-instances', o.maxInstances],
      ['--idle-time-before-scale-down', o.idleTimeBeforeScaleDown],
      ['--tier', o.tier],
    ] as const)
      if (v !== undefined) throw new UsageError(`${flag} is for --type amlcompute; a Ray cluster sizes itself`);
    return RayCompute.attachConfiguration({
      dashboardUrl: o.dashboardUrl,
      ...(o.address ? { address: o.address } : {}),
      ...(o.description !== undefined ? { description: o.description } : {}),
      ...tagOpt,
    });
  }
  if (type !== 'amlcompute') throw new UsageError(`--type must be amlcompute or ray, got '${o.type}'`);
  if (o.dashboardUrl || o.address) throw new UsageError('--dashboard-url and --address are for --type ray');
  const tier = o.tier?.toLowerCase().replace(/_/g, '');
  if (tier !== undefined && tier !== 'dedicated' && tier !== 'lowpriority')
    throw new UsageError(`--tier must be dedicated or low_priority, got '${o.tier}'`);
  return AmlCompute.provisioningConfiguration({
    ...(o.size ? { vmSize: o.size } : {}),
    ...(tier ? { vmPriority: tier } : {}),
    minNodes: wholeNumber(o.minInstances, '--min-instances') ?? 0,
    ...(o.maxInstances !== undefined ? { maxNodes: wholeNumber(o.maxInstances, '--max-instances') } : {}),
    ...(o.idleTimeBeforeScaleDown !== undefined
      ? { idleSecondsBeforeScaledown: wholeNumber(o.idleTimeBeforeScaleDown, '--idle-time-before-scale-down') }
      : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...tagOpt,
  });
}

/** `atelier compute create|list|show|delete|stop|start|list-nodes`: a workspace's compute targets. */
export function computeCommands(program: Command): void {
  const compute = program
    .command('compute')
    .description("a workspace's compute targets: clusters of this server's machine, and attached Ray clusters");

  wsOptions(
    compute
      .command('create [name]')
      .description('create a compute cluster (or attach a Ray cluster), and wait until it is ready')
      .addHelpText(
        'after',
        '\nExamples:\n  atelier compute create cpu-cluster --size Standard_DS3_v2 --max-instances 4\n' +
          '  atelier compute create ray1 --type ray --dashboard-url http://127.0.0.1:8265\n' +
          '  atelier compute create -f compute.yml   (Azure ML v2 YAML: type, size, min_instances, …)',
      ),
  )
    .option('-f, --file <compute.yml>', 'an Azure ML v2 compute file (flags given win over it)')
    .option('-t, --type <type>', 'amlcompute (default) or ray')
    .option('--size <vmSize>', "node shape: Standard_DS3_v2, local-2c-4g, … (default: the server's)")
    .option('--min-instances <n>', 'nodes kept even when idle (default 0)')
    .option('--max-instances <n>', 'most nodes at once (default 1)')
    .option('--idle-time-before-scale-down <seconds>', 'how long an idle node stays (default 120)')
    .option('--tier <tier>', 'dedicated (default) or low_priority')
    .option('--dashboard-url <url>', 'ray: the Ray Jobs API address, http://host:8265')
    .option('--address <host:port>', "ray: the cluster's GCS address")
    .option('--description <text>', 'description')
    .option('--tags <key=value...>', 'tags (key=value …)')
    .option('--no-wait', 'return once the server accepted')
    .action(async (given: string | undefined, o: CreateOpts, cmd: Command) => {
      const g = globals(cmd);
      const file = o.file ? fromFile(o.file) : {};
      const merged = { ...o };
      for (const k of Object.keys(file) as (keyof typeof file)[])
        if (k !== 'tagMap' && k !== 'name' && merged[k as keyof CreateOpts] === undefined && file[k] !== undefined)
          (merged as Record<string, unknown>)[k] = file[k];
      const name = given ?? file.name;
      if (!name) throw new UsageError('name the compute: atelier compute create <name> (or name: in the -f file)');
      let config: ComputeConfiguration;
      try {
        config = configOf(merged, file.tagMap);
      } catch (e) {
        // The SDK checks the configuration; its option names become this command's flags.
        if (!(e instanceof ValidationError)) throw e;
        throw new UsageError(inFlags(e.message, cmd));
      }
      const ws = await resolveWorkspace(g, o);
      const target = await ComputeTarget.create(ws, name, config);
      if (o.wait)
        await withSpinner(`Creating compute '${name}'…`, `Created compute '${name}'`, (progress) =>
          target.waitForCompletion({ onProgress: progress }),
        );
      else await target.refresh();
      print(target.armResource, g);
    });

  wsOptions(compute.command('list').description('list the computes of a workspace')).action(
    async (o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const targets = await ComputeTarget.list(await resolveWorkspace(g, o));
      print(
        targets.map((t) => computeRow(t.armResource)),
        g,
        COLUMNS,
      );
    },
  );

  wsOptions(compute.command('show <name>').description('show a compute with its current node counts')).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      print((await ComputeTarget.get(await resolveWorkspace(g, o), name)).armResource, g);
    },
  );

  wsOptions(
    compute.command('list-nodes <name>').description('the nodes of a compute: state and the job each runs'),
  ).action(async (name: string, o: WsOpts, cmd: Command) => {
    const g = globals(cmd);
    print(await (await ComputeTarget.get(await resolveWorkspace(g, o), name)).listNodes(), g, [
      'nodeId',
      'nodeState',
      'runId',
      'privateIpAddress',
    ]);
  });

  for (const [verb, what] of [
    ['stop', 'stop a compute: it takes no new work; what runs finishes, then its nodes leave'],
    ['start', 'start a stopped compute'],
  ] as const) {
    wsOptions(compute.command(`${verb} <name>`).description(what)).action(
      async (name: string, o: WsOpts, cmd: Command) => {
        const g = globals(cmd);
        const target = await ComputeTarget.get(await resolveWorkspace(g, o), name);
        await (verb === 'stop' ? target.stop() : target.start());
        print(target.armResource, g);
      },
    );
  }

  wsOptions(compute.command('delete <name>').description('delete a compute (refused while jobs run on it)'))
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, o: WsOpts & { yes?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const target = await ComputeTarget.get(await resolveWorkspace(g, o), name);
      await confirm(`Delete compute '${name}'?`, o.yes);
      await withSpinner(`Deleting compute '${name}'…`, `Deleted compute '${name}'`, () => target.delete());
      print({ deleted: target.id }, g);
    });
}
