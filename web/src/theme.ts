// Light and dark, from the system preference unless the user picked one.

import { ref, watch } from 'vue';

export type Theme = 'light' | 'dark';
const kStorageKey = 'gatherd.theme';

function initialTheme(): Theme {
  try {
    const stored = localStorage.getItem(kStorageKey);
    if (stored === 'light' || stored === 'dark') return stored;
  } catch {
    // ignore: fall back to the system preference
  }
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export const theme = ref<Theme>(initialTheme());

export function toggleTheme(): void {
  theme.value = theme.value === 'dark' ? 'light' : 'dark';
  try {
    localStorage.setItem(kStorageKey, theme.value);
  } catch {
    // ignore
  }
}

watch(
  theme,
  (t) => {
    document.documentElement.dataset.theme = t;
  },
  { immediate: true },
);

/** Colours the charts take from the theme (ECharts cannot read CSS variables). */
export function chartPalette(t: Theme) {
  return t === 'dark'
    ? { text: '#c9d1d9', muted: '#8b949e', grid: '#30363d', bg: 'transparent', panel: '#161b22', success: '#3fb950', failure: '#f85149', series: ['#58a6ff', '#d29922', '#a371f7', '#3fb950', '#f778ba', '#79c0ff'] }
    : { text: '#1f2328', muted: '#656d76', grid: '#d0d7de', bg: 'transparent', panel: '#ffffff', success: '#1a7f37', failure: '#cf222e', series: ['#0969da', '#bf8700', '#8250df', '#1a7f37', '#bf3989', '#54aeff'] };
}
