import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { AssetServices } from '../assets/services.js';
import { workspaceOf, listsArchived, type ResourceTypeDeclaration } from '../resources/registry.js';
import { WORKSPACE } from '../resources/workspaces.js';
import { BlobService } from '../blob-service/blob-service.js';
import { CodeService } from './code-assets.js';

/** Code assets and the Blob REST subset their uploads go through. */
export interface CodeServices {
  codes: CodeService;
  blobs: BlobService;
}

const ws = workspaceOf;
const ACCESS = { read: 'control/read', write: 'assets/write', delete: 'assets/write' } as const;
const archived = listsArchived;

/**
 * azure-ai-ml sends `properties.properties.hash_version` as a number (202208); Azure keeps the
 * string. Numbers and booleans of the user properties become strings; anything else is left to the check.
 */
function scalarsAsStrings(body: Record<string, unknown>): Record<string, unknown> {
  const p = body.properties as Record<string, unknown> | undefined;
  const user = p?.properties;
  if (!user || typeof user !== 'object' || Array.isArray(user)) return body;
  const fixed = Object.fromEntries(
    Object.entries(user).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' ? String(v) : v]),
  );
  return { ...body, properties: { ...p, properties: fixed } };
}

/** `W/codes/{name}` and `W/codes/{name}/versions/{v}` (+ `startPendingUpload`, `?hash=` lookups) for the generic ARM router. */
function codeTypes(codes: CodeService): ResourceTypeDeclaration[] {
  const svc = codes.versions;
  return [
    {
      ...svc.def.container,
      parent: WORKSPACE,
      param: 'name',
      nameSchema: Type.String({ maxLength: 260 }),
      label: 'code',
      tag: 'Codes',
      access: ACCESS,
      schema: { put: C.AssetBody, one: C.AssetContainer, list: C.Paged(C.AssetContainer) },
      handlers: {
        list: (scope, page) =>
          svc.listContainers(ws(scope), { after: page.after, top: page.top, includeArchived: archived(page.query) }),
        get: (scope, name) => svc.getContainer(ws(scope), name),
        put: (scope, name, b, by) => svc.putContainer(ws(scope), name, b, by),
        delete: (scope, name) => svc.deleteContainer(ws(scope), name),
        toBody: (r) => svc.toBody(r),
      },
    },
    {
      ...svc.def.version,
      parent: svc.kind.containerType,
      param: 'version',
      nameSchema: Type.String({ maxLength: 100 }),
      label: 'code version',
      tag: 'Codes',
      access: ACCESS,
      schema: { put: C.AssetBody, one: C.CodeVersion, list: C.Paged(C.CodeVersion) },
      handlers: {
        // `?hash=…&hashVersion=…` (azure-ai-ml before an upload): versions of any code asset of the
        // workspace with that content, so an unchanged folder is not uploaded again.
        list: (scope, page) =>
          page.query.hash
            ? codes.findByHash(ws(scope), page.query.hash, page.top)
            : svc.listVersions(ws(scope), scope.parents[0]!, {
                after: page.after,
                top: page.top,
                includeArchived: archived(page.query),
              }),
        get: (scope, v) => svc.getVersion(ws(scope), scope.parents[0]!, v),
        put: (scope, v, b, by) => svc.putVersion(ws(scope), scope.parents[0]!, v, scalarsAsStrings(b), by),
        delete: (scope, v) => svc.deleteVersion(ws(scope), scope.parents[0]!, v),
        toBody: (r) => svc.toBody(r),
      },
      actions: [
        {
          name: 'startPendingUpload',
          access: ['assets/write'],
          body: C.PendingUploadRequest,
          response: C.PendingUploadResponse,
          summary: "A folder of the workspace's storage and a short-lived SAS URI to upload a code snapshot to",
          loads: false,
          run: (scope, _v, body) =>
            codes.startPendingUpload(ws(scope), body as { pendingUploadId?: string; pendingUploadType?: string }),
        },
      ],
    },
  ];
}

export function createCodeServices(ctx: AppContext, cp: ControlPlaneServices, assets: AssetServices): CodeServices {
  const codes = new CodeService(ctx, cp.resources, assets.datastores, cp.workspaces.dependents);
  for (const t of codeTypes(codes)) cp.types.register(t);
  return { codes, blobs: new BlobService(ctx, assets.storageAccounts) };
}
