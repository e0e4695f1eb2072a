import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../../server/src/testing/harness.js';
import { clientPython } from '../../server/src/testing/tls-clients.js';
import { registerTestModels, waitOperation } from '../../server/src/testing/deploy-models.js';
import { ensureStudioBuilt, findChromium, launch, OUTPUT, signedInPage, STUDIO } from './browser.js';

// Globals of the page, for the callbacks of page.evaluate (they run in Chromium; this file is typed for Node).
declare const window: any, document: any, sessionStorage: any, localStorage: any;

const run = promisify(execFile);
const chromiumPath = findChromium();
const python = clientPython();
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core in the page: the serious and critical violations (WCAG 2 A/AA rules). */
async function axe(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the studio's CSP (rightly) refuses an injected <script>.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const res = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] });
    return r.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n: any) => n.target.join(' ')).slice(0, 3),
    }));
  });
  return res
    .filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical')
    .map((v: { id: string; nodes: string[] }) => `${v.id}: ${v.nodes.join(', ')}`);
}

describe(
  'the studio in Chromium',
  { skip: (!chromiumPath || !python) && 'no Chromium or no Python client', timeout: 300_000 },
  () => {
    let t: TestServer;
    let browser: Browser;
    let page: Page;
    let ws: string;
    let experimentId: string;
    /** The run page of trial-2 and the compare page of trial-0..2, below the workspace's address. */
    let runPath: string;
    let comparePath: string;
    const shots: string[] = [];
    const pageErrors: string[] = [];

    async function shot(name: string) {
      fs.mkdirSync(OUTPUT, { recursive: true });
      const file = path.join(OUTPUT, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    }

    before(async () => {
      ensureStudioBuilt();
      // Jobs without an environment run with the client's Python (it has mlflow).
      if (python) process.env.ATELIER_JOBS_PYTHON = python;
      t = await startTestServer('sqlite', { servingPython: python });
      browser = await launch(chromiumPath!);
    });
    after(async () => {
      await browser?.close();
      await t?.close();
    });

    it('signs in through the authorization-code + PKCE flow on the server’s sign-in page', async () => {
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(`${t.url}/`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.deepEqual(await axe(page), [], 'the sign-in page');
      await shot('sign-in');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/oauth2\/v2\.0\/authorize\?/);
      await page.locator('#username').waitFor();
      assert.deepEqual(await axe(page), [], 'the server’s authorize (sign-in) page');
      await shot('authorize');
      assert.match(page.url(), /code_challenge_method=S256/);
      assert.match(page.url(), /client_id=atelier-studio/);
      await page.fill('#username', 'admin');
      await page.fill('#password', ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: /^Workspaces/ }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/', 'the code was traded and left the address bar');
      const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem('atelier.studio.tokens') ?? 'null'));
      assert.ok(stored?.access_token && stored.refresh_token, 'access and refresh tokens in sessionStorage');
      assert.equal(
        await page.evaluate(() => localStorage.getItem('atelier.studio.tokens')),
        null,
        'never in localStorage',
      );
      await shot('01-workspaces-empty');
    });

    it('renews a rejected access token silently with its own refresh code, then renders the page', async () => {
      const KEY = 'atelier.studio.tokens';
      // The access token the studio keeps goes bad (its signature no longer matches); the refresh token stays.
      const bad = await page.evaluate((k) => {
        const tk = JSON.parse(sessionStorage.getItem(k)!);
        const [h, p] = tk.access_token.split('.');
        tk.access_token = `${h}.${p}.not-the-signature`;
        sessionStorage.setItem(k, JSON.stringify(tk));
        return tk.access_token as string;
      }, KEY);
      const rejected: string[] = [];
      const onResponse = (r: { status(): number; url(): string }) => {
        if (r.status() === 401) rejected.push(r.url());
      };
      page.on('response', onResponse);
      // The only token request is the studio's own (the test posts none).
      const grant = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/common/oauth2/v2.0/token'));
      await page.reload();
      const req = await grant;
      assert.equal(new URLSearchParams(req.postData() ?? '').get('grant_type'), 'refresh_token');
      assert.equal((await req.response())?.status(), 200);
      await page.getByRole('heading', { name: /^Workspaces/ }).waitFor();
      await page.getByLabel('Create a resource group').waitFor();
      page.off('response', onResponse);
      assert.ok(rejected.length >= 1, 'the bad token was refused first');
      const now = await page.evaluate((k) => JSON.parse(sessionStorage.getItem(k)!), KEY);
      assert.notEqual(now.access_token, bad, 'a new access token is kept');
      assert.ok(now.refresh_token, 'and a refresh token');
      assert.equal(await page.getByRole('alert').count(), 0, 'no error shown');
    });

    it('creates a resource group and a workspace from the forms', async () => {
      await page.getByLabel('Create a resource group').getByLabel('Name').fill('studio-rg');
      await page.getByRole('button', { name: 'Create resource group' }).click();
      await page.getByRole('table', { name: 'Resource groups' }).getByText('studio-rg').waitFor();
      await page.getByLabel('Create a workspace').getByLabel('Name').fill('studio-ws');
      await page.getByRole('button', { name: 'Create workspace' }).click();
      await page.getByRole('link', { name: 'studio-ws' }).waitFor({ timeout: 30_000 });
      ws = `${t.url}/#/w/${t.subscriptionId}/studio-rg/studio-ws`;
      await page.getByRole('link', { name: 'studio-ws' }).click();
      await page.getByText('MLflow tracking URI').waitFor();
      await shot('02-workspace-overview');
    });

    it('shows runs logged by the real MLflow client: runs table, filter, sort, compare, run page, artifacts, model registration', async () => {
      const trackingUri = `${t.url}/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const out = await run(python!, [path.join(STUDIO, 'test', 'log_runs.py')], {
        env: { ...process.env, MLFLOW_TRACKING_URI: trackingUri, MLFLOW_TRACKING_TOKEN: t.adminToken },
      });
      experimentId = out.stdout.trim().split('\n').pop()!;
      // MLflow's printed link opens that run in the studio.
      const printed = /View run trial-2 at: (\S+)/.exec(out.stdout)?.[1];
      assert.ok(printed, `MLflow printed a run link:\n${out.stdout}`);
      await page.goto(printed);
      await page.getByRole('heading', { name: 'trial-2' }).waitFor();
      assert.match(page.url(), /#\/w\/.+\/studio-ws\/experiments\/\d+\/runs\/[0-9a-f]+$/);
      runPath = page.url().slice(ws.length);

      await page.goto(`${ws}/experiments`);
      await page.getByRole('link', { name: 'studio-flow' }).click();
      const table = page.getByRole('table', { name: 'Runs' });
      await table.getByRole('link', { name: 'trial-0' }).waitFor();
      assert.equal(await table.getByRole('row').count(), 4, 'header + 3 runs');
      await shot('03-runs');
      // Server-side filter (MLflow syntax), kept in the URL.
      await page.getByLabel('Filter', { exact: true }).fill("params.lr = '0.02'");
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction(() => document.querySelectorAll('[role=table] [role=row]').length === 2);
      assert.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('filter'), "params.lr = '0.02'");
      await page.getByLabel('Filter', { exact: true }).fill('');
      await page.getByRole('button', { name: 'Apply' }).click();
      await table.getByRole('link', { name: 'trial-2' }).waitFor();
      // Sort by a metric column, descending then ascending.
      await page.getByRole('button', { name: /accuracy/ }).click();
      await page.waitForFunction(
        () => document.querySelector('[role=table] [role=rowgroup] + [role=rowgroup] a')?.textContent === 'trial-2',
      );
      await page.getByRole('button', { name: /accuracy/ }).click();
      await page.waitForFunction(
        () => document.querySelector('[role=table] [role=rowgroup] + [role=rowgroup] a')?.textContent === 'trial-0',
      );
      // Select and compare.
      for (const n of ['trial-0', 'trial-1', 'trial-2']) await page.getByLabel(`Select run ${n}`).check();
      await page.getByRole('link', { name: 'Compare 3 runs' }).click();
      await page.getByRole('heading', { name: 'Compare 3 runs' }).waitFor();
      comparePath = page.url().slice(ws.length);
      await page.locator('.chart canvas').first().waitFor();
      await page.locator('svg.parallel polyline').nth(2).waitFor();
      const diffRows = await page
        .getByRole('table', { name: /compared runs/ })
        .locator('tr.differs th')
        .allTextContents();
      assert.deepEqual(diffRows.sort(), ['lr', 'optimizer'], 'only the params that differ');
      await shot('04-compare');
      // The run page: charts with the spike of step 152 kept, artifacts previewed.
      await page.getByRole('link', { name: 'trial-2' }).first().click();
      await page.getByRole('heading', { name: 'trial-2' }).waitFor();
      await shot('05-run');
      const buckets = page.waitForResponse(
        (r) => r.url().includes('/metrics/get-history-buckets?') && r.url().includes('metric_key=loss'),
      );
      await page.getByRole('link', { name: /Metric charts/ }).click();
      // The chart reads min/max/last per bucket: the spike at step 152 is in a bucket's max.
      // (It asks for layout=columns: one array per field.)
      const answer = (await (await buckets).json()) as { series: { columns: { max: number[] } }[] };
      assert.ok(
        Math.max(...answer.series[0]!.columns.max) > 3,
        `the spike survives bucketing: ${JSON.stringify(answer).slice(0, 600)}`,
      );
      const loss = page.locator('figure.chart[data-metric=loss]');
      await loss.locator('canvas').waitFor();
      // The legend gives min, max (the spike) and last per series.
      const legendRow = page.getByRole('table', { name: 'Legend of loss' }).getByRole('row', { name: /trial-2/ });
      const [min, max, last] = (await legendRow.getByRole('cell').allTextContents()).map(Number);
      assert.ok(max! > 3, `the legend's max is the spike: ${max}`);
      assert.ok(min! > 0 && min! < 0.1, `min ${min}`);
      assert.equal(last!.toFixed(4), (1 / (1 + 299 * 0.05)).toFixed(4), 'last is the value at the last step');
      await shot('06-run-charts');
      await page.getByRole('link', { name: 'Artifacts' }).click();
      await page.getByRole('link', { name: 'config.json' }).click();
      await page.getByText('"layers"').waitFor();
      await page.getByRole('link', { name: 'predictions.csv' }).click();
      await page
        .getByRole('table', { name: /predictions\.csv/ })
        .getByText('dog')
        .waitFor();
      await page.getByRole('link', { name: 'confusion.png' }).click();
      const img = page.getByRole('img', { name: 'confusion.png' });
      await img.waitFor();
      await page.waitForFunction(() => (document.querySelector('img.preview-image') as any)?.naturalWidth === 2);
      await page.getByRole('link', { name: 'notes.txt' }).click();
      await page.getByText('trial 2 notes').waitFor();
      await shot('07-artifacts');
      // Register the run's model folder, then find it in the registry.
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Overview' }).click();
      await page.getByText('Register a model from this run').click();
      await page.getByLabel('Model name').fill('studio-model');
      await page.getByRole('button', { name: 'Register', exact: true }).click();
      await page.getByRole('link', { name: 'studio-model version 1' }).click();
      await page.getByRole('heading', { name: 'Model studio-model' }).waitFor();
      await page.getByRole('table', { name: 'Model versions' }).getByRole('link').first().waitFor();
      await shot('08-model');
      await page.goto(`${ws}/models`);
      await page.getByRole('link', { name: 'studio-model' }).waitFor();
      await shot('09-models');
    });

    it('zooms a metric chart by dragging: re-bucketed by the server, kept in the URL, the same after a reload', async () => {
      const buckets = (r: { url(): string }, range?: [number, number]) => {
        if (!r.url().includes('/metrics/get-history-buckets?')) return false;
        const q = new URL(r.url()).searchParams;
        if (q.get('metric_key') !== 'loss') return false;
        return range
          ? q.get('min_step') === String(range[0]) && q.get('max_step') === String(range[1])
          : q.has('min_step');
      };
      await page.goto(`${ws}${runPath}?tab=metrics`);
      const loss = page.locator('figure.chart[data-metric=loss]');
      const over = loss.locator('.u-over');
      await over.waitFor();
      const box = (await over.boundingBox())!;
      const zoomed = page.waitForRequest((r) => buckets(r));
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.3, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.45, y, { steps: 4 });
      await page.mouse.move(box.x + box.width * 0.6, y, { steps: 4 });
      await page.mouse.up();
      const asked = new URL((await zoomed).url()).searchParams;
      await page.waitForFunction(() =>
        /^\d+~\d+$/.test(new URLSearchParams(window.location.hash.split('?')[1]).get('zoom') ?? ''),
      );
      const zoom = new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('zoom')!;
      const [a, b] = zoom.split('~').map(Number) as [number, number];
      assert.ok(a > 0 && a < b && b < 299, `a range inside the 300 steps: ${zoom}`);
      assert.deepEqual(
        [Number(asked.get('min_step')), Number(asked.get('max_step'))],
        [a, b],
        'the server was asked for it',
      );
      await page.locator(`figure.chart[data-metric=loss][data-zoom="${a}-${b}"]`).waitFor();
      const legend = page.getByRole('table', { name: 'Legend of loss' });
      await legend.getByText(`Run (steps ${a}–${b})`).waitFor();
      await shot('run-charts-zoomed');
      // The link holds the view: a reload asks for and shows the same range.
      const again = page.waitForRequest((r) => buckets(r, [a, b]));
      await page.reload();
      await again;
      await page.locator(`figure.chart[data-metric=loss][data-zoom="${a}-${b}"]`).waitFor();
      await legend.getByText(`Run (steps ${a}–${b})`).waitFor();
      await page.getByRole('button', { name: 'Reset zoom' }).first().waitFor();
    });
    it('lists jobs and follows a running job’s log live, links its MLflow run, and cancels another', async () => {
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      await page.goto(`${ws}/jobs`);
      await page.getByText('No job yet.').waitFor();
      await shot('13-jobs-empty');
      // After its first line the job waits (at most 2 minutes) for the test to open a gate: the page
      // then shows the first line while the job runs, however long the page took to load.
      const gate = path.join(t.home, 'studio-live-job-gate');
      const command =
        "python -u -c \"import os, time\nfor i in range(8):\n    print('step', i, 'lr', ${{inputs.lr}}, flush=True)\n    for _ in range(2400 if i == 0 else 0):\n        if os.path.exists(os.environ['GATE']): break\n        time.sleep(0.05)\n    time.sleep(0.4)\"";
      const put = await t.request('PUT', `${W}/jobs/studio_live_job?api-version=2025-01-01-preview`, {
        properties: {
          jobType: 'Command',
          command,
          experimentName: 'studio-jobs',
          displayName: 'Live log demo',
          inputs: { lr: { jobInputType: 'literal', value: '0.05' } },
          environmentVariables: { GREETING: 'hello', GATE: gate },
        },
      });
      assert.equal(put.status, 201, put.text);
      await page.reload();
      await page.getByRole('table', { name: 'Jobs' }).getByRole('link', { name: 'studio_live_job' }).click();
      await page.getByRole('heading', { name: 'Job Live log demo (studio_live_job)' }).waitFor();
      // The log grows while the job runs (server-sent events), before the job has ended.
      await page.getByLabel('Job log').getByText('step 0 lr 0.05').waitFor({ timeout: 30_000 });
      const early = (await page.getByLabel('Job log').textContent()) ?? '';
      assert.doesNotMatch(early, /step 1/, 'the first lines arrive while the job still runs');
      fs.writeFileSync(gate, '');
      await page.getByText('ended (Completed)').waitFor({ timeout: 30_000 });
      assert.match((await page.getByLabel('Job log').textContent()) ?? '', /step 7 lr 0\.05/);
      await page.getByRole('table', { name: 'Inputs' }).getByText('0.05').waitFor();
      await page.getByLabel('Command').getByText('${{inputs.lr}}').waitFor();
      await shot('14-job');
      await page.getByRole('link', { name: 'Its MLflow run' }).click();
      await page.getByRole('heading', { name: 'Live log demo' }).waitFor();

      // Cancel from the page: the job ends Canceled.
      const slow = await t.request('PUT', `${W}/jobs/studio_cancel_job?api-version=2025-01-01-preview`, {
        properties: {
          jobType: 'Command',
          command: 'python -u -c "import time\nprint(\'waiting\', flush=True)\ntime.sleep(120)"',
          experimentName: 'studio-jobs',
        },
      });
      assert.equal(slow.status, 201, slow.text);
      await page.goto(`${ws}/jobs/studio_cancel_job`);
      await page.getByLabel('Job log').getByText('waiting').waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.getByText('ended (Canceled)').waitFor({ timeout: 30_000 });
      await page.getByRole('table', { name: 'Job details' }).getByText('Canceled').waitFor();
      await page.goto(`${ws}/jobs`);
      await page.getByRole('table', { name: 'Jobs' }).getByText('Canceled').waitFor();
      await shot('15-jobs');
    });

    it('shows computes with node counts and stops/starts one', async () => {
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      await page.goto(`${ws}/computes`);
      await page.getByText('No compute yet').waitFor();
      const put = await t.request('PUT', `${W}/computes/cpu-cluster?api-version=2023-08-01-preview`, {
        location: 'local',
        properties: {
          computeType: 'AmlCompute',
          properties: { vmSize: 'Standard_DS3_v2', scaleSettings: { minNodeCount: 0, maxNodeCount: 2 } },
        },
      });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const op = put.headers.get('azure-asyncoperation');
      if (op) await waitOperation(t, op);
      await page.reload();
      const table = page.getByRole('table', { name: 'Computes' });
      await table.getByText('0 (min 0, max 2)').waitFor();
      await shot('16-computes');
      await table.getByRole('link', { name: 'cpu-cluster' }).click();
      await page.getByRole('heading', { name: 'Compute cpu-cluster' }).waitFor();
      await page.getByRole('table', { name: 'Node states' }).waitFor();
      await page.getByText('No node is up.').waitFor();
      await page.getByRole('button', { name: 'Stop compute' }).click();
      await page.getByRole('button', { name: 'Start compute' }).waitFor();
      const stopped = await t.request('GET', `${W}/computes/cpu-cluster?api-version=2025-09-01`);
      assert.equal(stopped.body.properties.properties.state, 'Stopped');
      await page.getByRole('button', { name: 'Start compute' }).click();
      await page.getByRole('button', { name: 'Stop compute' }).waitFor();
      await shot('17-compute');
    });

    it('shows endpoints and deployments (keys hidden), answers a test request, and shows a deployment’s log', async () => {
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const V = 'api-version=2023-04-01-preview';
      await page.goto(`${ws}/endpoints`);
      await page.getByText('No online endpoint yet.').waitFor();
      await registerTestModels(python!, `${t.url}/mlflow/v1.0${W}`, t);
      const E = `${W}/onlineEndpoints/studio-ep`;
      const ep = await t.request('PUT', `${E}?${V}`, {
        location: 'local',
        identity: { type: 'SystemAssigned' },
        properties: { authMode: 'Key', traffic: {}, mirrorTraffic: {} },
      });
      assert.equal(ep.status, 201, ep.text);
      const dep = await t.request('PUT', `${E}/deployments/blue?${V}`, {
        location: 'local',
        sku: { name: 'Default', capacity: 1 },
        properties: { endpointComputeType: 'Managed', model: `${W}/models/doubler/versions/1` },
      });
      assert.ok(dep.status === 201 || dep.status === 200, dep.text);
      const done = await waitOperation(t, dep.headers.get('azure-asyncoperation')!);
      assert.equal(done.status, 'Succeeded', JSON.stringify(done));
      const tr = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } });
      assert.equal(tr.status, 200, tr.text);
      const keys = (await t.request('POST', `${E}/listKeys?${V}`)).body;

      await page.reload();
      await page.getByRole('table', { name: 'Endpoints' }).getByText('blue 100%').waitFor();
      await page.getByRole('link', { name: 'studio-ep' }).click();
      await page.getByRole('heading', { name: 'Endpoint studio-ep' }).waitFor();
      await page.getByRole('table', { name: 'Deployments' }).getByText('doubler:1').waitFor();
      await page
        .getByLabel('Request body (JSON)')
        .fill('{"dataframe_split": {"columns": ["x"], "data": [[1.5], [4]]}}');
      await page.getByRole('button', { name: 'Send request' }).click();
      await page.getByText('HTTP 200').waitFor({ timeout: 30_000 });
      const answer = JSON.parse((await page.getByLabel('Answer body').textContent()) ?? '');
      assert.deepEqual(answer, { predictions: [3, 8] });
      await page.getByText('from deployment blue').waitFor();
      // Bad JSON is refused in the page, before anything is sent.
      await page.getByLabel('Request body (JSON)').fill('{"dataframe_split": ');
      await page.getByRole('button', { name: 'Send request' }).click();
      await page.getByText(/The request is not JSON/).waitFor();
      await page.getByText('Log of deployment blue').click();
      await page.getByLabel('Log of deployment blue').waitFor();
      const html = await page.content();
      assert.ok(!html.includes(keys.primaryKey) && !html.includes(keys.secondaryKey), 'keys are never on the page');
      await shot('18-endpoint');
    });

    it('every page renders with no serious axe-core violation, in light and dark', async () => {
      // Each page is checked and photographed once it has loaded, under its own name (the sign-in and
      // authorize pages are checked in the sign-in test).
      const pages: [string, string][] = [
        ['workspaces', `${t.url}/#/`],
        ['workspace', ''],
        ['experiments', '/experiments'],
        ['runs', `/experiments/${experimentId}`],
        ['run', runPath],
        ['run-charts', `${runPath}?tab=metrics`],
        ['run-artifacts', `${runPath}?tab=artifacts`],
        ['compare', comparePath],
        ['registry', '/models'],
        ['model', '/models/studio-model'],
        ['jobs', '/jobs'],
        ['job', '/jobs/studio_live_job'],
        ['computes', '/computes'],
        ['compute', '/computes/cpu-cluster'],
        ['endpoints', '/endpoints'],
        ['endpoint', '/endpoints/studio-ep'],
        ['datastores', '/datastores'],
        ['datastore', '/datastores?store=workspaceartifactstore'],
        ['data', '/data'],
        ['environments', '/environments'],
        ['connections', '/connections'],
        ['keyvault', '/keyvault'],
        ['access', '/access'],
        ['audit', '/audit'],
      ];
      // One load per page, checked in both themes: it opens in the theme kept from the page before
      // (read from localStorage at start), then the theme button switches it in place. The first
      // theme alternates, so each theme is both loaded into and switched to across the pages.
      const themeOf = () => page.evaluate(() => document.documentElement.dataset.theme ?? null);
      const check = async (name: string, p: string, theme: string) => {
        assert.equal(await themeOf(), theme, `${name} is in the ${theme} theme`);
        const v = await axe(page);
        assert.deepEqual(v, [], `${theme} ${name}: ${p}`);
        await shot(`page-${name}-${theme}`);
      };
      await page.evaluate(() => localStorage.setItem('atelier.studio.theme', 'light'));
      let theme = 'light';
      for (const [name, p] of pages) {
        await page.goto(p.startsWith('http') ? p : `${ws}${p}`);
        await page.reload();
        await page.locator('main h1').first().waitFor();
        await page.waitForFunction(() => !document.querySelector('.loading'));
        await check(name, p, theme);
        const other = theme === 'light' ? 'dark' : 'light';
        await page.getByRole('button', { name: `Switch to ${other} theme` }).click();
        await page.waitForFunction((th) => document.documentElement.dataset.theme === th, other);
        await page.getByRole('button', { name: `Switch to ${theme} theme` }).waitFor();
        await check(name, p, other);
        theme = other;
      }
      await page.evaluate(() => localStorage.removeItem('atelier.studio.theme'));
      assert.deepEqual(pageErrors, [], 'no uncaught error in any page');
    });

    it('shows key vault secret names but never their values, and browses a datastore', async () => {
      const w = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws?api-version=2025-09-01`,
      );
      const vault = w.body.properties.keyVault as string;
      const put = await t.request('PUT', `${vault}/secrets/db-password?api-version=7.4`, {
        value: 'very-secret-value-42',
      });
      assert.equal(put.status, 200, put.text);
      await page.goto(`${ws}/keyvault`);
      await page.getByRole('table', { name: 'Secrets' }).getByText('db-password').waitFor();
      assert.doesNotMatch(await page.content(), /very-secret-value-42/);
      await shot('11-keyvault');
      await page.goto(`${ws}/datastores`);
      await page.getByRole('link', { name: 'workspaceartifactstore' }).click();
      await page.getByRole('heading', { name: 'Datastore workspaceartifactstore' }).waitFor();
      // MLflow's artifacts live in this container (mlflow/{workspace}/{experiment}/{run}/artifacts):
      // folders open in place down to a run's files; while a folder's listing loads, a loading state
      // stands in for the old folder's.
      const tracking = `/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const found = await t.request('POST', `${tracking}/api/2.0/mlflow/runs/search`, {
        experiment_ids: [experimentId],
        filter: "attributes.run_name = 'trial-2'",
      });
      const runId = found.body.runs[0].info.run_id as string;
      const table = page.getByRole('table', { name: /Files of/ });
      let release: () => void = () => undefined;
      const held = new Promise<void>((ok) => (release = ok));
      await page.route(/\/datastores\/workspaceartifactstore\/files\?path=mlflow(&|$)/, async (route) => {
        await held;
        await route.continue();
      });
      await table.getByRole('link', { name: 'mlflow/' }).click();
      await page.getByRole('status').getByText('Listing files').waitFor();
      assert.equal(await table.count(), 0, 'the old folder’s listing is gone while the new one loads');
      release();
      await page.unroute(/\/datastores\/workspaceartifactstore\/files/);
      await table.getByRole('link').first().waitFor();
      await page.getByRole('navigation', { name: 'Folder' }).getByRole('link', { name: 'mlflow' }).waitFor();
      await table.getByRole('link').first().click(); // the workspace's folder
      for (const folder of [experimentId, runId, 'artifacts'])
        await table.getByRole('link', { name: `${folder}/`, exact: true }).click();
      await table.getByText('notes.txt').waitFor();
      await shot('12-datastore');
    });

    it('refuses to preview a too-large artifact without downloading it whole', async () => {
      const tracking = `${t.url}/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const found = await t.request('POST', `${tracking.slice(t.url.length)}/api/2.0/mlflow/runs/search`, {
        experiment_ids: [experimentId],
        filter: "attributes.run_name = 'trial-1'",
      });
      const runId = found.body.runs[0].info.run_id as string;
      const big = Buffer.alloc(3 * 1024 * 1024, 'a');
      const up = await fetch(`${tracking}/api/2.0/mlflow/upload-artifact?run_uuid=${runId}&path=big.txt`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' },
        body: big,
      });
      assert.equal(up.status, 200, await up.text());
      const reads: { status: number; length: number }[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/get-artifact?') && r.url().includes('path=big.txt'))
          reads.push({ status: r.status(), length: Number(r.headers()['content-length'] ?? -1) });
      });
      await page.goto(`${ws}/experiments/${experimentId}/runs/${runId}?tab=artifacts`);
      await page.getByRole('link', { name: 'big.txt' }).click();
      await page.getByText('Too large to preview (3.0 MiB); download it.').waitFor();
      assert.ok(reads.length >= 1, 'the preview asked for the file');
      for (const r of reads) {
        assert.equal(r.status, 206, 'a ranged read');
        assert.ok(r.length <= 2 * 1024 * 1024, `at most the preview limit: ${r.length}`);
      }
      await page.getByRole('button', { name: 'Download (3.0 MiB)' }).waitFor();
      await shot('19-artifact-too-large');
    });

    it('the audit log names the resource each change touched, includes the workspace’s sub-resources, and fits 1280 px', async () => {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(`${ws}/audit`);
      const table = page.getByRole('table', { name: 'Audit events' });
      await table.waitFor();
      const what = await table.locator('tbody tr td:nth-child(3)').allTextContents();
      assert.ok(!what.some((w) => w.includes(':')), `no route template: ${what.slice(0, 5).join(' | ')}`);
      // The workspace filter covers what is inside the workspace (computes, endpoints), not only itself.
      assert.ok(what.includes('PUT this workspace'), what.join(' | '));
      assert.ok(what.includes('PUT computes/cpu-cluster'), what.join(' | '));
      assert.ok(what.includes('PUT onlineEndpoints/studio-ep'), what.join(' | '));
      assert.ok(what.includes('POST computes/cpu-cluster/stop'), `the stop/start actions: ${what.join(' | ')}`);
      assert.ok(
        what.includes('POST onlineEndpoints/studio-ep/listKeys'),
        `actions keep their name: ${what.join(' | ')}`,
      );
      // Every column is on screen at 1280 px: the table does not overflow its box, Status is in view.
      const fits = await page.evaluate(() => {
        const wrap = document.querySelector('[role=region][aria-label="Audit events"]');
        const th = [...document.querySelectorAll('table[aria-label="Audit events"] th')].pop();
        return {
          overflow: wrap.scrollWidth - wrap.clientWidth,
          right: th.getBoundingClientRect().right,
          width: document.documentElement.clientWidth,
          text: th.textContent,
        };
      });
      assert.equal(fits.text, 'Status');
      assert.ok(fits.overflow <= 0 && fits.right <= fits.width, `Status is cut off: ${JSON.stringify(fits)}`);
      await shot('audit-1280');
    });

    it('lists a workspace’s keys, deletes a workspace and a resource group from their pages', async () => {
      const G = `/subscriptions/${t.subscriptionId}/resourceGroups/doomed-rg`;
      assert.equal((await t.request('PUT', `${G}?api-version=2021-04-01`, { location: 'local' })).status, 201);
      const W = `${G}/providers/Microsoft.MachineLearningServices/workspaces/doomed-ws`;
      const put = await t.request('PUT', `${W}?api-version=2025-09-01`, { location: 'local', properties: {} });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const op = put.headers.get('azure-asyncoperation');
      if (op) await waitOperation(t, op);
      const keys = (await t.request('POST', `${W}/listKeys?api-version=2025-09-01`)).body;
      await page.goto(`${t.url}/#/w/${t.subscriptionId}/doomed-rg/doomed-ws`);
      await page.getByRole('button', { name: 'List keys' }).click();
      const shown = page.getByRole('table', { name: 'Workspace keys' });
      await shown.waitFor();
      const someKey = Object.values(keys).find((v) => typeof v === 'string' && v.length > 8) as string | undefined;
      assert.ok(someKey, JSON.stringify(Object.keys(keys)));
      assert.ok(!(await page.content()).includes(someKey), 'hidden until asked for');
      const show = shown.getByRole('button', { name: 'Show' });
      while ((await show.count()) > 0) await show.first().click();
      await shown.getByText(someKey).waitFor();
      await shot('workspace-keys');
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.accept();
      });
      await page.getByRole('button', { name: 'Delete workspace' }).click();
      await page.waitForURL((u) => u.hash === '#/');
      assert.match(dialogs[0] ?? '', /Delete workspace doomed-ws\?/);
      assert.equal((await t.request('GET', `${W}?api-version=2025-09-01`)).status, 404, 'the workspace is gone');
      const groups = page.getByRole('table', { name: 'Resource groups' });
      const row = groups.getByRole('row', { name: /doomed-rg/ });
      await row.getByRole('button', { name: 'Delete' }).click();
      await row.waitFor({ state: 'detached', timeout: 30_000 });
      assert.match(dialogs[1] ?? '', /Delete resource group doomed-rg/);
      assert.equal((await t.request('GET', `${G}?api-version=2021-04-01`)).status, 404, 'the group is gone');
      await groups.getByText('studio-rg').waitFor();
      page.removeAllListeners('dialog');
    });

    it('shows a connection but never its secret, neither on the page nor in any answer the studio receives', async () => {
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const SECRET = 'conn-secret-value-7731';
      const put = await t.request('PUT', `${W}/connections/private-feed?api-version=2024-04-01`, {
        properties: {
          category: 'PythonFeed',
          target: 'https://pypi.example.com/simple',
          authType: 'UsernamePassword',
          credentials: { username: 'bot', password: SECRET },
        },
      });
      assert.ok(put.status === 200 || put.status === 201, put.text);
      const answers: Promise<string>[] = [];
      const onResponse = (r: { url(): string; text(): Promise<string> }) => {
        if (r.url().startsWith(t.url)) answers.push(r.text().catch(() => ''));
      };
      page.on('response', onResponse);
      await page.goto(`${ws}/connections`);
      await page.reload();
      await page.getByText('private-feed').first().waitFor();
      await page.getByText('UsernamePassword').first().waitFor();
      page.off('response', onResponse);
      assert.ok(!(await page.content()).includes(SECRET), 'not in the page');
      const texts = await Promise.all(answers);
      assert.ok(texts.length > 0);
      assert.ok(!texts.some((x) => x.includes(SECRET)), 'not in any answer to the studio');
      await shot('connections-secret');
    });

    it('shows a model’s aliases and stages and links each version to the run it came from', async () => {
      const M = `/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws/api/2.0/mlflow`;
      const alias = await t.request('POST', `${M}/registered-models/alias`, {
        name: 'studio-model',
        alias: 'champion',
        version: '1',
      });
      assert.equal(alias.status, 200, alias.text);
      const stage = await t.request('POST', `${M}/model-versions/transition-stage`, {
        name: 'studio-model',
        version: '1',
        stage: 'Staging',
        archive_existing_versions: false,
      });
      assert.equal(stage.status, 200, stage.text);
      await page.goto(`${ws}/models`);
      await page
        .getByRole('table', { name: /Registered models|Models/ })
        .getByText('@champion → v1')
        .waitFor();
      await page.goto(`${ws}/models/studio-model`);
      await page.getByText('@champion → version 1').waitFor();
      const versions = page.getByRole('table', { name: 'Model versions' });
      const v1 = versions.getByRole('row').nth(1);
      await v1.getByText('Staging').waitFor();
      await v1.getByText('@champion').waitFor();
      await shot('model-aliases-stages');
      await v1.getByRole('link', { name: /^[0-9a-f]{12}$/ }).click();
      await page.getByRole('heading', { name: 'trial-2' }).waitFor();
    });

    it('refuses a non-Owner the access and audit pages with a clear message', async () => {
      const user = await t.request('POST', '/identity/users', { name: 'reader1', password: 'reader1-password-1' });
      assert.equal(user.status, 201, user.text);
      const principalId = (await t.request('GET', '/identity/principals/reader1')).body.id as string;
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
      const ra = await t.request(
        'PUT',
        `${W}/providers/Microsoft.Authorization/roleAssignments/6c1e1f5e-7d3c-4bb5-9d7a-2a7f5b6f0c11?api-version=2022-04-01`,
        {
          properties: {
            roleDefinitionId: `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
            principalId,
          },
        },
      );
      assert.ok(ra.status === 200 || ra.status === 201, ra.text);
      const tok = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'password',
          username: 'reader1',
          password: 'reader1-password-1',
          scope: 'https://management.azure.com/.default',
        }),
      });
      const token = ((await tok.json()) as { access_token: string }).access_token;
      assert.ok(token);
      const reader = await signedInPage(browser, `${ws}/experiments`, token);
      await reader.getByRole('link', { name: 'studio-flow' }).waitFor();
      fs.mkdirSync(OUTPUT, { recursive: true });
      // Role assignments are readable by Readers (as in Azure); the page says only Owners change them.
      await reader.goto(`${ws}/access`);
      await reader.getByRole('table', { name: 'Role assignments' }).getByText(principalId).waitFor();
      await reader.getByText(/Only Owners change them/).waitFor();
      await reader.screenshot({ path: path.join(OUTPUT, 'reader-access.png'), fullPage: true });
      // The audit log is for Owners only: a clear refusal, nothing listed.
      await reader.goto(`${ws}/audit`);
      const alert = reader.getByRole('alert');
      await alert.getByText('Error 403').waitFor();
      await alert.getByText(/only Owners of the workspace see its audit log/).waitFor();
      assert.equal(await reader.getByRole('table').count(), 0, 'nothing listed');
      await reader.screenshot({ path: path.join(OUTPUT, 'refused-audit.png'), fullPage: true });
      await reader.close();
    });

    it('compares 100 runs from a link: overlaid charts and parallel coordinates of all 100', async () => {
      const M = `/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws/api/2.0/mlflow`;
      const exp = await t.request('POST', `${M}/experiments/create`, { name: 'studio-hundred' });
      assert.equal(exp.status, 200, exp.text);
      const ids: string[] = [];
      for (let b = 0; b < 10; b++)
        ids.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, async (_, k) => {
              const i = b * 10 + k;
              const r = await t.request('POST', `${M}/runs/create`, {
                experiment_id: exp.body.experiment_id,
                run_name: `h-${i}`,
                start_time: Date.now(),
              });
              const id = r.body.run.info.run_id as string;
              const lb = await t.request('POST', `${M}/runs/log-batch`, {
                run_id: id,
                params: [
                  { key: 'lr', value: String(0.001 * (i + 1)) },
                  { key: 'depth', value: String(i % 7) },
                ],
                metrics: [0, 1, 2].map((step) => ({
                  key: 'score',
                  value: i / 100 + step,
                  timestamp: Date.now(),
                  step,
                })),
              });
              assert.equal(lb.status, 200, lb.text);
              return id;
            }),
          )),
        );
      await page.goto(`${ws}/compare?runs=${ids.join(',')}`);
      await page.getByRole('heading', { name: 'Compare 100 runs' }).waitFor({ timeout: 30_000 });
      await page.locator('figure.chart[data-metric=score] canvas').waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => document.querySelectorAll('svg.parallel polyline').length === 100, null, {
        timeout: 30_000,
      });
      await shot('compare-100');
    });

    it('is usable from the keyboard: skip link, navigation, sorting', async () => {
      const kb = await signedInPage(browser, `${ws}/experiments/${experimentId}`, t.adminToken);
      await kb.getByRole('table', { name: 'Runs' }).getByRole('link').first().waitFor();
      await kb.keyboard.press('Tab');
      assert.equal(await kb.evaluate(() => document.activeElement?.textContent), 'Skip to content');
      await kb.keyboard.press('Enter');
      assert.equal(await kb.evaluate(() => document.activeElement?.id), 'main');
      // Tab until the sort button of "Run", then Enter sorts by name.
      for (let i = 0; i < 40; i++) {
        await kb.keyboard.press('Tab');
        if ((await kb.evaluate(() => document.activeElement?.textContent)) === 'Run') break;
      }
      await kb.keyboard.press('Enter');
      await kb.waitForURL(/order=attributes\.run_name/);
      await kb.keyboard.press('Shift+Tab');
      await kb.close();
    });

    it('signs out: the sessions are revoked and the tokens forgotten', async () => {
      const before = await page.evaluate(
        () => JSON.parse(sessionStorage.getItem('atelier.studio.tokens')!).refresh_token,
      );
      await page.goto(`${t.url}/#/`);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('atelier.studio.tokens')), null);
      const res = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before, client_id: 'atelier-studio' }),
      });
      assert.equal(res.status, 400, 'the revoked refresh token no longer renews');
      assert.ok(shots.length >= 10);
    });
  },
);
