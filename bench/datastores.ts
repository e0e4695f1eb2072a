/**
 * Datastore bench: streamed upload and download of one large file through
 * `W/datastores/{name}/files/…` (MiB/s and the server's peak RSS growth, which stays flat when
 * bytes are streamed), and the cost of the network-access check on a workspace request
 * (requests/s with public access enabled vs. disabled with an approved private endpoint).
 * Run: `npx tsx bench/datastores.ts [sizeMiB] [--postgres URL]` (SQLite by default).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { startServer } from '../packages/server/src/index.js';
import { freshPostgres } from '../packages/server/src/testing/harness.js';

const V = 'api-version=2025-09-01';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizeMiB = Number(args.find((a) => /^\d+$/.test(a)) ?? 256);
  const pgIdx = args.indexOf('--postgres');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bench-ds-'));
  // On PostgreSQL: a fresh database on that server, dropped afterwards.
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  if (pgIdx >= 0) {
    const base = args[pgIdx + 1]!;
    const fresh = await freshPostgres(base, 'atelier_bench');
    databaseUrl = fresh.url;
    dropDb = fresh.drop;
  }
  const server = await startServer(
    { home, port: 0, logLevel: 'silent', adminPassword: 'bench-password-123', ...(databaseUrl ? { databaseUrl } : {}) },
    {},
  );
  try {
    const tok = await fetch(`${server.url}/common/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: 'bench-password-123' }),
    });
    const token = ((await tok.json()) as { access_token: string }).access_token;
    const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const sub = server.ctx.defaultSubscriptionId;
    const rg = `/subscriptions/${sub}/resourceGroups/bench`;
    await fetch(`${server.url}${rg}?${V}`, { method: 'PUT', headers: h, body: JSON.stringify({ location: 'local' }) });
    const W = `${rg}/providers/Microsoft.MachineLearningServices/workspaces/bench-ws`;
    const put = await fetch(`${server.url}${W}?${V}`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ location: 'local' }),
    });
    const op = put.headers.get('azure-asyncoperation')!;
    for (;;) {
      const s = (await (await fetch(op, { headers: h })).json()) as { status: string };
      if (s.status !== 'InProgress') break;
      await new Promise((r) => setTimeout(r, 20));
    }

    // Upload and download one file of sizeMiB, generated on the fly (no copy in memory).
    const chunk = crypto.randomBytes(1 << 20);
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < sizeMiB; i++) yield chunk;
    }
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const file = `${server.url}${W}/datastores/workspaceblobstore/files/bench/big.bin`;
    let t0 = performance.now();
    // node:http, not fetch: fetch keeps a copy of a streamed request body.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        file,
        { method: 'PUT', headers: { authorization: h.authorization, 'content-length': String(sizeMiB << 20) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      Readable.from(body()).pipe(req);
    });
    if (status !== 201) throw new Error(`upload answered ${status}`);
    const upS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const down = await fetch(file, { headers: { authorization: h.authorization } });
    let n = 0;
    for await (const c of down.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
    const downS = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    if (n !== sizeMiB << 20) throw new Error(`download returned ${n} bytes`);

    // Network-access check: the same GET with public access on, then off with an approved endpoint.
    const rate = async (label: string): Promise<string> => {
      const url = `${server.url}${W}/datastores/workspaceblobstore?${V}`;
      const end = performance.now() + 3000;
      let count = 0;
      const worker = async () => {
        while (performance.now() < end) {
          const r = await fetch(url, { headers: h });
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`${label}: ${r.status}`);
          count++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      return `${label}: ${(count / 3).toFixed(0)} req/s`;
    };
    const enabled = await rate('public access enabled');
    await fetch(`${server.url}${rg}/providers/Microsoft.Network/privateEndpoints/pe?${V}`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({
        location: 'local',
        properties: {
          subnet: { properties: { addressPrefixes: ['127.0.0.0/8'] } },
          privateLinkServiceConnections: [{ properties: { privateLinkServiceId: W } }],
        },
      }),
    });
    await fetch(`${server.url}${W}?${V}`, {
      method: 'PATCH',
      headers: h,
      body: JSON.stringify({ properties: { publicNetworkAccess: 'Disabled' } }),
    });
    await new Promise((r) => setTimeout(r, 1100));
    const disabled = await rate('public access disabled, approved endpoint');

    process.stdout.write(
      [
        `datastore bench (${server.ctx.database.dialect}, ${sizeMiB} MiB file, loopback, client and server in one process)`,
        `  upload:   ${(sizeMiB / upS).toFixed(0)} MiB/s (${upS.toFixed(2)} s)`,
        `  download: ${(sizeMiB / downS).toFixed(0)} MiB/s (${downS.toFixed(2)} s)`,
        `  peak RSS growth during transfer: ${((peak - rss0) / (1 << 20)).toFixed(0)} MiB (file is ${sizeMiB} MiB)`,
        `  GET W/datastores/{name}, 8 clients, 3 s: ${enabled}; ${disabled}`,
      ].join('\n') + '\n',
    );
  } finally {
    await server.close();
    await dropDb?.();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`datastore bench failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
