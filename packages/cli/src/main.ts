import { CommanderError } from 'commander';
import { AtelierError } from '@atelier/sdk';
import { UsageError } from './output.js';
import { inFlags } from './cli-errors.js';
import { buildProgram, runningCommand } from './program.js';

// The `atelier` command: runs the command line of program.ts and turns every failure into one line and an exit code.

/** One line on standard error, and the exit code: 2 usage, 1 anything else. */
function fail(e: unknown): never {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  if (e instanceof UsageError) {
    process.stderr.write(`atelier: ${oneLine(e.message)}\n`);
    process.exit(2);
  }
  if (e instanceof AtelierError) {
    let message = inFlags(e.message, runningCommand());
    if (e.code === 'UntrustedCertificate') message += ', or pass --ca-file <ca.pem>';
    process.stderr.write(`atelier: ${oneLine(message)}${e.code && !message.includes(e.code) ? ` [${e.code}]` : ''}\n`);
    process.exit(1);
  }
  if (e instanceof TypeError || e instanceof RangeError) {
    process.stderr.write(`atelier: ${oneLine(inFlags((e as Error).message, runningCommand()))}\n`);
    process.exit(2);
  }
  process.stderr.write(`atelier: ${oneLine(inFlags((e as Error)?.message ?? String(e), runningCommand()))}\n`);
  if (process.env.ATELIER_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  process.exit(1);
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  fail(e);
}
