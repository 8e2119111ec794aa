// The invocation list: the status filter, the CSV export of the filter, the server-side text
// search, and both lists staying newest first while live rows arrive in bursts.

import { readFileSync } from 'node:fs';
import { test } from '@playwright/test';
import { assert, mainSession, note, shot, testNoConsoleErrors, waitFor } from './support.mjs';

const session = mainSession('invocations');

test('a list filter narrows the rows', async () => {
  const { page } = session;
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
  note(`${before} rows -> ${statuses.length} failed rows`);
  await shot(page, 'invocations-failures');
});

test('CSV export follows the filter', async () => {
  const { page } = session;
  // A call still running when counted may finish as a success before the export reads the
  // server (it then leaves both lists): only the rows that are final must be in the file.
  const shown = await page
    .locator('[data-testid=invocation-row]')
    .evaluateAll((rows) => rows.filter((r) => r.getAttribute('data-status') !== 'running').length);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('[data-testid=export]')]);
  const file = await download.path();
  const text = readFileSync(file, 'utf8').replace(/^\ufeff/, '');
  const lines = text.split('\r\n').filter((l) => l);
  const header = lines[0].split(',');
  const statusAt = header.indexOf('status');
  assert(statusAt > 0 && header.includes('costUsd'), `unexpected header ${lines[0]}`);
  const rows = lines.slice(1);
  // The list may have grown by live rows since; the export re-reads the filter from the server.
  assert(rows.length >= shown, `${rows.length} CSV rows, ${shown} final rows on screen`);
  assert(rows.every((r) => !/,success,/.test(r)), 'a success row in the failure export');
  note(`${rows.length} rows`);
});

test('the text search asks the server', async () => {
  const { page } = session;
  await page.selectOption('[data-testid=filter-status]', '');
  await page.fill('[data-testid=filter-q]', 'no-such-invocation-e2e');
  await page.click('[data-testid=filter-apply]');
  await page.waitForSelector('[data-testid=no-rows]', { timeout: 10_000 });
  await page.fill('[data-testid=filter-q]', '');
  await page.click('[data-testid=filter-apply]');
  await page.waitForSelector('[data-testid=invocation-row]', { timeout: 10_000 });
  await shot(page, 'invocations');
});

test('invocation lists stay newest first under bursts of live rows', async () => {
  const { page } = session;
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
  note(`${samples} samples in order`);
});

testNoConsoleErrors(session, 'the invocation list');
