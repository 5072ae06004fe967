// The shared inbox: conversations (newest activity first, filtered by status and assignee) beside the
// selected conversation's timeline, a reply box and team actions. It follows new messages by polling
// the first page every few seconds (the list is ordered by last activity, so new activity is on top).

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { useSession, type WorkspaceSummary } from '../auth';
import { WithWorkspace, message, useLoad, usePoll } from './settings';

const POLL_MS = 3000;

interface Conversation {
  id: string;
  channel_id: string;
  contact: string;
  contact_name: string | null;
  status: 'open' | 'pending' | 'snoozed' | 'resolved';
  snoozed_until: string | null;
  assignee: string | null;
  labels: string[];
  unread: number;
  last_message: { direction: string; preview: string; at: string } | null;
}

interface Entry {
  id: string;
  direction: 'inbound' | 'outbound' | 'note';
  kind: string;
  text: string | null;
  status: string | null;
  author: string | null;
  edited: boolean;
  deleted: boolean;
  at: string;
}

export function InboxPage() {
  return <WithWorkspace title="Inbox" lead="WhatsApp conversations, answered by your team.">{(ws) => <Inbox ws={ws} />}</WithWorkspace>;
}

function Inbox({ ws }: { ws: WorkspaceSummary }) {
  const session = useSession();
  const me = session.status === 'signed-in' ? session.me.id : '';
  const [status, setStatus] = useState('open');
  const [mine, setMine] = useState(false);
  const [selected, setSelected] = useState<string | null>(new URLSearchParams(window.location.search).get('conversation'));
  const poll = usePoll(POLL_MS);
  const query = new URLSearchParams();
  if (status) query.set('status', status);
  if (mine) query.set('assignee', me);
  const list = useLoad(() => apiFetch<{ conversations: Conversation[] }>(`/v1/workspaces/${ws.id}/conversations?${query}`), [ws.id, status, mine, poll]);
  const conversations = list.data?.conversations ?? [];
  const current = conversations.find((c) => c.id === selected) ?? null;
  return (
    <div class="inbox">
      <div class="card inbox-list">
        <div class="form form-inline">
          <label class="field">
            <span>Status</span>
            <select name="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="open">Open</option>
              <option value="snoozed">Snoozed</option>
              <option value="resolved">Resolved</option>
              <option value="">All</option>
            </select>
          </label>
          <label class="check"><input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> Assigned to me</label>
        </div>
        {list.error && <p class="alert alert-error">{list.error}</p>}
        {conversations.length === 0 && <p class="muted">No conversations here yet. New WhatsApp messages appear automatically.</p>}
        <ul class="conversation-list" data-testid="conversation-list">
          {conversations.map((c) => (
            <li key={c.id}>
              <button type="button" class={`conversation${c.id === selected ? ' selected' : ''}`} onClick={() => setSelected(c.id)}>
                <strong>{c.contact_name ?? c.contact}</strong>
                {c.unread > 0 && <span class="badge badge-active">{c.unread}</span>}
                <span class="muted">{c.last_message?.preview ?? ''}</span>
                {c.labels.length > 0 && <span class="muted">{c.labels.join(', ')}</span>}
              </button>
            </li>
          ))}
        </ul>
      </div>
      {selected && <ConversationView ws={ws} id={selected} summary={current} me={me} poll={poll} />}
    </div>
  );
}

function ConversationView({ ws, id, summary, me, poll }: { ws: WorkspaceSummary; id: string; summary: Conversation | null; me: string; poll: number }) {
  const base = `/v1/workspaces/${ws.id}/conversations/${id}`;
  const [tick, setTick] = useState(0);
  const conv = useLoad(() => apiFetch<Conversation>(base), [base, tick, summary?.last_message?.at]);
  const timeline = useLoad(() => apiFetch<{ entries: Entry[] }>(`${base}/messages`), [base, tick, summary?.last_message?.at, poll]);
  const [text, setText] = useState('');
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const act = async (work: () => Promise<unknown>, done?: string) => {
    setNote(null);
    try {
      await work();
      if (done) setNote({ ok: true, text: done });
      setTick((t) => t + 1);
    } catch (e) {
      setNote({ ok: false, text: message(e) });
    }
  };
  useEffect(() => {
    if (conv.data && conv.data.unread > 0) void apiFetch(`${base}/read`, { method: 'POST' }).catch(() => {});
  }, [conv.data?.unread, base]);
  const send = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      await apiFetch(`${base}/messages`, { method: 'POST', body: { text } });
      setText('');
    });
  };
  const c = conv.data;
  const entries = [...(timeline.data?.entries ?? [])].reverse();
  return (
    <div class="card inbox-conversation" data-testid="conversation">
      {c && (
        <header class="conversation-header">
          <h2 class="card-title">{c.contact_name ?? c.contact} <span class="muted">{c.contact}</span></h2>
          <p class="muted">Status: {c.status}{c.assignee ? ` · assigned${c.assignee === me ? ' to you' : ''}` : ' · unassigned'}</p>
          <div class="form form-inline">
            <button type="button" class="button button-small" onClick={() => act(() => apiFetch(`${base}/assign`, { method: 'POST', body: { assignee: me } }), 'Assigned to you.')}>Assign to me</button>
            <button type="button" class="button button-small" onClick={() => act(() => apiFetch(`${base}/assign`, { method: 'POST', body: { round_robin: true } }), 'Assigned to the next agent.')}>Round-robin</button>
            {c.status === 'resolved' ? (
              <button type="button" class="button button-small" onClick={() => act(() => apiFetch(`${base}/reopen`, { method: 'POST' }), 'Reopened.')}>Reopen</button>
            ) : (
              <button type="button" class="button button-small" onClick={() => act(() => apiFetch(`${base}/resolve`, { method: 'POST' }), 'Resolved.')}>Resolve</button>
            )}
            <button type="button" class="button button-small" onClick={() => act(() => apiFetch(`${base}/snooze`, { method: 'POST', body: { until: new Date(Date.now() + 3600_000).toISOString() } }), 'Snoozed for an hour.')}>Snooze 1 h</button>
            <button type="button" class="button button-small" onClick={() => { const n = prompt('Private note'); if (n) void act(() => apiFetch(`${base}/notes`, { method: 'POST', body: { text: n } })); }}>Add note</button>
          </div>
        </header>
      )}
      <ol class="timeline" data-testid="timeline">
        {entries.map((e) => (
          <li key={e.id} class={`bubble bubble-${e.direction}`}>
            <p>{e.deleted ? <em>deleted</em> : e.text ?? `[${e.kind}]`}{e.edited && <span class="muted"> (edited)</span>}</p>
            <span class="muted">{new Date(e.at).toLocaleString()}{e.direction === 'outbound' && e.status ? ` · ${e.status}` : ''}{e.direction === 'note' ? ' · note' : ''}</span>
          </li>
        ))}
      </ol>
      <form class="form form-inline" onSubmit={send}>
        <label class="field"><span>Reply</span><textarea name="reply" required value={text} onInput={(e) => setText(e.currentTarget.value)} /></label>
        <button class="button button-primary">Send reply</button>
      </form>
      {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role={note.ok ? 'status' : 'alert'}>{note.text}</p>}
    </div>
  );
}
