import type { Command } from 'commander';
import { Image } from '@atelier/sdk';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { wsOptions, type WsOpts } from './ws-options.js';

const imageRow = (i: Image) => ({
  name: i.name,
  kind: i.kind,
  status: i.status,
  digest: i.digest,
  environmentId: i.environmentId,
  deploymentId: i.deploymentId ?? null,
  modelId: i.modelId ?? null,
  tool: i.tool,
  pipRequirements: i.pipRequirements,
  createdTime: i.createdTime.toISOString(),
});

/** `image list|show`: a workspace's images — build records of environments and deployment packages (read-only). */
export function imageCommands(program: Command): void {
  const image = program
    .command('image')
    .description(
      "a workspace's images: build records of environments and deployment packages (the server makes them when it builds)",
    );
  wsOptions(image.command('list').description('list images, newest first'))
    .option('--top <n>', 'at most this many images', '100')
    .option('--kind <kind>', 'only images of this kind: environment or deployment')
    .action(async (o: WsOpts & { top: string; kind?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!/^[1-9]\d{0,3}$/.test(o.top)) throw new UsageError(`--top '${o.top}' must be a number from 1 to 9999`);
      if (o.kind !== undefined && !['environment', 'deployment'].includes(o.kind))
        throw new UsageError(`--kind must be environment or deployment, got '${o.kind}'`);
      const all = await Image.list(await resolveWorkspace(g, o), Number(o.top));
      print(all.filter((i) => !o.kind || i.kind === o.kind).map(imageRow), g, [
        'name',
        'kind',
        'status',
        'environmentId',
        'tool',
        'createdTime',
      ]);
    });
  wsOptions(image.command('show <name>').description('an image with its build log'))
    .option('--no-log', 'leave out the build log')
    .action(async (name: string, o: WsOpts & { log: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const i = await Image.get(await resolveWorkspace(g, o), name);
      print({ ...imageRow(i), ...(o.log ? { log: await i.getLogs() } : {}) }, g);
    });
}
