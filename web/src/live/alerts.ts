// The alerts of the core's rules: loaded from /api/alerts, kept current by the `alert` SSE event.
// Drives the header badge and list, the expired-session banner, the plan card's forecast and the
// (opt-in) browser notifications.

import { reactive } from 'vue';
import { getAlerts } from '../api/routes';
import type { Alert, AlertsAnswer } from '../api/types';

export const kRecentLimit = 50;

export const alertsState = reactive({
  enabled: true,
  loaded: false,
  open: [] as Alert[],
  recent: [] as Alert[],
  forecasts: [] as AlertsAnswer['forecasts'],
  error: '',
});

type FiredListener = (alert: Alert) => void;
const firedListeners = new Set<FiredListener>();

/** Called for each alert that fires while the page is open (not for the ones loaded). */
export function onAlertFired(listener: FiredListener): () => void {
  firedListeners.add(listener);
  return () => firedListeners.delete(listener);
}

export async function loadAlerts(): Promise<void> {
  try {
    const answer = await getAlerts({ limit: kRecentLimit });
    alertsState.enabled = answer.enabled;
    alertsState.open = answer.open;
    alertsState.recent = answer.recent;
    alertsState.forecasts = answer.forecasts;
    alertsState.loaded = true;
    alertsState.error = '';
  } catch (e) {
    alertsState.error = e instanceof Error ? e.message : String(e);
  }
}

/** Applies one `alert` event; returns true when it was news (a firing alert not yet open). */
export function applyAlertEvent(alert: Alert): boolean {
  const index = alertsState.open.findIndex((a) => a.id === alert.id);
  if (alert.state === 'firing') {
    if (index >= 0) {
      alertsState.open.splice(index, 1, alert);
      return false;
    }
    alertsState.open = [alert, ...alertsState.open];
    for (const listener of firedListeners) listener(alert);
    return true;
  }
  if (index >= 0) alertsState.open.splice(index, 1);
  if (!alertsState.recent.some((a) => a.id === alert.id)) {
    alertsState.recent = [alert, ...alertsState.recent].slice(0, kRecentLimit);
  }
  return false;
}

/** Sources with an open `auth` alert, in the order the alerts fired. */
export function openAuthAlerts(): Alert[] {
  return alertsState.open.filter((a) => a.rule === 'auth');
}

/** The forecast of one plan card, if the core has one. */
export function forecastFor(source: string, service: string | undefined) {
  return alertsState.forecasts.find((f) => f.source === source && (service === undefined || f.service === service));
}
