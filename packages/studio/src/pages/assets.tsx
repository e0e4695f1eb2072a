import type { ReactNode } from 'react';
import { arm, armList, request, wsPath, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href, setQuery, type Route } from '../lib/router';
import { bytes, time } from '../lib/format';
import { Empty, ErrorBox, Loading, Page, SimpleTable } from '../components/ui';

interface ArmItem {
  id: string;
  name: string;
  properties?: Record<string, any>;
  systemData?: { createdAt?: string; lastModifiedAt?: string; createdBy?: string };
}

interface AssetKind {
  id: string;
  label: string;
  collection: string;
  empty: ReactNode;
  columns: { title: string; cell: (x: ArmItem) => ReactNode }[];
}

const created = {
  title: 'Created',
  cell: (x: ArmItem) => time(x.systemData?.createdAt ? Date.parse(x.systemData.createdAt) : undefined),
};

export const ASSET_PAGES: AssetKind[] = [
  {
    id: 'datastores',
    label: 'Datastores',
    collection: 'datastores',
    empty:
      'Every workspace has workspaceblobstore and workspaceartifactstore; register others with azure-ai-ml or the SDK; browse their files here.',
    columns: [
      { title: 'Type', cell: (x) => x.properties?.datastoreType ?? '' },
      { title: 'Default', cell: (x) => (x.properties?.isDefault ? 'yes' : '') },
      {
        title: 'Where',
        cell: (x) => x.properties?.containerName ?? x.properties?.fileShareName ?? x.properties?.bucket ?? '',
      },
      { title: 'Description', cell: (x) => x.properties?.description ?? '' },
    ],
  },
  {
    id: 'data',
    label: 'Data assets',
    collection: 'data',
    empty: 'Register a data asset with azure-ai-ml (ml_client.data.create_or_update) or the SDK.',
    columns: [
      { title: 'Latest version', cell: (x) => x.properties?.latestVersion ?? '' },
      { title: 'Type', cell: (x) => x.properties?.dataType ?? '' },
      { title: 'Description', cell: (x) => x.properties?.description ?? '' },
      created,
    ],
  },
  {
    id: 'environments',
    label: 'Environments',
    collection: 'environments',
    empty: 'Register an environment with azure-ai-ml (ml_client.environments.create_or_update) or azureml-core.',
    columns: [
      { title: 'Latest version', cell: (x) => x.properties?.latestVersion ?? '' },
      { title: 'Description', cell: (x) => x.properties?.description ?? '' },
      created,
    ],
  },
  {
    id: 'connections',
    label: 'Connections',
    collection: 'connections',
    empty:
      'Add a connection with the CLI (atelier connection set) or azure-ai-ml; its secret is kept encrypted and never shown here.',
    // Credentials are never shown: only what the connection is and how it authenticates.
    columns: [
      { title: 'Category', cell: (x) => x.properties?.category ?? '' },
      { title: 'Target', cell: (x) => x.properties?.target ?? '' },
      { title: 'Authentication', cell: (x) => x.properties?.authType ?? '' },
      created,
    ],
  },
  {
    id: 'keyvault',
    label: 'Key vault',
    collection: '',
    empty: null,
    columns: [],
  },
];

export function AssetPage({ ws, kind, route }: { ws: WorkspaceRef; kind: string; route: Route }) {
  if (kind === 'keyvault') return <KeyVault ws={ws} />;
  const def = ASSET_PAGES.find((a) => a.id === kind)!;
  const store = route.query.get('store');
  if (kind === 'datastores' && store)
    return <DatastoreFiles ws={ws} name={store} path={route.query.get('path') ?? ''} />;
  return <AssetList ws={ws} def={def} />;
}

function AssetList({ ws, def }: { ws: WorkspaceRef; def: AssetKind }) {
  const list = useLoad(() => armList<ArmItem>(`${wsPath(ws)}/${def.collection}`), [ws.name, def.id]);
  const base = ['w', ws.sub, ws.group, ws.name, def.id];
  return (
    <Page title={def.label}>
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.data ? (
        !list.error && <Loading what={`Loading ${def.label.toLowerCase()}`} />
      ) : list.data.length === 0 ? (
        <Empty title={`No ${def.label.toLowerCase()} yet.`}>{def.empty}</Empty>
      ) : (
        <SimpleTable
          label={def.label}
          rows={list.data}
          rowKey={(x) => x.id}
          columns={[
            {
              title: 'Name',
              cell: (x) => (def.id === 'datastores' ? <a href={href(base, { store: x.name })}>{x.name}</a> : x.name),
            },
            ...def.columns,
          ]}
        />
      )}
    </Page>
  );
}

