import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type ServerConfig } from './config.js';
import { createContext, type AppContext, type ContextOptions } from './context.js';
import { buildApp } from './app.js';
import { createServices, type Services } from './services.js';
import { freePort } from './free-port.js';

export interface RunningServer {
  app: FastifyInstance;
  ctx: AppContext;
  services: Services;
  /** The URL it listens on (with the real port when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

/** Starts a whole server: context (database, keys), services (services.ts), HTTP app, listening socket. */
export async function startServer(
  overrides: Partial<ServerConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
  opts: ContextOptions = {},
): Promise<RunningServer> {
  let config = loadConfig(env, overrides);
  const https =
    config.tlsCert && config.tlsKey
      ? { cert: fs.readFileSync(config.tlsCert), key: fs.readFileSync(config.tlsKey) }
      : undefined;
  // With port 0 the public URL is known only after listening; the context is made after that.
  if (config.port === 0) config = loadConfig(env, { ...overrides, port: await freePort(config.host) });
  const ctx = await createContext(config, opts);
  let app: FastifyInstance;
  let services: Services;
  try {
    services = createServices(ctx);
    app = await buildApp(ctx, services, { https });
    await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await ctx.database.close().catch(() => {});
    throw e;
  }
  let closed = false;
  return {
    app,
    ctx,
    services,
    url: config.publicUrl,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      for (const f of ctx.onClose.reverse()) await f();
      await ctx.database.close();
    },
  };
}

export { freePort };
