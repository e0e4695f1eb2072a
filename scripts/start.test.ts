import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');

/** Ids of the processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended while we looked
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(name));
  }
  return out;
}

function treeRssBytes(pid: number): number {
  let sum = 0;
  for (const p of [pid, ...childrenOf(pid).flatMap((c) => [c, ...childrenOf(c)])]) {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
    sum += m ? Number(m[1]) * 1024 : 0;
  }
  return sum;
}

test(
  'npm start: once /health answers 200 the server has no child process left (the bundler is stopped) and its tree idles under 150 MB',
  { skip: process.platform !== 'linux' && 'reads /proc', timeout: 180_000 },
  async (t) => {
    // The command of `npm start`, with --rebuild so that the bundler runs every time.
    const start = (
      JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
    ).scripts.start.split(/\s+/);
    assert.equal(start[0], 'node');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-start-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ATELIER_HOME: home,
      ATELIER_HOST: '127.0.0.1',
      ATELIER_PORT: '0',
      ATELIER_LOG_LEVEL: 'warn',
      ATELIER_ADMIN_PASSWORD: 'start-test-password-1',
    };
    delete env.NODE_OPTIONS;
    const server = spawn(process.execPath, [...start.slice(1), '--rebuild'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      server.kill('SIGKILL');
      fs.rmSync(home, { recursive: true, force: true });
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (b: Buffer) => {
        output += b.toString();
        const m = /listening on (https?:\/\/[^\s]+)/.exec(output);
        if (m) resolve(m[1]!);
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)));
    });
    let health = 0;
    for (let i = 0; i < 100 && health !== 200; i++) {
      health = await fetch(`${url}/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (health !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health, 200);
    const children = childrenOf(server.pid!);
    const described = children.map(
      (p) => `${p}: ${fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ')}`,
    );
    assert.deepEqual(described, [], 'no helper process may outlive start-up');
    // Idle: let start-up garbage be collected, then read the whole tree's resident memory.
    await new Promise((r) => setTimeout(r, 3000));
    const rss = treeRssBytes(server.pid!);
    t.diagnostic(`process tree RSS after start: ${(rss / 1e6).toFixed(1)} MB`);
    assert.ok(rss < 150e6, `the server's process tree holds ${(rss / 1e6).toFixed(1)} MB (goal: under 150 MB)`);
  },
);
