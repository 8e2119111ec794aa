// One EventSource for the whole app, with resume.
//
// While the browser reconnects by itself (readyState CONNECTING after an error) it sends
// Last-Event-ID on its own. When the EventSource gives up (readyState CLOSED: the server answered
// non-200, e.g. 401 or 503, or the network failed hard) we open a new one after a backoff; a new
// EventSource starts without an id, so the last id we saw travels as the `lastEventId` query
// parameter, which the server treats like the header.

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface MessageLike {
  data: string;
  lastEventId: string;
}

export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageLike) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * Turns an event's `data` into the payload its listeners get; `undefined` drops the event (its id
 * still counts for the resume). The default parses JSON and passes anything else as the text.
 */
export type Parse<E> = <K extends keyof E & string>(type: K, data: string) => E[K] | undefined;

export interface LiveOptions<E> {
  url: string;
  eventTypes: ReadonlyArray<keyof E & string>;
  parse?: Parse<E>;
  create?: EventSourceFactory;
  timers?: Timers;
  /** Delays before manual reconnects; the last one repeats. */
  backoffMs?: readonly number[];
}

export type Listener<T = unknown> = (data: T, id: string | null) => void;

/** Events by name: the payload type of each (the default: whatever the JSON holds). */
export type EventMap = Record<string, unknown>;

const kClosed = 2;

const defaultTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

function parseJson(_type: string, data: string): unknown {
  if (!data) return null;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

export function resumeUrl(base: string, lastEventId: string | null): string {
  if (!lastEventId) return base;
  const sep = base.includes('?') ? '&' : '?';
  return `${base}${sep}lastEventId=${encodeURIComponent(lastEventId)}`;
}

export class LiveClient<E extends object = EventMap> {
  private es: EventSourceLike | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private stateListeners = new Set<(s: ConnectionState) => void>();
  private retryHandle: unknown = null;
  /** The stream was open and then failed: the next open is a resume. */
  private lostConnection = false;
  private attempt = 0;
  private stopped = true;
  private readonly create: EventSourceFactory;
  private readonly timers: Timers;
  private readonly backoff: readonly number[];
  private readonly parse: Parse<E>;

  lastEventId: string | null = null;
  state: ConnectionState = 'closed';
  /** How many EventSource objects were opened (the first plus manual reconnects). */
  opened = 0;

  constructor(private readonly options: LiveOptions<E>) {
    this.create = options.create ?? ((url) => new EventSource(url) as unknown as EventSourceLike);
    this.timers = options.timers ?? defaultTimers;
    this.backoff = options.backoffMs ?? [1000, 2000, 5000, 10000, 30000];
    this.parse = options.parse ?? (parseJson as Parse<E>);
  }

  on<K extends keyof E & string>(type: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    const listener = fn as Listener;
    set.add(listener);
    return () => set!.delete(listener);
  }

  onState(fn: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry();
    this.es?.close();
    this.es = null;
    this.setState('closed');
  }

  /** Drop the current connection and open a new one at once (e.g. after a login). */
  reconnectNow(): void {
    if (this.stopped) return;
    this.cancelRetry();
    this.es?.close();
    this.es = null;
    this.attempt = 0;
    this.open();
  }

  private open(): void {
    this.setState(this.opened === 0 ? 'connecting' : 'reconnecting');
    const manual = this.opened > 0;
    const es = this.create(resumeUrl(this.options.url, this.lastEventId));
    this.opened++;
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.attempt = 0;
      const resumed = this.lostConnection;
      this.lostConnection = false;
      this.setState('open');
      // Without an id the server cannot replay what happened while we were away, and a server
      // that ignores the lastEventId parameter of a manual reconnect would not either: tell the
      // listeners to refetch, as for a server `reset` (they dedupe what is also replayed).
      if (resumed && (!this.lastEventId || manual)) this.dispatch('reset', null, null);
    };
    es.onerror = () => {
      if (this.es !== es) return;
      if (this.state === 'open') this.lostConnection = true;
      if (es.readyState === kClosed) {
        es.close();
        this.es = null;
        this.scheduleRetry();
      } else {
        this.setState('reconnecting');
      }
    };
    for (const type of this.options.eventTypes) {
      es.addEventListener(type, (ev) => {
        if (this.es !== es) return;
        this.handle(type, ev);
      });
    }
  }

  private handle(type: keyof E & string, ev: MessageLike): void {
    if (ev.lastEventId) this.lastEventId = ev.lastEventId;
    // A message proves the stream is up even if onopen was missed.
    if (this.state !== 'open') {
      this.attempt = 0;
      this.setState('open');
    }
    const data = this.parse(type, ev.data ?? '');
    if (data === undefined) return;
    this.dispatch(type, data, ev.lastEventId || null);
  }

  private dispatch(type: string, data: unknown, id: string | null): void {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) fn(data, id);
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.setState('reconnecting');
    const delay = this.backoff[Math.min(this.attempt, this.backoff.length - 1)];
    this.attempt++;
    this.retryHandle = this.timers.set(() => {
      this.retryHandle = null;
      if (!this.stopped) this.open();
    }, delay);
  }

  private cancelRetry(): void {
    if (this.retryHandle !== null) {
      this.timers.clear(this.retryHandle);
      this.retryHandle = null;
    }
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of [...this.stateListeners]) fn(s);
  }
}
