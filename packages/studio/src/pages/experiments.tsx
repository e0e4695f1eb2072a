import { useState, type FormEvent } from 'react';
import { mlflow, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href } from '../lib/router';
import { time } from '../lib/format';
import { Empty, ErrorBox, Loading, Page, SimpleTable } from '../components/ui';

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  last_update_time?: number;
  creation_time?: number;
  tags?: { key: string; value: string }[];
}

export function Experiments({ ws }: { ws: WorkspaceRef }) {
  const api = mlflow(ws);
  const [filter, setFilter] = useState('');
  const list = useLoad(async () => {
    const out: Experiment[] = [];
    let token: string | undefined;
    do {
      const page = await api.post<{ experiments?: Experiment[]; next_page_token?: string }>('experiments/search', {
        max_results: 1000,
        page_token: token,
        order_by: ['last_update_time DESC'],
      });
      out.push(...(page.experiments ?? []));
      token = page.next_page_token;
    } while (token && out.length < 20_000);
    return out;
  }, [ws.sub, ws.group, ws.name]);
  const [error, setError] = useState<Error | null>(null);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setError(null);
    try {
      await api.post('experiments/create', { name });
      form.reset();
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const base = ['w', ws.sub, ws.group, ws.name, 'experiments'];
  const shown = (list.data ?? []).filter((x) => !filter || x.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <Page title="Experiments">
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {error && <ErrorBox error={error} />}
      <div className="toolbar">
        <label className="inline">
          Find
          <input
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="name contains…"
          />
        </label>
        <form onSubmit={(e) => void create(e)} className="inline" aria-label="Create an experiment">
          <label className="inline">
            New experiment
            <input name="name" required placeholder="name" />
          </label>
          <button type="submit">Create</button>
        </form>
      </div>
      {!list.data ? (
        !list.error && <Loading what="Loading experiments" />
      ) : shown.length === 0 ? (
        <Empty title={filter ? 'No experiment matches.' : 'No experiment yet.'}>
          Log a run with MLflow (<code>mlflow.set_experiment(&quot;name&quot;)</code>) against this workspace&apos;s
          tracking URI (see Overview), or create one above.
        </Empty>
      ) : (
        <SimpleTable
          label="Experiments"
          rows={shown}
          rowKey={(x) => x.experiment_id}
          columns={[
            { title: 'Name', cell: (x) => <a href={href([...base, x.experiment_id])}>{x.name}</a> },
            { title: 'ID', cell: (x) => x.experiment_id },
            { title: 'Last update', cell: (x) => time(x.last_update_time) },
            { title: 'Created', cell: (x) => time(x.creation_time) },
          ]}
        />
      )}
    </Page>
  );
}
