import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/**
 * Moves SQLite's WAL checkpoints off the event loop. By default the connection that commits past
 * 1,000 WAL pages copies them into the database file and syncs it, inside that commit: under heavy
 * logging that stalled every request for tens to hundreds of milliseconds. Here a worker thread
 * with a connection of its own runs a PASSIVE checkpoint (it never waits for, nor blocks, the
 * writer or readers) every `intervalMs`; the writer keeps a high automatic checkpoint only as a
 * safety net, for the case that the worker falls behind or stops.
 *
 * Written here because no library does this for better-sqlite3; the worker is inline code (no
 * separate file) so that it works the same from the sources and from the bundle.
 */
export interface Checkpointer {
  stop(): Promise<void>;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 0');
const tick = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String(e && e.message || e) });
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    try { db.close(); } catch {}
    parentPort.close();
  }
});
`;

export interface CheckpointReport {
  /** Frames in the WAL and how many of them are in the database file after the last checkpoint. */
  log: number;
  checkpointed: number;
}

export function startCheckpointer(
  file: string,
  opts: { intervalMs?: number; onReport?: (r: CheckpointReport) => void; onError?: (message: string) => void } = {},
): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, module, intervalMs: opts.intervalMs ?? 200 } });
  // The worker must not keep the process alive on its own.
  worker.unref();
  worker.on('message', (m: { ok: boolean; log?: number; checkpointed?: number; message?: string }) => {
    if (m.ok) opts.onReport?.({ log: m.log!, checkpointed: m.checkpointed! });
    // SQLITE_BUSY (another checkpoint running) is not a failure; the next tick tries again.
    else if (!/busy|locked/i.test(m.message ?? '')) opts.onError?.(m.message ?? 'checkpoint failed');
  });
  worker.on('error', (e) => opts.onError?.(e.message));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        // Waiting for it to end keeps the process alive meanwhile.
        worker.ref();
        worker.postMessage('stop');
        // A worker that does not end by itself is ended.
        setTimeout(() => void worker.terminate(), 2000).unref();
      });
      return stopped;
    },
  };
}
