// Formatting of money, token counts, durations and times. Every function takes the locale (and, for
// times, the IANA time zone) explicitly so tests can pin them; the app passes the user's.

export const kDash = '—';

type Num = number | null | undefined;

function isNum(v: Num): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** US dollars with a fixed number of decimals (the invocation list uses 4). */
export function formatUsd(value: Num, decimals = 2, locale = 'en'): string {
  if (!isNum(value)) return kDash;
  const scale = 10 ** decimals;
  const rounded = Math.round(value * scale) / scale;
  const text = new Intl.NumberFormat(locale, {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  }).format(Math.abs(rounded));
  return `${rounded < 0 ? '-' : ''}$${text}`;
}

/** Cost for cards: 2 decimals from one dollar up, 4 below, so small amounts stay readable. */
export function formatCost(value: Num, locale = 'en'): string {
  if (!isNum(value)) return kDash;
  return formatUsd(value, Math.abs(value) >= 1 ? 2 : 4, locale);
}

/** Exact integer with grouping: 52,340 (en) or 52,340 (zh-CN). */
export function formatInteger(value: Num, locale = 'en'): string {
  if (!isNum(value)) return kDash;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
}

/** Token counts, compact to 3 digits: 950, 52.3K, 1.25M in English; 950, 5.23万, 1.25亿 in Chinese. */
export function formatTokens(value: Num, locale = 'en'): string {
  if (!isNum(value)) return kDash;
  if (Math.abs(value) < 10_000) return formatInteger(value, locale);
  return new Intl.NumberFormat(locale, {
    notation: 'compact',
    maximumSignificantDigits: 3,
  }).format(value);
}

/** A ratio 0..1 as a percentage with one decimal; null (no calls) is a dash. */
export function formatPercent(ratio: Num, locale = 'en'): string {
  if (!isNum(ratio)) return kDash;
  return new Intl.NumberFormat(locale, {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(ratio);
}

const kUnitsEn: [string, string, string, string] = ['d', 'h', 'm', 's'];
const kUnitsZh: [string, string, string, string] = ['天', '小时', '分', '秒'];

function unitsFor(locale: string): [string, string, string, string] {
  return locale.toLowerCase().startsWith('zh') ? kUnitsZh : kUnitsEn;
}

/**
 * A latency or elapsed time: "850 ms", "1.24 s", "3m 20s", "2h 5m", "3d 4h".
 * Negative or missing values are a dash.
 */
export function formatDuration(ms: Num, locale = 'en'): string {
  if (!isNum(ms) || ms < 0) return kDash;
  const [d, h, m, s] = unitsFor(locale);
  const sep = locale.toLowerCase().startsWith('zh') ? '' : ' ';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) {
    if (ms % 1000 === 0) return `${ms / 1000} s`;
    const secs = ms / 1000;
    return `${secs < 10 ? secs.toFixed(2) : secs.toFixed(1)} s`;
  }
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return hours > 0 ? `${days}${d}${sep}${hours}${h}` : `${days}${d}`;
  if (hours > 0) return minutes > 0 ? `${hours}${h}${sep}${minutes}${m}` : `${hours}${h}`;
  return seconds > 0 ? `${minutes}${m}${sep}${seconds}${s}` : `${minutes}${m}`;
}

export type CountdownLevel = 'ok' | 'warning' | 'danger' | 'expired';

export interface Countdown {
  text: string;
  level: CountdownLevel;
  remainingMs: number;
}

/**
 * Time left until `target`. The level turns to `warning` inside `warnMs` and to `danger` inside
 * `dangerMs`, so the plan card can colour an expiry that nears.
 */
export function countdown(
  target: string | number | Date | null | undefined,
  nowMs: number,
  locale = 'en',
  warnMs = 3 * 86_400_000,
  dangerMs = 86_400_000,
): Countdown | null {
  if (target === null || target === undefined || target === '') return null;
  const targetMs = target instanceof Date ? target.getTime() : typeof target === 'number' ? target : Date.parse(target);
  if (!Number.isFinite(targetMs)) return null;
  const remainingMs = targetMs - nowMs;
  if (remainingMs <= 0) return { text: formatDuration(0, locale), level: 'expired', remainingMs };
  const level: CountdownLevel = remainingMs <= dangerMs ? 'danger' : remainingMs <= warnMs ? 'warning' : 'ok';
  // Round up to the minute above so "59s" never shows as "0m".
  const shown = remainingMs >= 60_000 ? Math.ceil(remainingMs / 60_000) * 60_000 : remainingMs;
  return { text: formatDuration(shown, locale), level, remainingMs };
}

/** The browser's IANA zone, e.g. "Asia/Shanghai". */
export function userTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function partsOf(ms: number, timeZone: string): Record<string, string> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'short',
  }).formatToParts(new Date(ms));
  const out: Record<string, string> = {};
  for (const p of parts) out[p.type] = p.value;
  return out;
}

function toMs(value: string | number | Date | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** "2026-02-25 10:09:41" in the given zone (24-hour; the same shape in every language). */
export function formatDateTime(value: string | number | Date | null | undefined, timeZone: string): string {
  const ms = toMs(value);
  if (ms === null) return kDash;
  const p = partsOf(ms, timeZone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** "10:09:41" in the given zone. */
export function formatTime(value: string | number | Date | null | undefined, timeZone: string): string {
  const ms = toMs(value);
  if (ms === null) return kDash;
  const p = partsOf(ms, timeZone);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** Chart axis label for a bucket start: "10:15" within a day, "02-25 10:00" across days, "02-25" for days. */
export function formatBucketLabel(ms: number, bucketMs: number, timeZone: string): string {
  const p = partsOf(ms, timeZone);
  if (bucketMs >= 86_400_000) return `${p.month}-${p.day}`;
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** Offset of `timeZone` at `ms` as the API's `tz` parameter wants it: "+08:00", "-05:30", "Z". */
export function utcOffsetParam(timeZone: string, ms: number = Date.now()): string {
  const p = partsOf(ms, timeZone);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  const offsetMinutes = Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
  if (offsetMinutes === 0) return 'Z';
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Day of week (0 = Monday) and hour of `ms` in the zone: the cell of the 7x24 heatmap. */
export function weekdayHour(ms: number, timeZone: string): { weekday: number; hour: number } {
  const p = partsOf(ms, timeZone);
  const order = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  return { weekday: order.indexOf(p.weekday), hour: Number(p.hour) };
}

/**
 * A `<input type="datetime-local">` value ("2026-02-25T10:09") read as wall time in `timeZone`,
 * returned as UTC milliseconds (what the API's from/to accept).
 */
export function localInputToUtcMs(value: string, timeZone: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
  // Two passes settle the offset across a DST edge.
  let guess = wall;
  for (let i = 0; i < 2; i++) {
    const p = partsOf(guess, timeZone);
    const seen = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    guess += wall - seen;
  }
  return guess;
}
