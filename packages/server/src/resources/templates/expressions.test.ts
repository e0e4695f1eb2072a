import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  deterministicGuid,
  evaluateDeep,
  evaluateString,
  TemplateError,
  uniqueString,
  type EvalScope,
} from './expressions.js';
import { TemplateRun, type DeployScope, type Template } from './template.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const target: DeployScope = {
  subscriptionId: SUB,
  tenantId: 'tenant-1',
  resourceGroup: { name: 'rg1', location: 'local', tags: { a: 'b' } },
  deploymentName: 'dep1',
};

function scopeOf(template: Template, given: Record<string, unknown> = {}): EvalScope {
  return new TemplateRun(template, given, target).scope;
}
const T: Template = {
  parameters: {
    name: { type: 'string', defaultValue: 'ws1' },
    flag: { type: 'string', defaultValue: 'false', allowedValues: ['true', 'false'] },
    n: { type: 'int', defaultValue: 3 },
    obj: { type: 'object', defaultValue: { x: 1, y: { z: 'deep' } } },
    arr: { type: 'array', defaultValue: ['a', 'b', 'c'] },
    derived: { type: 'string', defaultValue: "[concat('sa', uniqueString(parameters('name')))]" },
  },
  variables: { v1: "[toLower('ABC')]", v2: "[concat(variables('v1'), '-', parameters('name'))]", literal: true },
};
const ev = (e: string, given: Record<string, unknown> = {}) => evaluateString(e, scopeOf(T, given));

