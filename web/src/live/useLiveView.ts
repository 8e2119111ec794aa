// What every page does with the live stream, in one place: load when it mounts, follow the
// events it names while it is on screen, and on unmount stop listening and drop the refreshes
// its events scheduled (a coalesced refetch must not run for a page that is gone).

import { onBeforeUnmount, onMounted } from 'vue';
import type { Coalescer } from './coalesce';
import type { LiveEvents, LiveEventType } from './events';
import type { Listener } from './sse';
import { live } from './store';

export type LiveHandlers = { [K in LiveEventType]?: Listener<LiveEvents[K]> };

/** What a view subscribes with: the app's LiveClient, or a stand-in in tests. */
export interface LiveSource {
  on<K extends LiveEventType>(type: K, fn: Listener<LiveEvents[K]>): () => void;
}

export interface LiveViewOptions {
  /** Runs when the view mounts, before the subscriptions. */
  load: () => unknown;
  /** The events the view follows, by name (`reset` included: what a refetch means differs). */
  on: LiveHandlers;
  /** The coalesced refreshes the handlers trigger: cancelled when the view unmounts. */
  refreshes?: readonly Coalescer[];
  source?: LiveSource;
}

function subscribe<K extends LiveEventType>(source: LiveSource, type: K, fn: Listener<LiveEvents[K]>): () => void {
  return source.on(type, fn);
}

/** Call from a view's `setup`. */
export function useLiveView({ load, on, refreshes = [], source = live }: LiveViewOptions): void {
  const offs: Array<() => void> = [];
  onMounted(() => {
    void load();
    for (const type of Object.keys(on) as LiveEventType[]) {
      const fn = on[type];
      if (fn) offs.push(subscribe(source, type, fn as Listener<LiveEvents[typeof type]>));
    }
  });
  onBeforeUnmount(() => {
    for (const off of offs.splice(0)) off();
    for (const r of refreshes) r.cancel();
  });
}
