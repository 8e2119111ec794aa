// The stats page: its charts, the range in the URL, the success/failure split.

import { join } from 'node:path';
import { test } from '@playwright/test';
import { assert, browserSession, mainGatherd, openOverview, shot, waitFor } from './support.mjs';

let main;
test.beforeAll(() => {
  main = mainGatherd();
});
const session = browserSession(() => join(main.dir, 'profile-stats'));
test.beforeAll(async () => {
  await openOverview(session, main.base);
});

test('stats page draws its charts', async () => {
  const { page } = session;
  await page.click('[data-testid=nav-stats]');
  await page.waitForSelector('.stats .echart canvas', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=models] table', { timeout: 15_000 });
  await page.selectOption('[data-testid=range]', '1h');
  await waitFor('range in the URL', async () => page.url().includes('range=1h'), 5000);
  await page.waitForSelector('[data-testid=ratio]', { timeout: 15_000 });
  await shot(page, 'stats');
});

test('no console errors on the stats page', async () => {
  assert(session.consoleErrors.length === 0, session.consoleErrors.join('\n'));
});
