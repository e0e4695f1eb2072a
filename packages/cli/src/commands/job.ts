import fs from 'node:fs';
import type { Command } from 'commander';
import { globals, resolveWorkspace } from '../context.js';
import { print, UsageError } from '../output.js';
import { parseJobYaml } from './job-yaml.js';

interface WsOpts {
  workspace?: string;
  resourceGroup?: string;
}
const wsOptions = (c: Command): Command =>
  c
    .option('-w, --workspace <name>', 'workspace (default: the one in .azureml/config.json)')
    .option('-g, --resource-group <group>', 'resource group of the workspace (default: search the subscription)');

/** `job create|show|list|cancel|stream|logs`: a workspace's jobs. */
export function jobCommands(program: Command): void {
  const job = program
    .command('job')
    .description("a workspace's jobs: run commands on the server's machine or a compute");
  wsOptions(job.command('create').description('submit a job from an Azure ML v2 job file (type: command)'))
    .requiredOption('-f, --file <job.yml>', 'the job file')
    .option('-n, --name <name>', 'job name (default: the file’s name, else a new one)')
    .option('--stream', 'follow its output until it ends')
    .action(async (o: WsOpts & { file: string; name?: string; stream?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      let text: string;
      try {
        text = fs.readFileSync(o.file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${o.file}: ${(e as Error).message}`);
      }
      const parsed = parseJobYaml(text, o.file);
      const ws = await resolveWorkspace(g, o);
      const name = o.name ?? parsed.name;
      const submitted = await ws.submitJob(name, parsed.properties);
      if (!o.stream) return print(submitted, g);
      const ended = await ws.waitForJob(name, { onLine: (l) => process.stderr.write(`${l}\n`) });
      print(ended, g);
      if (ended.properties.status !== 'Completed') process.exitCode = 1;
    });
  wsOptions(job.command('show <name>').description('show a job and its status')).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      print(await (await resolveWorkspace(g, o)).getJob(name), g);
    },
  );
  wsOptions(job.command('list').description('list jobs, newest first'))
    .option('--type <jobType>', 'Command, Sweep or Pipeline')
    .option('--tags <key[=value]...>', 'only jobs with all these tags (a key alone: any value)')
    .action(async (o: WsOpts & { type?: string; tags?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const [first, ...rest] = o.tags ?? [];
      // The server filters on one tag (Azure's `tag` parameter); the others are checked here.
      const jobs = (await (await resolveWorkspace(g, o)).listJobs({ jobType: o.type, tag: first })).filter((j) =>
        rest.every((t) => {
          const i = t.indexOf('=');
          const tags = (j.properties.tags ?? {}) as Record<string, string>;
          return i < 0 ? t in tags : tags[t.slice(0, i)] === t.slice(i + 1);
        }),
      );
      print(
        jobs.map((j) => ({
          name: j.name,
          status: j.properties.status,
          type: j.properties.jobType,
          experiment: j.properties.experimentName,
        })),
        g,
        ['name', 'status', 'type', 'experiment'],
      );
    });
  wsOptions(job.command('cancel <name>').description('cancel a job (SIGTERM, a grace period, then SIGKILL)')).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const ws = await resolveWorkspace(g, o);
      await ws.cancelJob(name);
      print(await ws.getJob(name), g);
    },
  );
  wsOptions(job.command('stream <name>').description("follow a job's output until it ends")).action(
    async (name: string, o: WsOpts, cmd: Command) => {
      const g = globals(cmd);
      const ended = await (
        await resolveWorkspace(g, o)
      ).waitForJob(name, { onLine: (l) => process.stdout.write(`${l}\n`) });
      process.stderr.write(`job ${name}: ${ended.properties.status}\n`);
      if (ended.properties.status !== 'Completed') process.exitCode = 1;
    },
  );
  wsOptions(job.command('logs <name>').description("print a job's log file"))
    .option('--file <path>', 'which log', 'user_logs/std_log.txt')
    .action(async (name: string, o: WsOpts & { file: string }, cmd: Command) => {
      const g = globals(cmd);
      process.stdout.write(await (await resolveWorkspace(g, o)).jobLog(name, o.file));
    });
}
