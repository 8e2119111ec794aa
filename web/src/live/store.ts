// App-wide live state: the single EventSource, the connection indicator and the source list (which
// drives the session-expired banner on every page).

import { reactive, watch } from 'vue';
import { auth } from '../api/client';
import { getSources } from '../api/routes';
import type { SinkInfo, SourceInfo } from '../api/types';
import { alertTitle, alertDetail } from '../components/alertText';
import { locale } from '../i18n';
import { timeZone } from '../prefs';
import { applyAlertEvent, loadAlerts, onAlertFired } from './alerts';
import { coalesce } from './coalesce';
import { kEventTypes, parseLiveEvent, type LiveEvents } from './events';
import { notify } from './notify';
import { LiveClient, type ConnectionState } from './sse';

export const live = new LiveClient<LiveEvents>({ url: 'events', eventTypes: kEventTypes, parse: parseLiveEvent });

export const liveState = reactive({
  connection: 'closed' as ConnectionState,
  lastEventAt: 0,
});

export const sourcesState = reactive({
  items: [] as SourceInfo[],
  sinks: [] as SinkInfo[],
  loaded: false,
  error: '',
});

export async function loadSources(): Promise<void> {
  try {
    const answer = await getSources();
    sourcesState.items = answer.sources;
    sourcesState.sinks = answer.sinks ?? [];
    sourcesState.loaded = true;
    sourcesState.error = '';
  } catch (e) {
    sourcesState.error = e instanceof Error ? e.message : String(e);
  }
}

const sourcesRefresh = coalesce(loadSources, 2000, 5000);
const alertsRefresh = coalesce(loadAlerts, 2000, 5000);
// The plan card's forecast moves with the quota: re-read, but rarely.
const forecastRefresh = coalesce(loadAlerts, 5000, 15_000);

/** Sinks whose store is degraded or backlogged: the store banner lists them. */
export function sinksInTrouble(): SinkInfo[] {
  return sourcesState.sinks.filter((s) => s.health && s.health !== 'ok');
}

/** Sources whose session needs a human: the banner lists them. */
export function sourcesNeedingAuth(): SourceInfo[] {
  return sourcesState.items.filter((s) => s.authState === 'expired' || s.authState === 'missing');
}

let started = false;

export function startLive(): void {
  if (started) return;
  started = true;
  live.onState((s) => (liveState.connection = s));
  for (const t of kEventTypes) live.on(t, () => (liveState.lastEventAt = Date.now()));
  live.on('source', (ev) => {
    const s = sourcesState.items.find((x) => x.name === ev.name);
    if (s) {
      // The core's snapshot, applied as it is: nothing here re-derives a source's state.
      s.state = ev.state;
      if (ev.stateReason !== undefined) s.stateReason = ev.stateReason;
      s.authState = ev.authState;
      s.authHint = ev.authHint;
      if (ev.consecutiveFailures !== undefined) s.consecutiveFailures = ev.consecutiveFailures;
    } else {
      sourcesRefresh.trigger();
    }
  });
  live.on('window', (w) => {
    const s = sourcesState.items.find((x) => x.name === w.source);
    if (!s) return;
    s.lastWindow = w;
    if (w.outcome === 'ok') s.lastSuccessAt = w.finishedAt ?? s.lastSuccessAt;
    // Sink health has no event of its own: re-read it (coalesced) as windows arrive.
    sourcesRefresh.trigger();
  });
  live.on('alert', (alert) => applyAlertEvent(alert));
  live.on('quota', () => forecastRefresh.trigger());
  onAlertFired((a) => notify(`gatherd: ${alertTitle(a)} · ${a.source}`, alertDetail(a, locale.value, timeZone), a.id));
  live.on('reset', () => {
    sourcesRefresh.trigger();
    alertsRefresh.trigger();
  });
  // After a login the stream (which failed with 401) must be opened again.
  watch(
    () => auth.generation,
    () => live.reconnectNow(),
  );
  void loadSources();
  void loadAlerts();
  live.start();
}
