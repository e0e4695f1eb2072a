import { mlflow, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { time } from '../lib/format';
import { Empty, ErrorBox, KeyValues, Loading, Page, SimpleTable } from '../components/ui';

interface RegisteredModel {
  name: string;
  description?: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  latest_versions?: ModelVersion[];
  aliases?: { alias: string; version: string }[];
  tags?: { key: string; value: string }[];
}
interface ModelVersion {
  name: string;
  version: string;
  current_stage?: string;
  status?: string;
  run_id?: string;
  source?: string;
  creation_timestamp?: number;
  description?: string;
  aliases?: string[];
}

export function Models({ ws }: { ws: WorkspaceRef }) {
  const api = mlflow(ws);
  const list = useLoad(async () => {
    const out: RegisteredModel[] = [];
    let token: string | undefined;
    do {
      const p = await api.get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
        'registered-models/search',
        {
          max_results: 1000,
          page_token: token,
        },
      );
      out.push(...(p.registered_models ?? []));
      token = p.next_page_token;
    } while (token && out.length < 20_000);
    return out;
  }, [ws.name]);
  return (
    <Page title="Models">
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.data ? (
        !list.error && <Loading what="Loading models" />
      ) : list.data.length === 0 ? (
        <Empty title="No registered model yet.">
          Register one from a run&apos;s page (Overview → Register a model), or with{' '}
          <code>mlflow.register_model(&quot;runs:/&lt;run id&gt;/model&quot;, &quot;name&quot;)</code>.
        </Empty>
      ) : (
        <SimpleTable
          label="Registered models"
          rows={list.data}
          rowKey={(m) => m.name}
          columns={[
            {
              title: 'Name',
              cell: (m) => <a href={href(['w', ws.sub, ws.group, ws.name, 'models', m.name])}>{m.name}</a>,
            },
            {
              title: 'Latest version',
              cell: (m) => m.latest_versions?.map((v) => v.version).sort((a, b) => Number(b) - Number(a))[0] ?? '—',
            },
            {
              title: 'Aliases',
              cell: (m) => (m.aliases ?? []).map((a) => `@${a.alias} → v${a.version}`).join(', ') || '—',
            },
            { title: 'Last update', cell: (m) => time(m.last_updated_timestamp) },
            { title: 'Description', cell: (m) => m.description ?? '' },
          ]}
        />
      )}
    </Page>
  );
}

export function ModelPage({ ws, name }: { ws: WorkspaceRef; name: string }) {
  const api = mlflow(ws);
  const model = useLoad(
    () => api.get<{ registered_model: RegisteredModel }>('registered-models/get', { name }),
    [ws.name, name],
  );
  const versions = useLoad(async () => {
    const out: ModelVersion[] = [];
    let token: string | undefined;
    do {
      const p = await api.get<{ model_versions?: ModelVersion[]; next_page_token?: string }>('model-versions/search', {
        filter: `name='${name.replace(/'/g, "\\'")}'`,
        max_results: 1000,
        page_token: token,
      });
      out.push(...(p.model_versions ?? []));
      token = p.next_page_token;
    } while (token && out.length < 20_000);
    return out.sort((a, b) => Number(b.version) - Number(a.version));
  }, [ws.name, name]);
  if (model.error) return <ErrorBox error={model.error} onRetry={model.reload} />;
  if (!model.data) return <Loading what="Loading the model" />;
  const m = model.data.registered_model;
  return (
    <Page title={`Model ${m.name}`}>
      <KeyValues
        label="Model details"
        rows={[
          ['Description', m.description || '—'],
          ['Created', time(m.creation_timestamp)],
          ['Last update', time(m.last_updated_timestamp)],
          ['Aliases', (m.aliases ?? []).map((a) => `@${a.alias} → version ${a.version}`).join(', ') || '—'],
          ['Tags', (m.tags ?? []).map((t) => `${t.key}=${t.value}`).join(', ') || '—'],
        ]}
      />
      <h2>Versions</h2>
      {versions.error && <ErrorBox error={versions.error} />}
      {!versions.data ? (
        !versions.error && <Loading what="Loading versions" />
      ) : versions.data.length === 0 ? (
        <Empty title="No version yet.">Register a run&apos;s model under this name from the run&apos;s page.</Empty>
      ) : (
        <SimpleTable
          label="Model versions"
          rows={versions.data}
          rowKey={(v) => v.version}
          columns={[
            { title: 'Version', cell: (v) => v.version },
            { title: 'Stage', cell: (v) => v.current_stage ?? 'None' },
            { title: 'Aliases', cell: (v) => (v.aliases ?? []).map((a) => `@${a}`).join(', ') || '—' },
            { title: 'Status', cell: (v) => v.status ?? '' },
            {
              title: 'From run',
              cell: (v) =>
                v.run_id ? (
                  <a href={href(['w', ws.sub, ws.group, ws.name, 'runs', v.run_id])}>{v.run_id.slice(0, 12)}</a>
                ) : (
                  '—'
                ),
            },
            { title: 'Source', cell: (v) => <code>{v.source}</code> },
            { title: 'Created', cell: (v) => time(v.creation_timestamp) },
          ]}
        />
      )}
    </Page>
  );
}
