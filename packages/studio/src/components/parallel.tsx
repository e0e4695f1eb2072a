/**
 * Parallel coordinates (SVG): one vertical axis per param or metric, one polyline per run. Numeric
 * axes are scaled min–max; other values are spread as categories. Hand-drawn: a few dozen lines of
 * SVG, where a charting library for this one plot would outweigh the rest of the studio.
 */
export function ParallelCoordinates({
  runs,
  axes,
}: {
  runs: { id: string; label: string; color: string; values: Record<string, string | number | undefined> }[];
  axes: string[];
}) {
  if (axes.length < 2 || runs.length === 0)
    return <p className="muted">Needs at least two params or metrics that the runs have (choose metrics above).</p>;
  const width = Math.max(600, axes.length * 140);
  const height = 320;
  const top = 40;
  const bottom = 30;
  const x = (i: number) => 60 + (i * (width - 120)) / (axes.length - 1);
  const scales = axes.map((a) => {
    const vals = runs.map((r) => r.values[a]).filter((v) => v !== undefined && v !== '');
    const nums = vals.map(Number);
    if (nums.length && nums.every((n) => Number.isFinite(n))) {
      const lo = Math.min(...nums);
      const hi = Math.max(...nums);
      return {
        y: (v: unknown) =>
          v === undefined || v === ''
            ? null
            : top + (1 - (hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo))) * (height - top - bottom),
        ticks: [hi, lo].map((t) => String(Number(t.toPrecision(4)))),
      };
    }
    const cats = [...new Set(vals.map(String))].sort();
    return {
      y: (v: unknown) =>
        v === undefined || v === ''
          ? null
          : top + (cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)) * (height - top - bottom),
      ticks: [cats[0] ?? '', cats[cats.length - 1] ?? ''],
    };
  });
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Parallel coordinates">
      <svg
        className="parallel"
        width={width}
        height={height}
        role="img"
        aria-label={`Parallel coordinates of ${runs.length} runs over ${axes.length} axes`}
      >
        {runs.map((r) => {
          const pts = axes
            .map((a, i) => {
              const y = scales[i]!.y(r.values[a]);
              return y === null ? null : `${x(i)},${y}`;
            })
            .filter(Boolean);
          return (
            <polyline key={r.id} points={pts.join(' ')} fill="none" stroke={r.color} strokeWidth={1.5} opacity={0.8}>
              <title>{r.label}</title>
            </polyline>
          );
        })}
        {axes.map((a, i) => (
          <g key={a} className="axis">
            <line x1={x(i)} x2={x(i)} y1={top} y2={height - bottom} />
            <text x={x(i)} y={16} textAnchor="middle">
              {a.length > 22 ? `${a.slice(0, 21)}…` : a}
            </text>
            <text x={x(i) + 4} y={top + 4}>
              {scales[i]!.ticks[0]}
            </text>
            <text x={x(i) + 4} y={height - bottom + 14}>
              {scales[i]!.ticks[1]}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
