// End-to-end test of the dashboard in Chromium against the real gatherd (demo source, SQLite and
// SSE sinks) plus a fake xychatai upstream whose session has expired.
//
//   npm run e2e            (builds web/dist first)
//
// Environment: GATHERD_BIN, GATHERD_PLUGIN_DIR, FAKE_UPSTREAM_BIN, SCREENSHOT_DIR, CHROMIUM_BIN;
// E2E_PERF_INVOCATIONS=N also measures the first load against a database of N invocations
// (made in the seed tool's format, which gatherd migrates on start; needs the sqlite3 CLI).
// Prints one line per check and "N passed, M failed"; exits 1 when a check failed.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = resolve(webDir, '../build');
const env = process.env;

const kBudgetJsGzipBytes = 250 * 1024;

// E2E_ONLY=main|token|resume|perf runs one part (for debugging); by default all but perf run.
const only = env.E2E_ONLY ?? '';
const runs = (part) => !only || only === part;
const kBudgetFirstDataMs = 1500;

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

const paths = {
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

// ---------------------------------------------------------------------------------------------
// processes

const children = [];

function startProcess(name, bin, args, extraEnv = {}) {
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

async function waitFor(what, fn, timeoutMs, everyMs = 100) {
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

async function waitForOutput(proc, regex, timeoutMs) {
  return waitFor(
    `${proc.name} to print ${regex}`,
    () => {
      if (proc.exited) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}):\n${proc.output.slice(-3000)}`);
      return regex.exec(proc.output);
    },
    timeoutMs,
  );
}

async function stopProcess(proc) {
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

async function startGatherd(dir, options) {
  const ini = writeIni(dir, options);
  const proc = startProcess('gatherd', paths.gatherd, [`--config=${ini}`], {
    XY_SESSION_COOKIE_VALUE: 'e2e-not-a-real-cookie',
    E2E_API_TOKEN: options.token ?? '',
  });
  const m = await waitForOutput(proc, /http: listening on [^\s:]+:(\d+)/, options.startTimeoutMs ?? 30_000);
  return { proc, base: `http://127.0.0.1:${m[1]}/` };
}

async function getJson(base, path) {
  const res = await fetch(new URL(path, base));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// ---------------------------------------------------------------------------------------------
// checks

const results = [];
let page;

async function check(name, fn) {
  const started = Date.now();
  try {
    const note = await fn();
    results.push({ name, ok: true });
    console.log(`PASS ${name} (${Date.now() - started} ms)${note ? ` — ${note}` : ''}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e instanceof Error ? e.message : e}`);
    if (page) await page.screenshot({ path: join(paths.screenshots, `failed-${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(name) {
  await page.waitForTimeout(300); // let charts finish their first paint
  await page.screenshot({ path: join(paths.screenshots, `${name}.png`), fullPage: true });
}

async function launch(profileDir, viewport = { width: 1440, height: 960 }, locale = 'en-US') {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: paths.chromium,
    headless: true,
    args: kChromiumFlags,
    viewport,
    acceptDownloads: true,
    locale,
    timezoneId: 'Asia/Shanghai',
  });
}

/** Navigates to the overview in a fresh context and measures the first load. */
async function measureFirstLoad(context, base) {
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

// ---------------------------------------------------------------------------------------------

async function main() {
  for (const [what, p] of Object.entries({ gatherd: paths.gatherd, 'plugin dir': paths.plugins, 'fake upstream': paths.fake, 'web/dist': paths.dist })) {
    if (!existsSync(p)) throw new Error(`${what} not found at ${p} (see the environment variables at the top of e2e/run.mjs)`);
  }
  if (!paths.chromium) throw new Error('no Chromium: apt-get install -y chromium (or set CHROMIUM_BIN)');
  mkdirSync(paths.screenshots, { recursive: true });
  for (const f of readdirSync(paths.screenshots)) if (f.startsWith('failed-')) rmSync(join(paths.screenshots, f));
  const work = mkdtempSync(join(tmpdir(), 'gatherd-e2e-'));
  const consoleErrors = [];
  let context;

  try {
    if (runs('main')) {
      const fake = startProcess('fake-upstream', paths.fake, ['--expired', '--print-port']);
      const fakePort = (await waitForOutput(fake, /^(\d+)\s*$/m, 15_000))[1];
      const { proc: gatherd, base } = await startGatherd(work, { fakePort, dbPath: join(work, 'gatherd.db'), callsPerMinute: 120 });
      console.log(`gatherd at ${base}, fake upstream on port ${fakePort}`);

      await waitFor('a few invocations in the store', async () => (await getJson(base, 'api/invocations?limit=5')).items.length >= 5, 30_000, 250);

      context = await launch(join(work, 'profile'));
      context.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(`${msg.text()} (${msg.location().url})`);
      });
      context.on('weberror', (err) => consoleErrors.push(`page error: ${err.error().message}`));

      let firstLoad;
      await check('overview loads and shows data', async () => {
        firstLoad = await measureFirstLoad(context, base);
        page = firstLoad.page;
        const rows = await page.locator('[data-testid=invocation-row]').count();
        assert(rows > 0, 'no invocation rows');
        const calls = await page.locator('[data-testid=card-calls] .stat-value').innerText();
        assert(/^\d[\d,]*$/.test(calls) && calls !== '0', `24h calls card shows "${calls}"`);
        await page.waitForSelector('[data-testid=plan-card]', { timeout: 15_000 });
        await page.waitForSelector('[data-testid=heatmap]', { timeout: 15_000 });
        return `${rows} rows, first data at ${firstLoad.firstDataMs?.toFixed(0)} ms, JS ${(firstLoad.gzip / 1024).toFixed(1)} KB gzip in ${firstLoad.files} files`;
      });
      await shot('overview-light');

      await check('first-load JavaScript within budget', async () => {
        assert(firstLoad, 'no first load measured');
        assert(firstLoad.gzip <= kBudgetJsGzipBytes, `${(firstLoad.gzip / 1024).toFixed(1)} KB gzip > 250 KB`);
        return `${(firstLoad.gzip / 1024).toFixed(1)} KB gzip (${(firstLoad.raw / 1024).toFixed(1)} KB raw)`;
      });

      await check('live connection is up', async () => {
        await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 10_000 });
      });

      await check('a new invocation appears without reload', async () => {
        await page.evaluate(() => ((window).__e2eNoReload = true));
        const firstId = await page.locator('[data-testid=invocation-row]').first().getAttribute('data-id');
        await waitFor(
          'a new top row',
          async () => (await page.locator('[data-testid=invocation-row]').first().getAttribute('data-id')) !== firstId,
          20_000,
          200,
        );
        assert(await page.evaluate(() => (window).__e2eNoReload === true), 'the page was reloaded');
        const newId = await page.locator('[data-testid=invocation-row]').first().getAttribute('data-id');
        return `top row ${firstId} -> ${newId}`;
      });

      await check('live events do not cause a refetch per event', async () => {
        const apiRequests = [];
        const onRequest = (req) => {
          if (new URL(req.url()).pathname.startsWith('/api/')) apiRequests.push(req.url());
        };
        const seen = new Set(await page.locator('[data-testid=invocation-row]').evaluateAll((rows) => rows.map((r) => r.dataset.id)));
        const arrived = new Set();
        page.on('request', onRequest);
        const until = Date.now() + 10_000;
        while (Date.now() < until) {
          for (const id of await page.locator('[data-testid=invocation-row]').evaluateAll((rows) => rows.map((r) => r.dataset.id))) {
            if (!seen.has(id)) arrived.add(id);
          }
          await page.waitForTimeout(250);
        }
        page.off('request', onRequest);
        assert(arrived.size >= 4, `only ${arrived.size} live invocations arrived in 10 s`);
        assert(apiRequests.length <= 6, `${apiRequests.length} API requests for ${arrived.size} events:\n${apiRequests.join('\n')}`);
        return `${arrived.size} live invocations, ${apiRequests.length} API requests in 10 s`;
      });

      await check('expired session shows the banner', async () => {
        const banner = page.locator('[data-testid=session-banner]');
        await banner.waitFor({ timeout: 20_000 });
        const text = await banner.innerText();
        assert(text.includes('xy'), `banner does not name the source: ${text}`);
        assert(text.includes('XY_SESSION_COOKIE_VALUE') && text.includes('share-session'), `banner does not say how to renew: ${text}`);
        assert(!text.includes('e2e-not-a-real-cookie'), 'the cookie value is on screen');
      });

      await check('the overview fits a phone screen', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      await shot('overview-phone');
      await page.setViewportSize({ width: 1440, height: 960 });
      assert(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    });

    await check('theme switch', async () => {
        await page.click('[data-testid=theme]');
        assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'not dark');
        await shot('overview-dark');
        await page.click('[data-testid=theme]');
        assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'light', 'not light again');
      });

      await check('language switch', async () => {
        await page.selectOption('[data-testid=language]', 'zh-CN');
        await waitFor('Chinese navigation', async () => (await page.locator('[data-testid=nav-overview]').innerText()) === '概览', 5000);
        assert((await page.evaluate(() => document.documentElement.lang)) === 'zh-CN', 'html lang not zh-CN');
        const banner = await page.locator('[data-testid=session-banner]').innerText();
        assert(banner.includes('会话已过期'), `banner not translated: ${banner}`);
        await shot('overview-zh-CN');
        await page.selectOption('[data-testid=language]', 'en');
        await waitFor('English navigation', async () => (await page.locator('[data-testid=nav-overview]').innerText()) === 'Overview', 5000);
      });

      await check('a Chinese browser gets the Chinese dashboard', async () => {
      const zh = await launch(join(work, 'profile-zh'), { width: 1280, height: 800 }, 'zh-CN');
      try {
        const p = await zh.newPage();
        await p.goto(base);
        await p.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
        const nav = await p.locator('[data-testid=nav-invocations]').innerText();
        assert(nav === '调用记录', `navigation reads "${nav}"`);
      } finally {
        await zh.close();
      }
    });

    await check('stats page draws its charts', async () => {
        await page.click('[data-testid=nav-stats]');
        await page.waitForSelector('.stats .echart canvas', { timeout: 15_000 });
        await page.waitForSelector('[data-testid=models] table', { timeout: 15_000 });
        await page.selectOption('[data-testid=range]', '1h');
        await waitFor('range in the URL', async () => page.url().includes('range=1h'), 5000);
        await page.waitForSelector('[data-testid=ratio]', { timeout: 15_000 });
      });
      await shot('stats');

      await check('a list filter narrows the rows', async () => {
        await page.click('[data-testid=nav-invocations]');
        await page.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
        const before = await page.locator('[data-testid=invocation-row]').count();
        await page.selectOption('[data-testid=filter-status]', 'failure');
        await page.click('[data-testid=filter-apply]');
        await waitFor('status=failure in the URL', async () => page.url().includes('status=failure'), 5000);
        const statuses = await waitFor(
          'only failed rows',
          async () => {
            const list = await page.locator('[data-testid=invocation-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')));
            const empty = await page.locator('[data-testid=no-rows]').count();
            return (list.length > 0 && list.every((s) => s !== 'success')) || (list.length === 0 && empty > 0) ? list : null;
          },
          10_000,
          200,
        );
        assert(statuses.length < before, `filter did not narrow: ${before} -> ${statuses.length}`);
        if (statuses.length) {
          await page.locator('[data-testid=invocation-row]').first().click();
          await page.waitForSelector('[data-testid=invocation-details]', { timeout: 5000 });
        }
        return `${before} rows -> ${statuses.length} failed rows`;
      });
      await shot('invocations-failures');

      await check('CSV export follows the filter', async () => {
        const shown = await page.locator('[data-testid=invocation-row]').count();
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('[data-testid=export]')]);
        const file = await download.path();
        const text = readFileSync(file, 'utf8').replace(/^\ufeff/, '');
        const lines = text.split('\r\n').filter((l) => l);
        const header = lines[0].split(',');
        const statusAt = header.indexOf('status');
        assert(statusAt > 0 && header.includes('costUsd'), `unexpected header ${lines[0]}`);
        const rows = lines.slice(1);
        // The list may have grown by live rows since; the export re-reads the filter from the server.
        assert(rows.length >= shown, `${rows.length} CSV rows, ${shown} on screen`);
        assert(rows.every((r) => !/,success,/.test(r)), 'a success row in the failure export');
        return `${rows.length} rows`;
      });

      await check('the text search asks the server', async () => {
        await page.selectOption('[data-testid=filter-status]', '');
        await page.fill('[data-testid=filter-q]', 'no-such-invocation-e2e');
        await page.click('[data-testid=filter-apply]');
        await page.waitForSelector('[data-testid=no-rows]', { timeout: 10_000 });
        await page.fill('[data-testid=filter-q]', '');
        await page.click('[data-testid=filter-apply]');
        await page.waitForSelector('[data-testid=invocation-row]', { timeout: 10_000 });
      });
      await shot('invocations');

      await check('sources page shows states and the ledger timeline', async () => {
        await page.click('[data-testid=nav-sources]');
        await page.waitForSelector('[data-testid=source-row][data-name=xy][data-auth=expired]', { timeout: 15_000 });
        await page.waitForSelector('[data-testid=source-row][data-name=demo]', { timeout: 5000 });
        await page.waitForSelector('[data-testid=timeline][data-source=demo] .cell-ok', { timeout: 15_000 });
        await page.waitForSelector('[data-testid=timeline][data-source=xy] .cell-failed', { timeout: 15_000 });
      });
      await shot('sources');

      await check('alerts: the header badge counts the open auth alert and the list shows it', async () => {
        await page.click('[data-testid=nav-overview]');
        const api = await waitFor('an open auth alert', async () => {
          const a = await getJson(base, 'api/alerts');
          return a.open.some((x) => x.rule === 'auth' && x.source === 'xy') ? a : null;
        }, 20_000, 250);
        await waitFor('the badge count', async () => Number(await page.locator('[data-testid=alerts-count]').innerText()) === api.open.length, 10_000);
        await page.click('[data-testid=alerts-badge]');
        await page.waitForSelector('[data-testid=alert-item][data-rule=auth][data-state=firing]', { timeout: 5000 });
        const text = await page.locator('[data-testid=alerts-panel]').innerText();
        assert(text.includes('Session expired') && text.includes('xy'), `alert list: ${text}`);
        await shot('alerts-panel');
        await page.click('[data-testid=alerts-badge]');
        return `${api.open.length} open: ${api.open.map((a) => a.rule).join(', ')}`;
      });

      await check('one banner message per expired session', async () => {
        const banner = page.locator('[data-testid=session-banner]');
        const lines = await banner.locator('p').count();
        const text = await banner.innerText();
        assert(lines === 1, `${lines} paragraphs in the banner: ${text}`);
        assert(text.includes('xy') && text.includes('XY_SESSION_COOKIE_VALUE') && text.includes('gatherd reload'), text);
        assert(!/To renew it/.test(text), `the instruction is repeated: ${text}`);
      });

      await check('the plan card shows the forecast and no "0 ms" reset', async () => {
        const forecast = await waitFor('a forecast line', async () => {
          const line = page.locator('[data-testid=plan-card]:has-text("demo") [data-testid=plan-forecast]');
          return (await line.count()) ? line.innerText() : null;
        }, 90_000, 500);
        assert(/At this rate the quota lasts/.test(forecast), forecast);
        const reset = await page.locator('[data-testid=plan-reset]').first().innerText();
        assert(!/^0\s*ms$/.test(reset.trim()), `reset shows ${reset}`);
        return forecast;
      });

      await check('invocation lists stay newest first under bursts of live rows', async () => {
        const order = async () => page.locator('[data-testid=invocation-row]').evaluateAll((rows) => rows.map((r) => r.dataset.time));
        const sorted = (times) => times.every((t, i) => i === 0 || Date.parse(times[i - 1]) >= Date.parse(t));
        let samples = 0;
        for (const view of ['nav-overview', 'nav-invocations']) {
          await page.click(`[data-testid=${view}]`);
          await page.waitForSelector('[data-testid=invocation-row]', { timeout: 10_000 });
          const first = (await order())[0];
          const until = Date.now() + 6000;
          while (Date.now() < until) {
            const times = await order();
            assert(sorted(times), `${view}: not newest first: ${times.slice(0, 8).join(', ')}`);
            samples += 1;
            await page.waitForTimeout(150);
          }
          assert((await order())[0] !== first, `${view}: no live rows arrived`);
        }
        return `${samples} samples in order`;
      });

      await check('browser notifications: opt in, grant, a new alert notifies', async () => {
        await context.grantPermissions(['notifications'], { origin: new URL(base).origin });
        await page.addInitScript(() => {
          const Real = window.Notification;
          window.__notes = [];
          class Recorded extends Real {
            constructor(title, options) {
              super(title, options);
              window.__notes.push({ title, body: options?.body ?? '' });
            }
          }
          Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
          Recorded.requestPermission = (...args) => Real.requestPermission(...args);
          window.Notification = Recorded;
        });
        await page.goto(base);
        await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
        await page.click('[data-testid=alerts-badge]');
        const toggle = page.locator('[data-testid=notify-toggle]');
        assert((await toggle.getAttribute('data-enabled')) === 'false', 'notifications on before opting in');
        await toggle.click();
        await waitFor('notifications on', async () => (await toggle.getAttribute('data-enabled')) === 'true', 5000);
        assert((await page.evaluate(() => Notification.permission)) === 'granted', 'permission not granted');
        assert((await page.evaluate(() => localStorage.getItem('gatherd.notifications'))) === 'on', 'choice not remembered');
        // A new alert while the tab is open: a source without a cookie, added by a reload.
        const ini = join(work, 'gatherd.ini');
        const before = readFileSync(ini, 'utf8');
        writeFileSync(ini, `${before}\n[source.nocookie]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:9\ncookie =\n`);
        gatherd.child.kill('SIGHUP');
        const note = await waitFor('a notification', async () => {
          const notes = await page.evaluate(() => window.__notes);
          return notes.find((n) => n.title.includes('nocookie'));
        }, 30_000, 250);
        writeFileSync(ini, before);
        gatherd.child.kill('SIGHUP');
        await page.click('[data-testid=alerts-badge]');
        return `${note.title}: ${note.body}`;
      });

      await check('no console errors', async () => {
        assert(consoleErrors.length === 0, consoleErrors.join('\n'));
      });

      await context.close();
      context = null;
      await stopProcess(gatherd);
      await stopProcess(fake);
      assert(!gatherd.output.includes('e2e-not-a-real-cookie'), 'the cookie value appeared in the gatherd log');
    }

    if (runs('token')) await tokenRun(work);
    if (runs('resume')) await resumeRun(work);

    const perfRows = Number(env.E2E_PERF_INVOCATIONS ?? 0);
    if (perfRows > 0 && runs('perf')) await perfRun(work, perfRows);
  } finally {
    if (context) await context.close().catch(() => {});
    for (const c of children) await stopProcess(c);
    if (!env.E2E_KEEP) rmSync(work, { recursive: true, force: true });
  }
}

/** With `[http] token` set: the dashboard asks for the token, logs in, and then shows live data. */
async function tokenRun(work) {
  const dir = join(work, 'token');
  mkdirSync(dir, { recursive: true });
  const token = 'e2e-token-not-a-secret';
  const { proc, base } = await startGatherd(dir, { dbPath: join(dir, 'gatherd.db'), callsPerMinute: 60, token });
  let context;
  try {
    const errors = [];
    context = await launch(join(dir, 'profile'));
    page = await context.newPage();
    page.on('weberror', (e) => errors.push(e.error().message));
    await check('a token-protected gatherd asks for the token, then shows live data', async () => {
      const res = await fetch(new URL('api/sources', base));
      assert(res.status === 401, `api/sources without a token answered ${res.status}`);
      await page.goto(base);
      await page.waitForSelector('[data-testid=login]', { timeout: 10_000 });
      await shot('login');
      await page.fill('[data-testid=login] input[type=password]', 'wrong-token');
      await page.click('[data-testid=login] button[type=submit]');
      await page.waitForSelector('[data-testid=login] .error', { timeout: 5000 });
      await page.fill('[data-testid=login] input[type=password]', token);
      await page.click('[data-testid=login] button[type=submit]');
      await page.waitForSelector('[data-testid=login]', { state: 'detached', timeout: 10_000 });
      await page.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
      await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
      const firstId = await page.locator('[data-testid=invocation-row]').first().getAttribute('data-id');
      await waitFor(
        'a live row after login',
        async () => (await page.locator('[data-testid=invocation-row]').first().getAttribute('data-id')) !== firstId,
        20_000,
        200,
      );
      assert(errors.length === 0, errors.join('\n'));
    });
  } finally {
    if (context) await context.close().catch(() => {});
    await stopProcess(proc);
  }
  assert(!proc.output.includes(token), 'the API token appeared in the gatherd log');
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * gatherd restarts under an open dashboard: the browser reconnects by itself with Last-Event-ID,
 * and the invocations stored while it was away arrive through the replay, leaving no hole.
 */
async function resumeRun(work) {
  const dir = join(work, 'resume');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const options = { dbPath: join(dir, 'gatherd.db'), callsPerMinute: 60, port };
  let first = await startGatherd(dir, options);
  let context;
  let second;
  try {
    context = await launch(join(dir, 'profile'));
    page = await context.newPage();
    const streams = [];
    page.on('request', async (req) => {
      if (new URL(req.url()).pathname !== '/events') return;
      const headers = await req.allHeaders().catch(() => ({}));
      streams.push(`${req.url()} Last-Event-ID=${headers['last-event-id'] ?? '-'}`);
    });
    page.on('response', (res) => {
      if (new URL(res.url()).pathname === '/events') streams.push(`  -> ${res.status()}`);
    });
    await check('after a gatherd restart the stream resumes and replays what was missed', async () => {
      // The list page keeps every live row on its first page (the overview shows only 15).
      await page.goto(`${first.base}#/invocations`);
      await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
      await page.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
      const idsOnPage = () => page.locator('[data-testid=invocation-row]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.id)));
      // Only a browser that has seen an event id can resume: wait for a live row first.
      const loadedTop = Math.max(...(await idsOnPage()));
      await waitFor('a live row before the restart', async () => Math.max(...(await idsOnPage())) > loadedTop, 20_000, 200);
      await stopProcess(first.proc);
      await page.waitForSelector('[data-testid=connection]:not([data-state=open])', { timeout: 10_000 });
      const lastSeen = Math.max(...(await idsOnPage()));
      second = await startGatherd(dir, options);
      // Wait for the browser's own reconnect (retry: 3000), then see what had been stored before it.
      await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 20_000 });
      const stored = (await getJson(second.base, 'api/invocations?limit=50')).items.map((i) => Number(i.id));
      const missedWhileAway = stored.filter((id) => id > lastSeen);
      assert(missedWhileAway.length > 0, 'nothing was stored while the browser was away; the check proves nothing');
      await waitFor(
        'the invocations stored while away on the page',
        async () => {
          const shown = new Set(await idsOnPage());
          return missedWhileAway.every((id) => shown.has(id));
        },
        10_000,
        200,
      ).catch((e) => {
        throw new Error(`${e.message}; last seen ${lastSeen}, stored while away ${missedWhileAway.join(',')}; streams:\n${streams.join('\n')}`);
      });
      // No hole between the oldest and the newest row on the page.
      const shown = await idsOnPage();
      const lo = Math.min(...shown);
      const hi = Math.max(...shown);
      const expected = (await getJson(second.base, 'api/invocations?limit=100')).items.map((i) => Number(i.id)).filter((id) => id >= lo && id <= hi);
      const missing = expected.filter((id) => !shown.includes(id));
      assert(missing.length === 0, `rows missing after the resume: ${missing.join(', ')}; last seen ${lastSeen}; streams:\n${streams.join('\n')}`);
      return `${missedWhileAway.length} invocations stored while away arrived on reconnect`;
    });
  } finally {
    if (context) await context.close().catch(() => {});
    await stopProcess(first.proc);
    if (second) await stopProcess(second.proc);
  }
}

/** A database of `rows` invocations in the seed tool's format (gatherd migrates it on start). */
function makeSeedDatabase(file, rows) {
  const nowS = Math.floor(Date.now() / 1000);
  const sql = `
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE IF NOT EXISTS codex_invocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoke_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    payload JSON,
    raw_response JSON,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE(invoke_id, occurred_at)
);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
INSERT INTO codex_invocations (invoke_id, occurred_at, payload)
SELECT printf('perf-%08d', i),
       strftime('%Y-%m-%dT%H:%M:%SZ', ${nowS} - 60 - i * 15, 'unixepoch'),
       json_object('requestId', printf('perf-%08d', i),
                   'model', CASE i % 3 WHEN 0 THEN 'gpt-5.3-codex' WHEN 1 THEN 'gpt-5.2-codex' ELSE 'gpt-5-codex-mini' END,
                   'status', CASE WHEN i % 29 = 0 THEN 'failed' ELSE 'success' END,
                   'errorMessage', CASE WHEN i % 29 = 0 THEN 'HTTP 502 upstream error' ELSE NULL END,
                   'inputTokens', 40000 + i % 9000, 'outputTokens', 1200 + i % 800,
                   'cacheInputTokens', 30000 + i % 5000, 'reasoningTokens', 300 + i % 200,
                   'totalTokens', 41200 + i % 9800, 'cost', 0.01 + (i % 100) / 10000.0,
                   'responseTime', 2000 + i % 9000, 'firstByteTime', 400 + i % 1500)
FROM n;
COMMIT;
`;
  const r = spawnSync('sqlite3', [file], { input: sql, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr || r.error}`);
}

async function perfRun(work, rows) {
  const dir = join(work, 'perf');
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'gatherd.db');
  let t0 = Date.now();
  makeSeedDatabase(db, rows);
  console.log(`perf: made a seed database of ${rows} invocations in ${Date.now() - t0} ms (${(statSync(db).size / 1e6).toFixed(0)} MB)`);
  t0 = Date.now();
  const { proc, base } = await startGatherd(dir, { dbPath: db, callsPerMinute: 30, legacySource: 'demo', startTimeoutMs: 600_000 });
  console.log(`perf: gatherd migrated it and listens after ${Date.now() - t0} ms`);
  let context;
  try {
    const samples = [];
    for (let i = 0; i < 3; i++) {
      // A new profile each time: nothing cached, like a first visit.
      context = await launch(join(dir, `profile-${i}`));
      const m = await measureFirstLoad(context, base);
      samples.push(m);
      console.log(`perf: load ${i + 1}: first data at ${m.firstDataMs?.toFixed(0)} ms\n  ${m.timeline.join('\n  ')}`);
      if (i === 0) {
        page = m.page;
        await shot('overview-1M');
      }
      await context.close();
      context = null;
    }
    const times = samples.map((s) => s.firstDataMs ?? Infinity);
    console.log(`perf: navigation -> first data on screen: ${times.map((t) => t.toFixed(0)).join(', ')} ms (budget ${kBudgetFirstDataMs})`);
    const best = Math.min(...times);
    const median = [...times].sort((a, b) => a - b)[1];
    await check(`first data within ${kBudgetFirstDataMs} ms with ${rows} invocations`, async () => {
      assert(median <= kBudgetFirstDataMs, `median ${median.toFixed(0)} ms`);
      return `median ${median.toFixed(0)} ms, best ${best.toFixed(0)} ms`;
    });
  } finally {
    if (context) await context.close().catch(() => {});
    await stopProcess(proc);
  }
}

main()
  .catch((e) => {
    results.push({ name: 'setup', ok: false });
    console.log(`FAIL setup: ${e instanceof Error ? e.stack : e}`);
    for (const c of children) if (c.output) console.log(`--- ${c.name} output (tail) ---\n${c.output.slice(-4000)}`);
  })
  .finally(() => {
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    const shots = existsSync(paths.screenshots) ? readdirSync(paths.screenshots).filter((f) => f.endsWith('.png')).length : 0;
    console.log(`screenshots: ${paths.screenshots} (${shots} files)`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
