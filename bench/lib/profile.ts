import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/**
 * The functions where a V8 CPU profile (node --cpu-prof) spent its own time, most first: where to
 * look when a workload is slow. Source maps are not applied: bundle names and lines are shown.
 */
export function summarizeProfile(file: string, top = 20): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
  };
  const byFrame = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    total += hits;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url
      ? `${url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : path.basename(url)}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    byFrame.set(key, (byFrame.get(key) ?? 0) + hits);
  }
  const rows = [...byFrame.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return [
    `CPU profile ${file} (${seconds.toFixed(1)} s, ${total} samples); self time by function:`,
    ...rows.map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`),
  ].join('\n');
}

/** The newest .cpuprofile in `dir`, if any. */
export function newestProfile(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}
