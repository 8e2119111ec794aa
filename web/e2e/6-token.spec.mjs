// With `[http] token` set: the dashboard asks for the token, logs in, and then shows live data;
// the token never reaches gatherd's log.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '@playwright/test';
import { assert, browserSession, shot, startGatherd, stopProcess, topRowId, waitForNewTopRow } from './support.mjs';

const token = 'e2e-token-not-a-secret';
const dir = () => join(process.env.E2E_WORK, 'token');
let gatherd;
test.beforeAll(async () => {
  mkdirSync(dir(), { recursive: true });
  gatherd = await startGatherd(dir(), { dbPath: join(dir(), 'gatherd.db'), callsPerMinute: 60, token });
});
test.afterAll(async () => {
  if (gatherd) await stopProcess(gatherd.proc);
});
const session = browserSession(() => join(dir(), 'profile'));

test('a token-protected gatherd asks for the token, then shows live data', async () => {
  const page = (session.page = await session.context.newPage());
  const errors = [];
  page.on('weberror', (e) => errors.push(e.error().message));
  const res = await fetch(new URL('api/sources', gatherd.base));
  assert(res.status === 401, `api/sources without a token answered ${res.status}`);
  await page.goto(gatherd.base);
  await page.waitForSelector('[data-testid=login]', { timeout: 10_000 });
  await shot(page, 'login');
  await page.fill('[data-testid=login] input[type=password]', 'wrong-token');
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=login] .error', { timeout: 5000 });
  await page.fill('[data-testid=login] input[type=password]', token);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=login]', { state: 'detached', timeout: 10_000 });
  await page.waitForSelector('[data-testid=invocation-row]', { timeout: 15_000 });
  await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 15_000 });
  await waitForNewTopRow(page, await topRowId(page), 'a live row after login');
  assert(errors.length === 0, errors.join('\n'));
});

test('the API token stays out of the gatherd log', async () => {
  await stopProcess(gatherd.proc);
  assert(!gatherd.proc.output.includes(token), 'the API token appeared in the gatherd log');
});
