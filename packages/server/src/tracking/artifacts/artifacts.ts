import crypto from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { AppContext } from '../../context.js';
import { BlobPathConflict, safeKey, type BlobInfo, type BlobStore } from '../../blob/blob-store.js';
import { Conflict, InvalidInput, NotFound, PayloadTooLarge } from '../../errors.js';
import './tables.js';

/**
 * The workspace a tracking request is about, as the artifact, registry and logged-model services
 * need it (http/mlflow/common.ts's `req.workspace` has this shape): the GUID that keys its
 * tracking rows, and the ARM id of the storage account whose blob store holds its artifacts
 * (`ctx.blobs.account(<storage account name>)`).
 */
export interface WorkspaceRef {
  workspaceId: string;
  storageAccountId: string | null;
}

/** One entry of an artifact listing, as MLflow's `FileInfo`: `path` is a base name. */
export interface ArtifactFileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

export interface MultipartCredential {
  url: string;
  part_number: number;
  headers: Record<string, string>;
}

/** Header carrying the capability token of a multipart upload's part URLs (never in the URL, so never in a log line). */
export const UPLOAD_TOKEN_HEADER = 'x-atelier-upload-token';

/** Largest number of parts of one multipart upload (S3's limit, which MLflow clients respect). */
export const MAX_UPLOAD_PARTS = 10_000;
/** Largest single part (S3's limit). */
export const MAX_PART_BYTES = 5 * 1024 ** 3;
/** Multipart uploads not completed within this time are refused and may be cleaned away. */
export const UPLOAD_TTL_MS = 24 * 3600 * 1000;

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

/**
 * Files of a workspace's artifact tree whose bytes are kept elsewhere — a run's files that
 * azureml-core uploaded into a datastore (v1-artifacts/datastore-files.ts). The artifact service
 * lists, reads and deletes them at their artifact path, so every protocol sees one tree.
 */
export interface LinkedArtifacts {
  /** The linked files at or below `artifactPath` ('' = all) whose bytes exist, paths from the artifact root. */
  below(ws: WorkspaceRef, artifactPath: string): Promise<{ path: string; size: number; modified: number }[]>;
  /** The bytes of the linked file at `artifactPath` (whole or a range), or undefined when there is none. */
  open(
    ws: WorkspaceRef,
    artifactPath: string,
    range?: { start: number; end: number },
  ): Promise<{ stream: Readable; size: number } | undefined>;
  /** Forgets (and deletes the bytes of) the linked files at or below `artifactPath`. */
  delete(ws: WorkspaceRef, artifactPath: string): Promise<void>;
}

/**
 * Root of a workspace's MLflow artifacts inside its storage account folder: in the `azureml`
 * container (the workspace's artifact store, as in Azure ML, where the `workspaceartifactstore`
 * datastore points), below a folder of the workspace's own.
 */
function workspaceFolder(workspaceId: string): string {
  // Workspaces may share a storage account; each gets its own folder, so one workspace's paths
  // can never name another's artifacts.
  if (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(workspaceId)) return `azureml/mlflow/${workspaceId.toLowerCase()}`;
  return `azureml/mlflow/w${crypto.createHash('sha256').update(workspaceId.toLowerCase()).digest('hex').slice(0, 40)}`;
}

/** The name of the workspace's storage account (the last part of its ARM id), checked. */
export function storageAccountName(ws: WorkspaceRef): string {
  if (!ws.storageAccountId) {
    throw new InvalidInput(
      'this workspace has no storage account, so it cannot store artifacts; give the workspace a storage account (properties.storageAccount)',
    );
  }
  const name = ws.storageAccountId.replace(/\/+$/, '').split('/').pop() ?? '';
  if (!ACCOUNT_NAME.test(name))
    throw new InvalidInput(
      `the workspace's storage account name '${name}' is not a valid storage account name (3-24 lower-case letters and digits)`,
    );
  return name;
}

const sha256 = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

