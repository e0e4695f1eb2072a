/**
 * `npm run bench:start -- [N]`: CPU and wall time of starting (and
 * closing) a test server N times in one process (default 6), SQLite and PostgreSQL alternately when
 * ATELIER_TEST_DATABASE_URL is set. The first start pays what later ones may share (schema
 * compilation caches, lazy imports); the test suite starts several hundred servers, most of them not
 * the first of their process. CPU is this process's (process.cpuUsage), so PostgreSQL's own work is
 * not in it.
 */
import { startTestServer } from '../packages/server/src/testing/harness.js';

const n = Number(process.argv[2] ?? 6);
const dialects = process.env.ATELIER_TEST_DATABASE_URL ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);
const rows: string[] = [];
for (let i = 0; i < n; i++) {
  const dialect = dialects[i % dialects.length]!;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const s = await startTestServer(dialect);
  const cpu1 = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  await s.close();
  rows.push(
    `start ${i + 1} ${dialect.padEnd(8)} cpu ${((cpu1.user + cpu1.system) / 1000).toFixed(0).padStart(5)} ms  wall ${wall.toFixed(0).padStart(5)} ms`,
  );
}
console.log(rows.join('\n'));
