// ECharts options built from API answers. Pure functions: they take the palette, the labels and the
// time zone, so a theme or language switch is just a recomputation.

import type { ErrorGroup, LatencyAnswer, TimeseriesPoint } from '../api/types';
import { formatBucketLabel, weekdayHour } from '../format/format';
import type { chartPalette } from '../theme';

export type Palette = ReturnType<typeof chartPalette>;
type Option = Record<string, unknown>;

function axisStyle(p: Palette) {
  return {
    axisLine: { lineStyle: { color: p.grid } },
    axisLabel: { color: p.muted },
    splitLine: { lineStyle: { color: p.grid, type: 'dashed' } },
  };
}

function tooltip(p: Palette, extra: Option = {}): Option {
  return { trigger: 'axis', confine: true, backgroundColor: p.panel, borderColor: p.grid, textStyle: { color: p.text }, ...extra };
}

function base(p: Palette): Option {
  return {
    backgroundColor: p.bg,
    color: p.series,
    textStyle: { color: p.text },
    animation: false,
    tooltip: tooltip(p),
    legend: { top: 0, textStyle: { color: p.text } },
    grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
  };
}

function categories(points: TimeseriesPoint[], bucketMs: number, tz: string): string[] {
  return points.map((pt) => formatBucketLabel(pt.tMs, bucketMs, tz));
}

/** Overview: calls as bars, cost and tokens as lines on their own axes. */
export function callsCostTokensOption(
  points: TimeseriesPoint[],
  bucketMs: number,
  tz: string,
  p: Palette,
  names: { calls: string; cost: string; tokens: string },
): Option {
  return {
    ...base(p),
    grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
    xAxis: { type: 'category', data: categories(points, bucketMs, tz), ...axisStyle(p), splitLine: { show: false } },
    yAxis: [
      { type: 'value', name: names.calls, minInterval: 1, ...axisStyle(p), nameTextStyle: { color: p.muted } },
      { type: 'value', name: names.cost, ...axisStyle(p), splitLine: { show: false }, nameTextStyle: { color: p.muted } },
      { type: 'value', name: names.tokens, show: false },
    ],
    series: [
      { name: names.calls, type: 'bar', yAxisIndex: 0, barMaxWidth: 40, data: points.map((x) => x.count) },
      { name: names.cost, type: 'line', yAxisIndex: 1, showSymbol: false, data: points.map((x) => +x.costUsd.toFixed(4)) },
      { name: names.tokens, type: 'line', yAxisIndex: 2, showSymbol: false, lineStyle: { type: 'dashed' }, data: points.map((x) => x.totalTokens) },
    ],
  };
}

/** Calls per (weekday, hour) in the user's zone, summed over the points (7 days of 1h buckets). */
export function heatmapCells(points: TimeseriesPoint[], tz: string): number[][] {
  const grid = new Map<string, number>();
  for (const pt of points) {
    const { weekday, hour } = weekdayHour(pt.tMs, tz);
    const k = `${hour}:${weekday}`;
    grid.set(k, (grid.get(k) ?? 0) + pt.count);
  }
  const cells: number[][] = [];
  for (let hour = 0; hour < 24; hour++) {
    for (let weekday = 0; weekday < 7; weekday++) {
      cells.push([hour, weekday, grid.get(`${hour}:${weekday}`) ?? 0]);
    }
  }
  return cells;
}

/** Stats: success and failure stacked per bucket. */
export function successFailureOption(
  points: TimeseriesPoint[],
  bucketMs: number,
  tz: string,
  p: Palette,
  names: { success: string; failure: string },
): Option {
  return {
    ...base(p),
    xAxis: { type: 'category', data: categories(points, bucketMs, tz), ...axisStyle(p), splitLine: { show: false } },
    yAxis: { type: 'value', minInterval: 1, ...axisStyle(p) },
    series: [
      { name: names.success, type: 'bar', stack: 'calls', color: p.success, barMaxWidth: 40, data: points.map((x) => x.success) },
      { name: names.failure, type: 'bar', stack: 'calls', color: p.failure, barMaxWidth: 40, data: points.map((x) => x.failure) },
    ],
  };
}

export function lineOption(
  points: TimeseriesPoint[],
  bucketMs: number,
  tz: string,
  p: Palette,
  series: Array<{ name: string; values: (pt: TimeseriesPoint) => number; area?: boolean }>,
  axisLabel?: (value: number) => string,
): Option {
  const style = axisStyle(p);
  return {
    ...base(p),
    xAxis: { type: 'category', data: categories(points, bucketMs, tz), ...style, splitLine: { show: false } },
    yAxis: { type: 'value', ...style, axisLabel: axisLabel ? { ...style.axisLabel, formatter: axisLabel } : style.axisLabel },
    series: series.map((s) => ({
      name: s.name,
      type: 'line',
      showSymbol: false,
      areaStyle: s.area ? { opacity: 0.15 } : undefined,
      data: points.map(s.values),
    })),
  };
}

export function errorsOption(items: ErrorGroup[], p: Palette, callsName: string): Option {
  const top = items.slice(0, 10).reverse();
  return {
    ...base(p),
    legend: { show: false },
    tooltip: tooltip(p, { axisPointer: { type: 'shadow' } }),
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, ...axisStyle(p) },
    yAxis: {
      type: 'category',
      data: top.map((e) => e.message),
      axisLabel: { color: p.muted, width: 220, overflow: 'truncate' },
    },
    series: [{ name: callsName, type: 'bar', color: p.failure, barMaxWidth: 22, data: top.map((e) => e.count) }],
  };
}

export function latencyOption(
  answer: LatencyAnswer,
  p: Palette,
  names: { response: string; firstByte: string },
  duration: (ms: number) => string,
): Option {
  const pick = (x: number | null) => (x === null ? null : Math.round(x));
  return {
    ...base(p),
    tooltip: tooltip(p, { axisPointer: { type: 'shadow' }, valueFormatter: (v: number | null) => (v === null ? '—' : duration(v)) }),
    xAxis: { type: 'category', data: ['p50', 'p90', 'p99'], ...axisStyle(p), splitLine: { show: false } },
    yAxis: { type: 'value', ...axisStyle(p), axisLabel: { color: p.muted, formatter: duration } },
    series: [
      { name: names.response, type: 'bar', barMaxWidth: 48, data: [answer.responseMs.p50, answer.responseMs.p90, answer.responseMs.p99].map(pick) },
      { name: names.firstByte, type: 'bar', barMaxWidth: 48, data: [answer.firstByteMs.p50, answer.firstByteMs.p90, answer.firstByteMs.p99].map(pick) },
    ],
  };
}
