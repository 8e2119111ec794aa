// Shapes of the gatherd HTTP API (docs/api.md). Numbers the source may not send are nullable.

export interface Totals {
  count: number;
  success: number;
  failure: number;
  successRate: number | null;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheInputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
}

export interface Invocation {
  id: number | string;
  source: string;
  requestId: string;
  occurredAt: string;
  requestTime: string | null;
  model: string | null;
  status: string;
  errorMessage: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheInputTokens: number | null;
  reasoningTokens: number | null;
  totalTokens: number | null;
  costUsd: number | null;
  responseTimeMs: number | null;
  firstByteTimeMs: number | null;
  serviceTier: string | null;
  createdAt: string;
  updatedAt: string;
  raw?: unknown;
}

export type WindowOutcome =
  | 'ok'
  | 'auth_error'
  | 'http_error'
  | 'transport_error'
  | 'timeout'
  | 'parse_error'
  | 'skipped'
  | 'aborted';

export interface LedgerWindow {
  id: number | string;
  source: string;
  window: string;
  windowMs: number;
  startedAt: string | null;
  finishedAt: string | null;
  outcome: WindowOutcome;
  message: string | null;
  httpStatus: number | null;
  recordsSeen: number | null;
  recordsEmitted: number | null;
  recordsRejected: number | null;
  gapSuspected: boolean;
  gapFrom: string | null;
  gapTo: string | null;
  authState: string | null;
  clockJump: boolean | null;
}

export type AuthState = 'ok' | 'expired' | 'missing' | 'unknown';

export interface SourceInfo {
  name: string;
  plugin: string;
  state: 'running' | 'failed' | 'stopped' | string;
  /** Why it failed ("" when it did not). */
  stateReason?: string;
  authState: AuthState | string;
  authHint: string | null;
  intervalMs: number;
  lastWindow: LedgerWindow | null;
  lastSuccessAt: string | null;
  consecutiveFailures: number;
}

/** A sink beside the sources in /api/sources: its health and its queue and spool counters. */
export interface SinkInfo {
  name: string;
  plugin: string;
  health: 'ok' | 'backlogged' | 'degraded' | string;
  healthReason: string;
  delivered: number;
  retries: number;
  dropped: number;
  overflowed: number;
  queuedBatches: number;
  queuedBytes: number;
  memoryBytes: number;
  oldestAgeMs: number;
  spool: {
    bytes: number;
    records: number;
    dropped: number;
    badRecords: number;
    writeErrors: number;
    writeError: string | null;
  } | null;
}

export interface SourcesAnswer {
  sources: SourceInfo[];
  /** Absent from a gatherd older than the sinks list. */
  sinks?: SinkInfo[];
}

/**
 * The `source` SSE event: an instance's state as the core computed it, sent when it changed (the
 * same facts, by the same names, as its entry in /api/sources).
 */
export interface SourceEvent {
  name: string;
  state: string;
  stateReason?: string;
  authState: string;
  authHint: string | null;
  /** Absent from a gatherd older than the source_status stream. */
  consecutiveFailures?: number;
}

export interface Quota {
  source: string;
  time: string;
  service?: string;
  planName?: string;
  billingType?: string;
  amountLimitUsd?: number;
  amountUsedUsd?: number;
  amountRemainingUsd?: number;
  countLimit?: number;
  countUsed?: number;
  countRemaining?: number;
  period?: string;
  periodResetAt?: string;
  expiresAt?: string;
  isActive?: boolean;
  isLongTerm?: boolean;
  usage24hRequests?: number;
  usage24hTokens?: number;
  usage24hCostUsd?: number;
  lastRequestAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface QuotaAnswer {
  items: Quota[];
}

export interface SummaryAnswer {
  window: string;
  from: string;
  to: string;
  totals: Totals;
}

export interface StatsAnswer {
  allTime: Totals;
  windows: Record<string, Totals>;
}

export interface TimeseriesPoint extends Totals {
  t: string;
  tMs: number;
}

export interface TimeseriesAnswer {
  range: string;
  bucket: string;
  bucketMs: number;
  points: TimeseriesPoint[];
}

export interface ErrorGroup {
  message: string;
  example: string | null;
  count: number;
  lastSeenAt: string | null;
}

export interface ErrorsAnswer {
  range: string;
  items: ErrorGroup[];
}

export interface ModelTotals extends Totals {
  model: string | null;
}

export interface ModelsAnswer {
  range: string;
  items: ModelTotals[];
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface LatencyAnswer {
  range: string;
  samples: number;
  responseMs: Percentiles;
  firstByteMs: Percentiles;
}

/** The `stats` SSE event: the rolling day and the UTC day after a batch of invocations. */
export interface StatsEvent {
  windows: Record<string, Totals>;
}

/** The `reset` SSE event; null when the client itself asks for a refetch (see live/sse.ts). */
export type ResetEvent = { reason: string } | null;

export type AlertRule = 'auth' | 'failures' | 'source_down' | 'gap' | 'quota' | 'plan_expiry' | string;

/** One alert of the core's rules (docs/api.md, Alert): the same id fires and resolves. */
export interface Alert {
  id: string;
  rule: AlertRule;
  source: string;
  subject: string;
  state: 'firing' | 'resolved';
  firedAt: string;
  resolvedAt: string | null;
  details: Record<string, string | number | boolean | null>;
}

/** When a plan runs out at the recent spending rate (docs/api.md, Forecast). */
export interface Forecast {
  source: string;
  service: string;
  unit: 'usd' | 'count';
  remaining: number;
  limit: number;
  /** null until there is enough history for a rate. */
  ratePerHour: number | null;
  runsOutAt: string | null;
  resetsAt: string | null;
  expiresAt: string | null;
  updatedAt: string | null;
}

export interface AlertsAnswer {
  enabled: boolean;
  open: Alert[];
  recent: Alert[];
  forecasts: Forecast[];
}
