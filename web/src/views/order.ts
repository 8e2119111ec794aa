// Lists of invocations are newest first by occurredAt (then id), whatever order live rows arrive
// in: a burst of events from one poll may come oldest or newest first.

import type { Invocation } from '../api/types';

function timeOf(inv: Invocation): number {
  const ms = Date.parse(inv.occurredAt);
  return Number.isFinite(ms) ? ms : 0;
}

/** Negative when `a` belongs above `b`. */
export function newestFirst(a: Invocation, b: Invocation): number {
  const dt = timeOf(b) - timeOf(a);
  if (dt !== 0) return dt;
  const ia = Number(a.id);
  const ib = Number(b.id);
  if (Number.isFinite(ia) && Number.isFinite(ib)) return ib - ia;
  return String(b.id).localeCompare(String(a.id));
}

/** A new list with `inv` in its place (no duplicate ids), cut to `limit` rows when given. */
export function insertNewestFirst(list: readonly Invocation[], inv: Invocation, limit?: number): Invocation[] {
  if (list.some((r) => String(r.id) === String(inv.id))) return list.slice(0, limit);
  const out = list.slice();
  let i = 0;
  while (i < out.length && newestFirst(out[i], inv) <= 0) i += 1;
  out.splice(i, 0, inv);
  return limit === undefined ? out : out.slice(0, limit);
}
