// The workspace's live event feed. `GET /v1/health` says which transport the deployment offers: a
// WebSocket (`live_websocket_url`: the AWS WebSocket API, or the local binary's `/live` when it is run
// with WEBTRIGGER_LIVE_WS_URL=/live), else the local binary's Server-Sent Events stream. Both open with a
// single-use ticket (neither EventSource nor WebSocket can send the access token), reconnect after a drop
// with exponential backoff and full jitter (seed 003: at most 10 attempts, then it stops and says so), and
// catch up from the last event id seen, so a gap loses nothing: the SSE stream replays it itself, the
// WebSocket client asks `GET …/events?after=<cursor>` once open. Events are de-duplicated by id (a
// replayed and a pushed copy of one event count once). Each event or catch-up bumps `version`, which
// screens use as a reload key.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch, getHealth } from './api';

export type LiveState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped';
export type LiveTransport = 'sse' | 'websocket';

export interface LiveEvent {
  id?: string;
  kind: string;
  data?: Record<string, unknown>;
}

const MAX_ATTEMPTS = 10;
const BASE_MS = 1000;
const CAP_MS = 30_000;
/** API Gateway closes a WebSocket idle for 10 minutes; a small client frame every 5 keeps it open. */
const KEEPALIVE_MS = 5 * 60_000;
/** Event ids remembered for de-duplication (far more than one catch-up replays). */
const SEEN_MAX = 1000;

/** Full jitter: a random wait up to the capped exponential step (spreads reconnects after an outage). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt));
}

let transportOnce: Promise<string | null> | null = null;

/** The WebSocket URL the deployment advertises (asked once per page load), or null for SSE. */
function websocketUrl(): Promise<string | null> {
  transportOnce ??= getHealth()
    .then((h) => h.live_websocket_url ?? null)
    .catch(() => {
      transportOnce = null;
      return null;
    });
  return transportOnce;
}

/** `/live` (same origin) or `wss://…/live`, with the workspace and ticket in the query as API Gateway expects. */
export function socketUrl(base: string, ws: string, ticket: string): string {
  const origin = base.startsWith('/') ? `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${base}` : base;
  return `${origin}${origin.includes('?') ? '&' : '?'}${new URLSearchParams({ ws, ticket })}`;
}

/** Remembers event ids; `fresh` is false for one seen before. */
class Seen {
  private ids = new Set<string>();
  fresh(id: string | undefined): boolean {
    if (!id) return true;
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > SEEN_MAX) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

export function useLive(ws: string): { state: LiveState; connected: boolean; transport: LiveTransport | null; version: number; last: LiveEvent | null; retry: () => void } {
  const supported = typeof EventSource !== 'undefined' || typeof WebSocket !== 'undefined';
  const [state, setState] = useState<LiveState>(supported ? 'connecting' : 'idle');
  const [transport, setTransport] = useState<LiveTransport | null>(null);
  const [version, setVersion] = useState(0);
  const [last, setLast] = useState<LiveEvent | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!supported) return;
    let close: (() => void) | null = null;
    let timer: number | undefined;
    let keepalive: number | undefined;
    let attempts = 0;
    let cursor: string | null = null;
    let closed = false;
    const seen = new Seen();

    const deliver = (event: LiveEvent) => {
      if (!seen.fresh(event.id)) return;
      if (event.id && event.kind !== 'ready' && (!cursor || event.id > cursor)) cursor = event.id;
      setLast(event);
      setVersion((v) => v + 1);
    };
    const dropped = () => {
      close?.();
      close = null;
      retryLater();
    };

    const openSse = (ticket: string) => {
      const query = new URLSearchParams({ ticket });
      if (cursor) query.set('last_event_id', cursor);
      const source = new EventSource(`/v1/workspaces/${ws}/events/stream?${query}`);
      close = () => source.close();
      source.onmessage = (m: MessageEvent<string>) => {
        let event: LiveEvent;
        try {
          event = JSON.parse(m.data) as LiveEvent;
        } catch {
          return;
        }
        if (m.lastEventId && (!cursor || m.lastEventId > cursor)) cursor = m.lastEventId;
        if (event.kind === 'ready') {
          attempts = 0;
          setState('connected');
        }
        // `ready` after a reconnect follows the replayed gap; `reset` means reload everything.
        const id = m.lastEventId || event.id;
        deliver(event.kind === 'ready' || event.kind === 'reset' || !id ? { kind: event.kind } : { ...event, id });
      };
      // The ticket is spent, so the browser's own retry cannot succeed: reconnect ourselves.
      source.onerror = dropped;
    };

    const catchUp = async () => {
      if (!cursor) return;
      const gap = await apiFetch<{ events: LiveEvent[]; reset: boolean }>(`/v1/workspaces/${ws}/events?after=${encodeURIComponent(cursor)}`);
      if (closed) return;
      if (gap.reset) deliver({ kind: 'reset' });
      for (const event of gap.events) deliver(event);
    };

    const openSocket = (base: string, ticket: string) => {
      const socket = new WebSocket(socketUrl(base, ws, ticket));
      close = () => {
        window.clearInterval(keepalive);
        socket.onclose = null;
        socket.close();
      };
      socket.onopen = () => {
        attempts = 0;
        setState('connected');
        keepalive = window.setInterval(() => socket.send('{"action":"ping"}'), KEEPALIVE_MS);
        // Connected (the server is following the feed for us), so whatever the log holds after the
        // cursor is exactly what a gap missed; events pushed meanwhile are de-duplicated.
        catchUp()
          .then(() => deliver({ kind: 'ready' }))
          .catch(() => deliver({ kind: 'reset' }));
      };
      socket.onmessage = (m: MessageEvent<string>) => {
        try {
          deliver(JSON.parse(m.data) as LiveEvent);
        } catch {
          /* not an event: ignored */
        }
      };
      // A refused upgrade (spent ticket, removed member) closes without opening: the same retry path.
      socket.onclose = () => {
        if (!closed) dropped();
      };
    };

    const connect = async () => {
      if (closed) return;
      try {
        const base = await websocketUrl();
        if (closed) return;
        setTransport(base ? 'websocket' : 'sse');
        const t = await apiFetch<{ ticket: string; cursor?: string }>(`/v1/workspaces/${ws}/events/ticket`, { method: 'POST' });
        if (closed) return;
        if (base) {
          // The ticket's cursor is where a first gap starts (a WebSocket gets no `ready` greeting).
          cursor ??= t.cursor ?? null;
          openSocket(base, t.ticket);
        } else openSse(t.ticket);
      } catch {
        retryLater();
      }
    };
    const retryLater = () => {
      if (closed) return;
      if (attempts >= MAX_ATTEMPTS) {
        setState('stopped');
        return;
      }
      setState('reconnecting');
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void connect(), backoffMs(attempts++));
    };
    const online = () => {
      if (!close && !closed) {
        window.clearTimeout(timer);
        attempts = 0;
        void connect();
      }
    };
    window.addEventListener('online', online);
    void connect();
    return () => {
      closed = true;
      window.clearTimeout(timer);
      window.removeEventListener('online', online);
      close?.();
    };
  }, [ws, generation]);
  return { state, connected: state === 'connected', transport, version, last, retry: () => setGeneration((g) => g + 1) };
}