/** Words a blob store's refusal of a write in terms of the artifact path. */
function explainWriteError(e: unknown, artifactPath: string): never {
  if (e instanceof BlobPathConflict) {
    throw new Conflict(`artifact path '${artifactPath}' conflicts with an existing file or folder of the same name`, {
      code: 'ARTIFACT_PATH_TAKEN',
    });
  }
  if (e instanceof InvalidInput && e.code === 'BLOB_PATH_TOO_LONG')
    throw new InvalidInput(`artifact path '${artifactPath.slice(0, 200)}…' is too long; use shorter names`);
  throw e;
}

/**
 * MLflow's proxied artifact store (`mlflow-artifacts:/…`) for workspaces: bytes live in the
 * workspace's storage account (a folder or an S3 prefix, from ctx.blobs), streamed both ways (never a whole file in memory). Paths are
 * relative to the workspace's artifact root and cannot leave it.
 */
export class ArtifactService {
  /** Files of the tree kept elsewhere (set by the composition root). */
  linked?: LinkedArtifacts;

  constructor(private readonly ctx: AppContext) {}

  /** The blob store of a workspace's storage account. */
  blobs(ws: WorkspaceRef): BlobStore {
    return this.ctx.blobs.account(storageAccountName(ws));
  }

  /** The blob key of an artifact path ('' = the workspace's artifact root). */
  key(ws: WorkspaceRef, artifactPath: string): string {
    const k = safeKey(artifactPath, 'artifact path');
    return k ? `${workspaceFolder(ws.workspaceId)}/${k}` : workspaceFolder(ws.workspaceId);
  }

  /** A path that must name a file: non-empty after normalisation. */
  private fileKey(ws: WorkspaceRef, artifactPath: string): string {
    if (!safeKey(artifactPath, 'artifact path'))
      throw new InvalidInput('artifact path must name a file, not the artifact root');
    return this.key(ws, artifactPath);
  }

  async upload(ws: WorkspaceRef, artifactPath: string, body: Readable): Promise<{ size: number }> {
    const key = this.fileKey(ws, artifactPath);
    const blobs = this.blobs(ws);
    const existing = await blobs.stat(key);
    if (existing?.isDir)
      throw new Conflict(`artifact path '${artifactPath}' is a folder; upload to a file path below it`, {
        code: 'ARTIFACT_PATH_TAKEN',
      });
    try {
      return await blobs.put(key, body);
    } catch (e) {
      return explainWriteError(e, artifactPath);
    }
  }

  async stat(ws: WorkspaceRef, artifactPath: string): Promise<BlobInfo | undefined> {
    const st = await this.blobs(ws).stat(this.key(ws, artifactPath));
    if (st || !this.linked) return st;
    const at = safeKey(artifactPath, 'artifact path');
    const linked = await this.linked.below(ws, at);
    const own = linked.find((f) => f.path === at);
    if (own) return { path: at, size: own.size, isDir: false, modified: own.modified };
    if (!linked.length) return undefined;
    return { path: at, size: 0, isDir: true, modified: Math.max(...linked.map((f) => f.modified)) };
  }

  /** Opens a file for reading, whole or a byte range (`end` inclusive). */
  async download(
    ws: WorkspaceRef,
    artifactPath: string,
    range?: { start: number; end: number },
  ): Promise<{ stream: Readable; size: number }> {
    const key = this.fileKey(ws, artifactPath);
    const blobs = this.blobs(ws);
    const st = await blobs.stat(key);
    if (!st) {
      const linked = await this.linked?.open(ws, safeKey(artifactPath), range);
      if (linked) return linked;
      if (await this.linked?.below(ws, safeKey(artifactPath)).then((l) => l.length > 0))
        throw new InvalidInput(
          `artifact path '${safeKey(artifactPath)}' is a folder; list it instead of downloading it`,
        );
      throw new NotFound(`no artifact at '${safeKey(artifactPath)}'`, { code: 'ARTIFACT_NOT_FOUND' });
    }
    if (st.isDir)
      throw new InvalidInput(`artifact path '${safeKey(artifactPath)}' is a folder; list it instead of downloading it`);
    return blobs.get(key, range);
  }

