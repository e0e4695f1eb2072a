import { ApiError, armList, request, wsPath, API_VERSION, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { time } from '../lib/format';
import { Empty, ErrorBox, Loading, Page, SimpleTable } from '../components/ui';

interface Assignment {
  id: string;
  name: string;
  properties: { roleDefinitionId: string; principalId: string; principalType?: string; scope: string };
}

/** Role assignments that apply to the workspace (its own and those inherited from above). */
export function AccessPage({ ws }: { ws: WorkspaceRef }) {
  const data = useLoad(async () => {
    const [assignments, roles] = await Promise.all([
      armList<Assignment>(`${wsPath(ws)}/providers/Microsoft.Authorization/roleAssignments`),
      armList<{ id: string; properties: { roleName: string } }>(
        `${wsPath(ws)}/providers/Microsoft.Authorization/roleDefinitions`,
      ).catch(() => []),
    ]);
    const roleName = new Map(roles.map((r) => [r.id.split('/').pop()!.toLowerCase(), r.properties.roleName]));
    return assignments.map((a) => ({
      ...a,
      role: roleName.get(a.properties.roleDefinitionId.split('/').pop()!.toLowerCase()),
    }));
  }, [ws.name]);
  return (
    <Page title="Access">
      <p className="muted">
        Who may do what here. Only Owners change them, with the CLI (<code>atelier role assignment create</code>) or the
        ARM API.
      </p>
      {data.error && <ErrorBox error={data.error} onRetry={data.reload} />}
      {!data.data ? (
        !data.error && <Loading what="Loading role assignments" />
      ) : data.data.length === 0 ? (
        <Empty title="No role assignment applies here." />
      ) : (
        <SimpleTable
          label="Role assignments"
          rows={data.data}
          rowKey={(a) => a.id}
          columns={[
            { title: 'Role', cell: (a) => a.role ?? a.properties.roleDefinitionId.split('/').pop() },
            { title: 'Principal', cell: (a) => <code>{a.properties.principalId}</code> },
            { title: 'Type', cell: (a) => a.properties.principalType ?? '' },
            { title: 'Scope', cell: (a) => <code>{a.properties.scope}</code> },
          ]}
        />
      )}
    </Page>
  );
}

interface AuditEvent {
  eventDataId?: string;
  caller?: string;
  eventTimestamp: string;
  operationName: { localizedValue: string };
  subStatus?: { value: string };
  resourceId?: string;
  httpRequest?: { method?: string; uri?: string };
}

/**
 * What an event changed, readably: the request's method and its real path, shown relative to the
 * workspace (`PUT computes/cpu-cluster`, `POST onlineEndpoints/ep/listKeys`; the workspace itself is
 * `this workspace`), the full resource id in the tooltip. The operation's `localizedValue` is the
 * server's route template.
 */
export function auditWhat(e: AuditEvent, workspaceId: string): { method: string; path: string } {
  const method = e.httpRequest?.method ?? e.operationName.localizedValue.split(' ')[0] ?? '';
  const id = (e.httpRequest?.uri ?? e.resourceId ?? '').split('?')[0]!;
  const base = workspaceId.toLowerCase();
  const path =
    id.toLowerCase() === base
      ? 'this workspace'
      : id.toLowerCase().startsWith(`${base}/`)
        ? id.slice(base.length + 1)
        : id;
  return { method, path };
}

/** The audit log of changes to the workspace (Owners: the server refuses others). */
export function AuditPage({ ws }: { ws: WorkspaceRef }) {
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const events = useLoad(async () => {
    const filter = `eventTimestamp ge '${since}' and resourceUri eq '${wsPath(ws)}'`;
    const page = await request<{ value: AuditEvent[] }>(
      'GET',
      `/subscriptions/${encodeURIComponent(ws.sub)}/providers/Microsoft.Insights/eventtypes/management/values?api-version=${API_VERSION}&$filter=${encodeURIComponent(filter)}`,
    );
    return page.value;
  }, [ws.name]);
  return (
    <Page title="Audit log">
      <p className="muted">
        Changes made to this workspace and everything in it (computes, endpoints, assets…) in the last 30 days, newest
        first.
      </p>
      {events.error &&
        (events.error instanceof ApiError && events.error.status === 403 ? (
          <div className="error" role="alert">
            <strong>Error 403:</strong> only Owners of the workspace see its audit log. Ask an Owner of the workspace or
            its resource group for the Owner role.
          </div>
        ) : (
          <ErrorBox error={events.error} onRetry={events.reload} />
        ))}
      {!events.data ? (
        !events.error && <Loading what="Loading the audit log" />
      ) : events.data.length === 0 ? (
        <Empty title="No change recorded in the last 30 days." />
      ) : (
        <SimpleTable
          label="Audit events"
          rows={events.data}
          rowKey={(e) => e.eventDataId ?? `${e.eventTimestamp}${e.operationName.localizedValue}`}
          columns={[
            { title: 'When', cell: (e) => time(Date.parse(e.eventTimestamp)) },
            { title: 'Who', cell: (e) => e.caller ?? '' },
            {
              title: 'What',
              cell: (e) => {
                const w = auditWhat(e, wsPath(ws));
                return (
                  <span title={e.resourceId}>
                    {w.method} <code className="wrap">{w.path}</code>
                  </span>
                );
              },
            },
            { title: 'Status', cell: (e) => e.subStatus?.value ?? '' },
          ]}
        />
      )}
    </Page>
  );
}
