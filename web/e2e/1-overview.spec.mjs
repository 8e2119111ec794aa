// The overview: first load and its budget, live rows without reload and without a refetch per
// event, the expired-session banner, the phone layout, theme and language.

import { join } from 'node:path';
import { test } from '@playwright/test';
import { assert, kBudgetJsGzipBytes, launch, mainSession, measureFirstLoad, note, shot, testNoConsoleErrors, topRowId, waitFor, waitForNewTopRow } from './support.mjs';

const session = mainSession('overview', { open: false });
const main = session.main;
let firstLoad;

test('overview loads and shows data', async () => {
  firstLoad = await measureFirstLoad(session.context, main.base);
  const page = (session.page = firstLoad.page);
  const rows = await page.locator('[data-testid=invocation-row]').count();
  assert(rows > 0, 'no invocation rows');
  const calls = await page.locator('[data-testid=card-calls] .stat-value').innerText();
  assert(/^\d[\d,]*$/.test(calls) && calls !== '0', `24h calls card shows "${calls}"`);
  await page.waitForSelector('[data-testid=plan-card]', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=heatmap]', { timeout: 15_000 });
  note(`${rows} rows, first data at ${firstLoad.firstDataMs?.toFixed(0)} ms, JS ${(firstLoad.gzip / 1024).toFixed(1)} KB gzip in ${firstLoad.files} files`);
  await shot(page, 'overview-light');
});

test('first-load JavaScript within budget', async () => {
  assert(firstLoad, 'no first load measured');
  assert(firstLoad.gzip <= kBudgetJsGzipBytes, `${(firstLoad.gzip / 1024).toFixed(1)} KB gzip > 250 KB`);
  note(`${(firstLoad.gzip / 1024).toFixed(1)} KB gzip (${(firstLoad.raw / 1024).toFixed(1)} KB raw)`);
});

test('live connection is up', async () => {
  await session.page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 10_000 });
});

test('a new invocation appears without reload', async () => {
  const { page } = session;
  await page.evaluate(() => (window.__e2eNoReload = true));
  const firstId = await topRowId(page);
  await waitForNewTopRow(page, firstId, 'a new top row');
  assert(await page.evaluate(() => window.__e2eNoReload === true), 'the page was reloaded');
  const newId = await topRowId(page);
  note(`top row ${firstId} -> ${newId}`);
});

test('live events do not cause a refetch per event', async () => {
  const { page } = session;
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
  note(`${arrived.size} live invocations, ${apiRequests.length} API requests in 10 s`);
});

test('expired session shows the banner', async () => {
  const banner = session.page.locator('[data-testid=session-banner]');
  await banner.waitFor({ timeout: 20_000 });
  const text = await banner.innerText();
  assert(text.includes('xy'), `banner does not name the source: ${text}`);
  assert(text.includes('XY_SESSION_COOKIE_VALUE') && text.includes('share-session'), `banner does not say how to renew: ${text}`);
  assert(!text.includes('e2e-not-a-real-cookie'), 'the cookie value is on screen');
});

test('the overview fits a phone screen', async () => {
  const { page } = session;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await shot(page, 'overview-phone');
  await page.setViewportSize({ width: 1440, height: 960 });
  assert(overflow <= 0, `the page is ${overflow} px wider than the screen`);
});

test('theme switch', async () => {
  const { page } = session;
  await page.click('[data-testid=theme]');
  assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'not dark');
  await shot(page, 'overview-dark');
  await page.click('[data-testid=theme]');
  assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'light', 'not light again');
});

test('language switch', async () => {
  const { page } = session;
  await page.selectOption('[data-testid=language]', 'zh-CN');
  await waitFor('Chinese navigation', async () => (await page.locator('[data-testid=nav-overview]').innerText()) === '概览', 5000);
  assert((await page.evaluate(() => document.documentElement.lang)) === 'zh-CN', 'html lang not zh-CN');
  const banner = await page.locator('[data-testid=session-banner]').innerText();
  assert(banner.includes('会话已过期'), `banner not translated: ${banner}`);
  await shot(page, 'overview-zh-CN');
  await page.selectOption('[data-testid=language]', 'en');
  await waitFor('English navigation', async () => (await page.locator('[data-testid=nav-overview]').innerText()) === 'Overview', 5000);
});

test('a Chinese browser gets the Chinese dashboard', async () => {
  const zh = await launch(join(main.dir, 'profile-zh'), { width: 1280, height: 800 }, 'zh-CN');
  try {
    const p = await zh.newPage();
    await p.goto(main.base);
    await p.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
    const nav = await p.locator('[data-testid=nav-invocations]').innerText();
    assert(nav === '调用记录', `navigation reads "${nav}"`);
  } finally {
    await zh.close();
  }
});

testNoConsoleErrors(session, 'the overview');
