// The plan card's figures in the plan's own unit: amount plans count dollars, count plans count
// calls; the two are never mixed (a count plan's dollars, if sent, are not shown as its usage).

import type { Quota } from '../api/types';
import { formatInteger, formatUsd } from '../format/format';

export type PlanUnit = 'usd' | 'count';

export interface PlanFigures {
  unit: PlanUnit;
  used: string;
  remaining: string;
  limit: string;
  /** used / limit, or null without a limit. */
  ratio: number | null;
}

export function planUnit(q: Quota): PlanUnit | null {
  if (q.billingType === 'amount') return 'usd';
  if (q.billingType === 'count') return 'count';
  if (q.amountLimitUsd !== undefined || q.amountUsedUsd !== undefined) return 'usd';
  if (q.countLimit !== undefined || q.countUsed !== undefined) return 'count';
  return null;
}

export function planFigures(q: Quota, locale: string, callsWord: string): PlanFigures | null {
  const unit = planUnit(q);
  if (unit === null) return null;
  const used = (unit === 'usd' ? q.amountUsedUsd : q.countUsed) ?? null;
  const limit = (unit === 'usd' ? q.amountLimitUsd : q.countLimit) ?? null;
  const sent = unit === 'usd' ? q.amountRemainingUsd : q.countRemaining;
  const remaining = sent ?? (limit !== null && used !== null ? limit - used : null);
  const show = (v: number | null) => (unit === 'usd' ? formatUsd(v, 2, locale) : `${formatInteger(v, locale)} ${callsWord}`);
  return {
    unit,
    used: show(used),
    remaining: show(remaining),
    limit: show(limit),
    ratio: limit ? (used ?? 0) / limit : null,
  };
}

/** The bar turns amber from 75 % used and red from 90 %. */
export function barLevel(ratio: number | null): 'ok' | 'warning' | 'danger' {
  const r = ratio ?? 0;
  return r >= 0.9 ? 'danger' : r >= 0.75 ? 'warning' : 'ok';
}
