import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { DeploymentRuntime, Upstream } from '../engines/engine.js';
import { DeploymentBalancer, ScoringError } from './balancer.js';

/**
 * The balancer on its own, against real sockets: an upstream the runtime still lists but whose
 * process is gone (nothing listens on its port: the engine has not seen the exit yet) must cost
 * one request at most, never every other one.
 */
function runtimeOf(list: Upstream[]): DeploymentRuntime & { set(l: Upstream[]): void } {
  let current = list;
  const listeners: (() => void)[] = [];
  return {
    ready: () => current,
    onChange: (l) => void listeners.push(l),
    logs: async () => '',
    stop: async () => {},
    set(l) {
      current = l;
      for (const f of listeners) f();
    },
  };
}

/** A port nothing listens on: bound once, then closed. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('deployment balancer', () => {
  let live: http.Server;
  let liveOrigin: string;
  before(async () => {
    live = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    liveOrigin = `http://127.0.0.1:${(live.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => live.close(() => r())));

  const settings = { requestTimeoutMs: 5_000, maxQueueWaitMs: 2_000, maxQueueLength: 100 };

  it('takes an upstream whose connection is refused out of rotation before the runtime notices', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const rt = runtimeOf([
      { origin: dead, concurrency: 4 },
      { origin: liveOrigin, concurrency: 4 },
    ]);
    // The runtime never notices here; a real engine does within milliseconds. Keep the check off during the test.
    const b = new DeploymentBalancer(rt, { ...settings, suspendRecheckMs: 60_000 });
    try {
      const statuses: (number | string)[] = [];
      for (let i = 0; i < 20; i++) {
        try {
          statuses.push((await b.send({ method: 'POST', path: '/score', headers: {} })).status);
        } catch (e) {
          assert.ok(e instanceof ScoringError, String(e));
          statuses.push(e.status);
        }
      }
      assert.ok(statuses.filter((s) => s === 502).length <= 1, `at most one 502, got ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 200).length >= 19, true, statuses.join(','));
    } finally {
      await b.close();
    }
  });

  it('gives a suspended upstream back its place when the runtime still lists it as ready', async () => {
    // A live upstream that drops one connection without answering, then serves normally.
    let dropped = false;
    const flaky = http.createServer((req, res) => {
      if (!dropped) {
        dropped = true;
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end('flaky-ok'));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    const rt = runtimeOf([{ origin, concurrency: 1 }]);
    const b = new DeploymentBalancer(rt, { ...settings, suspendRecheckMs: 50 });
    try {
      await assert.rejects(
        b.send({ method: 'POST', path: '/score', headers: {} }),
        (e: unknown) => e instanceof ScoringError && e.status === 502,
      );
      // Out of rotation now: this request waits in the queue until the slot comes back.
      const r = await b.send({ method: 'POST', path: '/score', headers: {} });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'flaky-ok');
    } finally {
      await b.close();
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });
});
