import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { cliFixture, type CliFixture } from '../testing.js';
import { Workspace, Experiment, Model } from '@atelier/sdk';

// `atelier run …` and `atelier model …`, the real command as a child process, against a real server (SQLite).
describe('atelier run and model (CLI)', () => {
  let home: string;
  let ws: Workspace;
  let atelier: CliFixture['atelier'];
  let f: CliFixture | undefined;
  before(async () => {
    f = await cliFixture('cli-runs', { location: 'local' });
    ({ home, ws, atelier } = f);
  });
  after(() => f?.close());

  it('run list and run show', async () => {
    const exp = new Experiment(ws, 'cli-exp');
    const run = await exp.startLogging({ displayName: 'train' });
    await run.log('acc', 0.9);
    await run.logList('loss', [1, 0.5]);
    fs.writeFileSync(path.join(home, 'f.txt'), 'hi');
    await run.uploadFile('outputs/f.txt', path.join(home, 'f.txt'));
    const child = await run.child({ name: 'fold' });
    await child.complete();
    await run.complete();
    const other = await new Experiment(ws, 'other').startLogging();

    const all = await atelier(['run', 'list', '-w', 'cli-runs', '-g', 'cli-runs-rg']);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.json.map((r: any) => r.id).sort(), [run.id, other.id].sort());
    const one = await atelier(['run', 'list', '-w', 'cli-runs', '--experiment', 'cli-exp', '--all']);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(one.json.map((r: any) => r.id).sort(), [run.id, child.id].sort());
    assert.equal(one.json.find((r: any) => r.id === child.id).parentId, run.id);
    const done = await atelier(['run', 'list', '-w', 'cli-runs', '--status', 'Running']);
    assert.deepEqual(
      done.json.map((r: any) => r.id),
      [other.id],
    );
    assert.equal((await atelier(['run', 'list', '-w', 'cli-runs', '--all', '--top', '1'])).json.length, 1);
    assert.equal((await atelier(['run', 'list', '-w', 'cli-runs', '--top', '0'])).code, 2);

    const show = await atelier(['run', 'show', run.id, '-w', 'cli-runs']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(show.json.status, 'Completed');
    assert.equal(show.json.displayName, 'train');
    assert.equal(show.json.experimentName, 'cli-exp');
    assert.deepEqual(show.json.metrics, { acc: 0.9, loss: [1, 0.5] });
    assert.deepEqual(show.json.files, ['outputs/f.txt']);
    assert.deepEqual(show.json.children, [child.id]);
    const table = await atelier(['run', 'list', '-w', 'cli-runs', '-o', 'table']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(run.id));

    const missing = await atelier(['run', 'show', '0123456789abcdef0123456789abcdef', '-w', 'cli-runs']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    const noWs = await atelier(['run', 'list']);
    assert.equal(noWs.code, 2);
    assert.match(noWs.stderr, /-w <workspace>/);
    const exps = await atelier(['experiment', 'list', '-w', 'cli-runs', '--query', 'sort([].name)']);
    assert.equal(exps.code, 0, exps.stderr);
    assert.ok(exps.json.includes('cli-exp') && exps.json.includes('Default'), JSON.stringify(exps.json));
    const shown = await atelier(['experiment', 'show', 'cli-exp', '-w', 'cli-runs']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.json.name, 'cli-exp');
    const badView = await atelier(['experiment', 'list', '-w', 'cli-runs', '--view', 'old']);
    assert.equal(badView.code, 2);
    const noExp = await atelier(['run', 'list', '-w', 'cli-runs', '--experiment', 'nope']);
    assert.equal(noExp.code, 1);
  });

  it('model register, list, show, download, delete', async () => {
    const folder = path.join(home, 'm');
    fs.mkdirSync(path.join(folder, 'data'), { recursive: true });
    const weights = crypto.randomBytes(1 << 20);
    fs.writeFileSync(path.join(folder, 'data', 'w.bin'), weights);
    fs.writeFileSync(path.join(folder, 'MLmodel'), 'x');
    const reg = await atelier([
      'model',
      'register',
      folder,
      '-w',
      'cli-runs',
      '-n',
      'clf',
      '--tags',
      'team=vision',
      '-d',
      'first',
    ]);
    assert.equal(reg.code, 0, reg.stderr);
    assert.equal(reg.json.version, 1);
    assert.deepEqual(reg.json.tags, { team: 'vision' });
    await Model.register(ws, { modelPath: path.join(folder, 'MLmodel'), modelName: 'clf' });

    const list = await atelier(['model', 'list', '-w', 'cli-runs']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      list.json.map((m: any) => m.id),
      ['clf:2', 'clf:1'],
    );
    const latest = await atelier(['model', 'list', '-w', 'cli-runs', '--latest']);
    assert.deepEqual(
      latest.json.map((m: any) => m.id),
      ['clf:2'],
    );
    const tagged = await atelier(['model', 'list', '-w', 'cli-runs', '--tags', 'team=vision']);
    assert.deepEqual(
      tagged.json.map((m: any) => m.id),
      ['clf:1'],
    );

    const show = await atelier(['model', 'show', 'clf', '-w', 'cli-runs', '--model-version', '1']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(show.json.description, 'first');
    assert.equal((await atelier(['model', 'show', 'clf', '-w', 'cli-runs'])).json.version, 2);
    assert.equal((await atelier(['model', 'show', 'clf:1', '-w', 'cli-runs'])).json.version, 1);
    assert.equal((await atelier(['model', 'show', 'clf', '-w', 'cli-runs', '--model-version', 'x'])).code, 2);

    const dest = path.join(home, 'dl');
    const dl = await atelier(['model', 'download', 'clf', '-w', 'cli-runs', '--model-version', '1', '-t', dest]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.equal(dl.stderr, ''); // no progress bar when standard error is not a terminal
    assert.deepEqual(dl.json, {
      name: 'clf',
      version: 1,
      path: path.join(dest, 'm'),
      files: 2,
      bytes: weights.length + 1,
    });
    assert.deepEqual(fs.readFileSync(path.join(dest, 'm', 'data', 'w.bin')), weights);
    const again = await atelier(['model', 'download', 'clf', '-w', 'cli-runs', '--model-version', '1', '-t', dest]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already/);
    assert.equal(
      (await atelier(['model', 'download', 'clf', '-w', 'cli-runs', '--model-version', '1', '-t', dest, '--exist-ok']))
        .code,
      0,
    );

    const tagged2 = await atelier([
      'model',
      'tag',
      'clf:1',
      '--tags',
      'stage=prod',
      '--remove-tags',
      'team',
      '-w',
      'cli-runs',
    ]);
    assert.equal(tagged2.code, 0, tagged2.stderr);
    assert.deepEqual(tagged2.json.tags, { stage: 'prod' });
    assert.deepEqual((await Model.get(ws, 'clf', { version: 1 })).tags, { stage: 'prod' });
    const noSuchTag = await atelier(['model', 'tag', 'clf:1', '--remove-tags', 'team', '-w', 'cli-runs']);
    assert.equal(noSuchTag.code, 2);
    assert.match(noSuchTag.stderr, /--remove-tags: .*'team'/);
    assert.equal((await atelier(['model', 'tag', 'clf', '-w', 'cli-runs'])).code, 2);
    const del = await atelier(['model', 'delete', 'clf:2', '-w', 'cli-runs']);
    assert.equal((await atelier(['model', 'delete', 'clf', '-w', 'cli-runs'])).code, 2);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(
      (await atelier(['model', 'list', '-w', 'cli-runs'])).json.map((m: any) => m.id),
      ['clf:1'],
    );
    assert.equal((await atelier(['model', 'show', 'nope', '-w', 'cli-runs'])).code, 1);
  });

  it('run cancel|complete|fail end a running run (an ended one is refused), run tag sets and removes tags, run download fetches its files', async () => {
    const W = ['-w', 'cli-runs'];
    const exp = new Experiment(ws, 'cli-life');
    const [a, b, c] = [await exp.startLogging(), await exp.startLogging(), await exp.startLogging()];
    const cancel = await atelier(['run', 'cancel', a.id, ...W]);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.deepEqual(cancel.json, { id: a.id, status: 'Canceled' });
    assert.equal((await atelier(['run', 'complete', b.id, ...W])).json.status, 'Completed');
    const fail = await atelier(['run', 'fail', c.id, '--error', 'out of memory', ...W]);
    assert.equal(fail.json.status, 'Failed');
    assert.equal((await ws.getRun(c.id)).tags.error, 'out of memory');
    const again = await atelier(['run', 'complete', a.id, ...W]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is Canceled already/);
    assert.equal(await (await ws.getRun(a.id)).getStatus(), 'Canceled');

    const tag = await atelier(['run', 'tag', b.id, '--tags', 'team=vision', 'stage=dev', ...W]);
    assert.equal(tag.code, 0, tag.stderr);
    assert.deepEqual(tag.json.tags, { team: 'vision', stage: 'dev' });
    const removed = await atelier(['run', 'tag', b.id, '--remove-tags', 'stage', ...W]);
    assert.deepEqual(removed.json.tags, { team: 'vision' });
    assert.deepEqual(await (await ws.getRun(b.id)).getTags(), { team: 'vision' });
    const noTag = await atelier(['run', 'tag', b.id, '--remove-tags', 'nope', ...W]);
    assert.equal(noTag.code, 2);
    assert.match(noTag.stderr, /--remove-tags.*'nope'/);
    assert.equal((await atelier(['run', 'tag', b.id, '--tags', 'novalue', ...W])).code, 2);
    assert.equal((await atelier(['run', 'tag', b.id, ...W])).code, 2);

    const run = await exp.startLogging();
    const big = crypto.randomBytes(300_000);
    fs.writeFileSync(path.join(home, 'w.bin'), big);
    fs.writeFileSync(path.join(home, 'log.txt'), 'epoch 1');
    await run.uploadFile('outputs/model/w.bin', path.join(home, 'w.bin'));
    await run.uploadFile('logs/log.txt', path.join(home, 'log.txt'));
    const dest = path.join(home, 'run-dl');
    const all = await atelier(['run', 'download', run.id, '-t', dest, ...W]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.json, { id: run.id, path: '', targetDir: dest, files: 2, bytes: big.length + 7 });
    assert.deepEqual(fs.readFileSync(path.join(dest, 'outputs', 'model', 'w.bin')), big);
    assert.equal(fs.readFileSync(path.join(dest, 'logs', 'log.txt'), 'utf8'), 'epoch 1');
    const exists = await atelier(['run', 'download', run.id, '-t', dest, ...W]);
    assert.equal(exists.code, 2);
    assert.match(exists.stderr, /--overwrite/);
    const dest2 = path.join(home, 'run-dl2');
    const one = await atelier(['run', 'download', run.id, '--path', 'outputs/model', '-t', dest2, ...W]);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(fs.readdirSync(dest2), ['outputs']);
    assert.equal(one.json.files, 1);
    const missing = await atelier(['run', 'download', run.id, '--path', 'nope', '-t', dest2, ...W]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--path 'nope'/);
  });
});
