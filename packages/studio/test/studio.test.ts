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
      t = await startTestServer('sqlite');
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
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/oauth2\/v2\.0\/authorize\?/);
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
      // Silent renewal: the refresh grant gives a new access token without a page.
      const renewed = await page.evaluate(async () => {
        const { refresh_token } = JSON.parse(sessionStorage.getItem('atelier.studio.tokens')!);
        const r = await fetch('/common/oauth2/v2.0/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token, client_id: 'atelier-studio' }),
        });
        return r.status;
      });
      assert.equal(renewed, 200);
      await shot('01-workspaces-empty');
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
      const answer = (await (await buckets).json()) as { series: { buckets: { max: number }[] }[] };
      assert.ok(
        Math.max(...answer.series[0]!.buckets.map((b) => b.max)) > 3,
        `the spike survives bucketing: ${JSON.stringify(answer).slice(0, 600)}`,
      );
      const loss = page.locator('figure.chart[data-metric=loss]');
      await loss.locator('canvas').waitFor();
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

    it('lists jobs and follows a running job’s log live, links its MLflow run, and cancels another', async () => {
      const W = `/subscriptions/${t.subscriptionId}/resourceGroups/studio-rg/providers/Microsoft.MachineLearningServices/workspaces/studio-ws`;
      await page.goto(`${ws}/jobs`);
      await page.getByText('No job yet.').waitFor();
      await shot('13-jobs-empty');
      const command =
        "python -u -c \"import time\nfor i in range(8):\n    print('step', i, 'lr', ${{inputs.lr}}, flush=True)\n    time.sleep(0.4)\"";
      const put = await t.request('PUT', `${W}/jobs/studio_live_job?api-version=2025-01-01-preview`, {
        properties: {
          jobType: 'Command',
          command,
          experimentName: 'studio-jobs',
          displayName: 'Live log demo',
          inputs: { lr: { jobInputType: 'literal', value: '0.05' } },
          environmentVariables: { GREETING: 'hello' },
        },
      });
      assert.equal(put.status, 201, put.text);
      await page.reload();
      await page.getByRole('table', { name: 'Jobs' }).getByRole('link', { name: 'studio_live_job' }).click();
      await page.getByRole('heading', { name: 'Job Live log demo (studio_live_job)' }).waitFor();
      // The log grows while the job runs (server-sent events), before the job has ended.
      await page.getByLabel('Job log').getByText('step 0 lr 0.05').waitFor({ timeout: 30_000 });
      const early = (await page.getByLabel('Job log').textContent()) ?? '';
      assert.doesNotMatch(early, /step 7/, 'the first lines arrive while the job still runs');
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

    it('every page renders with no serious axe-core violation, in light and dark', async () => {
      const pages = [
        '',
        '/experiments',
        `/experiments/${experimentId}`,
        '/models',
        '/models/studio-model',
        '/jobs',
        '/jobs/studio_live_job',
        '/datastores',
        '/datastores?store=workspaceartifactstore',
        '/data',
        '/environments',
        '/connections',
        '/keyvault',
        '/access',
        '/audit',
      ];
      for (const theme of ['light', 'dark']) {
        await page.evaluate((th) => localStorage.setItem('atelier.studio.theme', th), theme);
        for (const p of [`${t.url}/#/`, ...pages.map((x) => `${ws}${x}`)]) {
          await page.goto(p);
          await page.reload();
          await page.locator('main h1').first().waitFor();
          await page.waitForFunction(() => !document.querySelector('.loading'));
          const v = await axe(page);
          assert.deepEqual(v, [], `${theme} ${p}`);
        }
        await shot(`10-runs-${theme}`);
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
      // MLflow's artifacts live in this container: folders open in place down to a run's files.
      const table = page.getByRole('table', { name: /Files of/ });
      for (let i = 0; i < 8 && !(await table.getByText('notes.txt').count()); i++) {
        const first = table.getByRole('link').first();
        const before = await first.textContent();
        await first.click();
        // The folder's old listing stays on screen until the new one arrives (no loading state in
        // between): wait for the listing to change before looking into it.
        for (let j = 0; j < 400; j++) {
          if (await table.getByText('notes.txt').count()) break;
          const now = await table
            .getByRole('link')
            .first()
            .textContent({ timeout: 100 })
            .catch(() => null);
          if (now !== before) break;
          await page.waitForTimeout(50);
        }
      }
      await table.getByText('notes.txt').waitFor();
      await shot('12-datastore');
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
