// Parts of the inbox screen: the composer (reply or private note, `/shortcode` canned replies, an
// attachment with its caption), the
// labels editor, the contact side panel, and the team settings (teams, canned replies).

import { useRef, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { AttachControl, type Pending } from './inbox-attachments';
import { message, useLoad } from './settings';

export interface Agent {
  user_id: string;
  email: string;
  role: string;
  availability: 'online' | 'away';
  can_reply: boolean;
}

export interface Team {
  id: string;
  name: string;
  members: string[];
}

export interface Canned {
  id: string;
  short_code: string;
  content: string;
}

/** The `/code` being typed at the end of the text, if any. */
export function typedShortcode(text: string): string | null {
  const m = /(?:^|\s)\/([a-z0-9_-]*)$/i.exec(text);
  return m ? m[1].toLowerCase() : null;
}

/** Replaces the trailing `/code` with the canned reply's content (same rule as the API's `expand`). */
export function expandShortcode(text: string, reply: Canned): string {
  return text.replace(/(^|\s)\/[a-z0-9_-]*$/i, (_all, space: string) => `${space}${reply.content}`);
}

export function Composer({ base, canned, onDone, replyRef }: { base: string; canned: Canned[]; onDone: (ok: boolean, text: string) => void; replyRef: { current: HTMLTextAreaElement | null } }) {
  const [mode, setMode] = useState<'reply' | 'note'>('reply');
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const wsBase = base.split('/conversations/')[0];
  const attaching = mode === 'reply' && pending !== null;
  const code = typedShortcode(text);
  const suggestions = code === null ? [] : canned.filter((c) => c.short_code.startsWith(code)).slice(0, 6);
  const submit = async (e: Event) => {
    e.preventDefault();
    const exact = code !== null ? canned.find((c) => c.short_code === code) : undefined;
    const body = exact ? expandShortcode(text, exact) : text;
    if (attaching && !pending.uploaded) return;
    if (!body.trim() && !attaching) return;
    setBusy(true);
    try {
      const payload = attaching ? { text: body.trim() || null, attachment_id: pending.uploaded!.id } : { text: body };
      await apiFetch(mode === 'reply' ? `${base}/messages` : `${base}/notes`, { method: 'POST', body: payload });
      setText('');
      if (attaching) {
        if (pending.preview) URL.revokeObjectURL(pending.preview);
        setPending(null);
      }
      onDone(true, mode === 'reply' ? (attaching ? 'Attachment sent.' : 'Reply sent.') : 'Note added.');
    } catch (err) {
      onDone(false, message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class={`composer composer-${mode}`} onSubmit={submit} data-testid="composer">
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'reply'} class="tab" onClick={() => setMode('reply')}>Reply</button>
        <button type="button" role="tab" aria-selected={mode === 'note'} class="tab" onClick={() => setMode('note')}>Private note</button>
      </div>
      <label class="field">
        <span class="visually-hidden">{mode === 'reply' ? 'Reply' : 'Private note'}</span>
        <textarea name={mode === 'reply' ? 'reply' : 'note'} ref={(el) => { replyRef.current = el; }} value={text} placeholder={mode === 'reply' ? (attaching ? 'Add a caption (optional)' : 'Type a reply, or / for canned replies') : 'Only your team sees notes'}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Tab' && suggestions.length) {
              e.preventDefault();
              setText(expandShortcode(text, suggestions[0]));
            } else if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) void submit(e);
          }} />
      </label>
      {suggestions.length > 0 && (
        <ul class="suggestions" data-testid="canned-suggestions">
          {suggestions.map((s) => (
            <li key={s.id}><button type="button" class="button button-secondary button-small" onClick={() => { setText(expandShortcode(text, s)); replyRef.current?.focus(); }}>/{s.short_code} <span class="muted">{s.content.slice(0, 60)}</span></button></li>
          ))}
        </ul>
      )}
      <div class="composer-actions">
        {mode === 'reply' && <AttachControl wsBase={wsBase} pending={pending} onChange={setPending} />}
        <button class="button button-primary" disabled={busy || (attaching && (!pending.uploaded || !!pending.error))}>{mode === 'reply' ? 'Send reply' : 'Add note'}</button>
      </div>
    </form>
  );
}

export function LabelEditor({ labels, save }: { labels: string[]; save: (labels: string[]) => void }) {
  const [draft, setDraft] = useState('');
  return (
    <div class="labels" data-testid="labels">
      {labels.map((l) => (
        <span key={l} class="chip">{l} <button type="button" class="chip-remove" aria-label={`Remove label ${l}`} onClick={() => save(labels.filter((x) => x !== l))}>×</button></span>
      ))}
      <form class="label-add" onSubmit={(e) => { e.preventDefault(); if (draft.trim()) { save([...labels, draft.trim()]); setDraft(''); } }}>
        <input name="label" aria-label="New label" placeholder="Add label" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        <button class="button button-secondary button-small">Add</button>
      </form>
    </div>
  );
}

interface Panel {
  name: string | null;
  phone: string;
  tags: string[];
  fields: Record<string, string>;
  opted_out: boolean;
  conversations: { id: string; status: string; last_message: { preview: string; at: string } | null }[];
}

