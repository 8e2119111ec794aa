// The stats page: its charts, the range in the URL, the success/failure split.

import { test } from '@playwright/test';
import { mainSession, shot, testNoConsoleErrors, waitFor } from './support.mjs';

const session = mainSession('stats');

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

testNoConsoleErrors(session, 'the stats page');
