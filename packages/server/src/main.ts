import { pathToFileURL } from 'node:url';
import { startServer } from './server.js';
import { CONFIG_DOC } from './config.js';

/** `npm start` / `atelier server start`: the server with its embedded defaults. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: npm start\n\nStarts the Atelier server. Configuration comes from the environment:\n');
    for (const [k, v] of Object.entries(CONFIG_DOC)) process.stdout.write(`  ${k.padEnd(24)} ${v}\n`);
    return;
  }
  const started = performance.now();
  const server = await startServer();
  const { ctx } = server;
  const lines = [
    `Atelier is listening on ${server.url} (data in ${ctx.config.home}, ${ctx.database.dialect}) — ready in ${Math.round(performance.now())} ms after process start (${Math.round(performance.now() - started)} ms for the server)`,
  ];
  if (ctx.bootstrap.generatedAdminPassword) {
    lines.push(
      '',
      'First start: made the user "admin" with this password (shown once; set ATELIER_ADMIN_PASSWORD to choose it):',
      `  ${ctx.bootstrap.generatedAdminPassword}`,
      '',
    );
  }
  lines.push(`Tenant ${ctx.tenantId}, default subscription ${ctx.defaultSubscriptionId}.`);
  process.stdout.write(lines.join('\n') + '\n');
  const stop = async (signal: string) => {
    ctx.log.info({ signal }, 'stopping');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`atelier: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
