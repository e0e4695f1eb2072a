/** `zoom=a-b` in the URL: the chart's x-range (steps). */
export function parseZoom(v: string | null): [number, number] | undefined {
  const m = /^(-?\d+)~(-?\d+)$/.exec(v ?? '');
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a < b ? [a, b] : undefined;
}
export const formatZoom = (z: [number, number] | undefined) => (z ? `${z[0]}~${z[1]}` : undefined);
