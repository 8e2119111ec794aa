import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, auth, buildUrl, getJson, login } from '../src/api/client';

afterEach(() => {
  vi.unstubAllGlobals();
  auth.required = false;
});

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('api client', () => {
  it('builds query strings without empty parameters', () => {
    expect(buildUrl('api/invocations', { limit: 50, cursor: null, q: '', model: 'a b' })).toBe('api/invocations?limit=50&model=a+b');
  });

  it('reports the API error text and parameter', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(400, { error: 'limit must be 1..500', parameter: 'limit' })));
    const err = (await getJson('api/invocations', { limit: 9999 }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('limit must be 1..500');
    expect(err.parameter).toBe('limit');
  });

  it('takes over a request index.html started early, once', async () => {
    const fetchMock = vi.fn(async () => json(200, { from: 'fetch' }));
    vi.stubGlobal('fetch', fetchMock);
    window.__gatherdEarly = { 'api/quota/latest': Promise.resolve(json(200, { from: 'early' })) };
    expect(await getJson('api/quota/latest')).toEqual({ from: 'early' });
    expect(fetchMock).not.toHaveBeenCalled();
    expect(await getJson('api/quota/latest')).toEqual({ from: 'fetch' });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('falls back to its own request when the early one failed', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json(200, { from: 'fetch' })));
    window.__gatherdEarly = { 'api/sources': Promise.reject(new TypeError('network')) };
    expect(await getJson('api/sources')).toEqual({ from: 'fetch' });
  });

  it('parks requests on 401, logs in once with the token, then retries them', async () => {
    let authed = false;
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        calls.push(`${init?.method ?? 'GET'} ${url}`);
        if (url === 'api/login') {
          const body = JSON.parse(String(init?.body));
          if (body.token !== 's3cret') return json(401, { error: 'bad token' });
          authed = true;
          return json(200, { ok: true });
        }
        return authed ? json(200, { url }) : json(401, { error: 'token required' });
      }),
    );
    const a = getJson<{ url: string }>('api/sources');
    const b = getJson<{ url: string }>('api/stats');
    await vi.waitFor(() => expect(auth.required).toBe(true));

    expect(await login('wrong')).toBe(false);
    expect(auth.error).toBe('invalid');
    expect(auth.required).toBe(true);

    const generation = auth.generation;
    expect(await login('s3cret')).toBe(true);
    expect(auth.required).toBe(false);
    expect(auth.generation).toBe(generation + 1);
    expect((await a).url).toBe('api/sources');
    expect((await b).url).toBe('api/stats');
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(2);
  });
});
