import { describe, expect, it } from 'vitest';
import type { Invocation, LedgerWindow } from '../src/api/types';
import { csvCell, csvHeader, csvRow } from '../src/format/csv';
import { apiParams, applyLiveUpdate, filterFromQuery, filterToQuery, liveMatch } from '../src/views/filters';
import { buildTimeline } from '../src/views/timeline';
import { pickLocale } from '../src/i18n';
import { barLevel, planFigures, planUnit } from '../src/components/plan';

function inv(over: Partial<Invocation> = {}): Invocation {
  return {
    id: 1,
    source: 'main',
    requestId: 'req-1',
    occurredAt: '2026-02-25T02:09:41Z',
    requestTime: '2026-02-25 10:09:41',
    model: 'gpt-5.3-codex',
    status: 'success',
    errorMessage: null,
    inputTokens: 100,
    outputTokens: 20,
    cacheInputTokens: 0,
    reasoningTokens: 5,
    totalTokens: 120,
    costUsd: 0.0153,
    responseTimeMs: 1200,
    firstByteTimeMs: null,
    serviceTier: null,
    createdAt: '2026-02-25T02:09:50Z',
    updatedAt: '2026-02-25T02:09:50Z',
    ...over,
  };
}

describe('invocation filter', () => {
  it('round-trips through the URL and drops unknown status values', () => {
    const f = filterFromQuery({ source: 'main', status: 'bogus', q: 'timeout', extra: 'x' });
    expect(f).toEqual({ source: 'main', model: '', status: '', from: '', to: '', q: 'timeout' });
    expect(filterToQuery(f)).toEqual({ source: 'main', q: 'timeout' });
  });
  it('sends from/to as UTC ms read in the user zone', () => {
    const f = filterFromQuery({ from: '2026-02-25T10:00', status: 'failure', q: '  x ' });
    expect(apiParams(f, 'Asia/Shanghai')).toEqual({ from: Date.parse('2026-02-25T02:00:00Z'), status: 'failure', q: 'x' });
  });
  it('judges live invocations against the filter', () => {
    const tz = 'UTC';
    expect(liveMatch(inv(), filterFromQuery({}), tz)).toBe(true);
    expect(liveMatch(inv(), filterFromQuery({ source: 'other' }), tz)).toBe(false);
    expect(liveMatch(inv(), filterFromQuery({ model: 'gpt-5' }), tz)).toBe(false);
    expect(liveMatch(inv({ status: 'failed' }), filterFromQuery({ status: 'success' }), tz)).toBe(false);
    expect(liveMatch(inv({ status: 'running' }), filterFromQuery({ status: 'failure' }), tz)).toBe(true);
    expect(liveMatch(inv({ status: 'SUCCESS' }), filterFromQuery({ status: 'failure' }), tz)).toBe(false);
    expect(liveMatch(inv(), filterFromQuery({ to: '2026-02-25T02:00' }), tz)).toBe(false);
    expect(liveMatch(inv(), filterFromQuery({ q: 'x' }), tz)).toBeNull();
  });

  it('keeps an updated row while it matches and drops it when it no longer does', () => {
    const tz = 'UTC';
    const failures = filterFromQuery({ status: 'failure' });
    const rows = [inv({ id: 1, status: 'running' }), inv({ id: 2, status: 'failed' })];
    const still = applyLiveUpdate(rows, inv({ id: 1, status: 'failed' }), failures, tz);
    expect(still.rows.map((r) => [r.id, r.status])).toEqual([[1, 'failed'], [2, 'failed']]);
    expect(still.refetch).toBe(false);
    // The running call finished well: it is no failure any more.
    const gone = applyLiveUpdate(rows, inv({ id: 1, status: 'success' }), failures, tz);
    expect(gone.rows.map((r) => r.id)).toEqual([2]);
    expect(rows).toHaveLength(2); // the input is not changed in place
    // A row that is not on the list changes nothing; free text is the server's to judge.
    expect(applyLiveUpdate(rows, inv({ id: 9 }), failures, tz).rows).toBe(rows);
    const text = applyLiveUpdate(rows, inv({ id: 2 }), filterFromQuery({ q: 'x' }), tz);
    expect(text.refetch).toBe(true);
    expect(text.rows).toHaveLength(2);
  });
});

