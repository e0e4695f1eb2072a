import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

// Globals of the page, for the callbacks of page.evaluate (they run in Chromium; this file is typed for Node).
declare const sessionStorage: any;

/** Test support of the studio's browser tests and benchmark: Debian's Chromium, a fresh studio bundle. */

export const STUDIO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHROMIUM = process.env.ATELIER_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the test run (git-ignored). */
export const OUTPUT = path.join(STUDIO, 'test-output');

/** Chromium's path, or undefined with a note (ATELIER_TEST_STRICT=1: an error). */
export function findChromium(): string | undefined {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  const why = `no Chromium at ${CHROMIUM}: the studio's browser tests cannot run (apt-get install chromium; .ci/run does)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}\n`);
  return undefined;
}

function newest(dir: string): number {
  let n = 0;
  for (const rel of fs.readdirSync(dir, { recursive: true }))
    n = Math.max(n, fs.statSync(path.join(dir, String(rel))).mtimeMs);
  return n;
}

/** Builds the studio when its bundle is missing or older than a source (vite build, ~2 s). */
export function ensureStudioBuilt(): void {
  const index = path.join(STUDIO, 'dist', 'index.html');
  const sources = Math.max(newest(path.join(STUDIO, 'src')), fs.statSync(path.join(STUDIO, 'index.html')).mtimeMs);
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= sources) return;
  const r = spawnSync('npm', ['run', 'build', '-w', '@atelier/studio'], {
    cwd: path.join(STUDIO, '..', '..'),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`the studio did not build:\n${r.stdout}\n${r.stderr}`);
}

export async function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A page that already holds a token (sign-in itself is tested once, through the real flow). */
export async function signedInPage(browser: Browser, url: string, token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript((t) => {
    if (!sessionStorage.getItem('atelier.studio.tokens'))
      sessionStorage.setItem(
        'atelier.studio.tokens',
        JSON.stringify({ access_token: t, expires_at: Date.now() + 3_600_000 }),
      );
  }, token);
  await page.goto(url);
  return page;
}
