import path from 'node:path';
import type { Command } from 'commander';
import { globals } from '../context.js';
import { print, UsageError } from '../output.js';

/**
 * The server is not part of the CLI's npm package (it needs native modules and its own data root):
 * in a checkout of Atelier it is bundled beside the CLI; elsewhere this says how to run it.
 */
async function loadServer(): Promise<typeof import('@atelier/server')> {
  try {
    return await import('@atelier/server');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && (e as Error).message.includes('@atelier/server')) {
      throw new Error(
        '`atelier server start` runs the server from a checkout of Atelier (`npm install && npm start`, or `npx atelier server start` there); this installation of the CLI has no server. The other commands work against any server (--endpoint, ATELIER_ENDPOINT or `atelier login`).',
      );
    }
    throw e;
  }
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `atelier server start`: the Atelier server in this process (same as `npm start`); `server reset-admin-password`. */
export function serverCommands(program: Command): void {
  const server = program.command('server').description('run the Atelier server');
  server
    .command('start')
    .description('start the server in this process (configuration from ATELIER_* variables; options override them)')
    .option('--host <address>', 'address to listen on (ATELIER_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (ATELIER_PORT, default 8700; 0 = any free port)')
    .option('--home <folder>', 'data root (ATELIER_HOME, default ./.atelier)')
    .option('--database-url <url>', 'postgres://… to use PostgreSQL (ATELIER_DATABASE_URL)')
    .option('--public-url <url>', 'URL clients are told (ATELIER_PUBLIC_URL)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (ATELIER_LOG_LEVEL)')
    .option(
      '--tls',
      'serve HTTPS: with ATELIER_TLS_CERT/ATELIER_TLS_KEY, else a certificate made in the data root (printed: how to trust it)',
    )
    .addHelpText('after', '\nEvery ATELIER_* variable of `npm start -- --help` applies too.')
    .action(
      async (o: {
        host?: string;
        port?: string;
        home?: string;
        databaseUrl?: string;
        publicUrl?: string;
        logLevel?: string;
        tls?: boolean;
      }) => {
        // Options become the variables the server reads, so its own validation applies to both.
        const env = { ...process.env };
        if (o.host !== undefined) env.ATELIER_HOST = o.host;
        if (o.port !== undefined) env.ATELIER_PORT = o.port;
        if (o.home !== undefined) env.ATELIER_HOME = o.home;
        if (o.databaseUrl !== undefined) env.ATELIER_DATABASE_URL = o.databaseUrl;
        if (o.publicUrl !== undefined) env.ATELIER_PUBLIC_URL = o.publicUrl;
        if (o.logLevel !== undefined) env.ATELIER_LOG_LEVEL = o.logLevel;
        const started = performance.now();
        const { startServer, prepareTls } = await loadServer();
        let tlsMessage: string | undefined;
        if (o.tls) {
          const home = path.resolve(env.ATELIER_HOME ?? '.atelier');
          const tls = await prepareTls({ home, host: env.ATELIER_HOST, publicUrl: env.ATELIER_PUBLIC_URL, env });
          env.ATELIER_TLS_CERT = tls.tlsCert;
          env.ATELIER_TLS_KEY = tls.tlsKey;
          tlsMessage = tls.message;
        }
        const server = await startServer({}, env);
        const { ctx } = server;
        const lines = [
          `Atelier is listening on ${server.url} (data in ${ctx.config.home}, ${ctx.database.dialect}); ready in ${Math.round(performance.now() - started)} ms`,
        ];
        if (ctx.bootstrap.generatedAdminPassword) {
          lines.push(
            '',
            'First start: made the user "admin" with this password (shown once; set ATELIER_ADMIN_PASSWORD to choose it):',
            `  ${ctx.bootstrap.generatedAdminPassword}`,
            '',
          );
        }
        lines.push(
          `Tenant ${ctx.tenantId}, default subscription ${ctx.defaultSubscriptionId}.`,
          `Sign in with: atelier login --endpoint ${server.url} --username admin`,
        );
        if (tlsMessage) lines.push('', tlsMessage);
        process.stdout.write(lines.join('\n') + '\n');
        await new Promise<void>((resolve) => {
          const stop = () => {
            server.close().then(resolve, resolve);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );

  server
    .command('reset-admin-password')
    .description(
      "set the password of the user 'admin' directly in the server's database (for a lost generated password): no server or sign-in needed",
    )
    .option('--home <folder>', 'data root (ATELIER_HOME, default ./.atelier)')
    .option('--database-url <url>', 'postgres://… when the server uses PostgreSQL (ATELIER_DATABASE_URL)')
    .addHelpText(
      'after',
      '\nThe new password comes from ATELIER_ADMIN_PASSWORD, else standard input (one line). The admin is enabled\nand its sign-in sessions end. Stop the server first, or restart it after.',
    )
    .action(async (o: { home?: string; databaseUrl?: string }, cmd: Command) => {
      const g = globals(cmd);
      const password = process.env.ATELIER_ADMIN_PASSWORD || (process.stdin.isTTY ? '' : await readAll());
      if (!password) throw new UsageError('give the new password in ATELIER_ADMIN_PASSWORD or on standard input');
      const home = path.resolve(o.home ?? process.env.ATELIER_HOME ?? '.atelier');
      const { resetAdminPasswordAt } = await loadServer();
      const r = await resetAdminPasswordAt(
        { home, databaseUrl: o.databaseUrl ?? (process.env.ATELIER_DATABASE_URL || undefined) },
        password,
      );
      print(
        {
          user: r.name,
          id: r.id,
          passwordReset: true,
          enabled: true,
          sessionsEnded: r.sessionsEnded,
          database: r.database,
          home,
        },
        g,
      );
    });
}
