/**
 * The load generator of `bench/deploy.ts`, run as its own process (so its event loop does not share
 * the server's): an open loop that, every 1/rate seconds, sends one request through the proxy and,
 * half a period later, the same request straight to a worker (round-robin over the workers). Both
 * streams run at `rate` requests/s at once, so each latency is taken under the same machine load;
 * the proxy overhead is the difference of their medians.
 *
 * With `only` set, just that stream runs, at `rate` (the phased design: the workers then take `rate`
 * requests/s, not twice that, as they would when both streams run at once).
 *
 * Input: one JSON line on stdin ({rate, seconds, body, proxied: {origin, path, headers}, direct:
 * [{origin, path}], only?: 'proxied' | 'direct'}); output: one JSON line with each stream's latencies
 * (ms) and failures.
 */
import { Pool } from 'undici';

interface Job {
  rate: number;
  seconds: number;
  body: string;
  proxied: { origin: string; path: string; headers: Record<string, string> };
  direct: { origin: string; path: string }[];
  only?: 'proxied' | 'direct';
}

const input = await new Promise<string>((resolve) => {
  let s = '';
  process.stdin.on('data', (c) => (s += c));
  process.stdin.on('end', () => resolve(s));
});
const job = JSON.parse(input) as Job;
const json = { 'content-type': 'application/json' };
// Enough connections that no request waits for one (about rate × latency); keep-alive on both paths.
const proxyPool = new Pool(job.proxied.origin, { connections: 64, pipelining: 1 });
const directPools = job.direct.map((d) => new Pool(d.origin, { connections: 32, pipelining: 1 }));

async function once(pool: Pool, path: string, headers: Record<string, string>, out: number[], failed: string[]) {
  const t0 = performance.now();
  try {
    const r = await pool.request({ path, method: 'POST', headers, body: job.body });
    await r.body.text();
    if (r.statusCode !== 200) failed.push(String(r.statusCode));
    else out.push(performance.now() - t0);
  } catch (e) {
    failed.push((e as Error).message);
  }
}

const proxied: number[] = [];
const direct: number[] = [];
const failed: string[] = [];
const total = Math.round(job.rate * job.seconds);
const period = 1000 / job.rate;
const inflight: Promise<void>[] = [];
const start = performance.now();
for (let i = 0; i < total; i++) {
  for (const half of job.only === 'proxied' ? [0] : job.only === 'direct' ? [1] : [0, 1]) {
    const due = start + i * period + (half * period) / 2;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      half === 0
        ? once(proxyPool, job.proxied.path, { ...json, ...job.proxied.headers }, proxied, failed)
        : once(directPools[i % directPools.length]!, job.direct[i % job.direct.length]!.path, json, direct, failed),
    );
  }
}
const sent = performance.now() - start;
await Promise.all(inflight);
await Promise.all([proxyPool, ...directPools].map((p) => p.close()));
process.stdout.write(JSON.stringify({ proxied, direct, failed, sendSeconds: sent / 1000 }) + '\n');