describe('ARM template expressions', () => {
  it('literals, escapes and non-expressions', () => {
    assert.equal(ev("['it''s']"), "it's");
    assert.equal(ev('[[not an expression]'), '[not an expression]');
    assert.equal(ev('plain'), 'plain');
    assert.equal(ev('[42]'), 42);
    assert.equal(ev("[ concat( 'a' , 'b' ) ]"), 'ab');
  });
  it('parameters (defaultValue, given values, allowedValues, types) and variables', () => {
    assert.equal(ev("[parameters('name')]"), 'ws1');
    assert.equal(ev("[parameters('NAME')]", { name: 'given' }), 'given');
    assert.equal(ev("[parameters('name')]", { name: null }), 'ws1', 'null counts as not given');
    assert.equal(ev("[variables('v2')]"), 'abc-ws1');
    assert.equal(ev("[variables('literal')]"), true);
    assert.throws(() => ev("[parameters('flag')]", { flag: 'maybe' }), /allowed values: "true", "false"/);
    assert.throws(() => ev("[parameters('n')]", { n: 'three' }), /must be of type int/);
    assert.throws(() => ev("[parameters('nope')]"), /declares no such parameter/);
    assert.throws(() => new TemplateRun(T, { stranger: 1 }, target), /does not declare it/);
    assert.throws(
      () => new TemplateRun({ parameters: { req: { type: 'string' } } }, {}, target).parameterValues(),
      /has no value/,
    );
    assert.throws(
      () =>
        new TemplateRun(
          { parameters: { a: { type: 'string', defaultValue: "[parameters('a')]" } } },
          {},
          target,
        ).parameterValues(),
      /refers to itself/,
    );
  });
  it('property and index access', () => {
    assert.equal(ev("[parameters('obj').y.z]"), 'deep');
    assert.equal(ev("[parameters('obj')['x']]"), 1);
    assert.equal(ev("[parameters('arr')[1]]"), 'b');
    assert.throws(() => ev("[parameters('arr')[5]]"), /outside the array/);
    assert.throws(() => ev("[parameters('obj').missing]"), /no property 'missing'/);
  });
  it('logic: equals, not, and, or, if (lazy), bool, true/false', () => {
    assert.equal(ev("[equals(parameters('flag'), 'false')]"), true);
    assert.equal(ev('[equals(parameters(\'obj\'), json(\'{"y":{"z":"deep"},"x":1}\'))]'), true);
    assert.equal(ev('[not(equals(1, 2))]'), true);
    assert.equal(ev('[and(true(), equals(1, 1))]'), true);
    assert.equal(ev('[or(false(), false())]'), false);
    assert.equal(ev("[if(equals(1, 1), 'yes', parameters('nope'))]"), 'yes');
    assert.equal(ev("[and(false(), parameters('nope'))]"), false);
    assert.equal(ev("[bool('True')]"), true);
    assert.throws(() => ev("[not('x')]"), /expects a bool/);
  });
  it('strings: concat, format, toLower, toUpper, string, split, last, first, contains, empty, length, substring, replace', () => {
    assert.equal(ev("[concat('a', 1, true())]"), 'a1True');
    assert.deepEqual(ev("[concat(parameters('arr'), createArray('d'))]"), ['a', 'b', 'c', 'd']);
    assert.equal(ev("[format('{0}-{1}', 'x', 2)]"), 'x-2');
    assert.equal(ev("[toUpper('ab')]"), 'AB');
    assert.equal(ev("[string(parameters('obj'))]"), '{"x":1,"y":{"z":"deep"}}');
    assert.deepEqual(ev("[split('a/b/c', '/')]"), ['a', 'b', 'c']);
    assert.equal(ev("[last(split('a/b/c', '/'))]"), 'c');
    assert.equal(ev("[first(parameters('arr'))]"), 'a');
    assert.equal(ev("[contains('hello', 'ell')]"), true);
    assert.equal(ev("[contains(parameters('arr'), 'z')]"), false);
    assert.equal(ev("[contains(parameters('obj'), 'X')]"), true);
    assert.equal(ev("[empty('')]"), true);
    assert.equal(ev("[empty(json('null'))]"), true);
    assert.equal(ev("[empty(parameters('obj'))]"), false);
    assert.equal(ev("[length(parameters('arr'))]"), 3);
    assert.equal(ev("[substring('abcdef', 2, 3)]"), 'cde');
    assert.equal(ev("[replace('a-b-c', '-', '_')]"), 'a_b_c');
  });
  it('objects and arrays: json, createArray, createObject, union, array, coalesce, int', () => {
    assert.equal(ev("[json('null')]"), null);
    assert.deepEqual(ev("[createObject('a', 1, 'b', createArray(1, 2))]"), { a: 1, b: [1, 2] });
    assert.deepEqual(ev("[union(createObject('a', 1), createObject('b', 2, 'a', 3))]"), { a: 3, b: 2 });
    assert.deepEqual(ev('[union(createArray(1, 2), createArray(2, 3))]'), [1, 2, 3]);
    assert.deepEqual(ev("[array('x')]"), ['x']);
    assert.equal(ev("[coalesce(json('null'), 'second')]"), 'second');
    assert.equal(ev("[int('12')]"), 12);
  });
  it('scope functions: resourceGroup, subscription, deployment, resourceId, subscriptionResourceId', () => {
    assert.equal(ev('[resourceGroup().name]'), 'rg1');
    assert.equal(ev('[resourceGroup().location]'), 'local');
    assert.equal(ev('[subscription().subscriptionId]'), SUB);
    assert.equal(ev('[subscription().tenantId]'), 'tenant-1');
    assert.equal(ev('[deployment().name]'), 'dep1');
    assert.equal(
      ev("[resourceId('Microsoft.Storage/storageAccounts', 'sa1')]"),
      `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1`,
    );
    assert.equal(
      ev("[resourceId('other', 'Microsoft.KeyVault/vaults', 'kv1')]"),
      `/subscriptions/${SUB}/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv1`,
    );
    assert.equal(
      ev("[resourceId('s2', 'g2', 'Microsoft.Network/virtualNetworks/subnets', 'vn', 'sn')]"),
      '/subscriptions/s2/resourceGroups/g2/providers/Microsoft.Network/virtualNetworks/vn/subnets/sn',
    );
    assert.equal(
      ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]"),
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/r1`,
    );
    assert.throws(() => ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'only-one')]"), /needs 2 name/);
  });
  it('uniqueString and guid are deterministic; newGuid is not', () => {
    const u = uniqueString(['rg1', 'ws1']);
    assert.match(u, /^[a-z2-7]{13}$/);
    assert.equal(uniqueString(['rg1', 'ws1']), u);
    assert.notEqual(uniqueString(['rg1', 'ws2']), u);
    assert.equal(ev("[uniqueString('rg1', 'ws1')]"), u);
    assert.equal(ev("[parameters('derived')]"), `sa${uniqueString(['ws1'])}`);
    const g = deterministicGuid(['a', 'b']);
    assert.match(g, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(ev("[guid('a', 'b')]"), g);
    assert.notEqual(ev('[newGuid()]'), ev('[newGuid()]'));
  });
  it('reference() sees what the deployment has deployed, nothing else', () => {
    const run = new TemplateRun(T, {}, target);
    run.deployed.set(`/subscriptions/${SUB}/resourcegroups/rg1/providers/microsoft.storage/storageaccounts/sa1`, {
      id: 'x',
      properties: { primaryEndpoints: { blob: 'b' } },
    });
    assert.equal(
      evaluateString(
        "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa1')).primaryEndpoints.blob]",
        run.scope,
      ),
      'b',
    );
    assert.equal(
      evaluateString(
        "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa1'), '2023-01-01', 'Full').id]",
        run.scope,
      ),
      'x',
    );
    assert.throws(
      () => evaluateString("[reference('elsewhere')]", run.scope),
      /only resources this deployment has already deployed/,
    );
  });
  it('errors name the expression and what is wrong', () => {
    assert.throws(
      () => ev("[nosuch('a')]"),
      (e: unknown) => e instanceof TemplateError && /'nosuch' is not supported/.test(e.message),
    );
    assert.throws(() => ev("[concat('a']"), /invalid at character/);
    assert.throws(() => ev("[concat('a') extra]"), /unexpected text/);
    assert.throws(() => ev("['unterminated]"), /unterminated string/);
  });
  it('evaluateDeep walks objects and arrays', () => {
    assert.deepEqual(evaluateDeep({ a: ["[parameters('name')]", { b: "[variables('v1')]" }] }, scopeOf(T)), {
      a: ['ws1', { b: 'abc' }],
    });
  });
});

describe('ARM template planning', () => {
  const res = (type: string, name: string, extra: Record<string, unknown> = {}) => ({
    type,
    name,
    apiVersion: '2023-01-01',
    ...extra,
  });
  it('orders by dependsOn (ids, names), skips false conditions and dependencies on them', () => {
    const run = new TemplateRun(
      {
        parameters: { withVnet: { type: 'bool', defaultValue: false } },
        resources: [
          res('Microsoft.MachineLearningServices/workspaces', 'ws', {
            dependsOn: [
              "[resourceId('Microsoft.Storage/storageAccounts', 'sa1')]",
              'kv1',
              "[resourceId('Microsoft.Network/virtualNetworks', 'vn')]",
            ],
          }),
          res('Microsoft.Network/virtualNetworks', 'vn', { condition: "[parameters('withVnet')]" }),
          res('Microsoft.KeyVault/vaults', 'kv1', { dependsOn: ['Microsoft.Storage/storageAccounts/sa1'] }),
          res('Microsoft.Storage/storageAccounts', 'sa1'),
        ],
      },
      {},
      target,
    );
    assert.deepEqual(
      run.plan().map((r) => r.name),
      ['sa1', 'kv1', 'ws'],
    );
  });
  it('child resources get the full type and name and depend on their parent; copy loops expand', () => {
    const run = new TemplateRun(
      {
        resources: [
          res('Microsoft.MachineLearningServices/workspaces', 'ws', {
            resources: [
              res('connections', 'c1', { condition: '[true()]' }),
              res('connections', 'c2', { condition: '[false()]' }),
            ],
          }),
          res('Microsoft.Storage/storageAccounts', "[concat('sa', copyIndex(1))]", {
            copy: { name: 'accounts', count: 2 },
          }),
          res('Microsoft.KeyVault/vaults', 'kv', { dependsOn: ['accounts'] }),
        ],
      },
      {},
      target,
    );
    const plan = run.plan();
    assert.deepEqual(
      plan.map((r) => r.name),
      ['ws', 'ws/c1', 'sa1', 'sa2', 'kv'],
    );
    assert.equal(plan[1]!.type, 'Microsoft.MachineLearningServices/workspaces/connections');
    assert.match(plan[1]!.id, /workspaces\/ws\/connections\/c1$/);
  });
  it('refuses circular and undefined dependencies', () => {
    const cyc = new TemplateRun(
      {
        resources: [
          res('Microsoft.KeyVault/vaults', 'a', { dependsOn: ['b'] }),
          res('Microsoft.KeyVault/vaults', 'b', { dependsOn: ['a'] }),
        ],
      },
      {},
      target,
    );
    assert.throws(() => cyc.plan(), /circular dependency: a → b → a|circular dependency: b → a → b/);
    const undef = new TemplateRun(
      { resources: [res('Microsoft.KeyVault/vaults', 'a', { dependsOn: ['ghost'] })] },
      {},
      target,
    );
    assert.throws(() => undef.plan(), /depends on 'ghost', which is not defined/);
    const badCond = new TemplateRun(
      { resources: [res('Microsoft.KeyVault/vaults', 'a', { condition: "['yes']" })] },
      {},
      target,
    );
    assert.throws(() => badCond.plan(), /condition must be true or false/);
  });
  it('outputs and reported parameters (secure values left out)', () => {
    const run = new TemplateRun(
      {
        parameters: { s: { type: 'securestring' }, p: { type: 'string' } },
        outputs: { o: { type: 'string', value: "[concat(parameters('p'), '!')]" } },
      },
      { s: 'secret', p: 'hi' },
      target,
    );
    run.plan();
    assert.deepEqual(run.outputs(), { o: { type: 'string', value: 'hi!' } });
    assert.deepEqual(run.reportedParameters(), { s: { type: 'Securestring' }, p: { type: 'String', value: 'hi' } });
    // A secure value never appears in an error message.
    assert.throws(
      () => new TemplateRun({ parameters: { s: { type: 'securestring' } } }, { s: 12345 }, target).parameterValues(),
      (e: Error) => /must be of type securestring/.test(e.message) && !e.message.includes('12345'),
    );
  });
});
