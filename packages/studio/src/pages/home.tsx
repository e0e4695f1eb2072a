import { useState, type FormEvent } from 'react';
import { arm, armList, armWait, groupPath, wsPath } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { Empty, ErrorBox, Loading, Page, SimpleTable } from '../components/ui';

interface Group {
  id: string;
  name: string;
  location: string;
}
interface Ws {
  id: string;
  name: string;
  location: string;
  properties: { friendlyName?: string; description?: string; provisioningState?: string; workspaceId?: string };
}

const groupOf = (id: string) => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';

/** Resource groups and workspaces of every subscription the user can see. */
export function Home() {
  const subs = useLoad(() => armList<{ subscriptionId: string; displayName: string }>('/subscriptions'), []);
  if (subs.error) return <ErrorBox error={subs.error} onRetry={subs.reload} />;
  if (!subs.data) return <Loading what="Loading subscriptions" />;
  if (subs.data.length === 0)
    return (
      <Page title="Workspaces">
        <Empty title="You have no access to any subscription yet.">
          Ask an administrator to give you a role on a subscription, resource group or workspace.
        </Empty>
      </Page>
    );
  return (
    <>
      {subs.data.map((s) => (
        <Subscription key={s.subscriptionId} sub={s.subscriptionId} name={s.displayName} />
      ))}
    </>
  );
}

function Subscription({ sub, name }: { sub: string; name: string }) {
  const data = useLoad(async () => {
    const [groups, workspaces] = await Promise.all([
      armList<Group>(`/subscriptions/${sub}/resourcegroups`),
      armList<Ws>(`/subscriptions/${sub}/providers/Microsoft.MachineLearningServices/workspaces`),
    ]);
    return { groups, workspaces };
  }, [sub]);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);
  const run = async (what: string, f: () => Promise<unknown>) => {
    setBusy(what);
    setActionError(null);
    try {
      await f();
      data.reload();
    } catch (e) {
      setActionError(e as Error);
    } finally {
      setBusy(null);
    }
  };
  const createGroup = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const g = String(f.get('group') ?? '').trim();
    const form = e.currentTarget;
    void run(`Creating resource group ${g}`, async () => {
      await arm.put(groupPath(sub, g), { location: String(f.get('location') || 'local') });
      form.reset();
    });
  };
  const createWorkspace = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const group = String(f.get('group') ?? '');
    const name = String(f.get('name') ?? '').trim();
    const form = e.currentTarget;
    void run(`Creating workspace ${name}`, async () => {
      const description = String(f.get('description') ?? '');
      await armWait('PUT', wsPath({ sub, group, name }), {
        location: 'local',
        properties: { friendlyName: name, ...(description ? { description } : {}) },
      });
      form.reset();
    });
  };
  const groups = data.data?.groups ?? [];
  const workspaces = data.data?.workspaces ?? [];
  return (
    <Page title={`Workspaces — ${name}`}>
      {data.error && <ErrorBox error={data.error} onRetry={data.reload} />}
      {actionError && <ErrorBox error={actionError} />}
      {busy && <Loading what={busy} />}
      {!data.data ? (
        !data.error && <Loading />
      ) : workspaces.length === 0 ? (
        <Empty title="No workspace yet.">
          {groups.length === 0
            ? 'Create a resource group first, then a workspace in it (the forms below).'
            : 'Create one with the form below; then log runs to its MLflow tracking URI.'}
        </Empty>
      ) : (
        <SimpleTable
          label="Workspaces"
          rows={workspaces}
          rowKey={(w) => w.id}
          columns={[
            {
              title: 'Name',
              cell: (w) => <a href={href(['w', sub, groupOf(w.id), w.name])}>{w.name}</a>,
            },
            { title: 'Resource group', cell: (w) => groupOf(w.id) },
            { title: 'Description', cell: (w) => w.properties.description ?? '' },
            { title: 'State', cell: (w) => w.properties.provisioningState ?? '' },
          ]}
        />
      )}
      <div className="forms">
        <form onSubmit={createWorkspace} className="card" aria-label="Create a workspace">
          <h2>Create a workspace</h2>
          <label>
            Name
            <input
              name="name"
              required
              pattern="[A-Za-z0-9][A-Za-z0-9_\-]{2,32}"
              title="3–33 letters, digits, _ or -"
            />
          </label>
          <label>
            Resource group
            <select name="group" required disabled={groups.length === 0}>
              {groups.map((g) => (
                <option key={g.id} value={g.name}>
                  {g.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Description
            <input name="description" />
          </label>
          <button type="submit" className="primary" disabled={!!busy || groups.length === 0}>
            Create workspace
          </button>
        </form>
        <form onSubmit={createGroup} className="card" aria-label="Create a resource group">
          <h2>Create a resource group</h2>
          <label>
            Name
            <input name="group" required pattern="[-\w\._\(\)]{1,90}" title="letters, digits, - _ . ( )" />
          </label>
          <label>
            Location
            <input name="location" defaultValue="local" />
          </label>
          <button type="submit" disabled={!!busy}>
            Create resource group
          </button>
        </form>
      </div>
      {groups.length > 0 && (
        <>
          <h2>Resource groups</h2>
          <SimpleTable
            label="Resource groups"
            rows={groups}
            rowKey={(g) => g.id}
            columns={[
              { title: 'Name', cell: (g) => g.name },
              { title: 'Location', cell: (g) => g.location },
              {
                title: 'Workspaces',
                cell: (g) => workspaces.filter((w) => groupOf(w.id).toLowerCase() === g.name.toLowerCase()).length,
              },
              {
                title: 'Actions',
                cell: (g) => (
                  <button
                    type="button"
                    className="danger"
                    disabled={!!busy}
                    onClick={() => {
                      if (confirm(`Delete resource group ${g.name} and everything in it?`))
                        void run(`Deleting ${g.name}`, () => armWait('DELETE', groupPath(sub, g.name)));
                    }}
                  >
                    Delete
                  </button>
                ),
              },
            ]}
          />
        </>
      )}
    </Page>
  );
}
