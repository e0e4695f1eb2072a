import { mlflow, type WorkspaceRef } from '../lib/api';
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
  experimentId: string;
  runId: string;
  route: Route;
}) {
  const api = mlflow(ws);
  const run = useLoad(() => api.get<{ run: Run }>('runs/get', { run_id: runId }), [ws.name, runId]);
  const tab = route.query.get('tab') ?? 'overview';
  const base = ['w', ws.sub, ws.group, ws.name, 'experiments', experimentId, 'runs', runId];
  if (run.error) return <ErrorBox error={run.error} onRetry={run.reload} />;
  if (!run.data) return <Loading what="Loading the run" />;
  const r = run.data.run;
  const tags = Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));
  const metrics = [...(r.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const params = [...(r.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const zoom = parseZoom(route.query.get('zoom'));
  return (
    <Page
      title={r.info.run_name || runId}
      actions={
        <a className="button" href={href(['w', ws.sub, ws.group, ws.name, 'experiments', experimentId])}>
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
