import { describe, expect, it } from 'vitest';
import { LiveClient, resumeUrl, type EventSourceLike, type MessageLike, type Timers } from '../src/live/sse';

// A scripted EventSource: the test plays the server and the browser's own reconnects.
class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  private handlers = new Map<string, Array<(ev: MessageLike) => void>>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (ev: MessageLike) => void) {
    const list = this.handlers.get(type) ?? [];
    list.push(listener);
    this.handlers.set(type, list);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(type: string, id: string, data: unknown) {
    for (const h of this.handlers.get(type) ?? []) h({ data: JSON.stringify(data), lastEventId: id });
  }
  /** The browser lost the stream and will retry by itself (Last-Event-ID header). */
  dropAndRetry() {
    this.readyState = 0;
    this.onerror?.(new Event('error'));
  }
  /** The browser gave up (non-200 answer, hard failure). */
  fail() {
    this.readyState = 2;
    this.onerror?.(new Event('error'));
  }
}

class FakeTimers implements Timers {
  pending: Array<{ fn: () => void; ms: number; id: number }> = [];
  private next = 1;
  set(fn: () => void, ms: number) {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clear(handle: unknown) {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }
  fire() {
    const p = this.pending.shift();
    if (!p) throw new Error('no timer pending');
    p.fn();
    return p.ms;
  }
}

function setup(backoffMs = [1000, 2000, 5000]) {
  const created: FakeEventSource[] = [];
  const timers = new FakeTimers();
  const client = new LiveClient({
    url: 'events',
    eventTypes: ['invocation', 'reset', 'stats'],
    create: (url) => {
      const es = new FakeEventSource(url);
      created.push(es);
      return es;
    },
    timers,
    backoffMs,
  });
  return { client, created, timers };
}

describe('resumeUrl', () => {
  it('adds the last id as a query parameter, encoded', () => {
    expect(resumeUrl('events', null)).toBe('events');
    expect(resumeUrl('events', '42')).toBe('events?lastEventId=42');
    expect(resumeUrl('events?x=1', 'a b')).toBe('events?x=1&lastEventId=a%20b');
  });
});

describe('LiveClient', () => {
  it('opens one stream without an id and dispatches parsed events', () => {
    const { client, created } = setup();
    const got: Array<[unknown, string | null]> = [];
    client.on('invocation', (d, id) => got.push([d, id]));
    client.start();
    client.start();
    expect(created).toHaveLength(1);
    expect(created[0].url).toBe('events');
    expect(client.state).toBe('connecting');
    created[0].open();
    expect(client.state).toBe('open');
    created[0].emit('invocation', '7', { id: 1, model: 'gpt-5.3-codex' });
    expect(got).toEqual([[{ id: 1, model: 'gpt-5.3-codex' }, '7']]);
    expect(client.lastEventId).toBe('7');
  });

  it('lets the browser resume by itself while it retries', () => {
    const { client, created, timers } = setup();
    client.start();
    created[0].open();
    created[0].emit('invocation', '10', {});
    created[0].dropAndRetry();
    expect(client.state).toBe('reconnecting');
    // No second EventSource and no timer: the browser sends Last-Event-ID itself.
    expect(created).toHaveLength(1);
    expect(timers.pending).toHaveLength(0);
    created[0].open();
    expect(client.state).toBe('open');
  });

  it('reconnects by hand with lastEventId after the browser gave up, backing off', () => {
    const { client, created, timers } = setup();
    client.start();
    created[0].open();
    created[0].emit('invocation', '41', {});
    created[0].emit('stats', '42', {});
    created[0].fail();
    expect(created[0].closed).toBe(true);
    expect(client.state).toBe('reconnecting');
    expect(timers.fire()).toBe(1000);
    expect(created).toHaveLength(2);
    expect(created[1].url).toBe('events?lastEventId=42');

    created[1].fail();
    expect(timers.fire()).toBe(2000);
    created[2].fail();
    expect(timers.fire()).toBe(5000);
    created[3].fail();
    expect(timers.fire()).toBe(5000);
    expect(created[4].url).toBe('events?lastEventId=42');

    // A success resets the backoff.
    created[4].open();
    created[4].emit('invocation', '43', {});
    created[4].fail();
    expect(timers.fire()).toBe(1000);
    expect(created[5].url).toBe('events?lastEventId=43');
  });

  it('ignores events from a stream it already replaced', () => {
    const { client, created } = setup();
    const got: unknown[] = [];
    client.on('invocation', (d) => got.push(d));
    client.start();
    created[0].open();
    client.reconnectNow();
    expect(created[0].closed).toBe(true);
    created[0].emit('invocation', '99', { stale: true });
    expect(got).toEqual([]);
    expect(client.lastEventId).toBeNull();
    created[1].emit('invocation', '5', { fresh: true });
    expect(got).toEqual([{ fresh: true }]);
  });

  it('passes reset events on so the app refetches', () => {
    const { client, created } = setup();
    let resets = 0;
    client.on('reset', () => resets++);
    client.start();
    created[0].open();
    created[0].emit('reset', '100', null);
    expect(resets).toBe(1);
    expect(client.lastEventId).toBe('100');
  });

  it('asks for a refetch when it reconnects without an id to resume from', () => {
    const { client, created, timers } = setup();
    let resets = 0;
    client.on('reset', () => resets++);
    client.start();
    created[0].open();
    expect(resets).toBe(0);
    // The stream broke before any event: the server cannot replay what was missed.
    created[0].dropAndRetry();
    created[0].open();
    expect(resets).toBe(1);
    // With an id the browser's own reconnect is replayed by the server: no refetch.
    created[0].emit('invocation', '5', {});
    created[0].dropAndRetry();
    created[0].open();
    expect(resets).toBe(1);
    // A manual reconnect passes the id but refetches too, in case the server ignores it.
    created[0].fail();
    timers.fire();
    expect(created[1].url).toBe('events?lastEventId=5');
    created[1].open();
    expect(resets).toBe(2);
  });

  it('stops for good: no timer, no new stream', () => {
    const { client, created, timers } = setup();
    const states: string[] = [];
    client.onState((s) => states.push(s));
    client.start();
    created[0].open();
    created[0].fail();
    client.stop();
    expect(timers.pending).toHaveLength(0);
    expect(client.state).toBe('closed');
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'closed']);
    expect(created).toHaveLength(1);
  });

  it('unsubscribes listeners', () => {
    const { client, created } = setup();
    let n = 0;
    const off = client.on('invocation', () => n++);
    client.start();
    created[0].emit('invocation', '1', {});
    off();
    created[0].emit('invocation', '2', {});
    expect(n).toBe(1);
  });
});
