import { useEffect, useRef, useState } from 'react';
import uPlot, { type AlignedData, type Options } from 'uplot';
import type { Mlflow } from '../lib/api';
import { bucketsFor, loadBuckets, type Bucket } from '../lib/buckets';
import { num } from '../lib/format';

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#65a30d',
  '#4f46e5',
  '#b45309',
];

export interface ChartSeries {
  runId: string;
  label: string;
}

/** Min, max and last value of a series over the range on screen (from its buckets: every point counts). */
export interface SeriesStats {
  min: number | null;
  max: number | null;
  last: number | null;
  lastStep: number | null;
  points: number;
}

export function statsOf(buckets: Bucket[]): SeriesStats {
  let min: number | null = null;
  let max: number | null = null;
  let points = 0;
  for (const b of buckets) {
    const lo = b.min ?? b.last;
    const hi = b.max ?? b.last;
    if (min === null || lo < min) min = lo;
    if (max === null || hi > max) max = hi;
    points += b.count;
  }
  const tail = buckets[buckets.length - 1];
  return { min, max, last: tail?.last ?? null, lastStep: tail?.last_step ?? null, points };
}

/** Bucketed series aligned on one x axis (the union of the buckets' last steps), for uPlot. */
function align(per: Bucket[][]): AlignedData {
  const xs = [...new Set(per.flatMap((b) => b.map((x) => x.last_step)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data: (number | null)[][] = [xs];
  for (const b of per) {
    const last = new Array<number | null>(xs.length).fill(null);
    const min = new Array<number | null>(xs.length).fill(null);
    const max = new Array<number | null>(xs.length).fill(null);
    // ±Infinity and NaN have no place on the y axis (the legend still shows them).
    const y = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
    for (const x of b) {
      const i = at.get(x.last_step)!;
      last[i] = y(x.last);
      min[i] = y(x.min);
      max[i] = y(x.max);
    }
    data.push(last, min, max);
  }
  return data as AlignedData;
}

/**
 * One metric of one or more runs (up to 100): per run the last value of each x-bucket as a line and
 * the bucket's min–max as a band, so spikes and plateaus show at any zoom. Dragging zooms; the new
 * x-range is asked of the server again (re-bucketed) and kept in the URL by the page (`onZoom`).
 * Double-click resets.
 */
export function MetricChart({
  api,
  metric,
  series,
  zoom,
  onZoom,
  height = 260,
}: {
  api: Mlflow;
  metric: string;
  series: ChartSeries[];
  zoom?: [number, number];
  onZoom?: (z: [number, number] | undefined) => void;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoomRef = useRef(zoom);
  zoomRef.current = zoom;
  const onZoomRef = useRef(onZoom);
  onZoomRef.current = onZoom;
  const [error, setError] = useState<string | null>(null);
  const [points, setPoints] = useState<number | null>(null);
  const [stats, setStats] = useState<SeriesStats[]>([]);
  const [bucketCount, setBucketCount] = useState<number | null>(null);
  const [draws, setDraws] = useState(0);
  const [loads, setLoads] = useState(0);
  const runsKey = series.map((s) => s.runId).join(',');
  const zoomKey = zoom ? zoom.join('-') : '';

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let cancelled = false;
    const width = Math.max(300, el.clientWidth);
    const n = bucketsFor(width);
    setError(null);
    setBucketCount(n);
    loadBuckets(
      api,
      series.map((s) => s.runId),
      metric,
      n,
      zoom,
    ).then(
      (per) => {
        if (cancelled) return;
        const st = per.map(statsOf);
        setStats(st);
        setPoints(st.reduce((a, b) => a + b.points, 0));
        const data = align(per);
        const dark = document.documentElement.dataset.theme === 'dark';
        const axis = { stroke: dark ? '#cbd5e1' : '#334155', grid: { stroke: dark ? '#334155' : '#e2e8f0' } };
        if (plot.current && plot.current.series.length === 1 + 3 * series.length) {
          plot.current.batch(() => {
            plot.current!.setData(data, false);
            const xs = data[0] as number[];
            plot.current!.setScale(
              'x',
              zoom ? { min: zoom[0], max: zoom[1] } : { min: xs[0] ?? 0, max: xs[xs.length - 1] ?? 1 },
            );
          });
        } else {
          plot.current?.destroy();
          const opts: Options = {
            width,
            height,
            cursor: { drag: { x: true, y: false } },
            // The legend is the table below (min, max, last per series), not uPlot's cursor legend.
            legend: { show: false },
            scales: { x: { time: false } },
            axes: [
              { ...axis, label: 'step' },
              { ...axis, values: (_u, v) => v.map((x) => num(x)) },
            ],
            series: [
              { label: 'step' },
              ...series.flatMap((s, i) => {
                const c = PALETTE[i % PALETTE.length]!;
                return [
                  {
                    label: s.label,
                    stroke: c,
                    width: 1.5,
                    spanGaps: true,
                    value: (_u: uPlot, v: number | null) => num(v),
                  },
                  { label: `${s.label} min`, stroke: 'transparent', spanGaps: true },
                  { label: `${s.label} max`, stroke: 'transparent', spanGaps: true },
                ];
              }),
            ],
            bands: series.map((_s, i) => ({
              series: [3 + 3 * i, 2 + 3 * i] as [number, number],
              fill: `${PALETTE[i % PALETTE.length]}33`,
            })),
            hooks: {
              setSelect: [
                (u) => {
                  if (u.select.width < 2) return;
                  const min = u.posToVal(u.select.left, 'x');
                  const max = u.posToVal(u.select.left + u.select.width, 'x');
                  u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                  onZoomRef.current?.([Math.floor(min), Math.ceil(max)]);
                },
              ],
              draw: [() => setDraws((d) => d + 1)],
            },
          };
          plot.current = new uPlot(opts, data, el);
          if (zoom) plot.current.setScale('x', { min: zoom[0], max: zoom[1] });
          plot.current.over.addEventListener('dblclick', () => onZoomRef.current?.(undefined));
        }
        setLoads((n) => n + 1);
      },
      (e: Error) => !cancelled && setError(e.message),
    );
    return () => {
      cancelled = true;
    };
    // api is rebuilt per render; the workspace is part of the page's key.
  }, [metric, runsKey, zoomKey, height]);

  useEffect(() => () => plot.current?.destroy(), []);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height }));
    ro.observe(el);
    return () => ro.disconnect();
  }, [height]);

  return (
    <figure
      className="chart"
      data-metric={metric}
      data-draws={draws}
      data-loads={loads}
      data-zoom={zoomKey}
      data-buckets={bucketCount ?? undefined}
    >
      <figcaption>
        <strong>{metric}</strong>
        {points !== null && <span className="muted small"> · {points.toLocaleString()} points</span>}
        {zoom && (
          <button type="button" className="ghost small" onClick={() => onZoom?.(undefined)}>
            Reset zoom
          </button>
        )}
      </figcaption>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div
        ref={box}
        className="chart-box"
        role="img"
        aria-label={`Chart of ${metric}: drag to zoom, double-click to reset`}
      />
      {stats.length > 0 && (
        <div
          className="legend-wrap"
          tabIndex={series.length > 10 ? 0 : undefined}
          role="region"
          aria-label={`Legend of ${metric}`}
        >
          <table className="legend" aria-label={`Legend of ${metric}`}>
            <thead>
              <tr>
                <th scope="col">{zoom ? `Run (steps ${zoom[0]}–${zoom[1]})` : 'Run'}</th>
                <th scope="col">Min</th>
                <th scope="col">Max</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {series.map((s, i) => (
                <tr key={s.runId}>
                  <th scope="row">
                    <span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} aria-hidden="true" />
                    {s.label}
                  </th>
                  <td>{num(stats[i]?.min)}</td>
                  <td>{num(stats[i]?.max)}</td>
                  <td title={stats[i]?.lastStep !== null ? `at step ${stats[i]?.lastStep}` : undefined}>
                    {num(stats[i]?.last)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </figure>
  );
}
