// The events of gatherd's `/events` stream (docs/api.md, /events) and the one place their `data`
// is parsed: each named event gets its payload type, and a payload without the fields the
// dashboard relies on is dropped here instead of failing in a view.

import type { Alert, Invocation, LedgerWindow, Quota, ResetEvent, SourceEvent, StatsEvent } from '../api/types';

export interface LiveEvents {
  invocation: Invocation;
  'invocation-updated': Invocation;
  quota: Quota;
  window: LedgerWindow;
  source: SourceEvent;
  stats: StatsEvent;
  alert: Alert;
  reset: ResetEvent;
}

export type LiveEventType = keyof LiveEvents;

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isId = (v: unknown) => isString(v) || typeof v === 'number';

const isInvocation = (v: Fields) => isId(v.id) && isString(v.source) && isString(v.occurredAt) && isString(v.status);

// What each payload must hold: the fields the dashboard matches on or keys by.
const kShapes: Record<Exclude<LiveEventType, 'reset'>, (v: Fields) => boolean> = {
  invocation: isInvocation,
  'invocation-updated': isInvocation,
  quota: (v) => isString(v.source),
  window: (v) => isString(v.source) && isString(v.outcome),
  source: (v) => isString(v.name) && isString(v.state) && isString(v.authState),
  stats: (v) => isObject(v.windows),
  alert: (v) => isString(v.id) && isString(v.rule) && isString(v.source) && (v.state === 'firing' || v.state === 'resolved'),
};

/** Every event the dashboard listens to. */
export const kEventTypes: readonly LiveEventType[] = [...(Object.keys(kShapes) as LiveEventType[]), 'reset'];

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** The typed payload of one event, or undefined when it is not what docs/api.md describes. */
export function parseLiveEvent<K extends LiveEventType>(type: K, data: string): LiveEvents[K] | undefined {
  const value = data ? parseJson(data) : null;
  if (type === 'reset') {
    // Whatever it says, a reset means "refetch": never drop it.
    const reset: ResetEvent = isObject(value) && isString(value.reason) ? { reason: value.reason } : null;
    return reset as LiveEvents[K];
  }
  const shape = kShapes[type as Exclude<LiveEventType, 'reset'>];
  return isObject(value) && shape(value) ? (value as unknown as LiveEvents[K]) : undefined;
}
