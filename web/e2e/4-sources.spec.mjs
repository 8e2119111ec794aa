// The sources page: each source's state and session state, and the window ledger timeline.

import { join } from 'node:path';
import { test } from '@playwright/test';
import { assert, browserSession, mainGatherd, openOverview, shot } from './support.mjs';

let main;
test.beforeAll(() => {
  main = mainGatherd();
});
const session = browserSession(() => join(main.dir, 'profile-sources'));
test.beforeAll(async () => {
  await openOverview(session, main.base);
});

test('sources page shows states and the ledger timeline', async () => {
  const { page } = session;
  await page.click('[data-testid=nav-sources]');
  await page.waitForSelector('[data-testid=source-row][data-name=xy][data-auth=expired]', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=source-row][data-name=demo]', { timeout: 5000 });
  await page.waitForSelector('[data-testid=timeline][data-source=demo] .cell-ok', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=timeline][data-source=xy] .cell-failed', { timeout: 15_000 });
  await shot(page, 'sources');
});

test('no console errors on the sources page', async () => {
  assert(session.consoleErrors.length === 0, session.consoleErrors.join('\n'));
});
