import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUv } from '../environment-builds/environment-builds.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * uv for the tests that build environments: ATELIER_UV, PATH, or the CI venv's (.ci/.venv/bin/uv).
 * In CI (ATELIER_TEST_STRICT=1) its absence fails the suite instead of skipping it.
 */
export function uvForTests(): string | undefined {
  const ci = path.join(ROOT, '.ci', '.venv', 'bin', 'uv');
  const found = findUv() ?? (fs.existsSync(ci) ? ci : undefined);
  if (!found && process.env.ATELIER_TEST_STRICT === '1')
    throw new Error('uv is not installed (ATELIER_UV or .ci/.venv/bin/uv): environment builds cannot be tested');
  return found;
}
