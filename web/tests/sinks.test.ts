import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadSources, sinksInTrouble, sourcesState } from '../src/live/store';

afterEach(() => {
  vi.unstubAllGlobals();
});

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const sink = (name: string, health: string, reason = '') => ({
  name,
  plugin: 'sqlite',
  health,
  healthReason: reason,
  delivered: 5,
  retries: 2,
  dropped: 0,
  overflowed: 0,
  queuedBatches: 3,
  queuedBytes: 4096,
  memoryBytes: 4096,
  oldestAgeMs: 12_000,
  spool: { bytes: 4096, records: 3, dropped: 0, badRecords: 1, writeErrors: 0, writeError: null },
});

describe('sinks beside the sources', () => {
  it('reads the sinks list with its counters, and the banner shows only sinks in trouble', async () => {
    window.__gatherdEarly = {};
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        json(200, {
          sources: [],
          sinks: [sink('db', 'degraded', 'the database is damaged'), sink('out', 'ok'), sink('late', 'backlogged')],
        }),
      ),
    );
    await loadSources();
    expect(sourcesState.sinks).toHaveLength(3);
    expect(sourcesState.sinks[0].spool?.badRecords).toBe(1);
    expect(sourcesState.sinks[0].queuedBytes).toBe(4096);
    expect(sinksInTrouble().map((s) => `${s.name}:${s.health}`)).toEqual(['db:degraded', 'late:backlogged']);
  });

  it('copes with a server that sends no sinks list', async () => {
    window.__gatherdEarly = {};
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { sources: [] })));
    await loadSources();
    expect(sourcesState.sinks).toEqual([]);
    expect(sinksInTrouble()).toEqual([]);
  });
});
