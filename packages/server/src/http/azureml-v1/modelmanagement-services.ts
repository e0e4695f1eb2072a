import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { DeploymentServices } from '../../deployments/services.js';
import type { OperationService, Operation } from '../../operations/operations.js';
import type { V1Webservices } from '../../v1-webservices/webservices.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { obj, onlyKeys, str, type Obj } from '../../assets/validate.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';
import { packageUrls } from './modelmanagement-packages.js';
import { CONTEXT_OPERATION } from '../../v1-webservices/model-packages.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { type V1WebserviceDeployer, UPDATE_OPERATION } from '../../v1-webservices/deploy.js';

const P = `/modelmanagement/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
type Name = { Params: { name: string } };

/** `…/modelmanagement/v1.0/W/operations` from the URL of a request below `…/services/{name}/…`. */
function operationsPath(url: string): string {
  return `${url.split('?')[0]!.replace(/\/services\/.*$/, '')}/operations`;
}

/**
 * An operation in the model management service's shape (`state`, `error`). A package's (Model.package,
 * Image.create) has the signed `operationLog` azureml-core's `ModelPackage` reads; a Docker build
 * context's is `PackageDockerBuildContext` and its `resourceLocation` is the context's manifest.
 */
async function operationDto(ctx: AppContext, ws: WorkspaceInfo, op: Operation): Promise<Record<string, unknown>> {
  const state = op.status === 'InProgress' ? 'Running' : op.status === 'Canceled' ? 'Cancelled' : op.status;
  const pkg = await packageUrls(ctx, ws, op);
  return {
    id: op.id,
    operationType: op.kind === CONTEXT_OPERATION ? 'PackageDockerBuildContext' : op.kind,
    state,
    createdTime: op.startTime,
    endTime: op.endTime,
    resourceLocation: pkg?.manifest ? (op.status === 'Succeeded' ? pkg.manifest : null) : op.resourceId,
    ...(pkg ? { operationLog: pkg.operationLog } : {}),
    // azureml-core then points a failed deployment's user at get_logs().
    ...(op.kind === 'onlineDeployment.provision' || op.kind === UPDATE_OPERATION
      ? { operationDetails: { subOperationType: 'DeployService' } }
      : {}),
    ...(op.error ? { error: { code: op.error.code, message: op.error.message } } : {}),
  };
}

/**
 * azureml-core's webservices (`/modelmanagement/v1.0/…/services`) and the model management
 * operations its calls poll (`/operations/{id}`). Reading is `control/read` (as ARM's endpoints),
 * keys and tokens need `secrets/read`, changing `assets/write`, as `W/onlineEndpoints`.
 */
export async function modelManagementServiceRoutes(
  app: FastifyInstance,
  opts: {
    ctx: AppContext;
    services: V1Webservices;
    serving: DeploymentServices;
    operations: OperationService;
    deployer: V1WebserviceDeployer;
  },
) {
  const { ctx, services, serving, operations, deployer } = opts;
  const query = (req: FastifyRequest) => req.query as Record<string, string | undefined>;

  app.get(`${P}/services`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return { value: (await services.query(ws, query(req))).map((s) => s.dto) };
  });
  app.get<Name>(`${P}/services/:name`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return (await services.get(ws, req.params.name)).dto;
  });
  app.get<Name>(`${P}/services/:name/logs`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const q = query(req);
    const tail = q.tail === undefined || q.tail === '' ? undefined : Number(q.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0 || tail > 100_000))
      throw new InvalidInput(`query parameter tail must be a whole number from 0 to 100000, got '${q.tail}'`, {
        code: 'INVALID_INPUT',
        target: 'tail',
      });
    return { content: await services.logs(ws, req.params.name, tail, /^true$/i.test(q.init ?? '')) };
  });
  app.post<Name>(`${P}/services/:name/listkeys`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'secrets/read');
    // A version's keys (azureml-core asks under the version's name) are its endpoint's.
    return serving.endpoints.listKeys((await services.endpointOrVersion(ws, req.params.name)).endpoint);
  });
  app.post<Name>(`${P}/services/:name/token`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'secrets/read');
    const t = await serving.endpoints.token((await services.endpointOrVersion(ws, req.params.name)).endpoint);
    return {
      accessToken: t.accessToken,
      tokenType: t.tokenType,
      expiryOn: t.expiryTimeUtc,
      refreshAfter: t.refreshAfterTimeUtc,
    };
  });
  // regen_key: checked now (a 400 changes nothing), done in an operation the client polls.
  app.post<Name>(`${P}/services/:name/regenerateKeys`, HIDE, async (req, reply) => {
    await workspaceFor(ctx, req, 'secrets/read');
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const ep = await services.endpoint(ws, req.params.name);
    const body = obj(req.body ?? {}, 'body')!;
    onlyKeys(body, ['keyType', 'keyValue'], 'body');
    const keyType = str(body, 'keyType', 'body', { required: true, oneOf: ['Primary', 'Secondary'] })!;
    const keyValue = str(body, 'keyValue', 'body', {
      pattern: /^[A-Za-z0-9+/=_-]{16,128}$/,
      rule: 'must be 16–128 letters, digits or + / = _ -',
    });
    if (ep.properties.authMode !== 'Key')
      throw new InvalidInput(
        `webservice '${ep.name}' uses token authentication (authMode ${String(ep.properties.authMode)}) and has no keys`,
        { code: 'INVALID_INPUT' },
      );
    const op = await operations.start(
      'v1.regenerateKeys',
      { id: ep.id, subscriptionId: ep.subscriptionId, location: ep.location ?? ws.location },
      req.principal.id,
      () => serving.endpoints.regenerateKeys(ws, ep, { keyType, ...(keyValue ? { keyValue } : {}) }),
    );
    return reply
      .status(202)
      .header('Operation-Location', `${ctx.config.publicUrl}${operationsPath(req.url)}/${op.id}`)
      .send({});
  });
  app.delete<Name>(`${P}/services/:name`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const ep = await services.endpoint(ws, req.params.name);
    await serving.endpoints.delete(ws, ep.name);
    return reply.status(200).send({});
  });

  // The checks azureml-core makes before it creates, updates or deletes a service (it ignores failures).
  app.post<Name>(`${P}/services/validate/name/:name`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const taken = await serving.endpoints.get(ws, req.params.name).then(
      () => true,
      (e) => {
        if (e instanceof NotFound) return false;
        throw e;
      },
    );
    return taken
      ? { error: { message: `a webservice named '${req.params.name}' already exists in workspace '${ws.name}'` } }
      : {};
  });
  app.post(`${P}/services/validate`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const body = (req.body ?? {}) as Obj;
    const name = typeof body.serviceName === 'string' ? body.serviceName : undefined;
    if (name && (body.type === 'Delete' || body.type === 'Update')) {
      const exists = await serving.endpoints.get(ws, name).then(
        () => true,
        () => false,
      );
      if (!exists) return { error: { message: `webservice '${name}' could not be found in workspace '${ws.name}'` } };
    }
    return {};
  });

  app.get<{ Params: { id: string } }>(`${P}/operations/:id`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    const op = await operations.get(req.params.id);
    if (!op || !op.resourceId.toLowerCase().startsWith(`${ws.id.toLowerCase()}/`))
      throw new NotFound(`operation '${req.params.id}' could not be found in workspace '${ws.name}'`, {
        code: 'OPERATION_NOT_FOUND',
      });
    return operationDto(ctx, ws, op);
  });

  // Model.deploy / Webservice.deploy_from_model: the endpoint and its deployment are made now (a
  // 4xx makes nothing); the operation azureml-core polls is the deployment's provisioning.
  app.post(`${P}/services`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const { operation } = await deployer.create(ws, req.body, req.principal);
    const ops = `${req.url.split('?')[0]!.replace(/\/services\/?$/, '')}/operations`;
    return reply.status(202).header('Operation-Location', `${ctx.config.publicUrl}${ops}/${operation.id}`).send({});
  });
  // update / update_version / delete_version: a JSON Patch list.
  app.patch<Name>(`${P}/services/:name`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const ep = await services.endpoint(ws, req.params.name);
    const body = req.body;
    const isVersionOp = (o: unknown) =>
      !!o && typeof o === 'object' && String((o as Obj).path ?? '').startsWith('/versions/');
    if (Array.isArray(body) && body.length && !body.every(isVersionOp)) {
      if (body.some(isVersionOp))
        throw new InvalidInput('change a service and its versions in separate requests', { code: 'INVALID_INPUT' });
      const op = await services.update(ws, ep, body, req.principal, deployer);
      if (!op) return reply.status(200).send({});
      return reply
        .status(202)
        .header('Operation-Location', `${ctx.config.publicUrl}${operationsPath(req.url)}/${op.id}`)
        .send({});
    }
    // AksEndpoint.create_version: one `add /versions/{name}` with the version's create payload.
    const add = Array.isArray(body) && body.length === 1 ? (body[0] as Obj) : undefined;
    const m = add?.op === 'add' ? /^\/versions\/([^/]+)$/.exec(String(add.path ?? '')) : null;
    if (add && m) {
      const name = m[1]!;
      const op = await deployer.addVersion(ws, ep, name, add.value, req.principal, async (traffic) => {
        if (traffic > 0)
          await services.patch(
            ws,
            await services.endpoint(ws, ep.name),
            [{ op: 'replace', path: `/versions/${name}/trafficPercentile`, value: traffic }],
            req.principal,
          );
      });
      return reply
        .status(202)
        .header('Operation-Location', `${ctx.config.publicUrl}${operationsPath(req.url)}/${op.id}`)
        .send({});
    }
    await services.patch(ws, ep, body, req.principal);
    return reply.status(200).send({});
  });
  // azureml-core asks whether the cluster has room; it ignores a failure, and nothing here runs out.
  app.post(`${P}/services/validate/resource`, HIDE, async (req) => {
    await workspaceFor(ctx, req, 'control/read');
    return {};
  });
}
