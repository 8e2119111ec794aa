// The window-ledger timeline: the span is cut into equal cells and each cell shows the worst
// outcome of the windows that started in it. A cell with no window at all is a hole in the data
// (the daemon was down, or the ledger lost it) and is shown as such.

import type { LedgerWindow } from '../api/types';

export type CellKind = 'ok' | 'skipped' | 'gap' | 'failed' | 'none' | 'unloaded';

export interface TimelineCell {
  startMs: number;
  endMs: number;
  kind: CellKind;
  ok: number;
  failed: number;
  skipped: number;
  gaps: number;
}

const kRank: Record<CellKind, number> = { unloaded: 0, none: 0, ok: 1, skipped: 2, gap: 3, failed: 4 };

export function windowKind(w: LedgerWindow): CellKind {
  if (w.outcome === 'ok') return w.gapSuspected ? 'gap' : 'ok';
  if (w.outcome === 'skipped' || w.outcome === 'aborted') return 'skipped';
  return 'failed';
}

/**
 * `loadedFromMs`: when only the newest part of the span was read (too many windows), cells that
 * end before it are `unloaded`, not holes.
 */
export function buildTimeline(
  windows: LedgerWindow[],
  fromMs: number,
  toMs: number,
  cellCount: number,
  loadedFromMs: number = fromMs,
): TimelineCell[] {
  const width = (toMs - fromMs) / cellCount;
  const cells: TimelineCell[] = Array.from({ length: cellCount }, (_, i) => ({
    startMs: fromMs + i * width,
    endMs: fromMs + (i + 1) * width,
    kind: 'none' as CellKind,
    ok: 0,
    failed: 0,
    skipped: 0,
    gaps: 0,
  }));
  for (const w of windows) {
    const at = w.windowMs;
    if (!(at >= fromMs && at < toMs)) continue;
    const cell = cells[Math.min(cellCount - 1, Math.floor((at - fromMs) / width))];
    const kind = windowKind(w);
    if (kind === 'ok') cell.ok++;
    else if (kind === 'gap') {
      cell.ok++;
      cell.gaps++;
    } else if (kind === 'skipped') cell.skipped++;
    else cell.failed++;
    if (kRank[kind] > kRank[cell.kind]) cell.kind = kind;
  }
  for (const cell of cells) {
    if (cell.kind === 'none' && cell.endMs <= loadedFromMs) cell.kind = 'unloaded';
  }
  return cells;
}
