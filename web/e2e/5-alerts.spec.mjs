// Alerts: the header badge and list, one banner line per expired session, the plan card's
// forecast, and browser notifications for an alert that fires while the tab is open.

import { readFileSync, writeFileSync } from 'node:fs';
import { test } from '@playwright/test';
import { assert, getJson, mainSession, note, shot, testNoConsoleErrors, waitFor } from './support.mjs';

const session = mainSession('alerts');
const main = session.main;

test('alerts: the header badge counts the open auth alert and the list shows it', async () => {
  const { page } = session;
  await page.click('[data-testid=nav-overview]');
  const api = await waitFor('an open auth alert', async () => {
    const a = await getJson(main.base, 'api/alerts');
    return a.open.some((x) => x.rule === 'auth' && x.source === 'xy') ? a : null;
  }, 20_000, 250);
  await waitFor('the badge count', async () => Number(await page.locator('[data-testid=alerts-count]').innerText()) === api.open.length, 10_000);
  await page.click('[data-testid=alerts-badge]');
  await page.waitForSelector('[data-testid=alert-item][data-rule=auth][data-state=firing]', { timeout: 5000 });
  const text = await page.locator('[data-testid=alerts-panel]').innerText();
  assert(text.includes('Session expired') && text.includes('xy'), `alert list: ${text}`);
  await shot(page, 'alerts-panel');
  await page.click('[data-testid=alerts-badge]');
  note(`${api.open.length} open: ${api.open.map((a) => a.rule).join(', ')}`);
});

test('one banner message per expired session', async () => {
  const banner = session.page.locator('[data-testid=session-banner]');
  const lines = await banner.locator('p').count();
  const text = await banner.innerText();
  assert(lines === 1, `${lines} paragraphs in the banner: ${text}`);
  assert(text.includes('xy') && text.includes('XY_SESSION_COOKIE_VALUE') && text.includes('gatherd reload'), text);
  assert(!/To renew it/.test(text), `the instruction is repeated: ${text}`);
});

test('the plan card shows the forecast and no "0 ms" reset', async () => {
  const { page } = session;
  const forecast = await waitFor('a forecast line', async () => {
    const line = page.locator('[data-testid=plan-card]:has-text("demo") [data-testid=plan-forecast]');
    return (await line.count()) ? line.innerText() : null;
  }, 90_000, 500);
  assert(/At this rate the quota lasts/.test(forecast), forecast);
  const reset = await page.locator('[data-testid=plan-reset]').first().innerText();
  assert(!/^0\s*ms$/.test(reset.trim()), `reset shows ${reset}`);
  note(forecast);
});

test('browser notifications: opt in, grant, a new alert notifies', async () => {
  const { page, context } = session;
  await context.grantPermissions(['notifications'], { origin: new URL(main.base).origin });
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
  await page.goto(main.base);
  await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
  await page.click('[data-testid=alerts-badge]');
  const toggle = page.locator('[data-testid=notify-toggle]');
  assert((await toggle.getAttribute('data-enabled')) === 'false', 'notifications on before opting in');
  await toggle.click();
  await waitFor('notifications on', async () => (await toggle.getAttribute('data-enabled')) === 'true', 5000);
  assert((await page.evaluate(() => Notification.permission)) === 'granted', 'permission not granted');
  assert((await page.evaluate(() => localStorage.getItem('gatherd.notifications'))) === 'on', 'choice not remembered');
  // A new alert while the tab is open: a source without a cookie, added by a reload.
  const before = readFileSync(main.ini, 'utf8');
  writeFileSync(main.ini, `${before}\n[source.nocookie]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:9\ncookie =\n`);
  process.kill(main.pid, 'SIGHUP');
  try {
    const found = await waitFor('a notification', async () => {
      const notes = await page.evaluate(() => window.__notes);
      return notes.find((n) => n.title.includes('nocookie'));
    }, 30_000, 250);
    note(`${found.title}: ${found.body}`);
  } finally {
    writeFileSync(main.ini, before);
    process.kill(main.pid, 'SIGHUP');
  }
  await page.click('[data-testid=alerts-badge]');
});

testNoConsoleErrors(session, 'the alerts');