/** A datastore's files, folder by folder (`W/datastores/{name}/files?path=`). */
function DatastoreFiles({ ws, name, path }: { ws: WorkspaceRef; name: string; path: string }) {
  const where = `${name}\n${path}`;
  const loaded = useLoad(
    async () => ({
      where,
      listing: await arm.get<{ value: { path: string; size?: number; isDir?: boolean; modified?: string }[] }>(
        `${wsPath(ws)}/datastores/${encodeURIComponent(name)}/files?path=${encodeURIComponent(path)}`,
      ),
    }),
    [ws.name, name, path],
  );
  // Only this folder's listing is shown: while another folder's loads, a loading state, not the old one.
  const files = { ...loaded, data: loaded.data?.where === where ? loaded.data.listing : undefined };
  const parts = path.split('/').filter(Boolean);
  const base = ['w', ws.sub, ws.group, ws.name, 'datastores'];
  return (
    <Page title={`Datastore ${name}`}>
      <nav aria-label="Folder" className="crumbs">
        <a href={href(base)}>Datastores</a> / <a href={href(base, { store: name })}>{name}</a>
        {parts.map((p, i) => (
          <span key={i}>
            {' / '}
            <a href={href(base, { store: name, path: parts.slice(0, i + 1).join('/') })}>{p}</a>
          </span>
        ))}
      </nav>
      {files.error && <ErrorBox error={files.error} onRetry={files.reload} />}
      {!files.data ? (
        !files.error && <Loading what="Listing files" />
      ) : files.data.value.length === 0 ? (
        <Empty title="This folder is empty.">
          Upload files with the CLI (atelier datastore upload) or azure-ai-ml.
        </Empty>
      ) : (
        <SimpleTable
          label={`Files of ${name}`}
          rows={files.data.value}
          rowKey={(f) => f.path}
          columns={[
            {
              title: 'Name',
              cell: (f) =>
                f.isDir ? (
                  <a href="#" onClick={(e) => (e.preventDefault(), setQuery({ path: f.path.replace(/\/$/, '') }))}>
                    {f.path.replace(/\/$/, '').split('/').pop()}/
                  </a>
                ) : (
                  f.path.split('/').pop()
                ),
            },
            { title: 'Size', cell: (f) => (f.isDir ? '' : bytes(f.size)) },
            { title: 'Modified', cell: (f) => (f.modified ? time(Date.parse(f.modified)) : '') },
          ]}
        />
      )}
    </Page>
  );
}

/** The workspace's key vault: secret names and dates only; values are never fetched. */
function KeyVault({ ws }: { ws: WorkspaceRef }) {
  const secrets = useLoad(async () => {
    const w = await arm.get<{ properties: { keyVault?: string } }>(wsPath(ws));
    const vault = w.properties.keyVault;
    if (!vault) return null;
    const out: { id: string; attributes?: { created?: number; updated?: number; enabled?: boolean } }[] = [];
    let url: string | undefined = `${vault}/secrets?api-version=7.4`;
    while (url) {
      const page: { value: typeof out; nextLink?: string | null } = await request('GET', url);
      out.push(...page.value);
      const next: URL | undefined = page.nextLink ? new URL(page.nextLink, location.origin) : undefined;
      url = next ? next.pathname + next.search : undefined;
    }
    return out;
  }, [ws.name]);
  return (
    <Page title="Key vault">
      <p className="muted">Names only: secret values are never shown in the studio.</p>
      {secrets.error && <ErrorBox error={secrets.error} onRetry={secrets.reload} />}
      {secrets.data === undefined ? (
        !secrets.error && <Loading what="Loading secret names" />
      ) : secrets.data === null ? (
        <Empty title="This workspace has no key vault." />
      ) : secrets.data.length === 0 ? (
        <Empty title="No secret yet.">
          Set one with the CLI (atelier keyvault secret set) or azureml-core&apos;s Keyvault.
        </Empty>
      ) : (
        <SimpleTable
          label="Secrets"
          rows={secrets.data}
          rowKey={(s) => s.id}
          columns={[
            { title: 'Name', cell: (s) => decodeURIComponent(s.id.split('/secrets/')[1]?.split('/')[0] ?? s.id) },
            { title: 'Enabled', cell: (s) => (s.attributes?.enabled === false ? 'no' : 'yes') },
            { title: 'Updated', cell: (s) => time(s.attributes?.updated ? s.attributes.updated * 1000 : undefined) },
          ]}
        />
      )}
    </Page>
  );
}
