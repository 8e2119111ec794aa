// The sources page: each source's state and session state, and the window ledger timeline.

import { test } from '@playwright/test';
import { mainSession, shot, testNoConsoleErrors } from './support.mjs';

const session = mainSession('sources');

test('sources page shows states and the ledger timeline', async () => {
  const { page } = session;
  await page.click('[data-testid=nav-sources]');
  await page.waitForSelector('[data-testid=source-row][data-name=xy][data-auth=expired]', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=source-row][data-name=demo]', { timeout: 5000 });
  await page.waitForSelector('[data-testid=timeline][data-source=demo] .cell-ok', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=timeline][data-source=xy] .cell-failed', { timeout: 15_000 });
  await shot(page, 'sources');
});

testNoConsoleErrors(session, 'the sources page');
