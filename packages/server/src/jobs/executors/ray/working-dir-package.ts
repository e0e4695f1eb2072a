import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { InvalidInput } from '../../../errors.js';

/**
 * A job's working folder as a Ray package: a zip with the folder's files at its root (as Ray's own
 * `create_package` makes them for a `working_dir`), named by its content, `gcs://_ray_pkg_<hash>.zip`,
 * so the same code is uploaded to a cluster once. The zip is the same bytes for the same files
 * (sorted entries, one fixed timestamp), so its hash is the content hash.
 */
export interface WorkingDirPackage {
  uri: string;
  zip: Buffer;
  files: number;
}

/** Zip timestamps start in 1980; one fixed time keeps the bytes (and the hash) a function of the content. */
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

export async function packageWorkingDir(dir: string): Promise<WorkingDirPackage> {
  const root = await fs.promises.realpath(dir);
  // Loaded on first use: a server that sends nothing to Ray does not hold yazl.
  const { default: yazl } = await import('yazl');
  const zip = new yazl.ZipFile();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve());
    zip.outputStream.on('error', reject);
  });
  let files = 0;
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const entries = (await fs.promises.readdir(abs, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    if (entries.length === 0 && rel) zip.addEmptyDirectory(toZipPath(rel), { mtime: FIXED_MTIME, mode: 0o40755 });
    for (const e of entries) {
      const r = rel ? path.join(rel, e.name) : e.name;
      let target = path.join(root, r);
      if (e.isSymbolicLink()) {
        // A link is packed as what it points at, only when that lies inside the folder.
        const real = await fs.promises.realpath(target).catch(() => null);
        if (!real || (real !== root && !real.startsWith(root + path.sep)))
          throw new InvalidInput(`the job's code has a link that leads outside its folder or nowhere: ${r}`, {
            target: r,
          });
        target = real;
      }
      const st = await fs.promises.stat(target);
      if (st.isDirectory()) {
        if (e.isSymbolicLink()) continue; // its files are packed under their own path already
        await walk(r);
      } else if (st.isFile()) {
        zip.addFile(target, toZipPath(r), { mtime: FIXED_MTIME, mode: st.mode & 0o100 ? 0o100755 : 0o100644 });
        files++;
      }
    }
  };
  try {
    await walk('');
  } finally {
    zip.end();
  }
  await done;
  const bytes = Buffer.concat(chunks);
  const hash = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 40);
  return { uri: `gcs://_ray_pkg_${hash}.zip`, zip: bytes, files };
}

function toZipPath(rel: string): string {
  return rel.split(path.sep).join('/');
}
