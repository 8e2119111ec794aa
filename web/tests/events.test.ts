import { describe, expect, it } from 'vitest';
import { kEventTypes, parseLiveEvent, type LiveEvents } from '../src/live/events';
import { LiveClient, type EventSourceLike, type MessageLike } from '../src/live/sse';

const invocation = { id: 7, source: 'demo', requestId: 'r', occurredAt: '2026-11-29T10:47:21Z', status: 'success' };

describe('live events', () => {
  it('lists every event the stream sends that the dashboard follows', () => {
    expect([...kEventTypes].sort()).toEqual(
      ['alert', 'invocation', 'invocation-updated', 'quota', 'reset', 'source', 'stats', 'window'].sort(),
    );
  });

  it('gives each event its payload as documented', () => {
    expect(parseLiveEvent('invocation', JSON.stringify(invocation))).toEqual(invocation);
    expect(parseLiveEvent('invocation-updated', JSON.stringify(invocation))).toEqual(invocation);
    expect(parseLiveEvent('quota', '{"source":"demo","amountLimitUsd":90}')).toEqual({ source: 'demo', amountLimitUsd: 90 });
    expect(parseLiveEvent('window', '{"source":"demo","window":"w","windowMs":1,"outcome":"ok"}')?.outcome).toBe('ok');
    expect(parseLiveEvent('source', '{"name":"xy","state":"running","authState":"expired","authHint":null}')?.authState).toBe('expired');
    expect(parseLiveEvent('stats', '{"windows":{"1d":{"count":4}}}')?.windows['1d'].count).toBe(4);
    const alert = { id: 'auth|xy||1', rule: 'auth', source: 'xy', subject: '', state: 'firing', firedAt: 'x', resolvedAt: null, details: {} };
    expect(parseLiveEvent('alert', JSON.stringify(alert))).toEqual(alert);
  });

  it('drops a payload without the fields the views key by', () => {
    const bad: Array<[keyof LiveEvents, string]> = [
      ['invocation', '{"source":"demo","occurredAt":"x","status":"success"}'], // no id
      ['invocation', '{"id":1,"source":"demo","occurredAt":"x"}'], // no status
      ['invocation-updated', '[1,2]'],
      ['quota', '{"time":"x"}'],
      ['window', '{"source":"demo"}'],
      ['source', '{"state":"running"}'],
      ['stats', '{"windows":null}'],
      ['alert', '{"id":"a","rule":"auth","source":"xy","state":"open"}'],
      ['invocation', 'not json'],
      ['invocation', ''],
    ];
    for (const [type, data] of bad) expect(parseLiveEvent(type, data), `${type} ${data}`).toBeUndefined();
  });

  it('never drops a reset, whatever it carries', () => {
    expect(parseLiveEvent('reset', '{"reason":"the missed events were pruned"}')).toEqual({ reason: 'the missed events were pruned' });
    expect(parseLiveEvent('reset', '')).toBeNull();
    expect(parseLiveEvent('reset', 'garbage')).toBeNull();
  });

  it('a dropped event reaches no listener but still moves the resume id', () => {
    const handlers = new Map<string, (ev: MessageLike) => void>();
    const es: EventSourceLike = {
      readyState: 1,
      onopen: null,
      onerror: null,
      addEventListener: (type, fn) => handlers.set(type, fn),
      close: () => {},
    };
    const client = new LiveClient<LiveEvents>({ url: 'events', eventTypes: kEventTypes, parse: parseLiveEvent, create: () => es });
    const seen: Array<[number | string, string | null]> = [];
    client.on('invocation', (inv, id) => seen.push([inv.id, id]));
    client.start();
    handlers.get('invocation')!({ data: '{"broken":true}', lastEventId: '5' });
    expect(seen).toEqual([]);
    expect(client.lastEventId).toBe('5');
    handlers.get('invocation')!({ data: JSON.stringify(invocation), lastEventId: '6' });
    expect(seen).toEqual([[7, '6']]);
  });
});
