// gatherd restarts under an open dashboard: the browser reconnects by itself with
// Last-Event-ID, and the invocations stored while it was away arrive through the replay, leaving
// no hole.

import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from '@playwright/test';
import { assert, browserSession, getJson, note, startGatherd, stopProcess, waitFor } from './support.mjs';

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

const dir = () => join(process.env.E2E_WORK, 'resume');
let options;
let first;
let second;
test.beforeAll(async () => {
  mkdirSync(dir(), { recursive: true });
  options = { dbPath: join(dir(), 'gatherd.db'), callsPerMinute: 60, port: await freePort() };
  first = await startGatherd(dir(), options);
});
test.afterAll(async () => {
  if (first) await stopProcess(first.proc);
  if (second) await stopProcess(second.proc);
});
const session = browserSession(() => join(dir(), 'profile'));

test('after a gatherd restart the stream resumes and replays what was missed', async () => {
  const page = (session.page = await session.context.newPage());
  const streams = [];
  page.on('request', async (req) => {
    if (new URL(req.url()).pathname !== '/events') return;
    const headers = await req.allHeaders().catch(() => ({}));
    streams.push(`${req.url()} Last-Event-ID=${headers['last-event-id'] ?? '-'}`);
  });
  page.on('response', (res) => {
    if (new URL(res.url()).pathname === '/events') streams.push(`  -> ${res.status()}`);
  });
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
  second = await startGatherd(dir(), options);
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
  note(`${missedWhileAway.length} invocations stored while away arrived on reconnect`);
});
