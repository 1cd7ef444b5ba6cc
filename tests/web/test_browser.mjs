// SPDX-License-Identifier: MIT
// The web view in headless chromium (playwright-core): `framepipe run` with BlazeFace on a looping Megamind.avi; the page lists the camera, streams it live and shows events.
//
// Env (from tests/meson.build): FP_FRAMEPIPE (the binary), FP_BUILD_DIR (the screenshot goes to
// FP_BUILD_DIR/web-view.png), FP_CACHE_DIR (models; playwright-core under playwright/node_modules).
// Exit 77 (skipped) when chromium, playwright-core, the model or the clip is missing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const SKIP = 77;
const CHROMIUM = '/usr/bin/chromium';
const CLIP = '/usr/share/doc/opencv-doc/examples/data/Megamind.avi';
const cache = process.env.FP_CACHE_DIR || path.join(os.homedir(), '.cache', 'framepipe');
const buildDir = process.env.FP_BUILD_DIR || process.cwd();
const exe = process.env.FP_FRAMEPIPE || path.join(buildDir, 'apps', 'framepipe');
const model = path.join(cache, 'models', 'blazeface', 'face_detection_front_128x128_barracuda.onnx');

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}
function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exitCode = 1;
  throw new Error(why);
}

for (const [f, what] of [[CHROMIUM, 'Debian chromium (scripts/apt-packages.txt)'], [exe, 'the framepipe binary'],
                         [model, 'BlazeFace (scripts/setup.d/30-models.sh)'], [CLIP, 'opencv-doc Megamind.avi']])
  if (!fs.existsSync(f)) skip(`${f} is missing: ${what}`);
let chromium;
try {
  const require = createRequire(path.join(cache, 'playwright', 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  skip(`playwright-core is not installed in ${cache}/playwright (run scripts/setup.d/40-playwright.sh): ${e.message}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  fail(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-web-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(path.join(dir, 'snaps'));
fs.writeFileSync(path.join(dir, 'run.yaml'), `# the browser test's config
cameras:
  - name: megamind
    url: ${CLIP}
    loop: yes
    zones:
      - {name: all, normalized: true, points: [[0, 0], [1, 0], [1, 1], [0, 1]]}
model: {path: ${model}}
rules:
  - {name: face-enters, kind: enter, zone: all, class: face}
output:
  http: 127.0.0.1:${port}
  snapshots: ${path.join(dir, 'snaps')}
  preview_fps: 10
`);

const log = fs.openSync(path.join(dir, 'framepipe.log'), 'w');
const fp = spawn(exe, ['run', '-q', path.join(dir, 'run.yaml')], { stdio: ['ignore', log, log] });
let fpExit = null;
fp.on('exit', (code, sig) => { fpExit = { code, sig }; });

let browser;
try {
  await waitFor('framepipe to answer /healthz', async () => {
    if (fpExit) fail(`framepipe exited early (${JSON.stringify(fpExit)}): ${fs.readFileSync(path.join(dir, 'framepipe.log'), 'utf8')}`);
    const r = await fetch(`${base}/healthz`);
    return r.ok;
  }, 30000);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/`);

  // the camera list: one row, named megamind, refreshed every 2 s
  const row = page.locator('#cameras tbody tr[data-name="megamind"]');
  await row.waitFor({ timeout: 10000 });
  console.log('camera row:', (await row.innerText()).replace(/\s+/g, ' '));

  // click it: the live <img> loads and changes
  await row.click();
  const img = page.locator('#live');
  await waitFor('the live picture to load', () => img.evaluate((e) => e.complete && e.naturalWidth > 0), 10000);
  const size = await img.evaluate((e) => [e.naturalWidth, e.naturalHeight]);
  console.log('live picture:', size.join('x'));
  if (size[0] !== 640) fail(`the live picture is ${size[0]} wide, want 640 (preview width)`);
  const pixels = () => img.evaluate((e) => {
    const c = document.createElement('canvas');
    c.width = e.naturalWidth;
    c.height = e.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(e, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
    return h;
  });
  const first = await pixels();
  await waitFor('the live picture to change', async () => (await pixels()) !== first, 5000);
  console.log('live picture changes');

  // events: the enter rule fires on the faces; the list shows them with snapshot thumbnails
  await page.locator('#events li.event').first().waitFor({ timeout: 20000 });
  const nEvents = await page.locator('#events li.event').count();
  const thumbs = await page.locator('#events li.event img').count();
  console.log(`events shown: ${nEvents}, with snapshots: ${thumbs}`);
  if (thumbs < 1) fail('no event has a snapshot thumbnail');
  await waitFor('a snapshot thumbnail to load', () =>
    page.locator('#events li.event img').first().evaluate((e) => e.complete && e.naturalWidth > 0), 5000);

  await sleep(1500); // a frame with boxes, thumbnails loaded
  await waitFor('every snapshot thumbnail to load', () => page.locator('#events li.event img').evaluateAll(
    (imgs) => imgs.every((e) => e.complete && e.naturalWidth > 0)), 8000);
  const shot = path.join(buildDir, 'web-view.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  console.log('PASS');
} catch (e) {
  if (!process.exitCode) process.exitCode = 1;
  console.error(e.stack || String(e));
  console.error('framepipe log:\n' + fs.readFileSync(path.join(dir, 'framepipe.log'), 'utf8').slice(-3000));
} finally {
  if (browser) await browser.close();
  if (!fpExit) {
    fp.kill('SIGTERM');
    const t0 = Date.now();
    while (!fpExit && Date.now() - t0 < 15000) await sleep(100);
    if (!fpExit) {
      fp.kill('SIGKILL');
      console.error('FAIL: framepipe did not stop within 15 s of SIGTERM');
      process.exitCode = 1;
    } else if (fpExit.code !== 0) {
      console.error(`FAIL: framepipe exited with ${JSON.stringify(fpExit)} after SIGTERM`);
      process.exitCode = 1;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
