// The shared inbox: conversations (newest activity first; filtered by status, assignee, team; searchable)
// beside the selected conversation (timeline, composer with canned replies and private notes, team
// actions) and the contact side panel. Keyboard: r reply, e resolve, j / k next / previous conversation.
// It follows changes through the workspace's live event feed (see live.ts) and falls back to polling
// while the feed is down.

import { useEffect, useRef, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { useSession, type WorkspaceSummary } from '../auth';
import { useLive } from '../live';
import { TimelineMedia } from './inbox-attachments';
import { Composer, ContactPanel, InboxSettings, LabelEditor, type Agent, type Canned, type Team } from './inbox-parts';
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
  team_id: string | null;
  labels: string[];
  unread: number;
  last_message: { direction: string; preview: string; at: string } | null;
  created_at: string;
}

interface Entry {
  id: string;
  direction: 'inbound' | 'outbound' | 'note';
  kind: string;
  text: string | null;
  /** An attachment id (`att_…`) for what agents sent; a provider's media id or URL for inbound media. */
  media: string | null;
  status: string | null;
  author: string | null;
  edited: boolean;
  deleted: boolean;
  at: string;
}

interface SearchResults {
  conversations: Conversation[];
  messages: { conversation_id: string; contact: string; contact_name: string | null; entry: Entry }[];
}

