import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import { workspaceOf, listsArchived, type ResourceTypeDeclaration } from '../resources/registry.js';
import { toArmBody, type StoredResource } from '../resources/engine.js';
import { WORKSPACE } from '../resources/workspaces.js';
import type { TrackingServices } from '../tracking/services.js';
import type { AssetServices } from '../assets/services.js';
import type { RunHistoryService } from '../run-history/run-history.js';
import { AzureModelService } from './azure-models.js';
import { ArmModels, MODEL_CONTAINER_TYPE, MODEL_VERSION_TYPE, checkModelVersion } from './arm-models.js';
import { InvalidInput } from '../errors.js';

/** The Azure views of the one model registry (azureml-core's model management, ARM `W/models`). */
export interface ModelServices {
  models: AzureModelService;
  arm: ArmModels;
}

const ws = workspaceOf;
const ACCESS = { read: 'control/read', write: 'assets/write', delete: 'assets/write' } as const;
const archived = listsArchived;
/** Asset bodies carry their tags in properties.tags, and no etag (azure-ai-ml sends a GET's body back on archive). */
const body = (r: StoredResource) => {
  const b = toArmBody(r);
  delete b.tags;
  delete b.etag;
  return b;
};
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;

function modelTypes(arm: ArmModels): ResourceTypeDeclaration[] {
  return [
    {
      type: MODEL_CONTAINER_TYPE,
      checkName(name: string) {
        if (!NAME.test(name))
          throw new InvalidInput(
            `model name '${name}' is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 255)`,
            { code: 'INVALID_ASSET_NAME', target: 'name' },
          );
      },
      parent: WORKSPACE,
      param: 'name',
      nameSchema: Type.String({ maxLength: 256 }),
      label: 'model',
      tag: 'Models',
      access: ACCESS,
      schema: { put: C.AssetBody, one: C.AssetContainer, list: C.Paged(C.AssetContainer) },
      handlers: {
        list: (scope, page) =>
          arm.listContainers(ws(scope), { after: page.after, top: page.top, includeArchived: archived(page.query) }),
        get: (scope, name) => arm.getContainer(ws(scope), name),
        put: (scope, name, b, by) => arm.putContainer(ws(scope), name, b, by),
        delete: (scope, name) => arm.deleteContainer(ws(scope), name),
        toBody: body,
      },
    },
    {
      type: MODEL_VERSION_TYPE,
      checkName: (v: string) => void checkModelVersion(v),
      parent: MODEL_CONTAINER_TYPE,
      param: 'version',
      nameSchema: Type.String({ maxLength: 100 }),
      label: 'model version',
      tag: 'Models',
      access: ACCESS,
      schema: { put: C.AssetBody, one: C.ArmModelVersion, list: C.Paged(C.ArmModelVersion) },
      handlers: {
        list: (scope, page) =>
          arm.listVersions(ws(scope), scope.parents[0]!, {
            after: page.after,
            top: page.top,
            includeArchived: archived(page.query),
            query: page.query,
          }),
        get: (scope, v) => arm.getVersion(ws(scope), scope.parents[0]!, v),
        put: (scope, v, b, by) => arm.putVersion(ws(scope), scope.parents[0]!, v, b, by),
        delete: (scope, v) => arm.deleteVersion(ws(scope), scope.parents[0]!, v),
        toBody: body,
      },
    },
  ];
}

export function createModelServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  tracking: TrackingServices,
  assets: AssetServices,
  runHistory: RunHistoryService,
): ModelServices {
  const models = new AzureModelService(ctx, tracking.registry, runHistory);
  const arm = new ArmModels(models, assets.datastores, tracking.artifacts);
  for (const t of modelTypes(arm)) cp.types.register(t);
  cp.workspaces.onWorkspaceDeleting.push(async (w) => {
    if (w.workspaceId) await models.deleteWorkspace(w.workspaceId);
  });
  return { models, arm };
}
