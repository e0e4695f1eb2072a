import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtelierError, Conflict, ERROR_CODES, InvalidInput, NotFound, isErrorCode, recordError } from './errors.js';
import { ARM_CODES, ARM_DEFAULT_CODES } from './http/arm/errors.js';
import { MLFLOW_CODES, MLFLOW_STATUS } from './http/mlflow/errors.js';
import { OAUTH_CODES, OAUTH_ERRORS } from './http/identity/oauth-errors.js';

const SRC = path.dirname(fileURLToPath(import.meta.url));
/** The domain: it throws domain errors and knows no protocol. */
const DOMAIN = [
  'tracking',
  'resources',
  'assets',
  'identity',
  'operations',
  'store',
  'secrets',
  'blob',
  'codes',
  'blob-service',
  'environment-builds',
  'compute',
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.bench.ts')) out.push(p);
  }
  return out;
}

/** Every protocol error code the edges answer with (ARM `error.code`, MLflow `error_code`, OAuth `error`). */
const PROTOCOL_CODES = new Set<string>([
  ...Object.values(ARM_CODES),
  ...Object.values(ARM_DEFAULT_CODES),
  ...Object.keys(MLFLOW_STATUS),
  'MALFORMED_REQUEST',
  ...OAUTH_ERRORS,
]);

test('no domain folder carries an HTTP status or a protocol error code (they live in the edges)', () => {
  const problems: string[] = [];
  for (const folder of DOMAIN) {
    for (const file of sources(path.join(SRC, folder))) {
      const rel = path.relative(SRC, file);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const at = `${rel}:${i + 1}`;
        // the findings of a workspace diagnosis (assets/diagnostics.ts) are entries of a report, not
        // errors: `error('Code', …)`, also with the code on the line after `error(`
        const finding = `${/\b(ok|warn|error)\($/.test(lines[i - 1]?.trim() ?? '') ? 'error(' : ''}${line.trim()}`;
        if (rel === path.join('assets', 'diagnostics.ts') && /\b(ok|warn|error)\('\w+'/.test(finding)) return;
        for (const m of line.matchAll(/(['"`])([A-Za-z_]+)\1/g)) {
          // a domain code that happens to be spelled like an MLflow code (NOT_FOUND…) is fine when used as one
          if (PROTOCOL_CODES.has(m[2]!) && !isErrorCode(m[2])) problems.push(`${at}: protocol error code '${m[2]}'`);
        }
        for (const m of line.matchAll(/\bcode:\s*(['"`])([A-Za-z_]+)\1/g)) {
          // process warnings (ATELIER_…) are not errors
          if (!isErrorCode(m[2]) && !m[2]!.startsWith('ATELIER_'))
            problems.push(`${at}: '${m[2]}' is not a domain error code (errors.ts)`);
        }
        if (/\b(status|statusCode|httpStatus)\s*[:=]\s*[1-5]\d\d\b/.test(line)) problems.push(`${at}: an HTTP status`);
        if (/\bextends\s+\w+\b[^{]*\{/.test(line) && /\bstatus\b/.test(line))
          problems.push(`${at}: an error class with a status`);
        if (/\berror_code\b|\berror_description\b/.test(line)) problems.push(`${at}: a protocol error body`);
      });
    }
  }
  assert.deepEqual(problems, []);
});

test('the check finds what it looks for', () => {
  // the same scan over lines written the old way must report them
  const bad = [
    `throw new NotFound('x', { code: 'ResourceGroupNotFound' });`,
    `throw new Conflict('x', { code: 'RESOURCE_ALREADY_EXISTS' });`,
    `readonly status = 409;`,
    `throw new OAuthError('invalid_grant', 'x');`,
  ];
  const hits = bad.filter(
    (line) =>
      [...line.matchAll(/(['"`])([A-Za-z_]+)\1/g)].some((m) => PROTOCOL_CODES.has(m[2]!) && !isErrorCode(m[2])) ||
      /\b(status|statusCode|httpStatus)\s*[:=]\s*[1-5]\d\d\b/.test(line),
  );
  assert.deepEqual(hits, bad);
});

test('every domain code is declared once with its meaning, and the edges map only declared codes', () => {
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[A-Z][A-Z0-9_]*$/, code);
    assert.ok(meaning.length > 10, `${code} says what it means`);
  }
  for (const table of [ARM_CODES, MLFLOW_CODES, OAUTH_CODES])
    for (const code of Object.keys(table)) assert.ok(isErrorCode(code), code);
  assert.equal(new NotFound('x').code, 'NOT_FOUND');
  assert.equal(new InvalidInput('x', { code: 'RUN_NOT_ACTIVE' }).kind, 'invalid');
});

test('recordError keeps code, kind and target of a domain error; anything else is INTERNAL without a kind', () => {
  assert.deepEqual(recordError(new Conflict('busy', { code: 'WORKSPACE_BUSY', target: 'name' }), 'x: '), {
    code: 'WORKSPACE_BUSY',
    kind: 'conflict',
    message: 'busy',
    target: 'name',
  });
  assert.deepEqual(recordError(new Error('boom'), 'the operation failed: ', 'r1'), {
    code: 'INTERNAL',
    message: 'the operation failed: boom',
    target: 'r1',
  });
  assert.ok(new AtelierError('x') instanceof Error);
});
