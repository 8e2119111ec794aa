// Two languages, chosen from the browser and switchable; the choice is remembered.

import { ref } from 'vue';
import { en, type Messages } from './en';
import { zhCN } from './zh-CN';

export type Locale = 'en' | 'zh-CN';

const kStorageKey = 'gatherd.locale';
const catalogs: Record<Locale, Messages> = { en, 'zh-CN': zhCN };

export function pickLocale(languages: readonly string[], stored: string | null): Locale {
  if (stored === 'en' || stored === 'zh-CN') return stored;
  for (const lang of languages) {
    const l = lang.toLowerCase();
    if (l.startsWith('zh')) return 'zh-CN';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

function storedLocale(): string | null {
  try {
    return localStorage.getItem(kStorageKey);
  } catch {
    return null;
  }
}

export const locale = ref<Locale>(
  pickLocale(typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : [], storedLocale()),
);

export function setLocale(l: Locale): void {
  locale.value = l;
  try {
    localStorage.setItem(kStorageKey, l);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = l;
}

type Params = Record<string, string | number>;

/** Looks up "a.b.c" and fills {name} placeholders; a missing key shows itself so it gets noticed. */
export function t(key: string, params: Params = {}): string {
  let node: unknown = catalogs[locale.value];
  for (const part of key.split('.')) {
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  }
  if (typeof node !== 'string') return key;
  return node.replace(/\{(\w+)\}/g, (_, name: string) => (name in params ? String(params[name]) : `{${name}}`));
}
