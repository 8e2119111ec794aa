// What the browser tests share: where the binaries are, starting and stopping gatherd and the
// fake upstream, the Chromium launch (Debian's, never a downloaded one), a page per spec file
// with its console errors, screenshots, and the polling helpers.
//
// Environment: GATHERD_BIN, GATHERD_PLUGIN_DIR, FAKE_UPSTREAM_BIN, SCREENSHOT_DIR, CHROMIUM_BIN,
// E2E_PERF_INVOCATIONS, E2E_KEEP, E2E_ONLY (see web/README.md).

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, test } from '@playwright/test';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = resolve(webDir, '../build');
const env = process.env;

export const kBudgetJsGzipBytes = 250 * 1024;
export const kBudgetFirstDataMs = 1500;

// The executable lands where CMake puts it (the build root or the plugin's build folder); a
// FAKE_UPSTREAM_BIN that does not exist falls back to those places, with a note.
function findFakeUpstream() {
  const root = env.GATHERD_BIN ? dirname(resolve(env.GATHERD_BIN)) : buildDir;
  const candidates = [
    join(root, 'xychatai-fake-upstream'),
    join(root, 'plugins/sources/xychatai-codex/xychatai-fake-upstream'),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (env.FAKE_UPSTREAM_BIN) {
    const given = resolve(env.FAKE_UPSTREAM_BIN);
    if (existsSync(given) || !found) return given;
    console.log(`note: FAKE_UPSTREAM_BIN=${given} does not exist; using ${found}`);
  }
  return found ?? candidates[0];
}

export const paths = {
  gatherd: resolve(env.GATHERD_BIN ?? join(buildDir, 'gatherd')),
  plugins: resolve(env.GATHERD_PLUGIN_DIR ?? join(buildDir, 'plugins')),
  fake: findFakeUpstream(),
  screenshots: resolve(env.SCREENSHOT_DIR ?? join(buildDir, 'screenshots')),
  dist: join(webDir, 'dist'),
  chromium: env.CHROMIUM_BIN ?? ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p)),
};

const kChromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/** How Chromium is started: Debian's build, headless, with no network beyond 127.0.0.1. */
export const launchOptions = { executablePath: paths.chromium, headless: true, args: kChromiumFlags };

// ---------------------------------------------------------------------------------------------
// processes

const children = [];

