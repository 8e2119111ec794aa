// The user's time zone (times are shown in it, calendar windows are asked in it) and a clock
// that ticks for countdowns.

import { onBeforeUnmount, ref } from 'vue';
import { userTimeZone, utcOffsetParam } from './format/format';

export const timeZone = userTimeZone();

/** The API's `tz` parameter for now (an offset; a DST change takes effect on the next fetch). */
export function tzParam(): string {
  return utcOffsetParam(timeZone);
}

/** A ref with Date.now(), updated every `everyMs` while the component lives. */
export function useNow(everyMs = 15_000) {
  const now = ref(Date.now());
  const handle = setInterval(() => (now.value = Date.now()), everyMs);
  onBeforeUnmount(() => clearInterval(handle));
  return now;
}

let firstData: Promise<void> | null = null;

/**
 * Marks the moment the first API data is on screen (the frame that paints it); the e2e reads it
 * as a performance mark. The promise settles after that frame, so heavier work (the charts) can
 * wait for it instead of delaying the first paint.
 */
export function markFirstData(): Promise<void> {
  if (!firstData) {
    firstData = new Promise((resolve) => {
      requestAnimationFrame(() => {
        performance.mark('gatherd:first-data');
        document.documentElement.dataset.firstData = '1';
        setTimeout(resolve, 0);
      });
    });
  }
  return firstData;
}
