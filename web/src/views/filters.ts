// The invocation list's filter: what the URL holds, what the API gets, and whether a live
// invocation belongs on the first page without asking the server.

import type { InvocationsParams } from '../api/routes';
import type { Invocation } from '../api/types';
import { localInputToUtcMs } from '../format/format';

export interface InvocationFilter {
  source: string;
  model: string;
  status: '' | 'success' | 'failure';
  from: string; // datetime-local value, wall time in the user's zone
  to: string;
  q: string;
}

export const kEmptyFilter: InvocationFilter = { source: '', model: '', status: '', from: '', to: '', q: '' };

export function filterFromQuery(query: Record<string, unknown>): InvocationFilter {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const status = str(query.status);
  return {
    source: str(query.source),
    model: str(query.model),
    status: status === 'success' || status === 'failure' ? status : '',
    from: str(query.from),
    to: str(query.to),
    q: str(query.q),
  };
}

export function filterToQuery(f: InvocationFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (v) out[k] = v;
  return out;
}

/** The filter's parameters of `GET /api/invocations` (page and limit are the caller's). */
export type FilterParams = Pick<InvocationsParams, 'source' | 'model' | 'status' | 'q' | 'from' | 'to'>;

export function apiParams(f: InvocationFilter, timeZone: string): FilterParams {
  const out: FilterParams = {};
  if (f.source) out.source = f.source;
  if (f.model) out.model = f.model;
  if (f.status) out.status = f.status;
  if (f.q.trim()) out.q = f.q.trim();
  const from = f.from ? localInputToUtcMs(f.from, timeZone) : null;
  const to = f.to ? localInputToUtcMs(f.to, timeZone) : null;
  if (from !== null) out.from = from;
  if (to !== null) out.to = to;
  return out;
}

/**
 * Whether a live invocation can be put on top of the first page as is. `null` means the client
 * cannot tell (free text is matched by the server) and should refetch instead.
 */
export function liveMatch(inv: Invocation, f: InvocationFilter, timeZone: string): boolean | null {
  if (f.source && inv.source !== f.source) return false;
  if (f.model && inv.model !== f.model) return false;
  const ok = inv.status.toLowerCase() === 'success';
  if (f.status === 'success' && !ok) return false;
  if (f.status === 'failure' && ok) return false;
  const at = Date.parse(inv.occurredAt);
  const params = apiParams(f, timeZone);
  if (typeof params.from === 'number' && at < params.from) return false;
  if (typeof params.to === 'number' && at >= params.to) return false;
  if (f.q.trim()) return null;
  return true;
}

/**
 * A row of the list was updated live (a running call finished, say). It stays, replaced, while
 * it still matches the filter; it leaves the list when it no longer does, so that the list shows
 * what the server would answer now. `refetch` is set when the client cannot judge the match.
 */
export function applyLiveUpdate(
  rows: Invocation[],
  inv: Invocation,
  f: InvocationFilter,
  timeZone: string,
): { rows: Invocation[]; refetch: boolean } {
  const i = rows.findIndex((r) => String(r.id) === String(inv.id));
  if (i < 0) return { rows, refetch: false };
  const match = liveMatch(inv, f, timeZone);
  const next = rows.slice();
  if (match === false) next.splice(i, 1);
  else next.splice(i, 1, inv);
  return { rows: next, refetch: match === null };
}
