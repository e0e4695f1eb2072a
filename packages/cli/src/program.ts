import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import v8 from 'node:v8';
import { Command, Option } from 'commander';
import { OUTPUT_FORMATS, UsageError } from './output.js';
import { serverCommands } from './commands/server.js';
import { accountCommands } from './commands/account.js';
import { groupCommands } from './commands/group.js';
import { workspaceCommands } from './commands/workspace.js';
import { datastoreCommands } from './commands/datastore.js';
import { userCommands } from './commands/user.js';
import { spCommands } from './commands/sp.js';
import { roleCommands } from './commands/role.js';
import { runCommands } from './commands/run.js';
import { modelCommands } from './commands/model.js';
import { keyvaultCommands } from './commands/keyvault.js';
import { mlflowCommands } from './commands/mlflow.js';
import { connectionCommands } from './commands/connection.js';
import { endpointCommands } from './commands/endpoint.js';
import { jobCommands } from './commands/job.js';
import { computeCommands } from './commands/compute.js';
import { tokenCommands } from './commands/token.js';
import { assetCommands, privateEndpointCommands } from './commands/assets.js';
import { imageCommands } from './commands/image.js';

/** The `atelier` command line. */
export function buildProgram(): Command {
  const program = new Command('atelier')
    .description('Atelier: a self-hosted machine-learning workspace (server, sign-in, resource groups, workspaces)')
    .version('0.1.0')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('json'))
    .option('--query <jmespath>', 'JMESPath query applied to the result before it is printed (e.g. "[].name")')
    .option('--endpoint <url>', 'the server (default: ATELIER_ENDPOINT, else the `atelier login` profile)')
    .option('--subscription <id>', "subscription (default: the profile's, else the only one you can see)")
    .option(
      '--ca-file <pem>',
      "trust this CA certificate (PEM) for the server's TLS certificate, as NODE_EXTRA_CA_CERTS does",
    )
    .addHelpText(
      'after',
      '\nSign-in: `atelier login` (profile in ~/.atelier/, or ATELIER_CONFIG_DIR), or ATELIER_TOKEN.',
    );
  program.configureHelp({ showGlobalOptions: true });
  program.exitOverride();
  program.hook('preAction', async (_program, actionCommand) => {
    running = actionCommand;
    if (actionCommand.parent?.name() !== 'server') lighterFetchOnNode20();
    const caFile = (actionCommand.optsWithGlobals() as { caFile?: string }).caFile;
    if (caFile !== undefined) await withCaFile(caFile);
  });
  serverCommands(program);
  accountCommands(program);
  groupCommands(program);
  workspaceCommands(program);
  datastoreCommands(program);
  userCommands(program);
  spCommands(program);
  roleCommands(program);
  runCommands(program);
  modelCommands(program);
  keyvaultCommands(program);
  mlflowCommands(program);
  connectionCommands(program);
  endpointCommands(program);
  jobCommands(program);
  computeCommands(program);
  tokenCommands(program);
  assetCommands(program);
  privateEndpointCommands(program);
  imageCommands(program);
  // Every sub-command reports usage errors the same way.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride();
  return program;
}

/**
 * On Node 20, the first `fetch` (undici) compiles its HTTP parser, llhttp in WebAssembly, with V8's
 * optimising tier too: ~0.1 s of CPU of the ~0.45 s that a command talking to a server costs there
 * (measured, `/usr/bin/time` of `atelier group list`). A command parses a few small answers, so
 * V8's baseline compiler (Liftoff) alone serves it as well. Node 22 and later compile it cheaply
 * and gain nothing from this (measured: slightly costlier), so only Node 20; and not the server,
 * which runs in this process for `atelier server start` and parses for as long as it runs.
 */
function lighterFetchOnNode20(): void {
  if (process.versions.node.split('.')[0] === '20') v8.setFlagsFromString('--liftoff-only');
}

/** The command being run, so errors can name its flags. */
let running: Command | undefined;
export const runningCommand = (): Command | undefined => running;

/**
 * --ca-file: Node reads extra CA certificates only when it starts (NODE_EXTRA_CA_CERTS), so the
 * command runs again in a child process that has it set, and this process ends with its exit code.
 */
async function withCaFile(file: string): Promise<void> {
  const abs = path.resolve(file);
  let pem: string;
  try {
    pem = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new UsageError(
      `--ca-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`--ca-file ${file}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
  if (process.env.NODE_EXTRA_CA_CERTS === abs) return;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: abs },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  const code = await new Promise<number>((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (c) => resolve(c ?? 1));
  });
  process.exit(code);
}
