import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliFixture, type CliFixture } from '../testing.js';

// `atelier compute …`, the real command as a child process, against a real server (SQLite).
describe('atelier compute (CLI)', () => {
  let home: string;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  before(async () => {
    f = await cliFixture('cli-compute', { location: 'local', writeConfig: true });
    ({ home, atelier } = f);
  });
  after(() => f?.close());

  it('create (flags and -f file), list, show, list-nodes, stop, start, delete; -o and --query', async () => {
    const made = await atelier([
      'compute',
      'create',
      'c1',
      '--size',
      'standard_ds3_v2',
      '--max-instances',
      '3',
      '--idle-time-before-scale-down',
      '60',
      '--tags',
      'team=a',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.json.name, 'c1');
    assert.equal(made.json.properties.provisioningState, 'Succeeded');
    assert.equal(made.json.properties.properties.vmSize, 'Standard_DS3_v2');
    assert.deepEqual(made.json.properties.properties.scaleSettings, {
      minNodeCount: 0,
      maxNodeCount: 3,
      nodeIdleTimeBeforeScaleDown: 'PT60S',
    });
    assert.deepEqual(made.json.tags, { team: 'a' });

    fs.writeFileSync(
      path.join(home, 'compute.yml'),
      [
        '$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json',
        'name: c2',
        'type: amlcompute',
        'size: local-1c-2g',
        'min_instances: 0',
        'max_instances: 2',
        'tier: low_priority',
        'description: from a file',
      ].join('\n'),
    );
    const fromFile = await atelier(['compute', 'create', '-f', 'compute.yml', '--max-instances', '4']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromFile.json.name, 'c2');
    assert.equal(fromFile.json.properties.description, 'from a file');
    assert.equal(fromFile.json.properties.properties.vmPriority, 'LowPriority');
    assert.equal(fromFile.json.properties.properties.scaleSettings.maxNodeCount, 4);

    const list = await atelier(['compute', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      list.json.map((c: any) => [c.name, c.type, c.size, c.nodes, c.maxNodes]),
      [
        ['c1', 'AmlCompute', 'Standard_DS3_v2', 0, 3],
        ['c2', 'AmlCompute', 'local-1c-2g', 0, 4],
      ],
    );
    const names = await atelier(['compute', 'list', '--query', '[].name', '-o', 'tsv']);
    assert.equal(names.stdout, 'c1\nc2\n');
    const table = await atelier(['compute', 'list', '-o', 'table']);
    assert.match(table.stdout, /c1\s.*AmlCompute/);
    const yaml = await atelier(['compute', 'show', 'c1', '-o', 'yaml']);
    assert.match(yaml.stdout, /computeType: AmlCompute/);

    const nodes = await atelier(['compute', 'list-nodes', 'c1']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.deepEqual(nodes.json, []);
    const stopped = await atelier(['compute', 'stop', 'c1', '--query', 'properties.properties.state']);
    assert.equal(stopped.json, 'Stopped');
    const started = await atelier(['compute', 'start', 'c1', '--query', 'properties.properties.state']);
    assert.equal(started.json, 'Running');

    const noYes = await atelier(['compute', 'delete', 'c2']);
    assert.equal(noYes.code, 2);
    assert.match(noYes.stderr, /pass --yes/);
    const del = await atelier(['compute', 'delete', 'c2', '--yes', '-o', 'none']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, '');
    const gone = await atelier(['compute', 'show', 'c2']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /compute 'c2' does not exist in workspace 'cli-compute'/);
  });

  it('bad input is refused with the flag to change, and nothing is made', async () => {
    const cases: [string[], RegExp, number][] = [
      [['compute', 'create', 'xx', '--size', 'Standard_Nope'], /'Standard_Nope' is not a node shape/, 1],
      [['compute', 'create', 'xx', '--max-instances', 'two'], /--max-instances must be a whole number/, 2],
      [['compute', 'create', 'xx', '--type', 'kubernetes'], /--type must be amlcompute or ray/, 2],
      [['compute', 'create', 'xx', '--type', 'ray'], /--type ray needs --dashboard-url/, 2],
      [
        ['compute', 'create', 'xx', '--type', 'ray', '--dashboard-url', 'http://127.0.0.1:1', '--size', 'a'],
        /--size is for --type amlcompute/,
        2,
      ],
      [
        ['compute', 'create', 'xx', '--min-instances', '3', '--max-instances', '1'],
        /--min-instances \(3\) must not exceed --max-instances \(1\)/,
        2,
      ],
      [['compute', 'create', 'xx', '--tier', 'spot'], /--tier must be dedicated or low_priority/, 2],
      [['compute', 'create'], /name the compute/, 2],
      [['compute', 'create', 'x'], /compute name 'x' is invalid/, 1],
    ];
    for (const [args, message, code] of cases) {
      const r = await atelier(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    fs.writeFileSync(path.join(home, 'bad.yml'), 'name: y\nsize: local-1c-2g\nmax_nodes: 3\n');
    const badFile = await atelier(['compute', 'create', '-f', 'bad.yml']);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /'max_nodes' is not a compute field/);
    const list = await atelier(['compute', 'list', '--query', '[].name']);
    assert.deepEqual(list.json, ['c1']);
  });
});
