import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findConfigFile, loadWorkspaceConfig, writeWorkspaceConfig } from './config-file.js';
import { ConfigurationError, ValidationError } from '../errors.js';

const SUB = '11111111-2222-3333-4444-555555555555';
const W = `/subscriptions/${SUB}/resourceGroups/rg-scope/providers/Microsoft.MachineLearningServices/workspaces/ws-scope`;

describe('workspace config files (seed from_config / write_config)', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-config-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const put = (rel: string, body: unknown) => {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
    return f;
  };
  const cfg = (ws: string) => ({ subscription_id: SUB, resource_group: 'rg', workspace_name: ws });

  it('searches .azureml/, then aml_config/, then the folder itself', () => {
    const d = path.join(root, 'order');
    put('order/config.json', cfg('in-folder'));
    assert.equal(loadWorkspaceConfig({ path: d }).workspaceName, 'in-folder');
    put('order/aml_config/config.json', cfg('in-aml-config'));
    assert.equal(loadWorkspaceConfig({ path: d }).workspaceName, 'in-aml-config');
    put('order/.azureml/config.json', cfg('in-azureml'));
    assert.equal(loadWorkspaceConfig({ path: d }).workspaceName, 'in-azureml');
  });

  it('prefers config.json to the legacy project.json, and reads project.json when alone', () => {
    put('legacy/.azureml/project.json', cfg('legacy'));
    assert.equal(loadWorkspaceConfig({ path: path.join(root, 'legacy') }).workspaceName, 'legacy');
    put('legacy/config.json', cfg('modern'));
    assert.equal(loadWorkspaceConfig({ path: path.join(root, 'legacy') }).workspaceName, 'modern');
  });

  it('walks up parent folders, nearest first', () => {
    put('walk/.azureml/config.json', cfg('top'));
    const deep = path.join(root, 'walk', 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    const found = loadWorkspaceConfig({ path: deep });
    assert.equal(found.workspaceName, 'top');
    assert.equal(found.file, path.join(root, 'walk', '.azureml', 'config.json'));
    put('walk/a/aml_config/config.json', cfg('middle'));
    assert.equal(loadWorkspaceConfig({ path: deep }).workspaceName, 'middle');
  });

  it('accepts the {Scope: "<workspace ARM id>"} form and keeps the endpoint', () => {
    put('scope/.azureml/config.json', { Scope: W, endpoint: 'http://127.0.0.1:9/' });
    const c = loadWorkspaceConfig({ path: path.join(root, 'scope') });
    assert.deepEqual(
      [c.subscriptionId, c.resourceGroup, c.workspaceName, c.endpoint],
      [SUB, 'rg-scope', 'ws-scope', 'http://127.0.0.1:9/'],
    );
  });

  it('takes a file path directly, and a fileName to search for instead', () => {
    const f = put('direct/somewhere/my.json', cfg('direct'));
    assert.equal(loadWorkspaceConfig({ path: f }).workspaceName, 'direct');
    put('named/.azureml/ws_config.json', cfg('named'));
    put('named/.azureml/config.json', cfg('default-name'));
    assert.equal(
      loadWorkspaceConfig({ path: path.join(root, 'named'), fileName: 'ws_config.json' }).workspaceName,
      'named',
    );
  });

  it('says clearly when there is no file, or it is not valid', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-none-'));
    try {
      // Only reliable when no config file sits in a parent of the temp folder.
      if (!findConfigFile(path.dirname(empty))) {
        assert.throws(
          () => loadWorkspaceConfig({ path: empty }),
          (e: unknown) =>
            e instanceof ConfigurationError &&
            e.code === 'ConfigFileNotFound' &&
            /\.azureml\/, aml_config\//.test(e.message),
        );
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    assert.throws(() => loadWorkspaceConfig({ path: path.join(root, 'does-not-exist') }), ConfigurationError);
    const bad = put('bad/config.json', '{nope');
    assert.throws(
      () => loadWorkspaceConfig({ path: bad }),
      (e: unknown) => e instanceof ConfigurationError && /not valid JSON/.test(e.message),
    );
    const partial = put('partial/config.json', { subscription_id: SUB });
    assert.throws(
      () => loadWorkspaceConfig({ path: partial }),
      (e: unknown) => e instanceof ConfigurationError && /resource_group, workspace_name/.test(e.message),
    );
    const badScope = put('badscope/config.json', { Scope: '/subscriptions/x/resourceGroups/y' });
    assert.throws(() => loadWorkspaceConfig({ path: badScope }), ConfigurationError);
  });

  it('writes {subscription_id, resource_group, workspace_name, endpoint} where asked, never outside the folder', () => {
    const dir = path.join(root, 'written', 'file-path');
    const f = writeWorkspaceConfig(
      { subscriptionId: SUB, resourceGroup: 'rg', workspaceName: 'ws', endpoint: 'http://127.0.0.1:8700' },
      { path: dir, fileName: 'ws_config.json' },
    );
    assert.equal(f, path.join(dir, 'ws_config.json'));
    assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), {
      subscription_id: SUB,
      resource_group: 'rg',
      workspace_name: 'ws',
      endpoint: 'http://127.0.0.1:8700',
    });
    assert.equal(loadWorkspaceConfig({ path: dir, fileName: 'ws_config.json' }).workspaceName, 'ws');
    for (const name of ['../escape.json', 'a/b.json', '..', '']) {
      assert.throws(
        () =>
          writeWorkspaceConfig(
            { subscriptionId: SUB, resourceGroup: 'rg', workspaceName: 'ws' },
            { path: dir, fileName: name },
          ),
        ValidationError,
        name,
      );
    }
    assert.equal(fs.existsSync(path.join(root, 'written', 'escape.json')), false);
  });

  it('writes .azureml/config.json in the current folder by default', () => {
    const cwd = process.cwd();
    const here = path.join(root, 'default-write');
    fs.mkdirSync(here);
    process.chdir(here);
    try {
      const f = writeWorkspaceConfig({ subscriptionId: SUB, resourceGroup: 'rg', workspaceName: 'ws-default' });
      assert.equal(fs.realpathSync(f), fs.realpathSync(path.join(here, '.azureml', 'config.json')));
      assert.equal(loadWorkspaceConfig().workspaceName, 'ws-default');
    } finally {
      process.chdir(cwd);
    }
  });
});
