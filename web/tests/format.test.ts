import { describe, expect, it } from 'vitest';
import {
  countdown,
  formatBucketLabel,
  formatCost,
  formatDateTime,
  formatDuration,
  formatInteger,
  formatPercent,
  formatTime,
  formatTokens,
  formatUsd,
  localInputToUtcMs,
  utcOffsetParam,
  weekdayHour,
} from '../src/format/format';

describe('money', () => {
  it('shows invocation cost with 4 decimals', () => {
    expect(formatUsd(0.0153, 4)).toBe('$0.0153');
    expect(formatUsd(0.01535, 4)).toBe('$0.0154');
    expect(formatUsd(0, 4)).toBe('$0.0000');
    expect(formatUsd(12.5, 4)).toBe('$12.5000');
  });
  it('groups thousands and keeps the sign outside the dollar', () => {
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(-3.456)).toBe('-$3.46');
  });
  it('never shows a negative zero', () => {
    expect(formatUsd(-0.00001, 2)).toBe('$0.00');
  });
  it('uses more decimals for small card amounts', () => {
    expect(formatCost(73.219)).toBe('$73.22');
    expect(formatCost(0.0153)).toBe('$0.0153');
  });
  it('shows a dash for missing values', () => {
    expect(formatUsd(null)).toBe('—');
    expect(formatUsd(undefined, 4)).toBe('—');
    expect(formatUsd(Number.NaN)).toBe('—');
  });
});

describe('tokens and counts', () => {
  it('keeps small counts exact', () => {
    expect(formatTokens(950)).toBe('950');
    expect(formatTokens(9999)).toBe('9,999');
  });
  it('compacts large counts per language', () => {
    expect(formatTokens(52_340)).toBe('52.3K');
    expect(formatTokens(1_250_000)).toBe('1.25M');
    expect(formatTokens(28_965_000)).toBe('29M');
    expect(formatTokens(52_340, 'zh-CN')).toBe('5.23万');
    expect(formatTokens(28_965_000, 'zh-CN')).toBe('2900万');
    expect(formatTokens(254_000_000, 'zh-CN')).toBe('2.54亿');
  });
  it('formats integers and percentages', () => {
    expect(formatInteger(4900)).toBe('4,900');
    expect(formatPercent(0.9734)).toBe('97.3%');
    expect(formatPercent(null)).toBe('—');
  });
});

describe('durations', () => {
  it('covers latencies and long spans', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1240)).toBe('1.24 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(42_500)).toBe('42.5 s');
    expect(formatDuration(1000)).toBe('1 s');
    expect(formatDuration(200_000)).toBe('3m 20s');
    expect(formatDuration(7_500_000)).toBe('2h 5m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 59_000)).toBe('3d 4h');
    expect(formatDuration(3_600_000)).toBe('1h');
  });
  it('speaks Chinese units', () => {
    expect(formatDuration(7_500_000, 'zh-CN')).toBe('2小时5分');
    expect(formatDuration(2 * 86_400_000, 'zh-CN')).toBe('2天');
  });
  it('refuses nonsense', () => {
    expect(formatDuration(-5)).toBe('—');
    expect(formatDuration(null)).toBe('—');
  });
});

describe('countdown', () => {
  const now = Date.UTC(2026, 1, 25, 0, 0, 0);
  it('is ok far from the target and warns as it nears', () => {
    expect(countdown(now + 10 * 86_400_000, now)?.level).toBe('ok');
    expect(countdown(now + 2 * 86_400_000, now)?.level).toBe('warning');
    expect(countdown(now + 3_600_000, now)?.level).toBe('danger');
    expect(countdown(now - 1, now)?.level).toBe('expired');
  });
  it('rounds up to the minute so the last minute does not read 0', () => {
    expect(countdown(now + 30 * 60_000 + 1000, now)?.text).toBe('31m');
    expect(countdown(now + 30_500, now)?.text).toBe('30.5 s');
  });
  it('accepts ISO strings and ignores missing or bad targets', () => {
    expect(countdown('2026-02-26T00:00:00Z', now)?.text).toBe('1d');
    expect(countdown(undefined, now)).toBeNull();
    expect(countdown('not a date', now)).toBeNull();
  });
});

describe('times in the user zone', () => {
  const at = '2026-02-25T02:09:41Z';
  it('shows UTC instants as wall time of the zone', () => {
    expect(formatDateTime(at, 'Asia/Shanghai')).toBe('2026-02-25 10:09:41');
    expect(formatDateTime(at, 'America/New_York')).toBe('2026-02-24 21:09:41');
    expect(formatDateTime(at, 'UTC')).toBe('2026-02-25 02:09:41');
    expect(formatTime(at, 'Asia/Kolkata')).toBe('07:39:41');
  });
  it('follows daylight saving time', () => {
    expect(formatDateTime('2026-07-01T12:00:00Z', 'America/New_York')).toBe('2026-07-01 08:00:00');
    expect(formatDateTime('2026-01-01T12:00:00Z', 'America/New_York')).toBe('2026-01-01 07:00:00');
  });
  it('shows midnight as 00, not 24', () => {
    expect(formatDateTime('2026-02-24T16:00:00Z', 'Asia/Shanghai')).toBe('2026-02-25 00:00:00');
  });
  it('gives the API tz parameter', () => {
    const ms = Date.parse(at);
    expect(utcOffsetParam('Asia/Shanghai', ms)).toBe('+08:00');
    expect(utcOffsetParam('Asia/Kolkata', ms)).toBe('+05:30');
    expect(utcOffsetParam('America/St_Johns', ms)).toBe('-03:30');
    expect(utcOffsetParam('UTC', ms)).toBe('Z');
  });
  it('puts an instant in its weekday/hour heatmap cell', () => {
    // 2026-02-25 is a Wednesday; 02:09 UTC is 10:09 in Shanghai, Tuesday 21:09 in New York.
    expect(weekdayHour(Date.parse(at), 'Asia/Shanghai')).toEqual({ weekday: 2, hour: 10 });
    expect(weekdayHour(Date.parse(at), 'America/New_York')).toEqual({ weekday: 1, hour: 21 });
  });
  it('labels chart buckets', () => {
    const ms = Date.parse(at);
    expect(formatBucketLabel(ms, 3_600_000, 'Asia/Shanghai')).toBe('02-25 10:09');
    expect(formatBucketLabel(ms, 86_400_000, 'Asia/Shanghai')).toBe('02-25');
  });
  it('reads a datetime-local input as wall time of the zone', () => {
    expect(localInputToUtcMs('2026-02-25T10:09', 'Asia/Shanghai')).toBe(Date.parse('2026-02-25T02:09:00Z'));
    expect(localInputToUtcMs('2026-07-01T08:00', 'America/New_York')).toBe(Date.parse('2026-07-01T12:00:00Z'));
    expect(localInputToUtcMs('garbage', 'UTC')).toBeNull();
  });
});
