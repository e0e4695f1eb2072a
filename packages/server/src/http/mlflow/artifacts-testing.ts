import crypto from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { TestServer } from '../../testing/harness.js';
import { makeWorkspace, type TestWorkspace } from './testing.js';

/** Test support for the artifact proxy, registry and logged-model tests. */

export interface ArtifactTestWorkspace extends TestWorkspace {
  /** `${trackingUri}/api/2.0/mlflow-artifacts/artifacts` */
  artifacts: string;
  storageAccount: string;
}

/** A workspace with its storage account (made through the ARM API). */
export async function artifactWorkspace(t: TestServer, name?: string): Promise<ArtifactTestWorkspace> {
  const w = await makeWorkspace(t, name);
  const storageAccount = (await t.server.services.resources.require(w.armId)).properties.storageAccount;
  if (typeof storageAccount !== 'string') throw new Error(`workspace '${w.name}' has no storage account`);
  return {
    ...w,
    artifacts: `${w.trackingUri}/api/2.0/mlflow-artifacts/artifacts`,
    storageAccount: storageAccount.split('/').pop()!,
  };
}

/** `n` bytes of a repeatable pattern, as a stream (never all in memory). */
export function generatedBytes(n: number, seed = 1): Readable {
  const chunk = Buffer.alloc(Math.min(Math.max(n, 1), 1 << 20));
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  let left = n;
  const out = new PassThrough();
  const pump = (): void => {
    while (left > 0) {
      const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= c.length;
      if (!out.write(c)) {
        out.once('drain', pump);
        return;
      }
    }
    out.end();
  };
  pump();
  return out;
}

/** SHA-256 of a stream's bytes. */
export async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ hash: string; size: number }> {
  const h = crypto.createHash('sha256');
  let size = 0;
  for await (const c of stream) {
    h.update(c);
    size += c.length;
  }
  return { hash: h.digest('hex'), size };
}

/** A user with `role` on `scope`; returns its Basic authorization header value. */
export async function userWithRole(t: TestServer, role: string, scope: string): Promise<string> {
  const name = `u${crypto.randomBytes(4).toString('hex')}`;
  const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
  const p = await t.server.ctx.principals.createUser(name, password);
  await t.server.ctx.access.assign(p.id, scope, role, null);
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}
