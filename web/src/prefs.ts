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

let firstDataMarked = false;

/** Marks the moment the first API data is on screen; the e2e reads it as a performance mark. */
export function markFirstData(): void {
  if (firstDataMarked) return;
  firstDataMarked = true;
  requestAnimationFrame(() => {
    performance.mark('gatherd:first-data');
    document.documentElement.dataset.firstData = '1';
  });
}