  /**
   * Direct children of a folder, as MLflow lists them: base names, folders without a size. A file
   * path or a missing path lists as empty (MLflow's local repository does the same).
   */
  async list(ws: WorkspaceRef, artifactPath = ''): Promise<ArtifactFileInfo[]> {
    const key = this.key(ws, artifactPath);
    const blobs = this.blobs(ws);
    const st = await blobs.stat(key);
    const entries = st?.isDir ? await blobs.list(key) : [];
    const out: ArtifactFileInfo[] = entries.map((e) => {
      const base = e.path.slice(e.path.lastIndexOf('/') + 1);
      return e.isDir ? { path: base, is_dir: true } : { path: base, is_dir: false, file_size: e.size };
    });
    if (!this.linked || (st && !st.isDir)) return out;
    // Linked files below the folder: a direct child, or the first folder of a deeper path.
    const at = safeKey(artifactPath, 'artifact path');
    const seen = new Set(out.map((f) => f.path));
    const before = out.length;
    for (const f of await this.linked.below(ws, at)) {
      const rest = at ? f.path.slice(at.length + 1) : f.path;
      if (!rest) continue;
      const slash = rest.indexOf('/');
      const base = slash < 0 ? rest : rest.slice(0, slash);
      if (seen.has(base)) continue;
      seen.add(base);
      out.push(slash < 0 ? { path: base, is_dir: false, file_size: f.size } : { path: base, is_dir: true });
    }
    // The store's own order stands unless linked files joined it.
    return out.length === before ? out : out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every file below a folder, recursively, with paths relative to that folder. */
  async listRecursive(ws: WorkspaceRef, artifactPath = ''): Promise<{ path: string; size: number }[]> {
    const key = this.key(ws, artifactPath);
    const entries = await this.blobs(ws).list(key, { recursive: true });
    const out = entries.filter((e) => !e.isDir).map((e) => ({ path: e.path.slice(key.length + 1), size: e.size }));
    if (!this.linked) return out;
    const at = safeKey(artifactPath, 'artifact path');
    const seen = new Set(out.map((f) => f.path));
    const before = out.length;
    for (const f of await this.linked.below(ws, at)) {
      const rest = at ? f.path.slice(at.length + 1) : f.path;
      if (rest && !seen.has(rest)) out.push({ path: rest, size: f.size });
    }
    return out.length === before ? out : out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Deletes a file or a whole folder; a missing path is not an error (as in MLflow). */
  async delete(ws: WorkspaceRef, artifactPath: string): Promise<void> {
    const key = this.fileKey(ws, artifactPath);
    const blobs = this.blobs(ws);
    const st = await blobs.stat(key);
    if (st?.isDir) await blobs.deletePrefix(key);
    else if (st) await blobs.delete(key);
    await this.linked?.delete(ws, safeKey(artifactPath));
  }

  // ---- multipart uploads -------------------------------------------------------------------

  /**
   * Starts a multipart upload of `artifactPath`. Each part gets a URL pointing back at this server
   * plus a capability token in a header: MLflow's client sends each part to its URL with the
   * credential's headers and nothing else (as to S3's presigned URLs).
   */
  async createMultipartUpload(
    ws: WorkspaceRef,
    artifactPath: string,
    numParts: number,
    partUrlBase: string,
    createdBy: string | null,
  ): Promise<{ upload_id: string; credentials: MultipartCredential[] }> {
    this.fileKey(ws, artifactPath);
    this.blobs(ws);
    if (!Number.isInteger(numParts) || numParts < 1 || numParts > MAX_UPLOAD_PARTS) {
      throw new InvalidInput(`num_parts must be a whole number from 1 to ${MAX_UPLOAD_PARTS}, got ${numParts}`, {
        code: 'INVALID_MULTIPART_UPLOAD',
      });
    }
    await this.sweepExpired();
    const uploadId = crypto.randomBytes(16).toString('hex');
    const token = crypto.randomBytes(32).toString('base64url');
    const now = Date.now();
    await this.ctx.db
      .insertInto('mlflow_artifact_uploads')
      .values({
        upload_id: uploadId,
        workspace_id: ws.workspaceId,
        storage_account: storageAccountName(ws),
        path: safeKey(artifactPath),
        num_parts: numParts,
        token_hash: sha256(token),
        created_at: now,
        expires_at: now + UPLOAD_TTL_MS,
        created_by: createdBy,
      })
      .execute();
    const base = partUrlBase.replace(/\/+$/, '');
    const credentials: MultipartCredential[] = [];
    for (let n = 1; n <= numParts; n++) {
      credentials.push({ url: `${base}/${uploadId}/${n}`, part_number: n, headers: { [UPLOAD_TOKEN_HEADER]: token } });
    }
    return { upload_id: uploadId, credentials };
  }

  /** Forgets uploads nobody completed or aborted in time (their parts too), a few at a time. */
  async sweepExpired(limit = 20): Promise<number> {
    const stale = await this.ctx.db
      .selectFrom('mlflow_artifact_uploads')
      .select(['upload_id', 'storage_account'])
      .where('expires_at', '<', Date.now())
      .limit(limit)
      .execute();
    for (const u of stale) await this.forget(u.storage_account, u.upload_id);
    return stale.length;
  }

  /**
   * When a workspace is deleted: forgets its unfinished multipart uploads and removes its artifact
   * folder from its storage account (its runs and models go with it, so nothing points there any
   * more). The rest of the storage account stays, unless the account is deleted too.
   */
  async deleteWorkspaceArtifacts(ws: WorkspaceRef): Promise<void> {
    const uploads = await this.ctx.db
      .selectFrom('mlflow_artifact_uploads')
      .select(['upload_id', 'storage_account'])
      .where('workspace_id', '=', ws.workspaceId)
      .execute();
    for (const u of uploads) await this.forget(u.storage_account, u.upload_id);
    if (ws.storageAccountId) await this.blobs(ws).deletePrefix(workspaceFolder(ws.workspaceId));
  }

  private partKey(uploadId: string, partNumber: number): string {
    return `.multipart/${uploadId}/${partNumber}`;
  }

  /**
   * Receives one part (the upload's token is the credential; `admit` checks the request may reach
   * the upload's workspace). Re-sending a part replaces it. Returns
   * the part's ETag (the MD5 of its bytes, quoted, as S3 does).
   */
  async uploadPart(
    uploadId: string,
    partNumber: number,
    token: string | undefined,
    body: Readable,
    admit?: (workspaceId: string) => Promise<void>,
  ): Promise<{ etag: string; size: number }> {
    if (!/^[0-9a-f]{32}$/.test(uploadId))
      throw new NotFound('no such multipart upload', { code: 'MULTIPART_UPLOAD_NOT_FOUND' });
    const row = await this.ctx.db
      .selectFrom('mlflow_artifact_uploads')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .executeTakeFirst();
    const given = Buffer.from(sha256(token ?? ''), 'hex');
    if (!row || !crypto.timingSafeEqual(given, Buffer.from(row.token_hash, 'hex'))) {
      // Same answer for a wrong token and a missing upload.
      throw new NotFound(`no such multipart upload, or the ${UPLOAD_TOKEN_HEADER} header is missing or wrong`, {
        code: 'MULTIPART_UPLOAD_NOT_FOUND',
      });
    }
    if (row.expires_at < Date.now())
      throw new NotFound('this multipart upload has expired; start a new one', { code: 'MULTIPART_UPLOAD_NOT_FOUND' });
    // The workspace's rules on where requests may come from apply to its parts too.
    if (admit) await admit(row.workspace_id);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > row.num_parts) {
      throw new InvalidInput(`part number must be from 1 to ${row.num_parts}, got ${partNumber}`, {
        code: 'INVALID_MULTIPART_UPLOAD',
      });
    }
    const md5 = crypto.createHash('md5');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > MAX_PART_BYTES) return cb(new PayloadTooLarge(`a part may be at most ${MAX_PART_BYTES} bytes`));
        md5.update(chunk);
        cb(null, chunk);
      },
    });
    const blobs = this.ctx.blobs.account(row.storage_account);
    await blobs.put(this.partKey(uploadId, partNumber), body.pipe(meter));
    const etag = `"${md5.digest('hex')}"`;
    await this.ctx.db
      .deleteFrom('mlflow_artifact_upload_parts')
      .where('upload_id', '=', uploadId)
      .where('part_number', '=', partNumber)
      .execute();
    await this.ctx.db
      .insertInto('mlflow_artifact_upload_parts')
      .values({ upload_id: uploadId, part_number: partNumber, etag, size })
      .execute();
    return { etag, size };
  }

  private async getUpload(ws: WorkspaceRef, artifactPath: string, uploadId: string) {
    if (typeof uploadId !== 'string' || !uploadId)
      throw new InvalidInput("Missing value for required parameter 'upload_id'.", { code: 'INVALID_MULTIPART_UPLOAD' });
    const row = await this.ctx.db
      .selectFrom('mlflow_artifact_uploads')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .where('workspace_id', '=', ws.workspaceId)
      .executeTakeFirst();
    if (!row)
      throw new NotFound(`no multipart upload '${uploadId}' in this workspace`, { code: 'MULTIPART_UPLOAD_NOT_FOUND' });
    if (row.path !== safeKey(artifactPath, 'artifact path')) {
      throw new InvalidInput(`multipart upload '${uploadId}' is for '${row.path}', not '${safeKey(artifactPath)}'`, {
        code: 'INVALID_MULTIPART_UPLOAD',
      });
    }
    return row;
  }

  /**
   * Joins the listed parts, in order, into the artifact (written atomically: readers see the old
   * file or the whole new one), then forgets the upload.
   */
  async completeMultipartUpload(
    ws: WorkspaceRef,
    artifactPath: string,
    uploadId: string,
    parts: { part_number: number; etag?: string }[],
  ): Promise<{ size: number }> {
    const row = await this.getUpload(ws, artifactPath, uploadId);
    if (!Array.isArray(parts) || parts.length === 0)
      throw new InvalidInput("Missing value for required parameter 'parts'.", { code: 'INVALID_MULTIPART_UPLOAD' });
    const stored = await this.ctx.db
      .selectFrom('mlflow_artifact_upload_parts')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .execute();
    const byNumber = new Map(stored.map((p) => [p.part_number, p]));
    let last = 0;
    for (const p of parts) {
      const n = Number(p.part_number);
      if (!Number.isInteger(n) || n <= last)
        throw new InvalidInput('parts must be listed in ascending order of part_number, each once', {
          code: 'INVALID_MULTIPART_UPLOAD',
        });
      last = n;
      const have = byNumber.get(n);
      if (!have)
        throw new InvalidInput(`part ${n} of upload '${uploadId}' was never uploaded`, {
          code: 'INVALID_MULTIPART_UPLOAD',
        });
      if (p.etag && p.etag.replace(/"/g, '') !== have.etag.replace(/"/g, '')) {
        throw new InvalidInput(
          `part ${n}: etag ${p.etag} does not match the uploaded part (${have.etag}); upload it again`,
          { code: 'INVALID_MULTIPART_UPLOAD' },
        );
      }
    }
    const partBlobs = this.ctx.blobs.account(row.storage_account);
    const numbers = parts.map((p) => Number(p.part_number));
    for (const n of numbers) {
      const st = await partBlobs.stat(this.partKey(uploadId, n));
      if (!st || st.isDir || st.size !== Number(byNumber.get(n)!.size)) {
        throw new InvalidInput(`part ${n} of upload '${uploadId}' is missing or incomplete; upload it again`, {
          code: 'INVALID_MULTIPART_UPLOAD',
        });
      }
    }
    const partKey = (n: number): string => this.partKey(uploadId, n);
    async function* joined(): AsyncGenerator<Buffer> {
      for (const n of numbers) {
        const { stream } = await partBlobs.get(partKey(n));
        for await (const chunk of stream) yield chunk as Buffer;
      }
    }
    const result = await this.upload(ws, artifactPath, Readable.from(joined()));
    await this.forget(row.storage_account, uploadId);
    return result;
  }

  async abortMultipartUpload(ws: WorkspaceRef, artifactPath: string, uploadId: string): Promise<void> {
    const row = await this.getUpload(ws, artifactPath, uploadId);
    await this.forget(row.storage_account, uploadId);
  }

  private async forget(storageAccount: string, uploadId: string): Promise<void> {
    await this.ctx.database.write(async ({ db: trx }) => {
      await trx.deleteFrom('mlflow_artifact_upload_parts').where('upload_id', '=', uploadId).execute();
      await trx.deleteFrom('mlflow_artifact_uploads').where('upload_id', '=', uploadId).execute();
    });
    await this.ctx.blobs.account(storageAccount).deletePrefix(`.multipart/${uploadId}`);
  }
}
