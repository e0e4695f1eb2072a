import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer, type RunningServer } from '../server.js';
import { prepareTls } from '../identity/tls.js';
import { ADMIN_PASSWORD } from '../testing/harness.js';
import { clientPython, httpsJson, passwordToken } from '../testing/tls-clients.js';
import { resolveWorkspace } from '../resources/workspaces.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const V = 'api-version=2025-09-01';

/**
 * azure-ai-ml 1.35.2 uploads a local code folder as Azure ML does it: hash look-up, startPendingUpload,
 * Azure Blob REST through the SAS URI (azure-storage-blob), PUT of the code version; the second time
 * the hash look-up finds it and nothing is uploaded. SQLite only: this checks the wire; codes.test.ts
 * covers both stores.
 */
const python = clientPython();
describe(
  'azure-ai-ml code upload (Blob REST subset, startPendingUpload)',
  { skip: python ? undefined : 'no Python with azure-ai-ml (set ATELIER_TEST_PYTHON)' },
  () => {
    let home: string;
    let server: RunningServer;
    let caFile: string;
    let token: string;
    before(async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-aiml-code-'));
      const tls = await prepareTls({ home, host: '127.0.0.1', env: {} });
      caFile = tls.caFile!;
      const ca = fs.readFileSync(caFile, 'utf8');
      server = await startServer(
        { home, port: 0, logLevel: 'silent', adminPassword: ADMIN_PASSWORD, tlsCert: tls.tlsCert, tlsKey: tls.tlsKey },
        {},
      );
      token = await passwordToken(server.url, ca, 'admin', ADMIN_PASSWORD);
      const sub = server.ctx.defaultSubscriptionId;
      assert.equal(
        (
          await httpsJson('PUT', `${server.url}/subscriptions/${sub}/resourcegroups/ml-rg?${V}`, ca, token, {
            location: 'local',
          })
        ).status,
        201,
      );
      const put = await httpsJson(
        'PUT',
        `${server.url}/subscriptions/${sub}/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws?${V}`,
        ca,
        token,
        { location: 'local' },
      );
      assert.equal(put.status, 201, JSON.stringify(put.body));
      for (let i = 0; i < 500; i++) {
        const op = await httpsJson('GET', String(put.headers['azure-asyncoperation']), ca, token);
        if (op.body.status !== 'InProgress') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    after(async () => {
      await server?.close();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('ml_client._code.create_or_update(Code(path=folder)) uploads once and registers an anonymous code version', async () => {
      const src = path.join(home, 'project', 'src');
      fs.mkdirSync(path.join(src, 'pkg'), { recursive: true });
      fs.writeFileSync(path.join(src, 'train.py'), 'import pkg.util\nprint("training", pkg.util.LR)\n');
      fs.writeFileSync(path.join(src, 'pkg', 'util.py'), 'LR = 0.01\n');
      const { stdout, stderr } = await run(python!, [path.join(HERE, 'clients', 'azure_ai_ml_code.py')], {
        env: {
          PATH: process.env.PATH ?? '',
          TMPDIR: os.tmpdir(),
          HOME: home,
          ATELIER_URL: server.url,
          ATELIER_TOKEN: token,
          AZURE_SUBSCRIPTION_ID: server.ctx.defaultSubscriptionId,
          RESOURCE_GROUP: 'ml-rg',
          WORKSPACE: 'ml-ws',
          CODE_DIR: src,
          REQUESTS_CA_BUNDLE: caFile,
          SSL_CERT_FILE: caFile,
        },
        timeout: 180_000,
      }).catch((e) => {
        throw new Error(`the client failed: ${e.stderr?.slice(-3000) ?? e}`);
      });
      const line = stdout.trim().split('\n').pop()!;
      const out = JSON.parse(line);
      assert.match(out.first.id, /\/workspaces\/ml-ws\/codes\/[^/]+\/versions\/1$/, stderr);
      assert.match(out.first.path, /\/blob\/[a-z0-9]+\/azureml-blobstore-[0-9a-f-]+\/LocalUpload\/[^/]+\/src$/);
      assert.equal(out.again.id, out.first.id);
      // The server's snapshot of it holds the folder's files.
      const ws = await resolveWorkspace(server.ctx, server.ctx.defaultSubscriptionId, 'ml-rg', 'ml-ws');
      const snap = await server.services.codes.codes.snapshot(ws, out.first.id);
      assert.equal(fs.readFileSync(path.join(snap.dir, 'pkg', 'util.py'), 'utf8'), 'LR = 0.01\n');
      assert.ok(fs.existsSync(path.join(snap.dir, 'train.py')));
    });
  },
);
