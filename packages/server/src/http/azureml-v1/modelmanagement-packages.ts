import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import type { Operation, OperationService } from '../../operations/operations.js';
import type { V1ModelPackages } from '../../v1-webservices/model-packages.js';
import type { V1ImagePackages } from '../../v1-webservices/image-packages.js';
import { CONTEXT_OPERATION } from '../../v1-webservices/model-packages.js';
import { IMAGE_OPERATION } from '../../v1-webservices/image-packages.js';
import { NotFound, Unauthenticated } from '../../errors.js';
import { WORKSPACE_SCOPE_CLAIM } from '../../identity/token-scopes.js';
import { resolveWorkspace } from '../../resources/workspaces.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const P = `/modelmanagement/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
/** The claim of a package URL's signature: the package operation it reads (and nothing else). */
const PACKAGE_CLAIM = 'atelier_v1_package';
const PACKAGE_URL_TTL_S = 3600;
type Params = { id: string; subscriptionId: string; resourceGroupName: string; workspaceName: string };

/**
 * The URLs of a package operation azureml-core's `ModelPackage` reads without its credentials (as
 * Azure's are SAS URLs): `operationLog` (`get_logs`) and, for a Docker build context,
 * `resourceLocation` (the manifest `save` downloads). Each carries a short-lived signature for that
 * one operation. Undefined for operations that are not packages.
 */
export async function packageUrls(
  ctx: AppContext,
  ws: WorkspaceInfo,
  op: Operation,
): Promise<{ operationLog: string; manifest?: string } | undefined> {
  if (op.kind !== CONTEXT_OPERATION && op.kind !== IMAGE_OPERATION) return undefined;
  const { token } = await ctx.tokens.issue(
    { oid: 'model-package-reader', idtyp: 'app', [PACKAGE_CLAIM]: op.id, [WORKSPACE_SCOPE_CLAIM]: ws.id },
    { ttlSeconds: PACKAGE_URL_TTL_S },
  );
  const base = `${ctx.config.publicUrl}/modelmanagement/v1.0${ws.id}/packages/${op.id}`;
  const sig = `sig=${encodeURIComponent(token)}`;
  return {
    operationLog: `${base}/log?${sig}`,
    ...(op.kind === CONTEXT_OPERATION ? { manifest: `${base}/context?${sig}` } : {}),
  };
}

/**
 * azureml-core's `Model.package` (`POST …/packages`, `assets/write`): a Docker build context
 * (`generate_dockerfile=True`) or an image package (model-packages.ts); and the two signed URLs its
 * `ModelPackage` reads: the build context's manifest and the package's log.
 */
export async function modelManagementPackageRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; packages: V1ModelPackages; images: V1ImagePackages; operations: OperationService },
) {
  const { ctx, packages, images, operations } = opts;
  app.post(`${P}/packages`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const op = await packages.create(ws, req.body, req.principal);
    const ops = `${req.url.split('?')[0]!.replace(/\/packages\/?$/, '')}/operations`;
    return reply.status(202).header('Operation-Location', `${ctx.config.publicUrl}${ops}/${op.id}`).send({});
  });

  /** The workspace and operation a signed URL opens, or a 401 saying why not. */
  const signed = async (p: Params, sig: unknown): Promise<{ ws: WorkspaceInfo; op: Operation }> => {
    const refused = (why: string) =>
      new Unauthenticated(`${why}; get a new URL from the package's operation (ModelPackage.update_creation_state())`, {
        code: 'INVALID_TOKEN',
      });
    if (typeof sig !== 'string' || !sig) throw refused('this package URL has no signature (sig)');
    const claims = await ctx.tokens.verify(sig).catch(() => {
      throw refused('the signature of this package URL is not valid or has expired');
    });
    const ws = await resolveWorkspace(ctx, p.subscriptionId, p.resourceGroupName, p.workspaceName);
    if (claims[PACKAGE_CLAIM] !== p.id || claims[WORKSPACE_SCOPE_CLAIM] !== ws.id)
      throw refused('this package URL was signed for another package');
    const op = await operations.get(p.id);
    if (!op) throw new NotFound(`package '${p.id}' could not be found`, { code: 'NOT_FOUND' });
    return { ws, op };
  };
  const PUBLIC = { config: { public: true }, schema: { hide: true } as object };
  app.get<{ Params: Params; Querystring: { sig?: string } }>(`${P}/packages/:id/context`, PUBLIC, async (req) => {
    const { ws } = await signed(req.params, req.query.sig);
    return packages.manifest(ws, req.params.id);
  });
  app.get<{ Params: Params; Querystring: { sig?: string } }>(`${P}/packages/:id/log`, PUBLIC, async (req, reply) => {
    const { ws, op } = await signed(req.params, req.query.sig);
    const text =
      op.kind === IMAGE_OPERATION
        ? await images.buildLog(ws, op.resourceId.slice(op.resourceId.lastIndexOf('/images/') + 8))
        : await packages.log(ws, op.id);
    return reply.type('text/plain; charset=utf-8').send(text);
  });
}
