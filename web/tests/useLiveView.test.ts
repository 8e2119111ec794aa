import { describe, expect, it } from 'vitest';
import { createApp, defineComponent, h } from 'vue';
import type { Coalescer } from '../src/live/coalesce';
import type { LiveEvents, LiveEventType } from '../src/live/events';
import type { Listener } from '../src/live/sse';
import { useLiveView, type LiveHandlers, type LiveSource } from '../src/live/useLiveView';

class FakeSource implements LiveSource {
  listeners = new Map<string, Set<Listener<never>>>();
  on<K extends LiveEventType>(type: K, fn: Listener<LiveEvents[K]>) {
    const set = this.listeners.get(type) ?? new Set();
    set.add(fn as Listener<never>);
    this.listeners.set(type, set);
    return () => set.delete(fn as Listener<never>);
  }
  emit<K extends LiveEventType>(type: K, data: LiveEvents[K], id: string | null = null) {
    for (const fn of this.listeners.get(type) ?? []) (fn as Listener<LiveEvents[K]>)(data, id);
  }
  count() {
    return [...this.listeners.values()].reduce((n, s) => n + s.size, 0);
  }
}

function fakeRefresh(): Coalescer & { cancelled: number } {
  return {
    cancelled: 0,
    trigger() {},
    cancel() {
      this.cancelled++;
    },
    pending: false,
  };
}

function mountView(on: LiveHandlers, log: string[], source: FakeSource, refreshes: Coalescer[]) {
  const View = defineComponent({
    setup() {
      useLiveView({ load: () => log.push('load'), on, refreshes, source });
      return () => h('div');
    },
  });
  const app = createApp(View);
  app.mount(document.createElement('div'));
  return app;
}

describe('useLiveView', () => {
  it('loads on mount, then follows the named events with their typed payloads', () => {
    const log: string[] = [];
    const source = new FakeSource();
    const app = mountView(
      {
        invocation: (inv, id) => log.push(`invocation ${inv.id} @${id}`),
        reset: () => log.push('reset'),
      },
      log,
      source,
      [],
    );
    expect(log).toEqual(['load']);
    expect(source.count()).toBe(2);
    source.emit('invocation', { id: 3 } as LiveEvents['invocation'], '9');
    source.emit('quota', { source: 'demo', time: 'x' });
    source.emit('reset', null);
    expect(log).toEqual(['load', 'invocation 3 @9', 'reset']);
    app.unmount();
  });

  it('on unmount stops listening and cancels the refreshes', () => {
    const log: string[] = [];
    const source = new FakeSource();
    const a = fakeRefresh();
    const b = fakeRefresh();
    const app = mountView({ window: () => log.push('window'), reset: () => log.push('reset') }, log, source, [a, b]);
    app.unmount();
    expect(source.count()).toBe(0);
    expect([a.cancelled, b.cancelled]).toEqual([1, 1]);
    source.emit('reset', null);
    expect(log).toEqual(['load']);
  });
});