export function ContactPanel({ base, version, open }: { base: string; version: unknown; open: (id: string) => void }) {
  const panel = useLoad(() => apiFetch<Panel>(`${base}/contact`), [base, version]);
  const p = panel.data;
  if (!p) return <aside class="card contact-panel"><p class="muted">{panel.error ?? 'Loading contact…'}</p></aside>;
  const fields = Object.entries(p.fields);
  return (
    <aside class="card contact-panel" data-testid="contact-panel">
      <h2 class="card-title">{p.name ?? p.phone}</h2>
      <dl class="facts">
        <dt>Phone</dt><dd>{p.phone}</dd>
        <dt>Consent</dt><dd>{p.opted_out ? <span class="badge badge-disconnected">opted out</span> : <span class="badge badge-active">subscribed</span>}</dd>
        <dt>Tags</dt><dd>{p.tags.length ? p.tags.join(', ') : <span class="muted">none</span>}</dd>
        {fields.map(([k, v]) => [<dt key={`k${k}`}>{k}</dt>, <dd key={`v${k}`}>{v}</dd>])}
      </dl>
      <h3>Previous conversations</h3>
      {p.conversations.length === 0 ? <p class="muted">None on other channels.</p> : (
        <ul class="plain-list">
          {p.conversations.map((c) => <li key={c.id}><button type="button" class="link-button" onClick={() => open(c.id)}>{c.status} · {c.last_message?.preview ?? '—'}</button></li>)}
        </ul>
      )}
    </aside>
  );
}

/** Teams (owners and admins) and canned replies, below the inbox. */
export function InboxSettings({ ws, agents, teams, canned, changed }: { ws: WorkspaceSummary; agents: Agent[]; teams: Team[]; canned: Canned[]; changed: () => void }) {
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const manage = ws.role === 'owner' || ws.role === 'admin';
  const run = async (work: () => Promise<unknown>, done: string) => {
    try {
      await work();
      setNote({ ok: true, text: done });
      changed();
    } catch (e) {
      setNote({ ok: false, text: message(e) });
    }
  };
  const base = `/v1/workspaces/${ws.id}`;
  const codeRef = useRef<HTMLInputElement>(null);
  const contentRef = useRef<HTMLTextAreaElement>(null);
  const teamRef = useRef<HTMLInputElement>(null);
  const emailOf = (id: string) => agents.find((a) => a.user_id === id)?.email ?? 'former member';
  return (
    <details class="card inbox-settings">
      <summary>Teams and canned replies</summary>
      <h3>Canned replies</h3>
      <ul class="plain-list" data-testid="canned-list">
        {canned.map((c) => (
          <li key={c.id}><code>/{c.short_code}</code> {c.content} <button type="button" class="button button-danger button-small" onClick={() => run(() => apiFetch(`${base}/canned-replies/${c.id}`, { method: 'DELETE' }), 'Canned reply deleted.')}>Delete</button></li>
        ))}
      </ul>
      <form class="form" onSubmit={(e) => { e.preventDefault(); void run(() => apiFetch(`${base}/canned-replies`, { method: 'POST', body: { short_code: codeRef.current?.value ?? '', content: contentRef.current?.value ?? '' } }), 'Canned reply saved.'); }}>
        <label class="field"><span>Short code</span><input name="short_code" ref={codeRef} placeholder="refund" required /></label>
        <label class="field"><span>Reply text</span><textarea name="canned_content" ref={contentRef} required /></label>
        <button class="button button-secondary">Save canned reply</button>
      </form>
      <h3>Teams</h3>
      {teams.length === 0 && <p class="muted">No teams yet. {manage ? 'Create one to share conversations round-robin.' : 'Owners and admins create teams.'}</p>}
      <ul class="plain-list" data-testid="team-list">
        {teams.map((t) => (
          <li key={t.id}>
            <strong>{t.name}</strong>: {t.members.map(emailOf).join(', ') || <span class="muted">no members</span>}
            {manage && (
              <span class="team-actions">
                <select aria-label={`Add a member to ${t.name}`} value="" onChange={(e) => { const u = e.currentTarget.value; if (u) void run(() => apiFetch(`${base}/teams/${t.id}`, { method: 'PUT', body: { name: t.name, members: [...t.members, u] } }), 'Team updated.'); }}>
                  <option value="">Add member…</option>
                  {agents.filter((a) => a.can_reply && !t.members.includes(a.user_id)).map((a) => <option key={a.user_id} value={a.user_id}>{a.email}</option>)}
                </select>
                <button type="button" class="button button-danger button-small" onClick={() => run(() => apiFetch(`${base}/teams/${t.id}`, { method: 'DELETE' }), 'Team deleted.')}>Delete team</button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {manage && (
        <form class="form form-inline" onSubmit={(e) => { e.preventDefault(); void run(() => apiFetch(`${base}/teams`, { method: 'POST', body: { name: teamRef.current?.value ?? '', members: [] } }), 'Team created.'); }}>
          <label class="field"><span>Team name</span><input name="team_name" ref={teamRef} required /></label>
          <button class="button button-secondary">Create team</button>
        </form>
      )}
      {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role={note.ok ? 'status' : 'alert'}>{note.text}</p>}
    </details>
  );
}
