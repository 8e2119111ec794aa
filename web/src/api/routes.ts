// One function per route of the gatherd API (docs/api.md, Routes), each with its parameters and
// the type of its answer. Views call these, never getJson with a path of their own.
//
// (Parameter types are type aliases, not interfaces, so that they fit getJson's query record.)
// Parameters are sent in the order they are written here (empty ones left out): index.html's
// early requests (public/early.js) are taken over only when the URL matches exactly.

import { getJson } from './client';
import type {
  AlertsAnswer,
  ErrorsAnswer,
  Invocation,
  LatencyAnswer,
  LedgerWindow,
  ModelsAnswer,
  Page,
  QuotaAnswer,
  SourcesAnswer,
  SummaryAnswer,
  TimeseriesAnswer,
  WindowOutcome,
} from './types';

type Param = string | number | null | undefined;

/** `source` and `tz` (an offset such as `+08:00`) are shared by the stats routes. */
type StatsParams = {
  source?: Param;
  tz?: Param;
};

export type InvocationsParams = {
  source?: Param;
  model?: Param;
  status?: Param;
  from?: Param;
  to?: Param;
  q?: Param;
  limit?: Param;
  cursor?: Param;
};

export type WindowsParams = {
  source?: Param;
  outcome?: WindowOutcome | null;
  from?: Param;
  to?: Param;
  limit?: Param;
  cursor?: Param;
};

export type SummaryParams = StatsParams & {
  window?: Param;
}

export type TimeseriesParams = StatsParams & {
  range?: Param;
  bucket?: Param;
}

export type RangeParams = StatsParams & {
  range?: Param;
}

export type ErrorsParams = RangeParams & {
  limit?: Param;
}

/** `GET /api/sources`: every source instance and sink with its state. */
export function getSources(): Promise<SourcesAnswer> {
  return getJson<SourcesAnswer>('api/sources');
}

/** `GET /api/windows`: a page of the window ledger, newest first. */
export function getWindows(params: WindowsParams, signal?: AbortSignal): Promise<Page<LedgerWindow>> {
  return getJson<Page<LedgerWindow>>('api/windows', params, signal);
}

/** `GET /api/invocations`: a page of invocations, newest first. */
export function getInvocations(params: InvocationsParams, signal?: AbortSignal): Promise<Page<Invocation>> {
  return getJson<Page<Invocation>>('api/invocations', params, signal);
}

/** `GET /api/stats/summary`: the totals of one window. */
export function getSummary(params: SummaryParams): Promise<SummaryAnswer> {
  return getJson<SummaryAnswer>('api/stats/summary', params);
}

/** `GET /api/stats/timeseries`: totals per bucket, oldest first, empty buckets included. */
export function getTimeseries(params: TimeseriesParams): Promise<TimeseriesAnswer> {
  return getJson<TimeseriesAnswer>('api/stats/timeseries', params);
}

/** `GET /api/stats/errors`: the error messages of a range, grouped. */
export function getErrors(params: ErrorsParams): Promise<ErrorsAnswer> {
  return getJson<ErrorsAnswer>('api/stats/errors', params);
}

/** `GET /api/stats/models`: totals per model, by count. */
export function getModels(params: RangeParams): Promise<ModelsAnswer> {
  return getJson<ModelsAnswer>('api/stats/models', params);
}

/** `GET /api/stats/latency`: response and first-byte percentiles. */
export function getLatency(params: RangeParams): Promise<LatencyAnswer> {
  return getJson<LatencyAnswer>('api/stats/latency', params);
}

/** `GET /api/quota/latest`: the newest quota snapshot of each source instance. */
export function getQuotaLatest(params: { source?: Param } = {}): Promise<QuotaAnswer> {
  return getJson<QuotaAnswer>('api/quota/latest', params);
}

/** `GET /api/alerts`: open and recent alerts and the plans' forecasts. */
export function getAlerts(params: { limit?: Param } = {}): Promise<AlertsAnswer> {
  return getJson<AlertsAnswer>('api/alerts', params);
}
