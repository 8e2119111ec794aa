import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as routes from '../src/api/routes';

afterEach(() => {
  vi.unstubAllGlobals();
});

/** Stubs fetch with an empty answer; returns the URLs asked, in order. */
function recordFetches(): string[] {
  const urls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      urls.push(url);
      return new Response('{"items":[],"sources":[]}', { status: 200 });
    }),
  );
  window.__gatherdEarly = {};
  return urls;
}

describe('api routes', () => {
  it('each function asks its route with its parameters, in order, empty ones left out', async () => {
    const urls = recordFetches();
    await routes.getSources();
    await routes.getWindows({ source: 'demo', from: 5, limit: 1000, cursor: null });
    await routes.getInvocations({ source: 'demo', q: '', limit: 15, cursor: 'c1' });
    await routes.getSummary({ window: '1d' });
    await routes.getTimeseries({ range: '7d', bucket: '1h', tz: '+08:00' });
    await routes.getErrors({ range: '1d', limit: 20, tz: '+08:00' });
    await routes.getModels({ range: '30d' });
    await routes.getLatency({ range: '1h', tz: '+08:00' });
    await routes.getQuotaLatest();
    await routes.getAlerts({ limit: 50 });
    expect(urls).toEqual([
      'api/sources',
      'api/windows?source=demo&from=5&limit=1000',
      'api/invocations?source=demo&limit=15&cursor=c1',
      'api/stats/summary?window=1d',
      'api/stats/timeseries?range=7d&bucket=1h&tz=%2B08%3A00',
      'api/stats/errors?range=1d&limit=20&tz=%2B08%3A00',
      'api/stats/models?range=30d',
      'api/stats/latency?range=1h&tz=%2B08%3A00',
      'api/quota/latest',
      'api/alerts?limit=50',
    ]);
  });

  it("the overview's first requests are the URLs index.html starts early", async () => {
    const early = readFileSync(resolve(__dirname, '../public/early.js'), 'utf8');
    const started = /\[([^\]]*)\]\.forEach/.exec(early)![1].match(/'[^']+'/g)!.map((u) => u.slice(1, -1));
    const urls = recordFetches();
    await routes.getInvocations({ limit: 15 });
    await routes.getSummary({ window: '1d' });
    await routes.getQuotaLatest();
    await routes.getSources();
    expect(urls).toEqual(started);
  });
});
