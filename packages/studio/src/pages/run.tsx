import { useState, type FormEvent } from 'react';
import { mlflow, type Mlflow, type WorkspaceRef } from '../lib/api';
import { ApiError } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href, setQuery, type Route } from '../lib/router';
import { duration, num, time } from '../lib/format';
import { formatZoom, parseZoom } from '../lib/zoom';
import { Empty, ErrorBox, KeyValues, Loading, Page, Tabs } from '../components/ui';
import { MetricChart } from '../components/metric-chart';
import { ArtifactBrowser } from '../components/artifacts';
import type { Run } from './runs';

export function RunPage({
  ws,
  experimentId,
  runId,
  route,
}: {
  ws: WorkspaceRef;
  experimentId?: string;
  runId: string;
  route: Route;
}) {
  const api = mlflow(ws);
  const run = useLoad(() => api.get<{ run: Run }>('runs/get', { run_id: runId }), [ws.name, runId]);
  const tab = route.query.get('tab') ?? 'overview';
  if (run.error) return <ErrorBox error={run.error} onRetry={run.reload} />;
  if (!run.data) return <Loading what="Loading the run" />;
  const r = run.data.run;
  const exp = experimentId ?? r.info.experiment_id;
  const base = ['w', ws.sub, ws.group, ws.name, 'experiments', exp, 'runs', runId];
  const tags = Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));
  const metrics = [...(r.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const params = [...(r.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const zoom = parseZoom(route.query.get('zoom'));
  return (
    <Page
      title={r.info.run_name || runId}
      actions={
        <a className="button" href={href(['w', ws.sub, ws.group, ws.name, 'experiments', exp])}>
          All runs of the experiment
        </a>
      }
    >
      <Tabs
        current={tab}
        tabs={[
          { id: 'overview', label: 'Overview', href: href(base) },
          { id: 'metrics', label: `Metric charts (${metrics.length})`, href: href(base, { tab: 'metrics' }) },
          { id: 'artifacts', label: 'Artifacts', href: href(base, { tab: 'artifacts' }) },
        ]}
      />
      {tab === 'overview' && (
        <div className="columns">
          <section>
            <h2>Run</h2>
            <KeyValues
              label="Run details"
              rows={[
                ['Run id', <code key="id">{runId}</code>],
                [
                  'Status',
                  <span key="s" className={`status ${r.info.status}`}>
                    {r.info.status}
                  </span>,
                ],
                ['Started', time(r.info.start_time)],
                ['Ended', time(r.info.end_time)],
                ['Duration', duration(r.info.start_time, r.info.end_time)],
                ['User', r.info.user_id || '—'],
                ['Source', tags['mlflow.source.name'] ?? '—'],
                ['Parent run', tags['mlflow.parentRunId'] ?? '—'],
                ['Artifact URI', <code key="a">{r.info.artifact_uri}</code>],
              ]}
            />
            <RegisterModel api={api} runId={runId} artifactUri={r.info.artifact_uri ?? ''} ws={ws} />
            <h2>Metrics (latest)</h2>
            <KeyValues label="Metrics" rows={metrics.map((m) => [m.key, num(m.value)])} />
          </section>
          <section>
            <h2>Parameters</h2>
            <KeyValues label="Parameters" rows={params.map((p) => [p.key, p.value])} />
            <h2>Tags</h2>
            <KeyValues
              label="Tags"
              rows={(r.data.tags ?? [])
                .filter((t) => !t.key.startsWith('mlflow.') || t.key === 'mlflow.note.content')
                .map((t) => [t.key, t.value])}
            />
          </section>
        </div>
      )}
      {tab === 'metrics' &&
        (metrics.length === 0 ? (
          <Empty title="This run logged no metric.">
            Log one with <code>mlflow.log_metric(&quot;loss&quot;, value, step=i)</code>.
          </Empty>
        ) : (
          <div className="charts">
            {metrics.map((m) => (
              <MetricChart
                key={m.key}
                api={api}
                metric={m.key}
                series={[{ runId, label: r.info.run_name || runId }]}
                zoom={zoom}
                onZoom={(z) => setQuery({ zoom: formatZoom(z) })}
              />
            ))}
          </div>
        ))}
      {tab === 'artifacts' && <ArtifactBrowser api={api} runId={runId} route={route} />}
    </Page>
  );
}

/** Registers a folder of this run's artifacts (a logged model) as a new version of a model. */
function RegisterModel({
  api,
  runId,
  artifactUri,
  ws,
}: {
  api: Mlflow;
  runId: string;
  artifactUri: string;
  ws: WorkspaceRef;
}) {
  const [done, setDone] = useState<{ name: string; version: string } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const name = String(f.get('name') ?? '').trim();
    const path = String(f.get('path') ?? '')
      .trim()
      .replace(/^\/+|\/+$/g, '');
    setBusy(true);
    setError(null);
    try {
      await api.post('registered-models/create', { name }).catch((err: unknown) => {
        if (!(err instanceof ApiError && err.code === 'RESOURCE_ALREADY_EXISTS')) throw err;
      });
      const v = await api.post<{ model_version: { version: string } }>('model-versions/create', {
        name,
        source: `${artifactUri.replace(/\/+$/, '')}/${path}`,
        run_id: runId,
      });
      setDone({ name, version: v.model_version.version });
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="register">
      <summary>Register a model from this run</summary>
      <form onSubmit={(e) => void submit(e)} aria-label="Register a model">
        <label>
          Model name
          <input name="name" required />
        </label>
        <label>
          Artifact folder of the model
          <input name="path" required defaultValue="model" />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Register
        </button>
        {error && <ErrorBox error={error} />}
        {done && (
          <p role="status">
            Registered as{' '}
            <a href={href(['w', ws.sub, ws.group, ws.name, 'models', done.name])}>
              {done.name} version {done.version}
            </a>
            .
          </p>
        )}
      </form>
    </details>
  );
}
