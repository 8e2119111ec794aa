import { describe, expect, it } from 'vitest';
import type { Alert, Invocation } from '../src/api/types';
import { alertsState, applyAlertEvent, onAlertFired, openAuthAlerts } from '../src/live/alerts';
import { insertNewestFirst } from '../src/views/order';
import { countdown } from '../src/format/format';

function inv(id: number, occurredAt: string): Invocation {
  return {
    id,
    source: 'main',
    requestId: `req-${id}`,
    occurredAt,
    requestTime: null,
    model: 'gpt-5.3-codex',
    status: 'success',
    errorMessage: null,
    inputTokens: 1,
    outputTokens: 1,
    cacheInputTokens: 0,
    reasoningTokens: 0,
    totalTokens: 2,
    costUsd: 0.01,
    responseTimeMs: null,
    firstByteTimeMs: null,
    serviceTier: null,
    createdAt: occurredAt,
    updatedAt: occurredAt,
  };
}

function alert(id: string, state: 'firing' | 'resolved', rule = 'auth'): Alert {
  return {
    id,
    rule,
    source: 'xy',
    subject: '',
    state,
    firedAt: '2026-02-25T02:00:00Z',
    resolvedAt: state === 'resolved' ? '2026-02-25T03:00:00Z' : null,
    details: { authState: 'expired' },
  };
}

describe('newest first under bursts of live rows', () => {
  const loaded = [inv(10, '2026-02-25T02:05:08Z'), inv(9, '2026-02-25T02:04:00Z')];
  const burst = [
    inv(14, '2026-02-25T02:05:50Z'),
    inv(13, '2026-02-25T02:05:43Z'),
    inv(12, '2026-02-25T02:05:36Z'),
    inv(11, '2026-02-25T02:05:29Z'),
  ];
  const expected = ['02:05:50', '02:05:43', '02:05:36', '02:05:29', '02:05:08', '02:04:00'];
  const times = (rows: Invocation[]) => rows.map((r) => r.occurredAt.slice(11, 19));

  it('keeps the order whether a burst comes newest first or oldest first', () => {
    let rows = loaded;
    for (const r of burst) rows = insertNewestFirst(rows, r);
    expect(times(rows)).toEqual(expected);
    rows = loaded;
    for (const r of [...burst].reverse()) rows = insertNewestFirst(rows, r);
    expect(times(rows)).toEqual(expected);
  });
  it('drops duplicates and cuts to the limit', () => {
    let rows = loaded;
    for (const r of [...burst, ...burst]) rows = insertNewestFirst(rows, r, 3);
    expect(times(rows)).toEqual(expected.slice(0, 3));
  });
  it('a late row older than the list goes below', () => {
    expect(times(insertNewestFirst(loaded, inv(20, '2026-02-25T01:00:00Z')))).toEqual(['02:05:08', '02:04:00', '01:00:00']);
  });
});

describe('alert events', () => {
  it('a firing alert opens once, its resolution moves it to the history', () => {
    alertsState.open = [];
    alertsState.recent = [];
    const fired: string[] = [];
    const off = onAlertFired((a) => fired.push(a.id));
    expect(applyAlertEvent(alert('a1', 'firing'))).toBe(true);
    expect(applyAlertEvent(alert('a1', 'firing'))).toBe(false);
    expect(alertsState.open.map((a) => a.id)).toEqual(['a1']);
    expect(openAuthAlerts().map((a) => a.source)).toEqual(['xy']);
    applyAlertEvent(alert('a1', 'resolved'));
    expect(alertsState.open).toEqual([]);
    expect(alertsState.recent.map((a) => a.id)).toEqual(['a1']);
    expect(fired).toEqual(['a1']);
    off();
  });
});

describe('plan countdown', () => {
  it('a reset time that has passed is expired (the card says it is due)', () => {
    const c = countdown('2026-02-25T02:00:00Z', Date.parse('2026-02-25T02:00:05Z'), 'en', 0, 0);
    expect(c?.level).toBe('expired');
  });
});
