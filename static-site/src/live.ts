// The workspace's live event feed (Server-Sent Events from the local binary): the hook opens the stream
// with a single-use ticket (EventSource cannot send the access token), reconnects after a drop with
// exponential backoff and full jitter (seed 003: at most 10 attempts, then it stops and says so), and
// catches up from the last event id it saw, so a gap loses nothing. Each event or catch-up bumps
// `version`, which screens use as a reload key.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from './api';

export type LiveState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface LiveEvent {
  id?: string;
  kind: string;
  data?: Record<string, unknown>;
}

const MAX_ATTEMPTS = 10;
const BASE_MS = 1000;
const CAP_MS = 30_000;

/** Full jitter: a random wait up to the capped exponential step (spreads reconnects after an outage). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt));
}

export function useLive(ws: string): { state: LiveState; connected: boolean; version: number; last: LiveEvent | null; retry: () => void } {
  const [state, setState] = useState<LiveState>(typeof EventSource === 'undefined' ? 'idle' : 'connecting');
  const [version, setVersion] = useState(0);
  const [last, setLast] = useState<LiveEvent | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    let source: EventSource | null = null;
    let timer: number | undefined;
    let attempts = 0;
    let cursor: string | null = null;
    let closed = false;
    const connect = async () => {
      if (closed) return;
      try {
        const { ticket } = await apiFetch<{ ticket: string }>(`/v1/workspaces/${ws}/events/ticket`, { method: 'POST' });
        if (closed) return;
        const query = new URLSearchParams({ ticket });
        if (cursor) query.set('last_event_id', cursor);
        source = new EventSource(`/v1/workspaces/${ws}/events/stream?${query}`);
      } catch {
        retryLater();
        return;
      }
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
        setLast(event);
        setVersion((v) => v + 1);
      };
      source.onerror = () => {
        // The ticket is spent, so the browser's own retry cannot succeed: reconnect ourselves.
        source?.close();
        source = null;
        retryLater();
      };
    };
    const retryLater = () => {
      if (closed) return;
      if (attempts >= MAX_ATTEMPTS) {
        setState('stopped');
        return;
      }
      setState('reconnecting');
      timer = window.setTimeout(() => void connect(), backoffMs(attempts++));
    };
    const online = () => {
      if (!source && !closed) {
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
      source?.close();
    };
  }, [ws, generation]);
  return { state, connected: state === 'connected', version, last, retry: () => setGeneration((g) => g + 1) };
}
