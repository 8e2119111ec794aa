// CSV export of invocations (RFC 4180: CRLF, quotes doubled). Text cells that a spreadsheet would
// run as a formula (=, +, -, @ first) get a leading apostrophe, since error messages come from
// the upstream and are not trusted.

import type { Invocation } from '../api/types';
import { formatDateTime } from './format';

const kFormulaStart = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text = String(value);
  if (kFormulaStart.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const kCsvColumns = [
  'occurredAt',
  'localTime',
  'source',
  'requestId',
  'requestTime',
  'model',
  'status',
  'inputTokens',
  'outputTokens',
  'cacheInputTokens',
  'reasoningTokens',
  'totalTokens',
  'costUsd',
  'responseTimeMs',
  'firstByteTimeMs',
  'serviceTier',
  'errorMessage',
] as const;

export function csvHeader(): string {
  return kCsvColumns.join(',') + '\r\n';
}

export function csvRow(r: Invocation, timeZone: string): string {
  const local = formatDateTime(r.occurredAt, timeZone);
  return (
    kCsvColumns
      .map((c) => csvCell(c === 'localTime' ? local : (r as unknown as Record<string, unknown>)[c]))
      .join(',') + '\r\n'
  );
}
