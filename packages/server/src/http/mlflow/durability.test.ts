import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { migratedPostgres, testDialects } from '../../testing/harness.js';

/**
 * Durability (issue 4 item 8): a real server process logs from concurrent clients, is killed with
 * SIGKILL mid-stream, restarts on the same data, and still has every write it acknowledged; no
 * writer ever saw "database is locked" (or any other failure) before the kill.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../../../..');
const mainTs = path.resolve(here, '../../main.ts');
const PASSWORD = 'durability-admin-pw-1';
// Requests carry a bearer token (from the password grant), as MLflow clients with
// MLFLOW_TRACKING_TOKEN do: a test of durability, not of Basic sign-in and its throttle.
let auth = '';

async function signIn(base: string): Promise<void> {
  const res = await fetch(`${base}/common/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: PASSWORD }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  auth = `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
}

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startChild(home: string, databaseUrl?: string): Promise<Child> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ATELIER_HOME: home,
    ATELIER_PORT: '0',
    ATELIER_HOST: '127.0.0.1',
    ATELIER_ADMIN_PASSWORD: PASSWORD,
    ATELIER_LOG_LEVEL: 'warn',
  };
  delete env.ATELIER_PUBLIC_URL;
  if (databaseUrl) env.ATELIER_DATABASE_URL = databaseUrl;
  else delete env.ATELIER_DATABASE_URL;
  const proc = spawn(process.execPath, ['--import', 'tsx', mainTs], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${out}${err}`)), 60000);
    proc.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening: ${out}${err}`));
    });
  });
  return { proc, url, exited };
}

async function http(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function makeWorkspace(base: string, sub: string): Promise<string> {
  const v = 'api-version=2025-09-01';
  const rg = await http(`${base}/subscriptions/${sub}/resourcegroups/durable?${v}`, 'PUT', { location: 'local' });
  assert.ok(rg.status < 300, JSON.stringify(rg.body));
  const id = `/subscriptions/${sub}/resourceGroups/durable/providers/Microsoft.MachineLearningServices/workspaces/durable`;
  const put = await http(`${base}${id}?${v}`, 'PUT', { location: 'local', properties: {} });
  assert.ok(put.status < 300, JSON.stringify(put.body));
  for (let i = 0; i < 600; i++) {
    const got = await http(`${base}${id}?${v}`, 'GET');
    if (got.status === 200 && got.body.properties?.provisioningState === 'Succeeded')
      return `${base}/mlflow/v1.0${id}/api/2.0/mlflow`;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('workspace did not provision');
}

for (const dialect of testDialects()) {
  test(
    `acknowledged writes survive SIGKILL; concurrent writers never fail (${dialect})`,
    { timeout: 180000 },
    async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-durable-'));
      const pgdb = dialect === 'postgres' ? await migratedPostgres() : undefined;
      let child: Child | undefined;
      try {
        child = await startChild(home, pgdb?.url);
        await signIn(child.url);
        const subs = await http(`${child.url}/subscriptions?api-version=2025-09-01`, 'GET');
        const sub = subs.body.value[0].subscriptionId as string;
        const api = await makeWorkspace(child.url, sub);
        const exp = (await http(`${api}/experiments/create`, 'POST', { name: 'durable' })).body.experiment_id as string;

        const WRITERS = 16;
        interface Acked {
          run: string;
          steps: number[];
          params: string[];
          tags: string[];
        }
        const acked: Acked[] = [];
        const failures: string[] = [];
        let stop = false;
        for (let w = 0; w < WRITERS; w++) {
          const created = await http(`${api}/runs/create`, 'POST', { experiment_id: exp, run_name: `w${w}` });
          assert.equal(created.status, 200);
          acked.push({ run: created.body.run.info.run_id, steps: [], params: [], tags: [] });
        }
        const writer = async (w: number) => {
          const a = acked[w]!;
          for (let i = 0; !stop; i++) {
            const steps = Array.from({ length: 50 }, (_, j) => i * 50 + j);
            const body =
              i % 5 === 4
                ? {
                    run_id: a.run,
                    params: [{ key: `p${i}`, value: String(i) }],
                    tags: [{ key: `t${i}`, value: String(i) }],
                    metrics: steps.map((s) => ({ key: 'loss', value: s / 7, timestamp: 1700000000000 + s, step: s })),
                  }
                : {
                    run_id: a.run,
                    metrics: steps.map((s) => ({ key: 'loss', value: s / 7, timestamp: 1700000000000 + s, step: s })),
                  };
            let res: { status: number; body: any };
            try {
              res = await http(`${api}/runs/log-batch`, 'POST', body);
            } catch {
              return; // the server is gone: this write was not acknowledged
            }
            if (res.status !== 200) {
              failures.push(`${res.status} ${JSON.stringify(res.body)}`);
              return;
            }
            a.steps.push(...steps);
            if ('params' in body) {
              a.params.push(`p${i}`);
              a.tags.push(`t${i}`);
            }
          }
        };
        // Run creators alongside (create-run shares commits with the writes, as a log-batch does).
        const createdRuns: string[] = [];
        const creator = async (c: number) => {
          for (let i = 0; !stop; i++) {
            let res: { status: number; body: any };
            try {
              res = await http(`${api}/runs/create`, 'POST', {
                experiment_id: exp,
                run_name: `c${c}-${i}`,
                tags: [{ key: 'creator', value: String(c) }],
              });
            } catch {
              return;
            }
            if (res.status !== 200) {
              failures.push(`${res.status} ${JSON.stringify(res.body)}`);
              return;
            }
            createdRuns.push(res.body.run.info.run_id);
          }
        };
        const running = [
          ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
          ...Array.from({ length: 4 }, (_, c) => creator(c)),
        ];
        // Let them log for a while, then kill the process in the middle of it.
        // (at least 2 s and 5,000 acknowledged points, at most 20 s: the machine may be busy).
        const started = Date.now();
        for (;;) {
          const n = acked.reduce((k, a) => k + a.steps.length, 0);
          const ms = Date.now() - started;
          if ((ms >= 2000 && n >= 5000) || ms >= 20000 || failures.length) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        child.proc.kill('SIGKILL');
        await child.exited;
        stop = true;
        await Promise.all(running);
        assert.deepEqual(failures, [], 'no writer may see an error (e.g. database is locked) before the kill');
        const total = acked.reduce((n, a) => n + a.steps.length, 0);
        assert.ok(total > 0, 'some writes were acknowledged before the kill');

        child = await startChild(home, pgdb?.url);
        // (A token names the server that issued it, and the new process listens on another port.)
        await signIn(child.url);
        const api2 = api.replace(/^https?:\/\/[^/]+/, child.url);
        for (const a of acked) {
          const hist = await http(`${api2}/metrics/get-history?run_id=${a.run}&metric_key=loss`, 'GET');
          assert.equal(hist.status, 200);
          const have = new Set<number>(hist.body.metrics.map((m: any) => m.step));
          const missing = a.steps.filter((s) => !have.has(s));
          assert.deepEqual(missing, [], `run ${a.run}: acknowledged steps lost after SIGKILL`);
          const run = (await http(`${api2}/runs/get?run_id=${a.run}`, 'GET')).body.run;
          const params = new Set((run.data.params ?? []).map((p: any) => p.key));
          const tags = new Set((run.data.tags ?? []).map((t: any) => t.key));
          assert.deepEqual(
            a.params.filter((p) => !params.has(p)),
            [],
          );
          assert.deepEqual(
            a.tags.filter((t) => !tags.has(t)),
            [],
          );
          // The latest value agrees with the history that survived.
          if (have.size) {
            const latest = (run.data.metrics ?? []).find((m: any) => m.key === 'loss');
            assert.equal(latest?.step, Math.max(...have));
          }
        }
        for (const id of createdRuns) {
          const got = await http(`${api2}/runs/get?run_id=${id}`, 'GET');
          assert.equal(got.status, 200, `run ${id}: an acknowledged create-run was lost after SIGKILL`);
          assert.ok(
            got.body.run.data.tags.some((t: any) => t.key === 'creator'),
            `run ${id}: its tags were lost`,
          );
        }
        // The restarted server takes writes again.
        assert.equal(
          (
            await http(`${api2}/runs/log-metric`, 'POST', {
              run_id: acked[0]!.run,
              key: 'after',
              value: 1,
              timestamp: 1,
            })
          ).status,
          200,
        );
        process.stdout.write(
          `# ${dialect}: ${total} acknowledged metric points from ${WRITERS} writers and ${createdRuns.length} created runs survived SIGKILL\n`,
        );
      } finally {
        if (child && child.proc.exitCode === null && child.proc.signalCode === null) {
          child.proc.kill('SIGTERM');
          await child.exited;
        }
        if (pgdb) await pgdb.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    },
  );
}
