import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import mime from 'mime-types';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { MLFLOW_PREFIX } from '../mlflow/common.js';

/**
 * The studio (packages/studio, a React single-page app built by Vite) served by the server itself:
 * `index.html` at `/`, at `/studio/callback` (the OAuth redirect URI of client `atelier-studio`) and,
 * for browsers, at each workspace's tracking URI (MLflow prints `{tracking URI}/#/experiments/…/runs/…`);
 * its hashed bundles at `/studio/assets/*`, cached for a year. The pages are public (they hold no
 * data; everything they show comes from the authenticated API). The studio's folder is found through
 * the `@atelier/studio` workspace package, from the sources and from the bundled server alike.
 */
export function studioDist(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@atelier/studio/package.json');
    return path.join(path.dirname(pkg), 'dist');
  } catch {
    return null;
  }
}

/**
 * No inline script may run (scripts only from this origin), nothing may frame the studio
 * (clickjacking), and the only other origins are none: images of artifacts are `blob:` URLs.
 */
export const STUDIO_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', STUDIO_CSP)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin');
}

const NOT_BUILT = (dir: string | null) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Atelier Studio</title></head><body>` +
  `<h1>The studio is not built</h1><p>This server has no studio bundle${dir ? ` in <code>${dir}</code>` : ''}. ` +
  `Build it with <code>npm run build -w @atelier/studio</code> (<code>npm install</code> and <code>npm start</code> do it), then reload.</p></body></html>`;

export async function studioFeature(
  app: FastifyInstance,
  _opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const dist = studioDist();
  const assets = dist ? path.join(dist, 'assets') : null;

  const index = async (_req: FastifyRequest, reply: FastifyReply) => {
    securityHeaders(reply).header('cache-control', 'no-cache');
    const html = dist ? await fs.promises.readFile(path.join(dist, 'index.html')).catch(() => null) : null;
    if (!html) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT(dist));
    return reply.type('text/html; charset=utf-8').send(html);
  };
  const page = { config: { public: true }, schema: { hide: true } as object };
  app.get('/', page, index);
  app.get('/studio', page, index);
  app.get('/studio/callback', page, index);

  // A workspace's tracking URI, opened in a browser (MLflow's "View run at" links): the studio, which
  // turns `#/experiments/{id}/runs/{id}` into that workspace's run page. Other clients get MLflow's 404.
  app.get(MLFLOW_PREFIX, page, async (req, reply) => {
    if (String(req.headers.accept ?? '').includes('text/html')) return index(req, reply);
    return reply.status(404).send({
      error_code: 'ENDPOINT_NOT_FOUND',
      message:
        'This is a tracking URI: MLflow REST routes are below it (/api/2.0/mlflow/…); opened in a browser it shows the studio.',
    });
  });

  app.get('/studio/assets/*', page, async (req, reply) => {
    const rel = (req.params as Record<string, string>)['*'] ?? '';
    // Only plain file names of the bundle's assets folder: no folders, no dot-segments.
    if (!assets || !/^[A-Za-z0-9._-]+$/.test(rel) || rel.startsWith('.'))
      return reply.status(404).send({ error: { code: 'NotFound', message: `no studio asset '${rel}'` } });
    const file = path.join(assets, rel);
    const body = await fs.promises.readFile(file).catch(() => null);
    if (!body) return reply.status(404).send({ error: { code: 'NotFound', message: `no studio asset '${rel}'` } });
    // File names carry a content hash (Vite), so a name never changes meaning: cache it for good.
    return securityHeaders(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(mime.contentType(path.extname(rel)) || 'application/octet-stream')
      .send(body);
  });
}
