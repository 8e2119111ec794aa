import { describe, expect, it } from 'vitest';
import { coalesce } from '../src/live/coalesce';

function harness() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let next = 1;
  const api = {
    set: (fn: () => void, ms: number) => {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clear: (h: unknown) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = async (ms: number) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const t = timers[0];
      if (!t || t.at > end) break;
      timers.shift();
      now = t.at;
      t.fn();
      await Promise.resolve();
      await Promise.resolve();
    }
    now = end;
  };
  return { api, advance, clock: () => now };
}

describe('coalesce', () => {
  it('turns a burst into one call after the quiet period', async () => {
    const h = harness();
    let calls = 0;
    const c = coalesce(() => void calls++, 1000, 10_000, h.api, h.clock);
    for (let i = 0; i < 50; i++) {
      c.trigger();
      await h.advance(100);
    }
    expect(calls).toBe(0);
    await h.advance(1000);
    expect(calls).toBe(1);
  });

  it('still calls during an endless stream, at most every maxWait', async () => {
    const h = harness();
    let calls = 0;
    const c = coalesce(() => void calls++, 1000, 3000, h.api, h.clock);
    for (let i = 0; i < 100; i++) {
      c.trigger();
      await h.advance(500);
    }
    // 50 s of events every 0.5 s: one call per 3 s, never one per event.
    expect(calls).toBeGreaterThanOrEqual(15);
    expect(calls).toBeLessThanOrEqual(17);
  });

  it('does not overlap a running call, and runs once more after it', async () => {
    const h = harness();
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release: () => void = () => {};
    const c = coalesce(
      () =>
        new Promise<void>((resolve) => {
          calls++;
          running++;
          maxRunning = Math.max(maxRunning, running);
          release = () => {
            running--;
            resolve();
          };
        }),
      100,
      1000,
      h.api,
      h.clock,
    );
    c.trigger();
    await h.advance(100);
    expect(calls).toBe(1);
    c.trigger();
    c.trigger();
    await h.advance(500);
    expect(calls).toBe(1);
    release();
    await h.advance(0);
    await h.advance(100);
    expect(calls).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('cancel drops what is pending', async () => {
    const h = harness();
    let calls = 0;
    const c = coalesce(() => void calls++, 100, 1000, h.api, h.clock);
    c.trigger();
    expect(c.pending).toBe(true);
    c.cancel();
    await h.advance(5000);
    expect(calls).toBe(0);
  });
});
