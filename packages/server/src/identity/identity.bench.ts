/**
 * Identity hot paths, measured (not asserted): `npx tsx packages/server/src/identity/identity.bench.ts`.
 * A real server (SQLite, temp dir) on loopback; concurrent clients; throughput and p50/p99.
 */
import { startTestServer, ADMIN_PASSWORD } from '../testing/harness.js';
const t = await startTestServer(process.argv.includes('--postgres') ? 'postgres' : 'sqlite');
const sp = (await t.request('POST', '/identity/servicePrincipals', { displayName: 'bench' })).body;
const cc = () =>
  fetch(`${t.url}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sp.appId,
      client_secret: sp.secret.value,
      scope: 'https://management.azure.com/.default',
    }),
  }).then((r) => r.json() as Promise<{ access_token: string }>);
async function measure(name: string, n: number, conc: number, f: () => Promise<unknown>) {
  for (let i = 0; i < 20; i++) await f();
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next++ < n) {
        const s = performance.now();
        await f();
        lat.push(performance.now() - s);
      }
    }),
  );
  const el = performance.now() - t0;
  lat.sort((a, b) => a - b);
  console.log(
    `${name}: ${n} requests, concurrency ${conc}: ${Math.round(n / (el / 1000))} req/s, p50 ${lat[Math.floor(lat.length * 0.5)]!.toFixed(2)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(2)} ms`,
  );
}
const tok = (await cc()).access_token;
await measure('client_credentials token', 1000, 8, cc);
await measure('GET /identity/me (bearer verify + principal lookup)', 3000, 8, () =>
  fetch(`${t.url}/identity/me`, { headers: { authorization: `Bearer ${tok}` } }).then((r) => r.text()),
);
// Successful password checks are remembered for 60 s (Basic-auth clients send one per request).
await measure('password grant (cached scrypt check)', 40, 2, () =>
  fetch(`${t.url}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: 'admin',
      password: ADMIN_PASSWORD,
      scope: 'https://management.azure.com/.default',
    }),
  }).then((r) => r.json()),
);
await t.close();
