import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { userWithRole } from '../../../server/src/http/arm/arm-test-helpers.js';
import {
  Workspace,
  TokenAuthentication,
  Experiment,
  Model,
  Run,
  TrackingClient,
  ValidationError,
  ConflictError,
  NotFoundError,
  AuthorizationError,
} from '../index.js';

// Experiments, runs and models through the SDK against a real server (SQLite: the server's own
// suites cover both dialects).
describe('experiment tracking and model registry (SDK) against a real server', () => {
  let t: TestServer;
  let ws: Workspace;
  let tmp: string;
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-tracking-'));
    ws = await Workspace.create({
      name: 'sdk-tracking',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sdk-tracking-rg',
      location: 'local',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    });
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('experiments and runs: metrics of every shape, tags, properties, files, children, status', async () => {
    const exp = new Experiment(ws, 'sdk-exp');
    assert.equal(exp.id, undefined);
    const run = await exp.startLogging({ displayName: 'first' });
    assert.ok(exp.id);
    assert.equal(run.status, 'Running');
    assert.equal(run.experiment.name, 'sdk-exp');

    await run.log('accuracy', 0.5);
    await run.log('accuracy', 0.75);
    await run.log('ok', true);
    await run.log('single', 3);
    await run.logList('losses', [3, 2, 1]);
    await run.logList(
      'big',
      Array.from({ length: 2500 }, (_, i) => i),
    );
    await run.logRow('pr', { precision: 0.1, recall: 0.9 });
    await run.logRow('pr', { precision: 0.2, recall: 0.8 });
    await run.logTable('roc', { fpr: [0, 0.5, 1], tpr: [0, 0.8, 1] });
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const img = await run.logImage('confusion', png);
    assert.equal(img, 'images/confusion.png');
    await assert.rejects(run.log('pr', 1), ValidationError);
    await assert.rejects(run.log('text', 'nope' as unknown as number), ValidationError);

    const m = await run.getMetrics();
    assert.deepEqual(m.accuracy, [0.5, 0.75]);
    assert.equal(m.ok, 1);
    assert.equal(m.single, 3);
    assert.deepEqual(m.losses, [3, 2, 1]);
    assert.equal((m.big as number[]).length, 2500);
    assert.equal((m.big as number[])[2499], 2499);
    assert.deepEqual(m.pr, { precision: [0.1, 0.2], recall: [0.9, 0.8] });
    assert.deepEqual(m.roc, { fpr: [0, 0.5, 1], tpr: [0, 0.8, 1] });
    assert.equal(m.confusion, 'images/confusion.png');
    assert.deepEqual(await run.getMetrics({ name: 'losses' }), { losses: [3, 2, 1] });

    await run.tag('team', 'vision');
    await run.setTags({ a: '1', b: '2' });
    await run.removeTags(['b']);
    assert.deepEqual(await run.getTags(), { team: 'vision', a: '1' });
    await run.addProperties({ lr: '0.01' });
    assert.deepEqual(run.getProperties(), { lr: '0.01' });

    // Files: one, a folder (streamed), names, download.
    const big = crypto.randomBytes(3 << 20);
    fs.writeFileSync(path.join(tmp, 'weights.bin'), big);
    const seen: number[] = [];
    await run.uploadFile('outputs/weights.bin', path.join(tmp, 'weights.bin'), {
      onProgress: (p) => seen.push(p.bytesDone),
    });
    assert.equal(seen.at(-1), big.length);
    fs.mkdirSync(path.join(tmp, 'folder', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'folder', 'a.txt'), 'a');
    fs.writeFileSync(path.join(tmp, 'folder', 'sub', 'b.txt'), 'bb');
    assert.deepEqual(await run.uploadFolder('logs', path.join(tmp, 'folder')), { files: 2, bytes: 3 });
    assert.deepEqual((await run.getFileNames()).sort(), [
      'images/confusion.png',
      'logs/a.txt',
      'logs/sub/b.txt',
      'outputs/weights.bin',
    ]);
    const out = path.join(tmp, 'out');
    fs.mkdirSync(out);
    const got = await run.downloadFile('outputs/weights.bin', out);
    assert.equal(got, path.join(out, 'weights.bin'));
    assert.deepEqual(fs.readFileSync(got), big);
    assert.deepEqual(fs.readdirSync(out), ['weights.bin']); // no temp file left
    await assert.rejects(run.uploadFile('../escape', path.join(tmp, 'weights.bin')), ValidationError);
    await assert.rejects(run.downloadFile('outputs/missing.bin', out), NotFoundError);

    // Children.
    const c1 = await run.child({ name: 'fold-1' });
    const kids = await run.createChildren({ tagKey: 'fold', tagValues: ['2', '3'] });
    assert.equal(c1.parent, run);
    assert.equal(kids.length, 2);
    await c1.log('loss', 0.3);
    const grand = await c1.child();
    const children = await run.getChildren();
    assert.deepEqual(children.map((c) => c.id).sort(), [c1.id, ...kids.map((k) => k.id)].sort());
    assert.equal((await run.getChildren({ recursive: true })).length, 4);
    const nested = await run.getMetrics({ name: 'loss', recursive: true });
    assert.deepEqual(nested[c1.id], { loss: 0.3 });

    await c1.complete();
    await kids[0]!.fail(new Error('diverged'));
    await kids[1]!.cancel();
    assert.equal(c1.status, 'Completed');
    assert.equal(kids[0]!.status, 'Failed');
    assert.equal((await kids[0]!.getTags()).error, 'diverged');
    assert.equal(await kids[1]!.getStatus(), 'Canceled');
    await run.complete();

    // Read back: ws.getRun with parent chain, details, listing.
    const again = await ws.getRun(grand.id);
    assert.equal(again.parent?.id, c1.id);
    assert.equal(again.parent?.parent?.id, run.id);
    assert.equal(again.experiment.name, 'sdk-exp');
    const d = await (await ws.getRun(run.id)).getDetails();
    assert.equal(d.runId, run.id);
    assert.equal(d.status, 'Completed');
    assert.equal(d.displayName, 'first');
    assert.ok(typeof d.startTimeUtc === 'string' && typeof d.endTimeUtc === 'string');
    assert.deepEqual(d.properties, { lr: '0.01' });

    const top = await exp.getRuns();
    assert.deepEqual(
      top.map((r) => r.id),
      [run.id],
    );
    const all = await exp.getRuns({ includeChildren: true });
    assert.equal(all.length, 5);
    assert.equal(all.find((r) => r.id === grand.id)!.parent!.id, c1.id);
    assert.deepEqual(
      (await exp.getRuns({ includeChildren: true, tags: { fold: '3' } })).map((r) => r.id),
      [kids[1]!.id],
    );
    assert.deepEqual(
      (await exp.getRuns({ properties: { lr: '0.01' } })).map((r) => r.id),
      [run.id],
    );
    assert.deepEqual(
      (await exp.getRuns({ includeChildren: true, status: 'Failed' })).map((r) => r.id),
      [kids[0]!.id],
    );
    assert.deepEqual(
      (await exp.getRuns({ includeChildren: true, maxResults: 2 })).map((r) => r.id),
      all.slice(0, 2).map((r) => r.id),
    );
    await assert.rejects(exp.getRuns({ status: 'Sleeping' }), ValidationError);

    const exps = await ws.experiments();
    assert.ok(exps.has('sdk-exp') && exps.has('Default'));
    assert.equal(exps.get('sdk-exp')!.id, exp.id);
    await assert.rejects(ws.getRun('0123456789abcdef0123456789abcdef'), NotFoundError);
    await assert.rejects(ws.getRun('../x'), ValidationError);

    // The same name is the same experiment; archive and reactivate.
    const same = new Experiment(ws, 'sdk-exp');
    await same.tag('owner', 'me');
    assert.equal(same.id, exp.id);
    await same.archive();
    assert.ok(!(await ws.experiments()).has('sdk-exp'));
    assert.ok((await Experiment.list(ws, { viewType: 'archived' })).some((e) => e.name === 'sdk-exp'));
    await same.reactivate();
    assert.ok((await ws.experiments()).has('sdk-exp'));
  });

  it('models: register a folder and a file (with a run), list, get, tags, download, delete', async () => {
    const folder = path.join(tmp, 'model');
    fs.mkdirSync(path.join(folder, 'data'), { recursive: true });
    const weights = crypto.randomBytes(2 << 20);
    fs.writeFileSync(path.join(folder, 'MLmodel'), 'flavors: {}\n');
    fs.writeFileSync(path.join(folder, 'data', 'w.bin'), weights);

    const progress: number[] = [];
    const m1 = await Model.register(ws, {
      modelPath: folder,
      modelName: 'clf',
      tags: { stage: 'dev' },
      description: 'first',
      onProgress: (p) => progress.push(p.bytesDone),
    });
    assert.equal(m1.version, 1);
    assert.equal(m1.id, 'clf:1');
    assert.deepEqual(m1.tags, { stage: 'dev' });
    assert.equal(m1.description, 'first');
    assert.equal(progress.at(-1), weights.length + 12);

    const run = await new Experiment(ws, 'training').startLogging();
    const file = path.join(tmp, 'model.pkl');
    fs.writeFileSync(file, 'pickle');
    const m2 = await Model.register(ws, { modelPath: file, modelName: 'clf', tags: { stage: 'prod' }, runId: run.id });
    assert.equal(m2.version, 2);
    assert.equal(m2.runId, run.id);
    assert.deepEqual(await run.getFileNames(), ['model.pkl']);
    await assert.rejects(Model.register(ws, { modelPath: file, modelName: 'clf', runId: run.id }), ConflictError);

    await run.uploadFile('outputs/net.onnx', file);
    const m3 = await Model.registerFromRun(run, { modelName: 'net', modelPath: 'outputs/net.onnx' });
    assert.equal(m3.source.endsWith('/outputs'), true);

    await assert.rejects(
      Model.register(ws, { modelPath: path.join(tmp, 'missing'), modelName: 'clf' }),
      ValidationError,
    );
    await assert.rejects(Model.register(ws, { modelPath: file, modelName: 'bad name!' }), ValidationError);
    await assert.rejects(
      Model.register(ws, { modelPath: file, modelName: 'ghost', tags: { x: 1 as unknown as string } }),
      ValidationError,
    );
    // A registration the server refuses after the upload leaves nothing behind.
    await assert.rejects(
      Model.register(ws, { modelPath: folder, modelName: 'ghost', tags: { ['k'.repeat(300)]: 'v' } }),
      ValidationError,
    );
    await assert.rejects(Model.get(ws, 'ghost'), NotFoundError);
    assert.deepEqual(await new TrackingClient(ws).listFiles('registered-models/ghost'), []);

    assert.deepEqual(
      (await Model.list(ws)).map((m) => m.id),
      ['clf:2', 'clf:1', 'net:1'],
    );
    assert.deepEqual(
      (await Model.list(ws, { name: 'clf', tags: { stage: 'dev' } })).map((m) => m.id),
      ['clf:1'],
    );
    assert.deepEqual(
      (await Model.list(ws, { tags: ['stage'] })).map((m) => m.id),
      ['clf:2', 'clf:1'],
    );
    const latest = await ws.models();
    assert.deepEqual([...latest.keys()], ['clf', 'net']);
    assert.equal(latest.get('clf')!.version, 2);
    assert.equal((await Model.get(ws, 'clf')).version, 2);
    assert.equal((await Model.get(ws, 'clf', { version: 1 })).description, 'first');
    await assert.rejects(Model.get(ws, 'nope'), NotFoundError);

    await m1.addTags({ owner: 'me' });
    assert.deepEqual(m1.tags, { stage: 'dev', owner: 'me' });
    await m1.removeTags(['owner']);
    assert.deepEqual(m1.tags, { stage: 'dev' });

    // Download: the folder (streamed), the single file, refusing to overwrite.
    const dl = path.join(tmp, 'dl');
    const where = await m1.download(dl);
    assert.equal(where, path.join(dl, 'model'));
    assert.deepEqual(fs.readFileSync(path.join(where, 'data', 'w.bin')), weights);
    assert.equal(fs.readFileSync(path.join(where, 'MLmodel'), 'utf8'), 'flavors: {}\n');
    await assert.rejects(m1.download(dl), ConflictError);
    assert.equal(await m1.download(dl, { existOk: true }), where);
    const f = await m2.download(dl);
    assert.equal(fs.readFileSync(f, 'utf8'), 'pickle');
    assert.equal(fs.readFileSync(await m3.download(path.join(tmp, 'dl3')), 'utf8'), 'pickle');

    await m2.delete();
    assert.deepEqual(
      (await Model.list(ws, { name: 'clf' })).map((m) => m.id),
      ['clf:1'],
    );
    await m1.delete();
    assert.deepEqual([...(await ws.models()).keys()], ['net']);
    // The name is free again; versions are not reused by MLflow only within a live model.
    const again = await Model.register(ws, { modelPath: file, modelName: 'clf' });
    assert.equal(again.version, 1);
    assert.ok(run instanceof Run);
  });
  it("a Reader reads runs and models but cannot write; other workspaces' runs are invisible", async () => {
    const run = await new Experiment(ws, 'shared').startLogging();
    await run.log('x', 1);
    fs.writeFileSync(path.join(tmp, 'r.txt'), 'r');
    await Model.register(ws, { modelPath: path.join(tmp, 'r.txt'), modelName: 'readable' });
    const reader = await userWithRole(t, 'sdk-reader', 'Reader', ws.id);
    const asReader = await Workspace.get('sdk-tracking', {
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sdk-tracking-rg',
      endpoint: t.url,
      auth: new TokenAuthentication(reader.token),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile-reader') },
    });
    const seen = await asReader.getRun(run.id);
    assert.deepEqual(await seen.getMetrics(), { x: 1 });
    assert.ok((await asReader.models()).has('readable'));
    await assert.rejects(seen.log('x', 2), AuthorizationError);
    await assert.rejects(new Experiment(asReader, 'by-reader').startLogging(), AuthorizationError);
    await assert.rejects(
      Model.register(asReader, { modelPath: path.join(tmp, 'r.txt'), modelName: 'by-reader' }),
      AuthorizationError,
    );
    assert.ok(!(await ws.models()).has('by-reader'));

    const other = await Workspace.create({
      name: 'sdk-tracking-2',
      subscriptionId: t.subscriptionId,
      resourceGroup: 'sdk-tracking-rg',
      location: 'local',
      showOutput: false,
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    });
    await assert.rejects(other.getRun(run.id), NotFoundError);
    assert.ok(!(await other.models()).has('readable'));
  });
});
