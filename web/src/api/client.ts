// Fetch wrapper for the gatherd API. A 401 (an `[http] token` is configured) parks the request,
// asks the UI for the token once (however many requests failed), POSTs it to /api/login, which sets a
// cookie, and retries the parked requests.

import { reactive } from 'vue';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter: string | null = null,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | null | undefined>;

export function buildUrl(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** What the login form binds to. */
export const auth = reactive({
  required: false,
  error: '' as string,
  busy: false,
  /** Bumped after a successful login so the live connection can reconnect. */
  generation: 0,
});

let waiters: Array<() => void> = [];

function waitForLogin(): Promise<void> {
  auth.required = true;
  return new Promise((resolve) => waiters.push(resolve));
}

export async function login(token: string): Promise<boolean> {
  auth.busy = true;
  auth.error = '';
  try {
    const res = await fetch('api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
      credentials: 'same-origin',
    });
    if (!res.ok) {
      auth.error = res.status === 401 || res.status === 403 ? 'invalid' : `HTTP ${res.status}`;
      return false;
    }
    auth.required = false;
    auth.generation++;
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
    return true;
  } catch (e) {
    auth.error = e instanceof Error ? e.message : String(e);
    return false;
  } finally {
    auth.busy = false;
  }
}

declare global {
  interface Window {
    /** Requests index.html started before the app loaded, by URL; each is taken over once. */
    __gatherdEarly?: Record<string, Promise<Response>>;
  }
}

async function takeEarly(url: string): Promise<Response | null> {
  const early = typeof window !== 'undefined' ? window.__gatherdEarly : undefined;
  const pending = early?.[url];
  if (!pending) return null;
  delete early![url];
  try {
    return await pending;
  } catch {
    return null;
  }
}

/** GET a JSON route. Paths are relative ("api/..."), so the SPA also works under a path prefix. */
export async function getJson<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
  const url = buildUrl(path, query);
  let early = await takeEarly(url);
  for (;;) {
    const res =
      early ?? (await fetch(url, { credentials: 'same-origin', signal, headers: { Accept: 'application/json' } }));
    early = null;
    if (res.status === 401) {
      await waitForLogin();
      continue;
    }
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      let parameter: string | null = null;
      try {
        const body = (await res.json()) as { error?: string; parameter?: string };
        if (body.error) message = body.error;
        parameter = body.parameter ?? null;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, message, parameter);
    }
    return (await res.json()) as T;
  }
}