describe('csv', () => {
  it('quotes what needs quoting and defuses formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"\nbye')).toBe('"say ""hi""\nbye"');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('-1+2')).toBe("'-1+2");
    expect(csvCell(-0.5)).toBe('-0.5');
    expect(csvCell(null)).toBe('');
  });
  it('writes one line per invocation with the local time', () => {
    const header = csvHeader();
    const line = csvRow(inv({ errorMessage: '{"error":"rate, limited"}', status: 'failed' }), 'Asia/Shanghai');
    expect(header.split(',')).toHaveLength(17);
    expect(line.endsWith('\r\n')).toBe(true);
    expect(line).toContain('2026-02-25T02:09:41Z,2026-02-25 10:09:41,main,req-1,');
    expect(line).toContain(',0.0153,1200,,,');
    expect(line).toContain('"{""error"":""rate, limited""}"');
  });
});

function win(atMs: number, over: Partial<LedgerWindow> = {}): LedgerWindow {
  return {
    id: atMs,
    source: 'main',
    window: new Date(atMs).toISOString(),
    windowMs: atMs,
    startedAt: null,
    finishedAt: null,
    outcome: 'ok',
    message: null,
    httpStatus: 200,
    recordsSeen: 20,
    recordsEmitted: 1,
    recordsRejected: 0,
    gapSuspected: false,
    gapFrom: null,
    gapTo: null,
    authState: 'ok',
    clockJump: false,
    ...over,
  };
}

describe('window timeline', () => {
  it('shows the worst outcome per cell and holes as none', () => {
    const from = 0;
    const to = 60_000;
    const windows = [
      win(0),
      win(10_000, { outcome: 'skipped' }),
      win(20_000),
      win(30_000, { outcome: 'auth_error' }),
      win(31_000, { gapSuspected: true }),
      win(45_000, { gapSuspected: true }),
      win(70_000, { outcome: 'timeout' }),
    ];
    const cells = buildTimeline(windows, from, to, 4);
    expect(cells.map((c) => c.kind)).toEqual(['skipped', 'ok', 'failed', 'gap']);
    expect(cells[2]).toMatchObject({ failed: 1, ok: 1, gaps: 1 });
    expect(buildTimeline([], from, to, 3).map((c) => c.kind)).toEqual(['none', 'none', 'none']);
  });
  it('does not call the part it did not read a hole', () => {
    const cells = buildTimeline([win(50_000)], 0, 60_000, 6, 40_000);
    expect(cells.map((c) => c.kind)).toEqual(['unloaded', 'unloaded', 'unloaded', 'unloaded', 'none', 'ok']);
  });
});

describe('language choice', () => {
  it('follows the browser unless the user chose', () => {
    expect(pickLocale(['zh-TW', 'en'], null)).toBe('zh-CN');
    expect(pickLocale(['fr-FR', 'en-GB'], null)).toBe('en');
    expect(pickLocale(['de'], null)).toBe('en');
    expect(pickLocale(['zh-CN'], 'en')).toBe('en');
  });
});

describe('plan card figures', () => {
  const base = { source: 'main', time: '2026-02-25T02:09:41Z' };
  it('shows an amount plan in dollars', () => {
    const f = planFigures({ ...base, billingType: 'amount', amountLimitUsd: 90, amountUsedUsd: 61.37, amountRemainingUsd: 28.63 }, 'en', 'calls');
    expect(f).toEqual({ unit: 'usd', used: '$61.37', remaining: '$28.63', limit: '$90.00', ratio: 61.37 / 90 });
  });
  it('shows a count plan in calls and never its dollars', () => {
    const f = planFigures(
      { ...base, billingType: 'count', countLimit: 1000, countUsed: 250, amountUsedUsd: 12.5, usage24hCostUsd: 3 },
      'en',
      'calls',
    );
    expect(f).toEqual({ unit: 'count', used: '250 calls', remaining: '750 calls', limit: '1,000 calls', ratio: 0.25 });
  });
  it('infers the unit from the fields when billingType is missing', () => {
    expect(planUnit({ ...base, countLimit: 10 })).toBe('count');
    expect(planUnit({ ...base, amountUsedUsd: 1 })).toBe('usd');
    expect(planFigures({ ...base }, 'en', 'calls')).toBeNull();
  });
  it('warns as the plan fills up', () => {
    expect(barLevel(0.5)).toBe('ok');
    expect(barLevel(0.8)).toBe('warning');
    expect(barLevel(0.95)).toBe('danger');
    expect(barLevel(null)).toBe('ok');
  });
});
