import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { mlflow, type WorkspaceRef } from '../lib/api';
import { useLoad } from '../lib/hooks';
import { href, setQuery, type Route } from '../lib/router';
import { duration, num, time } from '../lib/format';
import { Empty, ErrorBox, Loading, Page } from '../components/ui';

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status: string;
  start_time?: number;
  end_time?: number;
  user_id?: string;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
export interface Run {
  info: RunInfo;
  data: {
    metrics?: { key: string; value: number; step?: number; timestamp?: number }[];
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
  };
}

/** A chosen column: `m:<metric>`, `p:<param>` or `t:<tag>`. */
type Col = string;
const KIND: Record<string, { label: string; mlflow: string }> = {
  m: { label: 'metric', mlflow: 'metrics' },
  p: { label: 'param', mlflow: 'params' },
  t: { label: 'tag', mlflow: 'tags' },
};
const FIXED: { id: string; title: string; order?: string; width: number }[] = [
  { id: 'name', title: 'Run', order: 'attributes.run_name', width: 220 },
  { id: 'status', title: 'Status', order: 'attributes.status', width: 100 },
  { id: 'start', title: 'Started', order: 'attributes.start_time', width: 180 },
  { id: 'duration', title: 'Duration', width: 110 },
];
const PAGE = 500;
const MAX_COMPARE = 100;

const colKey = (c: Col) => c.slice(2);
const orderOf = (c: Col) => `${KIND[c[0]!]!.mlflow}.\`${colKey(c).replace(/`/g, '``')}\``;

function cell(run: Run, c: Col): string {
  const k = colKey(c);
  if (c.startsWith('m:')) return num(run.data.metrics?.find((m) => m.key === k)?.value);
  if (c.startsWith('p:')) return run.data.params?.find((p) => p.key === k)?.value ?? '';
  return run.data.tags?.find((t) => t.key === k)?.value ?? '';
}

/**
 * The runs of an experiment: a virtualised table (only the rows on screen are in the DOM), loaded
 * page by page as it scrolls; filter (MLflow's search syntax) and sort run on the server. The URL
 * holds filter, sort, columns and selection.
 */
