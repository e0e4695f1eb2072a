import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageToken, parseFilter, parseOrderBy, parsePageToken } from './registry-search.js';
import { checkSource, checkTagKey, checkModelName, checkAlias } from './registry-validation.js';

test('registry filter grammar', () => {
  assert.deepEqual(parseFilter(undefined), []);
  assert.deepEqual(parseFilter('   '), []);
  assert.deepEqual(parseFilter("name = 'a b'"), [{ type: 'attribute', key: 'name', comparator: '=', value: 'a b' }]);
  assert.deepEqual(parseFilter(`name LIKE "x%" and tags.\`my key.v2\` != 'it''s'`.replace("'it''s'", "'it\\'s'")), [
    { type: 'attribute', key: 'name', comparator: 'LIKE', value: 'x%' },
    { type: 'tag', key: 'my key.v2', comparator: '!=', value: "it's" },
  ]);
  assert.deepEqual(parseFilter("tag.\"k\" ILIKE '%v%' AND attributes.name <> 'z'"), [
    { type: 'tag', key: 'k', comparator: 'ILIKE', value: '%v%' },
    { type: 'attribute', key: 'name', comparator: '!=', value: 'z' },
  ]);
  assert.deepEqual(parseFilter('run_id NOT IN (\'a\', "b") AND version_number >= 3'), [
    { type: 'attribute', key: 'run_id', comparator: 'NOT IN', value: ['a', 'b'] },
    { type: 'attribute', key: 'version_number', comparator: '>=', value: 3 },
  ]);
  assert.deepEqual(parseFilter('tags.mlflow.prompt.is_prompt = "true"'), [
    { type: 'tag', key: 'mlflow.prompt.is_prompt', comparator: '=', value: 'true' },
  ]);
  for (const bad of [
    "name = 'a' OR name = 'b'",
    "name = 'unterminated",
    'name',
    "name ~ 'x'",
    'name = bare',
    "run_id IN 'a'",
    "run_id IN ('a' 'b')",
    "name = 'a' name = 'b'",
    "name NOT 'x'",
  ]) {
    assert.throws(
      () => parseFilter(bad),
      (e: Error & { code?: string }) => e.code === 'INVALID_SEARCH_FILTER' && /Invalid filter/.test(e.message),
      bad,
    );
  }
});

test('order_by clauses and page tokens', () => {
  assert.deepEqual(parseOrderBy('name DESC', ['name']), { key: 'name', ascending: false });
  assert.deepEqual(parseOrderBy('  version_number ', ['version_number']), { key: 'version_number', ascending: true });
  assert.throws(() => parseOrderBy('name sideways', ['name']));
  assert.throws(() => parseOrderBy('color', ['name']));
  assert.equal(parsePageToken(pageToken(40)), 40);
  assert.equal(parsePageToken(undefined), 0);
  assert.throws(() => parsePageToken('%%%'));
  assert.throws(() => parsePageToken(Buffer.from('{"offset": -1}').toString('base64')));
});

test('names, tag keys, aliases and sources', () => {
  assert.equal(checkModelName('my model'), 'my model');
  for (const bad of ['', ' ', 'a/b', 'a:b', '.', '..x', 'x'.repeat(257), 5])
    assert.throws(() => checkModelName(bad), String(bad));
  assert.equal(checkTagKey('mlflow.source/type'), 'mlflow.source/type');
  assert.equal(checkTagKey('größe 2'), 'größe 2', "Unicode letters, as Python's \\w");
  for (const bad of ['', 'a//b', '/a', 'a/', '../a', 'a/./b', 'emoji😀', 'x'.repeat(251)])
    assert.throws(() => checkTagKey(bad), bad);
  assert.equal(checkAlias('champion-1'), 'champion-1');
  assert.equal(checkAlias('sieger_é'), 'sieger_é');
  assert.throws(() => checkAlias('has.dot'));
  for (const bad of ['latest', 'Latest', 'v3', 'V10']) assert.throws(() => checkAlias(bad, { reserved: true }), bad);
  assert.equal(checkAlias('v3'), 'v3', 'only setting an alias checks the reserved names');
  for (const ok of [
    'runs:/abc/model',
    'models:/m-0123/x',
    'mlflow-artifacts:/1/r/artifacts/model',
    'mlflow-artifacts://host:5000/1/r',
    's3://b/k/model',
    'https://h/api/2.0/mlflow-artifacts/artifacts/1/r',
  ]) {
    assert.equal(checkSource(ok), ok);
  }
  for (const bad of [
    '/etc/passwd',
    'relative/model',
    'file:///etc',
    'C:\\models\\m',
    'mlflow-artifacts:/1/../../x',
    'mlflow-artifacts:/1/%2e%2e/x',
    'mlflow-artifacts:/1/%252e%252e/x',
    'runs:/r/./m',
    's3://b/a\u0000b',
    'http://h/a/..%2f..%2fx',
  ]) {
    assert.throws(() => checkSource(bad), bad);
  }
});
