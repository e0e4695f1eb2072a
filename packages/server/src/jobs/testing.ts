import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { findModules } from '../../test/mlflow-client/python.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
export const ROOT = path.resolve(HERE, '..', '..', '..', '..');

/**
 * The Python of job tests: ATELIER_TEST_PYTHON, else .ci/.venv/bin/python, when it has `modules`
 * (found, not imported).
 * Without one the caller skips with the returned note (ATELIER_TEST_STRICT=1: throws).
 */
export function pythonWith(modules: string[]): { python?: string; skip?: string } {
  const configured = process.env.ATELIER_TEST_PYTHON;
  const fallback = path.join(ROOT, '.ci', '.venv', 'bin', 'python');
  const python = configured || (fs.existsSync(fallback) ? fallback : undefined);
  const probe = python ? spawnSync(python, ['-c', findModules(modules)], { encoding: 'utf8' }) : undefined;
  if (python && probe?.status === 0) return { python };
  const why = `no Python with ${modules.join(', ') || 'python'} (set ATELIER_TEST_PYTHON or run bash .ci/run to make .ci/.venv)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}; skipping\n`);
  return { skip: why };
}
