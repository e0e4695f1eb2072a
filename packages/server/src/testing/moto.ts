import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { freePort } from '../server.js';
import type { BlobStoreConfig } from '../blob/factory.js';

/**
 * A real S3-compatible server on loopback for tests: moto's server (Python, from
 * .ci/python-requirements.txt), started with ATELIER_TEST_PYTHON or .ci/.venv/bin/python. Without it
 * the suites that need it are skipped with a note, or fail under ATELIER_TEST_STRICT=1.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', '..');

/** The Python that has moto[server], or undefined (after a note) when there is none. */
export function findMoto(what = 'the S3 tests'): string | undefined {
  const venv = path.join(ROOT, '.ci', '.venv', 'bin', 'python');
  const python = process.env.ATELIER_TEST_PYTHON || (fs.existsSync(venv) ? venv : undefined);
  const ok = python && spawnSync(python, ['-c', 'import moto.server'], { encoding: 'utf8' }).status === 0;
  if (ok) return python;
  const why = `no Python with moto[server] (${python ?? 'ATELIER_TEST_PYTHON unset and no .ci/.venv'}): ${what} need it (bash .ci/run installs .ci/python-requirements.txt)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}; skipping them\n`);
  return undefined;
}

export interface Moto {
  endpoint: string;
  proc: ChildProcess;
  /** Makes a bucket; returns a blob store configuration of it (as ATELIER_BLOB_STORE=s3://bucket/prefix would give). */
  bucket(name?: string, prefix?: string): Promise<BlobStoreConfig & { kind: 's3' }>;
  client(): S3Client;
  stop(): void;
}

export const MOTO_CREDENTIALS = { accessKeyId: 'AKIAATELIERTEST', secretAccessKey: 'atelier-test-secret' };

export async function startMoto(python: string): Promise<Moto> {
  const port = await freePort();
  const proc = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: MOTO_CREDENTIALS });
  // moto's server imports boto and Flask first: 2.5 s on an idle machine, several times that under
  // CI's load. Its start is bounded by time (a minute), not by a count of refused connections.
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) {
        return {
          endpoint,
          proc,
          client,
          async bucket(name = `atelier-${crypto.randomBytes(4).toString('hex')}`, prefix = 'blobs') {
            const s3 = client();
            await s3.send(new CreateBucketCommand({ Bucket: name }));
            s3.destroy();
            return {
              kind: 's3',
              bucket: name,
              prefix,
              endpoint,
              region: 'us-east-1',
              forcePathStyle: true,
              credentials: MOTO_CREDENTIALS,
            };
          },
          stop: () => void proc.kill(),
        };
      }
    } catch {
      // not up yet
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  proc.kill();
  throw new Error('moto server did not start within 60 s');
}
