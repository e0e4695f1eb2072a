import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The folder where the examples keep the files they write (workspace config files) and read them
 * back: ATELIER_EXAMPLES_DIR, else `<temp>/atelier-examples` — never the folder you run them from,
 * so running them in a checkout leaves nothing behind. Makes it (and `sub` below it) and moves there.
 */
export function enterExamplesFolder(sub?: string): string {
  const base = process.env.ATELIER_EXAMPLES_DIR || path.join(os.tmpdir(), 'atelier-examples');
  const dir = sub ? path.join(base, sub) : base;
  fs.mkdirSync(dir, { recursive: true });
  process.chdir(dir);
  return base;
}
