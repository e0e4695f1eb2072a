import { useMemo, useState } from 'react';
import { mlflow, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href, setQuery, type Route } from '../lib/router';
import { num } from '../lib/format';
import { formatZoom, parseZoom } from '../lib/zoom';
import { Empty, ErrorBox, Loading, Page } from '../components/ui';
import { MetricChart, PALETTE } from '../components/metric-chart';
import { ParallelCoordinates } from '../components/parallel';
import type { Run } from './runs';

const MAX = 100;

/** Up to 100 runs side by side: overlaid metric charts, parallel coordinates, a param diff. */
export function Compare({ ws, route }: { ws: WorkspaceRef; route: Route }) {
  const api = mlflow(ws);
  const ids = (route.query.get('runs') ?? '').split(',').filter(Boolean).slice(0, MAX);
  const runs = useLoad(
    () => Promise.all(ids.map((id) => api.get<{ run: Run }>('runs/get', { run_id: id }).then((r) => r.run))),
    [ws.name, ids.join(',')],
  );
  const [onlyDiff, setOnlyDiff] = useState(route.query.get('diff') !== 'all');
  const zoom = parseZoom(route.query.get('zoom'));
  const data = runs.data ?? [];
  const paramKeys = useMemo(
    () => [...new Set(data.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort(),
    [data],
  );
  const metricKeys = useMemo(
    () => [...new Set(data.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort(),
    [data],
  );
  const urlMetrics = (route.query.get('metrics') ?? '').split(',').filter(Boolean);
  const chosenMetrics = urlMetrics.filter((m) => metricKeys.includes(m));
  // Until the runs are in, the metrics the URL names are charted already: their buckets and the
  // runs load at the same time.
  const charted = runs.data ? (chosenMetrics.length ? chosenMetrics : metricKeys.slice(0, 6)) : urlMetrics;
  if (ids.length === 0)
    return (
      <Page title="Compare runs">
        <Empty title="No run chosen.">Select runs in an experiment&apos;s runs table, then press Compare.</Empty>
      </Page>
    );
  if (runs.error) return <ErrorBox error={runs.error} onRetry={runs.reload} />;
  if (!runs.data && urlMetrics.length === 0) return <Loading what={`Loading ${ids.length} runs`} />;
  const param = (r: Run, k: string) => r.data.params?.find((p) => p.key === k)?.value;
  const metric = (r: Run, k: string) => r.data.metrics?.find((m) => m.key === k)?.value;
  const differs = (k: string) => new Set(data.map((r) => param(r, k) ?? '')).size > 1;
  const shownParams = onlyDiff ? paramKeys.filter(differs) : paramKeys;
  const label = (r: Run) => r.info.run_name || r.info.run_id.slice(0, 8);
  const runHref = (r: Run) =>
    href(['w', ws.sub, ws.group, ws.name, 'experiments', r.info.experiment_id, 'runs', r.info.run_id]);
  return (
    <Page title={`Compare ${runs.data ? data.length : ids.length} runs`}>
      <h2>Metrics</h2>
      {runs.data && metricKeys.length === 0 ? (
        <p className="muted">These runs logged no metric.</p>
      ) : (
        <>
          <details className="chooser inline-chooser">
            <summary>Charted metrics ({charted.length})</summary>
            <div className="chooser-panel">
              <ul>
                {metricKeys.map((m) => (
                  <li key={m}>
                    <label>
                      <input
                        type="checkbox"
                        checked={charted.includes(m)}
                        onChange={(e) =>
                          setQuery({
                            metrics: (e.target.checked ? [...charted, m] : charted.filter((x) => x !== m)).join(','),
                          })
                        }
                      />{' '}
                      {m}
                    </label>
                  </li>
                ))}
              </ul>
            </div>
          </details>
          <div className="charts">
            {charted.map((m) => (
              <MetricChart
                key={m}
                api={api}
                metric={m}
                series={
                  runs.data
                    ? data
                        .filter((r) => metric(r, m) !== undefined)
                        .map((r) => ({ runId: r.info.run_id, label: label(r) }))
                    : ids.map((id) => ({ runId: id, label: id.slice(0, 8) }))
                }
                zoom={zoom}
                onZoom={(z) => setQuery({ zoom: formatZoom(z) })}
              />
            ))}
          </div>
        </>
      )}
      {!runs.data ? (
        <Loading what={`Loading ${ids.length} runs`} />
      ) : (
        <>
          <h2>Parallel coordinates</h2>
          <ParallelCoordinates
            runs={data.map((r, i) => ({
              id: r.info.run_id,
              label: label(r),
              color: PALETTE[i % PALETTE.length]!,
              values: Object.fromEntries([
                ...paramKeys.map((k) => [`param ${k}`, param(r, k)] as const),
                ...charted.map((k) => [`metric ${k}`, metric(r, k)] as const),
              ]),
            }))}
            axes={[...shownParams.map((k) => `param ${k}`), ...charted.map((k) => `metric ${k}`)]}
          />
          <h2>Parameters</h2>
          <label className="inline">
            <input
              type="checkbox"
              checked={onlyDiff}
              onChange={(e) => {
                setOnlyDiff(e.target.checked);
                setQuery({ diff: e.target.checked ? undefined : 'all' });
              }}
            />
            Only parameters that differ ({paramKeys.filter(differs).length} of {paramKeys.length})
          </label>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Parameters and metrics">
            <table className="grid compare" aria-label="Parameters and metrics of the compared runs">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  {data.map((r) => (
                    <th scope="col" key={r.info.run_id}>
                      <a href={runHref(r)}>{label(r)}</a>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {shownParams.map((k) => (
                  <tr key={`p:${k}`} className={differs(k) ? 'differs' : undefined}>
                    <th scope="row">{k}</th>
                    {data.map((r) => (
                      <td key={r.info.run_id}>{param(r, k) ?? '—'}</td>
                    ))}
                  </tr>
                ))}
                {metricKeys.map((k) => (
                  <tr key={`m:${k}`}>
                    <th scope="row">
                      <span className="kind">metric</span> {k}
                    </th>
                    {data.map((r) => (
                      <td key={r.info.run_id} className="num">
                        {num(metric(r, k))}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
