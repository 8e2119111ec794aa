// Turns a burst of triggers into one call: the call runs `waitMs` after the last trigger, but no
// later than `maxWaitMs` after the first one of the burst, so a steady stream of events still
// refreshes now and then instead of never. A call never overlaps the previous one: a trigger that
// arrives while the call runs schedules one more run after it.

export interface Coalescer {
  trigger(): void;
  cancel(): void;
  readonly pending: boolean;
}

export function coalesce(
  fn: () => void | Promise<unknown>,
  waitMs: number,
  maxWaitMs: number,
  timers: { set: (f: () => void, ms: number) => unknown; clear: (h: unknown) => void } = {
    set: (f, ms) => setTimeout(f, ms),
    clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  },
  now: () => number = () => Date.now(),
): Coalescer {
  let handle: unknown = null;
  let firstAt: number | null = null;
  let running = false;
  let again = false;

  const run = async () => {
    handle = null;
    firstAt = null;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
      if (again) {
        again = false;
        trigger();
      }
    }
  };

  const trigger = () => {
    if (running) {
      again = true;
      return;
    }
    const t = now();
    if (firstAt === null) firstAt = t;
    if (handle !== null) timers.clear(handle);
    const delay = Math.max(0, Math.min(waitMs, firstAt + maxWaitMs - t));
    handle = timers.set(() => void run(), delay);
  };

  return {
    trigger,
    cancel() {
      if (handle !== null) timers.clear(handle);
      handle = null;
      firstAt = null;
      again = false;
    },
    get pending() {
      return handle !== null || again;
    },
  };
}