/** "14:05" today, "3 Dec" before. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}

export function InboxPage() {
  return <WithWorkspace title="Inbox" lead="WhatsApp conversations, answered by your team.">{(ws) => <Inbox ws={ws} />}</WithWorkspace>;
}

function Inbox({ ws }: { ws: WorkspaceSummary }) {
  const session = useSession();
  const me = session.status === 'signed-in' ? session.me.id : '';
  const [status, setStatus] = useState('open');
  const [assignee, setAssignee] = useState('');
  const [team, setTeam] = useState('');
  const [q, setQ] = useState('');
  const [selected, setSelected] = useState<string | null>(new URLSearchParams(window.location.search).get('conversation'));
  const [settingsTick, setSettingsTick] = useState(0);
  const live = useLive(ws.id);
  const poll = usePoll(live.connected ? 3_600_000 : POLL_MS);
  const version = `${live.version}:${poll}`;
  const query = new URLSearchParams();
  if (status) query.set('status', status);
  if (assignee) query.set('assignee', assignee === 'me' ? me : assignee);
  if (team) query.set('team_id', team);
  const list = useLoad(() => apiFetch<{ conversations: Conversation[] }>(`/v1/workspaces/${ws.id}/conversations?${query}`), [ws.id, status, assignee, team, version]);
  const search = useLoad(() => (q.trim().length >= 2 ? apiFetch<SearchResults>(`/v1/workspaces/${ws.id}/inbox/search?q=${encodeURIComponent(q.trim())}`) : Promise.resolve(null)), [ws.id, q]);
  const agents = useLoad(() => apiFetch<Agent[]>(`/v1/workspaces/${ws.id}/agents`), [ws.id, settingsTick]).data ?? [];
  const teams = useLoad(() => apiFetch<Team[]>(`/v1/workspaces/${ws.id}/teams`), [ws.id, settingsTick]).data ?? [];
  const canned = useLoad(() => apiFetch<Canned[]>(`/v1/workspaces/${ws.id}/canned-replies`), [ws.id, settingsTick]).data ?? [];
  const channels = useLoad(() => apiFetch<{ id: string; name: string }[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]).data ?? [];
  const conversations = search.data && q.trim().length >= 2 ? search.data.conversations : (list.data?.conversations ?? []);
  const current = conversations.find((c) => c.id === selected) ?? null;
  const myself = agents.find((a) => a.user_id === me);
  const emailOf = (id: string | null) => (id ? (id === me ? 'you' : agents.find((a) => a.user_id === id)?.email ?? 'a former member') : 'unassigned');

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typing(e) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === 'j' || e.key === 'k') {
        const i = conversations.findIndex((c) => c.id === selected);
        const next = conversations[e.key === 'j' ? Math.min(i + 1, conversations.length - 1) : Math.max(i - 1, 0)];
        if (next) setSelected(next.id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [conversations, selected]);

  return (
    <>
      {(live.state === 'reconnecting' || live.state === 'stopped') && (
        <p class={`banner banner-live banner-live-${live.state}`} role="status" data-testid="live-banner">
          {live.state === 'reconnecting' ? 'Live updates interrupted; reconnecting. The inbox refreshes every few seconds meanwhile.' : 'Live updates stopped. The inbox refreshes every few seconds.'}
          {live.state === 'stopped' && <button type="button" class="button button-secondary button-small" onClick={live.retry}>Reconnect</button>}
        </p>
      )}
      <div class={`inbox${selected ? ' inbox-with-panel' : ''}`} data-live={live.state} data-live-transport={live.transport ?? undefined}>
        <div class="card inbox-list">
          <label class="field"><span>Search messages and contacts</span><input type="search" name="inbox-search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="Name, phone or words" /></label>
          <div class="form form-inline inbox-filters">
            <label class="field">
              <span>Status</span>
              <select name="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                <option value="open">Open</option>
                <option value="pending">Pending</option>
                <option value="snoozed">Snoozed</option>
                <option value="resolved">Resolved</option>
                <option value="">All</option>
              </select>
            </label>
            <label class="field">
              <span>Assignee</span>
              <select name="assignee-filter" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
                <option value="">Anyone</option>
                <option value="me">Me</option>
                <option value="none">Unassigned</option>
                {agents.filter((a) => a.can_reply && a.user_id !== me).map((a) => <option key={a.user_id} value={a.user_id}>{a.email}</option>)}
              </select>
            </label>
            {teams.length > 0 && (
              <label class="field">
                <span>Team</span>
                <select name="team-filter" value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
                  <option value="">All teams</option>
                  {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                </select>
              </label>
            )}
            {myself?.can_reply && (
              <label class="field">
                <span>You are</span>
                <select name="availability" value={myself.availability} onChange={(e) => void apiFetch(`/v1/workspaces/${ws.id}/agents/me/availability`, { method: 'PUT', body: { availability: e.currentTarget.value } }).then(() => setSettingsTick((t) => t + 1))}>
                  <option value="online">Online</option>
                  <option value="away">Away</option>
                </select>
              </label>
            )}
          </div>
          {list.error && <p class="alert alert-error">{list.error}</p>}
          {conversations.length === 0 && <p class="muted">{q.trim().length >= 2 ? 'No contacts match.' : 'No conversations here yet. New WhatsApp messages appear automatically.'}</p>}
          <ul class="conversation-list" data-testid="conversation-list">
            {conversations.map((c) => (
              <li key={c.id}>
                <button type="button" class={`conversation${c.id === selected ? ' selected' : ''}`} aria-current={c.id === selected} onClick={() => setSelected(c.id)}>
                  <span class="conversation-top">
                    <strong>{c.contact_name ?? c.contact}</strong>
                    {c.unread > 0 && <span class="badge badge-active" aria-label={`${c.unread} unread`}>{c.unread}</span>}
                    <time class="muted" dateTime={c.last_message?.at ?? c.created_at}>{shortTime(c.last_message?.at ?? c.created_at)}</time>
                  </span>
                  <span class="muted conversation-preview">{c.last_message?.preview ?? ''}</span>
                  <span class="muted conversation-meta">{channels.find((ch) => ch.id === c.channel_id)?.name ?? 'WhatsApp'} · {emailOf(c.assignee)}{c.labels.length > 0 ? ` · ${c.labels.join(', ')}` : ''}</span>
                </button>
              </li>
            ))}
          </ul>
          {search.data && search.data.messages.length > 0 && (
            <>
              <h3>Messages</h3>
              <ul class="conversation-list" data-testid="message-hits">
                {search.data.messages.map((h) => (
                  <li key={h.entry.id}><button type="button" class="conversation" onClick={() => setSelected(h.conversation_id)}><strong>{h.contact_name ?? h.contact}</strong><span class="muted conversation-preview">{h.entry.text}</span></button></li>
                ))}
              </ul>
            </>
          )}
          <p class="muted shortcut-hint">Keys: <kbd>r</kbd> reply · <kbd>e</kbd> resolve · <kbd>j</kbd>/<kbd>k</kbd> next/previous</p>
        </div>
        {selected && <ConversationView key={selected} ws={ws} id={selected} summary={current} me={me} version={version} agents={agents} teams={teams} canned={canned} open={setSelected} />}
      </div>
      <InboxSettings ws={ws} agents={agents} teams={teams} canned={canned} changed={() => setSettingsTick((t) => t + 1)} />
    </>
  );
}

interface ViewProps { ws: WorkspaceSummary; id: string; summary: Conversation | null; me: string; version: string; agents: Agent[]; teams: Team[]; canned: Canned[]; open: (id: string) => void }

function ConversationView({ ws, id, summary, me, version, agents, teams, canned, open }: ViewProps) {
  const base = `/v1/workspaces/${ws.id}/conversations/${id}`;
  const [tick, setTick] = useState(0);
  const conv = useLoad(() => apiFetch<Conversation>(base), [base, tick, summary?.last_message?.at, version]);
  const timeline = useLoad(() => apiFetch<{ entries: Entry[] }>(`${base}/messages`), [base, tick, summary?.last_message?.at, version]);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const replyRef = useRef<HTMLTextAreaElement | null>(null);
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
  const post = (path: string, body?: unknown) => () => apiFetch(`${base}/${path}`, { method: 'POST', body });
  useEffect(() => {
    if (conv.data && conv.data.unread > 0) void apiFetch(`${base}/read`, { method: 'POST' }).catch(() => {});
  }, [conv.data?.unread, base]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (typing(e) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === 'r') { e.preventDefault(); replyRef.current?.focus(); }
      if (e.key === 'e') void act(post('resolve'), 'Resolved.');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });
  const c = conv.data;
  const entries = [...(timeline.data?.entries ?? [])].reverse();
  return (
    <>
      <div class="card inbox-conversation" data-testid="conversation">
        {c && (
          <header class="conversation-header">
            <h2 class="card-title">{c.contact_name ?? c.contact} <span class="muted">{c.contact}</span></h2>
            <p class="muted">Status: {c.status}{c.assignee ? ` · assigned${c.assignee === me ? ' to you' : ` to ${agents.find((a) => a.user_id === c.assignee)?.email ?? 'a former member'}`}` : ' · unassigned'}{c.team_id ? ` · team ${teams.find((t) => t.id === c.team_id)?.name ?? ''}` : ''}</p>
            <div class="form form-inline conversation-actions">
              <label class="field">
                <span>Assignee</span>
                <select name="assignee" value={c.assignee ?? ''} onChange={(e) => act(post('assign', { assignee: e.currentTarget.value || null }), e.currentTarget.value ? 'Assigned.' : 'Unassigned.')}>
                  <option value="">Unassigned</option>
                  {agents.filter((a) => a.can_reply).map((a) => <option key={a.user_id} value={a.user_id}>{a.user_id === me ? `${a.email} (you)` : a.email}{a.availability === 'away' ? ' · away' : ''}</option>)}
                </select>
              </label>
              {teams.length > 0 && (
                <label class="field">
                  <span>Team</span>
                  <select name="team" value={c.team_id ?? ''} onChange={(e) => act(post('assign', { assignee: c.assignee, team_id: e.currentTarget.value || null }), 'Team changed.')}>
                    <option value="">No team</option>
                    {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                  </select>
                </label>
              )}
              <button type="button" class="button button-secondary button-small" onClick={() => act(post('assign', { assignee: me }), 'Assigned to you.')}>Assign to me</button>
              <button type="button" class="button button-secondary button-small" onClick={() => act(post('assign', { round_robin: true }), 'Assigned to the next available agent.')}>Round-robin</button>
              {c.status === 'resolved' ? (
                <button type="button" class="button button-primary button-small" onClick={() => act(post('reopen'), 'Reopened.')}>Reopen</button>
              ) : (
                <button type="button" class="button button-primary button-small" onClick={() => act(post('resolve'), 'Resolved.')}>Resolve</button>
              )}
              {c.status !== 'pending' && <button type="button" class="button button-secondary button-small" onClick={() => act(post('pending'), 'Marked pending.')}>Mark pending</button>}
              <button type="button" class="button button-secondary button-small" onClick={() => act(post('snooze', { until: new Date(Date.now() + 3600_000).toISOString() }), 'Snoozed for an hour.')}>Snooze 1 h</button>
            </div>
            <LabelEditor labels={c.labels} save={(labels) => act(() => apiFetch(`${base}/labels`, { method: 'PUT', body: { labels } }), 'Labels saved.')} />
          </header>
        )}
        <ol class="timeline" data-testid="timeline">
          {entries.map((e) => (
            <li key={e.id} class={`bubble bubble-${e.direction}`}>
              {!e.deleted && e.media?.startsWith('att_') && <TimelineMedia wsBase={`/v1/workspaces/${ws.id}`} id={e.media} kind={e.kind} />}
              {(e.deleted || e.text || !e.media?.startsWith('att_')) && <p>{e.deleted ? <em>deleted</em> : e.text ?? `[${e.kind}]`}{e.edited && <span class="muted"> (edited)</span>}</p>}
              <span class="muted">{new Date(e.at).toLocaleString()}{e.direction === 'outbound' && e.status ? ` · ${e.status}` : ''}{e.direction === 'note' ? ` · note${e.author === 'bot' ? ' by the bot' : ''}` : ''}</span>
            </li>
          ))}
        </ol>
        <Composer base={base} canned={canned} replyRef={replyRef} onDone={(ok, text) => { setNote({ ok, text }); if (ok) setTick((t) => t + 1); }} />
        {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role={note.ok ? 'status' : 'alert'}>{note.text}</p>}
      </div>
      <ContactPanel base={base} version={`${version}:${tick}`} open={open} />
    </>
  );
}
