import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ArtifactService } from '../tracking/artifacts/artifacts.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { NotFound } from '../errors.js';
import type { JobRow } from './tables.js';
import type { JobService } from './jobs.js';
import { jobFolder } from './runner.js';
import { TERMINAL } from './spec.js';

/**
 * A job's logs: while it runs (and as long as its folder is kept) the files in its folder; once its
 * folder is gone, the copies kept as artifacts of its run. Paths are relative to the logs folder
 * (`user_logs/std_log.txt`, `system_logs.txt`).
 */
export class JobLogs {
  constructor(
    private readonly jobs: JobService,
    private readonly artifacts: ArtifactService,
  ) {}

  private dir(r: JobRow): string {
    return jobFolder(this.jobs.folder(r.workspace_id, r.name)).logs;
  }

  async list(ws: WorkspaceInfo, r: JobRow): Promise<string[]> {
    const dir = this.dir(r);
    if (fs.existsSync(dir)) {
      const out: string[] = [];
      for (const rel of await fs.promises.readdir(dir, { recursive: true })) {
        const p = path.join(dir, String(rel));
        if ((await fs.promises.stat(p)).isFile()) out.push(String(rel).split(path.sep).join('/'));
      }
      return out.sort();
    }
    if (!r.run_id || r.experiment_id === null) return [];
    const ref = { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null };
    const files = await this.artifacts.listRecursive(ref, `${r.experiment_id}/${r.run_id}/artifacts`).catch(() => []);
    return files.map((f) => f.path).filter((p) => /^(user_logs\/|system_logs\.txt$)/.test(p));
  }

  async read(ws: WorkspaceInfo, r: JobRow, rel: string): Promise<Readable> {
    if (!/^[\w./-]+$/.test(rel) || rel.split('/').some((s) => s === '..' || s === '.' || s === ''))
      throw new NotFound(`job '${r.name}' has no log file '${rel}'`);
    const file = path.join(this.dir(r), rel);
    if (fs.existsSync(file)) return fs.createReadStream(file);
    if (r.run_id && r.experiment_id !== null) {
      const ref = { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null };
      try {
        return (await this.artifacts.download(ref, `${r.experiment_id}/${r.run_id}/artifacts/${rel}`)).stream;
      } catch {
        // fall through
      }
    }
    throw new NotFound(`job '${r.name}' has no log file '${rel}'`);
  }

  /**
   * Follows the job's user logs: each complete new line once (`line`), status changes (`status`), and
   * the end (`end`) after the last lines. Polls the files every 50 ms (cheap stats; fs.watch is not
   * reliable on every file system) and the status every 250 ms or at once when the job ends here.
   */
  async follow(
    ws: WorkspaceInfo,
    r: JobRow,
    send: (event: 'line' | 'status' | 'end', data: Record<string, unknown>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const dir = path.join(this.dir(r), 'user_logs');
    const offsets = new Map<string, number>();
    const partial = new Map<string, string>();
    let status = '';
    let lastStatusCheck = 0;
    let ended = false;
    const onEnd = () => {
      lastStatusCheck = 0;
    };
    this.jobs.ended.on(r.job_key, onEnd);
    const drain = async (final: boolean) => {
      let names: string[];
      try {
        names = (await fs.promises.readdir(dir)).sort();
      } catch {
        return;
      }
      for (const name of names) {
        const file = path.join(dir, name);
        const at = offsets.get(name) ?? 0;
        let size: number;
        try {
          size = (await fs.promises.stat(file)).size;
        } catch {
          continue;
        }
        if (size <= at) continue;
        const fh = await fs.promises.open(file, 'r');
        try {
          const buf = Buffer.alloc(Math.min(size - at, 4 * 1024 * 1024));
          const { bytesRead } = await fh.read(buf, 0, buf.length, at);
          offsets.set(name, at + bytesRead);
          const text = (partial.get(name) ?? '') + buf.subarray(0, bytesRead).toString('utf8');
          const lines = text.split('\n');
          partial.set(name, lines.pop() ?? '');
          for (const line of lines) send('line', { file: `user_logs/${name}`, line });
        } finally {
          await fh.close();
        }
      }
      if (final) for (const [name, rest] of partial) if (rest) send('line', { file: `user_logs/${name}`, line: rest });
    };
    try {
      // A finished job whose folder is gone: its kept logs, whole.
      if (!fs.existsSync(this.dir(r)) && (TERMINAL as readonly string[]).includes(r.status)) {
        for (const rel of (await this.list(ws, r)).filter((p) => p.startsWith('user_logs/'))) {
          const chunks: Buffer[] = [];
          for await (const c of await this.read(ws, r, rel)) chunks.push(Buffer.from(c));
          for (const line of Buffer.concat(chunks)
            .toString('utf8')
            .split('\n')
            .filter((l, i, a) => l || i < a.length - 1))
            send('line', { file: rel, line });
        }
        send('end', { status: r.status, ...(r.error ? { error: JSON.parse(r.error) } : {}) });
        return;
      }
      while (!signal.aborted && !ended) {
        await drain(false);
        if (Date.now() - lastStatusCheck >= 250) {
          lastStatusCheck = Date.now();
          const row = await this.jobs.byKey(r.job_key);
          if (!row) throw new NotFound(`job '${r.name}' was deleted`);
          if (row.status !== status) {
            status = row.status;
            send('status', { status });
          }
          if ((TERMINAL as readonly string[]).includes(row.status)) {
            await drain(true);
            send('end', { status: row.status, ...(row.error ? { error: JSON.parse(row.error) } : {}) });
            ended = true;
            break;
          }
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      this.jobs.ended.off(r.job_key, onEnd);
    }
  }
}

export { Readable };