export function Runs({ ws, experimentId, route }: { ws: WorkspaceRef; experimentId: string; route: Route }) {
  const api = mlflow(ws);
  const filter = route.query.get('filter') ?? '';
  const order = route.query.get('order') ?? 'attributes.start_time DESC';
  const selected = useMemo(() => (route.query.get('sel') ?? '').split(',').filter(Boolean), [route.query]);
  const experiment = useLoad(
    () => api.get<{ experiment: { name: string } }>('experiments/get', { experiment_id: experimentId }),
    [ws.name, experimentId],
  );
  const [runs, setRuns] = useState<Run[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [state, setState] = useState<'loading' | 'ready' | 'more'>('loading');
  const [error, setError] = useState<Error | null>(null);
  const [generation, setGeneration] = useState(0);
  const seq = useRef(0);

  const fetchPage = async (token: string | undefined, size: number) =>
    api.post<{ runs?: Run[]; next_page_token?: string }>('runs/search', {
      experiment_ids: [experimentId],
      filter,
      run_view_type: 'ACTIVE_ONLY',
      max_results: size,
      order_by: [order],
      page_token: token,
    });

  useEffect(() => {
    const mine = ++seq.current;
    setState('loading');
    setError(null);
    fetchPage(undefined, 100).then(
      (p) => {
        if (mine !== seq.current) return;
        setRuns(p.runs ?? []);
        setNext(p.next_page_token);
        setState('ready');
        setGeneration((g) => g + 1);
      },
      (e: Error) => {
        if (mine !== seq.current) return;
        setRuns([]);
        setNext(undefined);
        setError(e);
        setState('ready');
      },
    );
    // fetchPage reads filter and order, which are the deps.
  }, [ws.sub, ws.group, ws.name, experimentId, filter, order]);

  const loadMore = () => {
    if (!next || state !== 'ready') return;
    const mine = seq.current;
    setState('more');
    fetchPage(next, PAGE).then(
      (p) => {
        if (mine !== seq.current) return;
        setRuns((r) => r.concat(p.runs ?? []));
        setNext(p.next_page_token);
        setState('ready');
      },
      (e: Error) => {
        if (mine !== seq.current) return;
        setError(e);
        setState('ready');
      },
    );
  };

  // Columns: chosen ones from the URL; by default the first metrics and params of the loaded runs.
  const available = useMemo(() => {
    const m = new Set<string>();
    const p = new Set<string>();
    const t = new Set<string>();
    for (const r of runs.slice(0, 1000)) {
      for (const x of r.data.metrics ?? []) m.add(x.key);
      for (const x of r.data.params ?? []) p.add(x.key);
      for (const x of r.data.tags ?? []) if (!x.key.startsWith('mlflow.')) t.add(x.key);
    }
    return [
      ...[...m].sort().map((k) => `m:${k}`),
      ...[...p].sort().map((k) => `p:${k}`),
      ...[...t].sort().map((k) => `t:${k}`),
    ];
  }, [runs]);
  const colsParam = route.query.get('cols');
  const cols: Col[] =
    colsParam !== null
      ? colsParam.split(',').filter((c) => /^[mpt]:./.test(c))
      : [
          ...available.filter((c) => c.startsWith('m:')).slice(0, 4),
          ...available.filter((c) => c.startsWith('p:')).slice(0, 4),
        ];

  const parentRef = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: runs.length + (next ? 1 : 0),
    getScrollElement: () => parentRef.current,
    estimateSize: () => 34,
    overscan: 15,
  });
  const items = virtual.getVirtualItems();
  const last = items[items.length - 1];
  useEffect(() => {
    if (last && last.index >= runs.length - 1 && next && state === 'ready') loadMore();
  });

  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const applyFilter = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ filter: draft.trim() || undefined });
  };
  const sortBy = (o: string) => {
    const [cur, dir] = order.split(/ (?=ASC$|DESC$)/);
    setQuery({ order: cur === o ? `${o} ${dir === 'DESC' ? 'ASC' : 'DESC'}` : `${o} DESC` });
  };
  const sortState = (o?: string): 'ascending' | 'descending' | 'none' => {
    if (!o) return 'none';
    const [cur, dir] = order.split(/ (?=ASC$|DESC$)/);
    return cur === o ? (dir === 'ASC' ? 'ascending' : 'descending') : 'none';
  };
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else if (s.size < MAX_COMPARE) s.add(id);
    setQuery({ sel: [...s].join(',') || undefined });
  };
  const setCols = (c: Col[]) => setQuery({ cols: c.join(',') });
  const base = ['w', ws.sub, ws.group, ws.name];
  const widths = [44, ...FIXED.map((f) => f.width), ...cols.map(() => 140)];
  const template = widths.map((w) => `${w}px`).join(' ');
  const totalWidth = widths.reduce((a, b) => a + b, 0);

  return (
    <Page
      title={experiment.data?.experiment.name ?? `Experiment ${experimentId}`}
      actions={
        <a
          className={`button primary${selected.length < 1 ? ' disabled' : ''}`}
          aria-disabled={selected.length < 1}
          href={
            selected.length ? href([...base, 'compare'], { runs: selected.join(','), exp: experimentId }) : undefined
          }
        >
          Compare {selected.length} run{selected.length === 1 ? '' : 's'}
        </a>
      }
    >
      <form className="toolbar" onSubmit={applyFilter} role="search" aria-label="Filter runs">
        <label className="inline grow">
          Filter
          <input
            type="search"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="metrics.accuracy > 0.9 and params.model = 'cnn'"
            aria-describedby="filter-help"
            spellCheck={false}
          />
        </label>
        <button type="submit">Apply</button>
        <ColumnChooser available={available} cols={cols} setCols={setCols} />
      </form>
      <p id="filter-help" className="muted small">
        MLflow&apos;s search syntax: <code>metrics.&lt;key&gt;</code>, <code>params.&lt;key&gt;</code>,{' '}
        <code>tags.&lt;key&gt;</code>, <code>attributes.status = &apos;FINISHED&apos;</code>, joined with{' '}
        <code>and</code>. Click a column header to sort. Select up to {MAX_COMPARE} runs to compare.
      </p>
      {error && <ErrorBox error={error} />}
      <p className="muted small" aria-live="polite" data-testid="runs-status">
        {state === 'loading' ? 'Loading runs…' : `${runs.length}${next ? '+' : ''} runs${filter ? ' match' : ''}`}
        {selected.length > 0 && ` · ${selected.length} selected`}
      </p>
      {state !== 'loading' && runs.length === 0 && !error ? (
        filter ? (
          <Empty title="No run matches this filter.">Change the filter, or clear it to see every run.</Empty>
        ) : (
          <Empty title="No run in this experiment yet.">
            Log one with MLflow: <code>with mlflow.start_run(): mlflow.log_metric(&quot;loss&quot;, 0.1)</code>
          </Empty>
        )
      ) : (
        <div
          className="vtable"
          ref={parentRef}
          role="table"
          aria-label="Runs"
          aria-rowcount={runs.length + 1}
          data-state={state}
          data-generation={generation}
        >
          <div role="rowgroup" className="vhead" style={{ width: totalWidth }}>
            <div role="row" className="vrow" style={{ gridTemplateColumns: template }}>
              <div role="columnheader" className="vcell">
                <span className="sr-only">Select</span>
              </div>
              {FIXED.map((f) => (
                <div role="columnheader" className="vcell" key={f.id} aria-sort={sortState(f.order)}>
                  {f.order ? (
                    <button type="button" className="sort" onClick={() => sortBy(f.order!)}>
                      {f.title}
                      <SortMark s={sortState(f.order)} />
                    </button>
                  ) : (
                    f.title
                  )}
                </div>
              ))}
              {cols.map((c) => (
                <div
                  role="columnheader"
                  className="vcell"
                  key={c}
                  aria-sort={sortState(orderOf(c))}
                  title={`${KIND[c[0]!]!.label} ${colKey(c)}`}
                >
                  {c.startsWith('t:') ? (
                    colKey(c)
                  ) : (
                    <button type="button" className="sort" onClick={() => sortBy(orderOf(c))}>
                      <span className="kind">{c[0]}</span> {colKey(c)}
                      <SortMark s={sortState(orderOf(c))} />
                    </button>
                  )}
                </div>
              ))}
            </div>
          </div>
          <div
            role="rowgroup"
            className="vbody"
            style={{ height: virtual.getTotalSize(), width: totalWidth, position: 'relative' }}
          >
            {items.map((v) => {
              const r = runs[v.index];
              if (!r)
                return (
                  <div role="row" key="more" className="vrow more" style={{ transform: `translateY(${v.start}px)` }}>
                    <div role="cell" className="vcell">
                      Loading more runs…
                    </div>
                  </div>
                );
              const id = r.info.run_id;
              const isSel = selected.includes(id);
              return (
                <div
                  role="row"
                  key={id}
                  aria-rowindex={v.index + 2}
                  aria-selected={isSel}
                  className={`vrow${isSel ? ' selected' : ''}`}
                  style={{ gridTemplateColumns: template, transform: `translateY(${v.start}px)` }}
                >
                  <div role="cell" className="vcell">
                    <input
                      type="checkbox"
                      checked={isSel}
                      onChange={() => toggle(id)}
                      aria-label={`Select run ${r.info.run_name || id}`}
                    />
                  </div>
                  <div role="cell" className="vcell">
                    <a href={href([...base, 'experiments', r.info.experiment_id, 'runs', id])}>
                      {r.info.run_name || id}
                    </a>
                  </div>
                  <div role="cell" className="vcell">
                    <span className={`status ${r.info.status}`}>{r.info.status}</span>
                  </div>
                  <div role="cell" className="vcell">
                    {time(r.info.start_time)}
                  </div>
                  <div role="cell" className="vcell">
                    {duration(r.info.start_time, r.info.end_time)}
                  </div>
                  {cols.map((c) => (
                    <div role="cell" className="vcell num" key={c}>
                      {cell(r, c)}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
        </div>
      )}
      {state === 'loading' && runs.length === 0 && <Loading what="Loading runs" />}
    </Page>
  );
}

function SortMark({ s }: { s: 'ascending' | 'descending' | 'none' }) {
  return <span aria-hidden="true">{s === 'ascending' ? ' ▲' : s === 'descending' ? ' ▼' : ''}</span>;
}

function ColumnChooser({ available, cols, setCols }: { available: Col[]; cols: Col[]; setCols: (c: Col[]) => void }) {
  const [find, setFind] = useState('');
  const all = [...new Set([...cols, ...available])];
  const shown = all.filter((c) => !find || c.toLowerCase().includes(find.toLowerCase())).slice(0, 300);
  return (
    <details className="chooser">
      <summary>Columns ({cols.length})</summary>
      <div className="chooser-panel">
        <label>
          Find a column
          <input type="search" value={find} onChange={(e) => setFind(e.target.value)} />
        </label>
        <ul>
          {shown.map((c) => (
            <li key={c}>
              <label>
                <input
                  type="checkbox"
                  checked={cols.includes(c)}
                  onChange={(e) => setCols(e.target.checked ? [...cols, c] : cols.filter((x) => x !== c))}
                />{' '}
                <span className="kind">{KIND[c[0]!]!.label}</span> {colKey(c)}
              </label>
            </li>
          ))}
        </ul>
        {all.length === 0 && <p className="muted small">No metric, param or tag in the loaded runs.</p>}
      </div>
    </details>
  );
}