export function startProcess(name, bin, args, extraEnv = {}) {
  const child = spawn(bin, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { name, child, output: '', exited: null };
  const collect = (chunk) => {
    state.output += chunk.toString();
    if (state.output.length > 2_000_000) state.output = state.output.slice(-1_000_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.on('exit', (code, signal) => (state.exited = { code, signal }));
  children.push(state);
  return state;
}

/** Stops every process this module started (a spec's afterAll, the global teardown). */
export async function stopAll() {
  for (const c of children) await stopProcess(c);
}

/** The last lines each started process printed, for a failure report. */
export function outputTails() {
  return children.filter((c) => c.output).map((c) => `--- ${c.name} output (tail) ---\n${c.output.slice(-4000)}`);
}

export async function waitFor(what, fn, timeoutMs, everyMs = 100) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForOutput(proc, regex, timeoutMs) {
  return waitFor(
    `${proc.name} to print ${regex}`,
    () => {
      if (proc.exited) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}):\n${proc.output.slice(-3000)}`);
      return regex.exec(proc.output);
    },
    timeoutMs,
  );
}

export async function stopProcess(proc) {
  if (proc.exited) return;
  proc.child.kill('SIGTERM');
  try {
    await waitFor(`${proc.name} to exit`, () => proc.exited, 15_000);
  } catch {
    proc.child.kill('SIGKILL');
  }
}

function writeIni(dir, { fakePort, dbPath, callsPerMinute, legacySource, token, port }) {
  const ini = `[gatherd]
interval = 1s
plugin_dir = ${paths.plugins}
data_dir = ${dir}

[http]
bind = 127.0.0.1:${port ?? 0}
web_root = ${paths.dist}
${token ? 'token = ${E2E_API_TOKEN}\n' : ''}
[source.demo]
plugin = demo
calls_per_minute = ${callsPerMinute}
failure_ratio = 0.2
${fakePort ? `
[source.xy]
plugin = xychatai-codex
base_url = http://127.0.0.1:${fakePort}
cookie = \${XY_SESSION_COOKIE_VALUE}
` : ''}
[sink.db]
plugin = sqlite
path = ${dbPath}
${legacySource ? `legacy_source = ${legacySource}\n` : ''}
[sink.events]
plugin = sse
`;
  const file = join(dir, 'gatherd.ini');
  writeFileSync(file, ini);
  return file;
}

export async function startGatherd(dir, options) {
  const ini = writeIni(dir, options);
  const proc = startProcess('gatherd', paths.gatherd, [`--config=${ini}`], {
    XY_SESSION_COOKIE_VALUE: 'e2e-not-a-real-cookie',
    E2E_API_TOKEN: options.token ?? '',
  });
  const m = await waitForOutput(proc, /http: listening on [^\s:]+:(\d+)/, options.startTimeoutMs ?? 30_000);
  return { proc, base: `http://127.0.0.1:${m[1]}/`, ini };
}

export async function getJson(base, path) {
  const res = await fetch(new URL(path, base));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// ---------------------------------------------------------------------------------------------
// the main gatherd (global-setup.mjs starts it for the page specs)

/** Where the main gatherd listens, its pid (for SIGHUP) and its folder (config, profiles). */
export function mainGatherd() {
  const { E2E_MAIN_BASE: base, E2E_MAIN_PID: pid, E2E_MAIN_DIR: dir } = env;
  if (!base || !pid || !dir) throw new Error('the main gatherd is not running (global-setup.mjs starts it)');
  return { base, pid: Number(pid), dir, ini: join(dir, 'gatherd.ini') };
}

// ---------------------------------------------------------------------------------------------
// checks

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** A figure for the log beside the check's PASS line. */
export function note(text) {
  if (!text) return;
  test.info().annotations.push({ type: 'note', description: text });
  console.log(`  — ${text}`);
}

export async function shot(page, name) {
  await page.waitForTimeout(300); // let charts finish their first paint
  await page.screenshot({ path: join(paths.screenshots, `${name}.png`), fullPage: true });
}

export async function launch(profileDir, viewport = { width: 1440, height: 960 }, locale = 'en-US') {
  return chromium.launchPersistentContext(profileDir, {
    ...launchOptions,
    viewport,
    acceptDownloads: true,
    locale,
    timezoneId: 'Asia/Shanghai',
  });
}

/**
 * One browser for the tests of a spec file, which run in order on one page (`session.page`).
 * Console and page errors are collected (`session.consoleErrors`); a failed test leaves
 * `failed-<title>.png` in SCREENSHOT_DIR.
 */
export function browserSession(profileDir) {
  const session = { context: null, page: null, consoleErrors: [] };
  test.beforeAll(async () => {
    session.context = await launch(profileDir());
    session.context.on('console', (msg) => {
      if (msg.type() === 'error') session.consoleErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    session.context.on('weberror', (err) => session.consoleErrors.push(`page error: ${err.error().message}`));
  });
  test.afterEach(async () => {
    const testInfo = test.info();
    if (testInfo.status === testInfo.expectedStatus || !session.page) return;
    const file = join(paths.screenshots, `failed-${testInfo.title.replace(/\W+/g, '-')}.png`);
    await session.page.screenshot({ path: file, fullPage: true }).catch(() => {});
  });
  test.afterAll(async () => {
    await session.context?.close().catch(() => {});
  });
  return session;
}

/**
 * The start of a page spec: the main gatherd (`session.main`, once global-setup.mjs has started
 * it) and a browser of the spec's own, on the overview unless `open` is false; its tests run
 * serially.
 */
export function mainSession(name, { open = true } = {}) {
  // The tests of a page spec are steps on one page, each starting where the last one left it:
  // after a failure the rest of the file is skipped (and counted so), not run on a fresh page.
  test.describe.configure({ mode: 'serial' });
  const main = {};
  test.beforeAll(() => {
    Object.assign(main, mainGatherd());
  });
  const session = browserSession(() => join(main.dir, `profile-${name}`));
  session.main = main;
  if (open) {
    test.beforeAll(async () => {
      await openOverview(session, main.base);
    });
  }
  return session;
}

/** The last test of a page spec: nothing went to the console as an error. */
export function testNoConsoleErrors(session, where) {
  test(`no console errors on ${where}`, async () => {
    assert(session.consoleErrors.length === 0, session.consoleErrors.join('\n'));
  });
}

/** The id of the top invocation row. */
export function topRowId(page) {
  return page.locator('[data-testid=invocation-row]').first().getAttribute('data-id');
}

/** Waits until a live invocation has pushed `firstId` off the top of the list. */
export function waitForNewTopRow(page, firstId, what) {
  return waitFor(what, async () => (await topRowId(page)) !== firstId, 20_000, 200);
}

/** A session page on the overview with its data and the live stream up. */
export async function openOverview(session, base) {
  session.page = await session.context.newPage();
  await session.page.goto(base);
  await session.page.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
  await session.page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
  return session.page;
}

/** Navigates to the overview in a fresh context and measures the first load. */
export async function measureFirstLoad(context, base) {
  const p = await context.newPage();
  const scripts = new Map();
  p.on('response', async (res) => {
    if (res.request().resourceType() !== 'script') return;
    try {
      const body = await res.body();
      scripts.set(res.url(), { raw: body.length, gzip: gzipSync(body, { level: 9 }).length });
    } catch {
      // a response without a body (redirect) carries no script
    }
  });
  await p.goto(base, { waitUntil: 'domcontentloaded' });
  await p.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
  const firstDataMs = await p.evaluate(async () => {
    for (let i = 0; i < 100; i++) {
      const m = performance.getEntriesByName('gatherd:first-data')[0];
      if (m) return m.startTime;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  });
  // Where the time before the first data went: the page's own scripts and API calls.
  const timeline = await p.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const rows = [`document ${nav ? nav.responseEnd.toFixed(0) : '?'} ms, DOMContentLoaded ${nav ? nav.domContentLoadedEventEnd.toFixed(0) : '?'} ms`];
    for (const r of performance.getEntriesByType('resource')) {
      const name = new URL(r.name).pathname + new URL(r.name).search;
      if (!/\/(api|assets)\//.test(name)) continue;
      rows.push(`${name.slice(0, 70)}: ${r.startTime.toFixed(0)} -> ${r.responseEnd.toFixed(0)} ms`);
    }
    return rows;
  });
  await p.waitForSelector('.echart canvas', { timeout: 15_000 });
  await p.waitForLoadState('networkidle').catch(() => {});
  const gzip = [...scripts.values()].reduce((a, s) => a + s.gzip, 0);
  const raw = [...scripts.values()].reduce((a, s) => a + s.raw, 0);
  return { page: p, firstDataMs, gzip, raw, files: scripts.size, timeline };
}
