// WhatsApp broadcasts: the list with counters, a create form (channel, approved template with a source
// and default per variable, audience, send time) with a preview of the count and sample messages, and a
// broadcast's live progress with per-recipient results (filter by status), cancel, and a download of the
// failures as CSV once anything failed.

import { useEffect, useState } from 'preact/hooks';

import { apiDownload, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, message, useAction, useLoad, usePoll } from './settings';

interface Channel {
  id: string;
  name: string;
  provider: 'twilio' | 'meta' | 'whapi';
  capabilities: { templates: { approval_required: boolean } };
}

type Button = { type: string; url?: string };

interface Template {
  id: string;
  name: string;
  language: string;
  status: string;
  components: { header: { format: string; text: string | null; media_url: string | null } | null; body: string; buttons: Button[] };
}

interface Counters {
  recipients: number;
  skipped: number;
  queued: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  replied: number;
}

interface Broadcast {
  id: string;
  name: string;
  status: 'draft' | 'scheduled' | 'sending' | 'paused' | 'completed' | 'cancelled';
  template: { name: string | null; language: string | null; text: string | null };
  send_at: { mode: string; at?: string };
  counters: Counters;
  paused_until: string | null;
  created_at: string;
}

interface Recipient {
  phone: string;
  name: string | null;
  status: string;
  error: { code: string; message: string } | null;
  replied_at: string | null;
}

interface Preview {
  count: { matching: number; opted_out: number; total: number };
  samples: { phone: string; name: string | null; content: unknown; error: string | null }[];
}

const placeholders = (text: string | null | undefined) => [...new Set([...(text ?? '').matchAll(/\{\{\s*([a-z0-9_]+)\s*\}\}/g)].map((m) => m[1]!))];

/** The template's variables, named as the API names them. */
function slots(t: Template | null, text: string): string[] {
  if (!t) return placeholders(text).map((n) => `body.{{${n}}}`);
  const c = t.components;
  const out: string[] = [];
  if (c.header?.format === 'text') out.push(...placeholders(c.header.text).map((n) => `header.{{${n}}}`));
  else if (c.header && (!c.header.media_url || placeholders(c.header.media_url).length)) out.push('header.media');
  out.push(...placeholders(c.body).map((n) => `body.{{${n}}}`));
  c.buttons.forEach((b, i) => {
    if (b.type === 'url' && placeholders(b.url).length) out.push(`buttons[${i}].url`);
    if (b.type === 'copy_code') out.push(`buttons[${i}].code`);
  });
  return out;
}

export function BroadcastsPage() {
  return <WithWorkspace title="Broadcasts" lead="Send an approved WhatsApp template to an audience of contacts, now or at a set time; opted-out contacts are always skipped.">{(ws) => <Broadcasts ws={ws} />}</WithWorkspace>;
}

function Broadcasts({ ws }: { ws: WorkspaceSummary }) {
  const poll = usePoll(2000);
  const [tick, setTick] = useState(0);
  const list = useLoad(() => apiFetch<Broadcast[]>(`/v1/workspaces/${ws.id}/broadcasts`), [ws.id, tick, poll]);
  // `?broadcast=` (from the Campaigns list) opens that broadcast's detail.
  const [open, setOpen] = useState<string | null>(() => new URLSearchParams(window.location.search).get('broadcast'));
  const reload = () => setTick((t) => t + 1);
  const broadcasts = list.data ?? [];
  const chosen = broadcasts.find((b) => b.id === open);
  return (
    <>
      {list.error && <p class="alert alert-error">{list.error}</p>}
      {list.data && broadcasts.length === 0 ? (
        <p class="card" data-testid="empty-state">No broadcasts yet. Create one below: pick a channel, an approved template and who gets it.</p>
      ) : (
        <div class="card">
          <table class="table" data-testid="broadcasts-table">
            <thead><tr><th>Name</th><th>Status</th><th>Sent</th><th>Delivered</th><th>Read</th><th>Failed</th><th>Skipped</th><th /></tr></thead>
            <tbody>
              {broadcasts.map((b) => (
                <tr key={b.id}>
                  <td>{b.name}</td>
                  <td><span class={`chip chip-${b.status}`}>{b.status}</span></td>
                  <td>{b.counters.sent}</td>
                  <td>{b.counters.delivered}</td>
                  <td>{b.counters.read}</td>
                  <td>{b.counters.failed}</td>
                  <td>{b.counters.skipped}</td>
                  <td><button type="button" class="button" onClick={() => setOpen(b.id)}>Open</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {chosen && <BroadcastDetail key={chosen.id} ws={ws} b={chosen} poll={poll} onChanged={reload} />}
      <CreateBroadcast ws={ws} onCreated={(id) => { setOpen(id); reload(); }} />
    </>
  );
}

function BroadcastDetail({ ws, b, poll, onChanged }: { ws: WorkspaceSummary; b: Broadcast; poll: number; onChanged: () => void }) {
  const base = `/v1/workspaces/${ws.id}/broadcasts/${b.id}`;
  const [filter, setFilter] = useState('');
  const recipients = useLoad(() => apiFetch<{ recipients: Recipient[]; next_cursor: string | null }>(`${base}/recipients?limit=100${filter ? `&status=${filter}` : ''}`), [base, filter, poll]);
  const { note, act } = useAction(onChanged);
  const c = b.counters;
  const done = c.sent + c.failed + c.skipped;
  const start = () => act(async () => {
    const v = await apiFetch<Broadcast>(`${base}/start`, { method: 'POST', body: {} });
    return v.status === 'scheduled' ? 'Scheduled.' : 'Sending started.';
  });
  const cancel = () => act(async () => {
    await apiFetch(`${base}/cancel`, { method: 'POST', body: {} });
    return 'Cancelled: messages not yet sent are dropped.';
  });
  const downloadFailures = () => act(async () => {
    const blob = await apiDownload(`${base}/failures.csv`);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${b.name.replace(/[^A-Za-z0-9_-]+/g, '-') || 'broadcast'}-failures.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    return `Downloaded ${c.failed} failed recipient${c.failed === 1 ? '' : 's'} as CSV.`;
  });
  return (
    <div class="card" data-testid="broadcast-detail">
      <h2 class="card-title">{b.name} <span class={`chip chip-${b.status}`} data-testid="broadcast-status">{b.status}</span></h2>
      {b.paused_until && <p class="alert alert-error">Paused by the provider's rate limit until {new Date(b.paused_until).toLocaleTimeString()}; it resumes by itself.</p>}
      <progress max={Math.max(c.recipients, 1)} value={done} aria-label="progress" />
      <p data-testid="broadcast-counters">
        {c.recipients} recipients · {c.sent} sent · {c.delivered} delivered · {c.read} read · {c.replied} replied · {c.failed} failed · {c.skipped} skipped
      </p>
      <div class="form form-inline">
        {b.status === 'draft' && <button type="button" class="button button-primary" onClick={start}>{b.send_at.mode === 'now' ? 'Send now' : 'Schedule'}</button>}
        {['draft', 'scheduled', 'sending', 'paused'].includes(b.status) && <button type="button" class="button button-danger" onClick={cancel}>Cancel broadcast</button>}
        {c.failed > 0 && <button type="button" class="button" onClick={downloadFailures} data-testid="download-failures">Download failures (CSV)</button>}
        <label class="field">
          <span>Show</span>
          <select name="recipient-status" value={filter} onChange={(e) => setFilter(e.currentTarget.value)}>
            <option value="">Everyone</option>
            {['queued', 'sent', 'delivered', 'read', 'failed', 'skipped'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      <Note note={note} />
      {recipients.error && <p class="alert alert-error">{recipients.error}</p>}
      {recipients.data && recipients.data.recipients.length === 0 ? <p class="muted">No recipients {filter ? `with status ${filter}` : 'yet'}.</p> : (
        <table class="table" data-testid="recipients-table">
          <thead><tr><th>Number</th><th>Name</th><th>Status</th><th>Error</th></tr></thead>
          <tbody>
            {(recipients.data?.recipients ?? []).map((r) => (
              <tr key={r.phone}>
                <td>{r.phone}</td>
                <td>{r.name ?? ''}</td>
                <td><span class={`chip chip-${r.status}`}>{r.status}</span>{r.replied_at && <span class="chip">replied</span>}</td>
                <td>{r.error ? `${r.error.code}: ${r.error.message}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

type Mapping = { source: string; default: string };

function CreateBroadcast({ ws, onCreated }: { ws: WorkspaceSummary; onCreated: (id: string) => void }) {
  const channels = useLoad(() => apiFetch<Channel[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]);
  const audiences = useLoad(() => apiFetch<{ id: string; name: string }[]>(`/v1/workspaces/${ws.id}/audiences`), [ws.id]);
  const [channelId, setChannelId] = useState('');
  const channel = channels.data?.find((c) => c.id === channelId) ?? channels.data?.[0];
  const templates = useLoad(
    () => (channel ? apiFetch<{ templates: Template[] }>(`/v1/workspaces/${ws.id}/channels/${channel.id}/templates?status=APPROVED&limit=100`) : Promise.resolve({ templates: [] })),
    [ws.id, channel?.id],
  );
  const [templateId, setTemplateId] = useState('');
  const [text, setText] = useState('');
  const [name, setName] = useState('');
  const [audience, setAudience] = useState('');
  const [tag, setTag] = useState('');
  const [when, setWhen] = useState('');
  const [mapping, setMapping] = useState<Record<string, Mapping>>({});
  const [preview, setPreview] = useState<Preview | null>(null);
  const { note, act, setNote } = useAction();
  const freeText = channel ? !channel.capabilities.templates.approval_required : false;
  const template = templates.data?.templates.find((t) => t.id === templateId) ?? (freeText ? null : templates.data?.templates[0] ?? null);
  const variables = slots(template, text);
  useEffect(() => setPreview(null), [channel?.id, template?.id, text, audience, tag]);

  if (channels.data && channels.data.length === 0) return <p class="card" data-testid="no-channel">Broadcasts send through a WhatsApp channel: add one first.</p>;
  const request = () => ({
    name: name || 'Broadcast',
    channel_id: channel?.id,
    template: template ? { template_id: template.id } : { text },
    variables: variables.map((slot) => ({ slot, source: mapping[slot]?.source || null, default: mapping[slot]?.default || null })),
    ...(audience ? { audience_id: audience } : { rules: { match: 'all', rules: tag ? [{ field: 'tag', op: 'has', value: tag }] : [] } }),
    send_at: when ? { mode: 'at', at: new Date(when).toISOString() } : { mode: 'now' },
  });
  const check = () => act(async () => {
    const p = await apiFetch<Preview>(`/v1/workspaces/${ws.id}/broadcasts/preview`, { method: 'POST', body: request() });
    setPreview(p);
    return `${p.count.matching} contacts match; ${p.count.opted_out} of them opted out and will be skipped.`;
  });
  const save = (start: boolean) => async (e?: Event) => {
    e?.preventDefault();
    try {
      const b = await apiFetch<Broadcast>(`/v1/workspaces/${ws.id}/broadcasts`, { method: 'POST', body: request() });
      if (start) await apiFetch(`/v1/workspaces/${ws.id}/broadcasts/${b.id}/start`, { method: 'POST', body: {} });
      setNote({ ok: true, text: start ? `${b.name} ${when ? 'scheduled' : 'is sending'}.` : `${b.name} saved as a draft.` });
      onCreated(b.id);
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  const set = (slot: string, part: keyof Mapping, value: string) => setMapping({ ...mapping, [slot]: { ...(mapping[slot] ?? { source: '', default: '' }), [part]: value } });
  return (
    <form class="card form" onSubmit={save(true)} data-testid="broadcast-form">
      <h2 class="card-title">New broadcast</h2>
      <label class="field"><span>Name</span><input name="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label class="field">
        <span>Channel</span>
        <select name="channel" value={channel?.id ?? ''} onChange={(e) => { setChannelId(e.currentTarget.value); setTemplateId(''); }}>
          {(channels.data ?? []).map((c) => <option key={c.id} value={c.id}>{c.name} ({c.provider})</option>)}
        </select>
      </label>
      <label class="field">
        <span>Template</span>
        <select name="template" value={template?.id ?? ''} onChange={(e) => setTemplateId(e.currentTarget.value)}>
          {freeText && <option value="">Free text</option>}
          {(templates.data?.templates ?? []).map((t) => <option key={t.id} value={t.id}>{t.name} ({t.language})</option>)}
        </select>
      </label>
      {!freeText && templates.data && templates.data.templates.length === 0 && <p class="alert alert-error">This channel has no approved template: sync or create one on the Templates page.</p>}
      {template ? <div class="bubble" data-testid="template-body"><p>{template.components.body}</p></div> : freeText && (
        <label class="field"><span>Text (variables as {'{{1}}'})</span><textarea name="text" required value={text} onInput={(e) => setText(e.currentTarget.value)} /></label>
      )}
      {variables.map((slot) => (
        <div class="form form-inline" key={slot}>
          <label class="field">
            <span>{slot} from</span>
            <select name={`source-${slot}`} value={mapping[slot]?.source ?? ''} onChange={(e) => set(slot, 'source', e.currentTarget.value)}>
              <option value="">(the default)</option>
              <option value="name">Contact name</option>
              <option value="phone">Contact number</option>
              <option value="fields.">A custom field…</option>
              {mapping[slot]?.source?.startsWith('fields.') && mapping[slot]?.source !== 'fields.' && <option value={mapping[slot]!.source}>{mapping[slot]!.source}</option>}
            </select>
          </label>
          {mapping[slot]?.source?.startsWith('fields.') && <label class="field"><span>Field name</span><input name={`field-${slot}`} value={mapping[slot]!.source.slice(7)} onInput={(e) => set(slot, 'source', `fields.${e.currentTarget.value}`)} /></label>}
          <label class="field"><span>Default</span><input name={`default-${slot}`} value={mapping[slot]?.default ?? ''} onInput={(e) => set(slot, 'default', e.currentTarget.value)} /></label>
        </div>
      ))}
      <label class="field">
        <span>Audience</span>
        <select name="audience" value={audience} onChange={(e) => setAudience(e.currentTarget.value)}>
          <option value="">All contacts{tag ? ` tagged ${tag}` : ''}</option>
          {(audiences.data ?? []).map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
        </select>
      </label>
      {!audience && <label class="field"><span>Only contacts with tag (optional)</span><input name="tag" value={tag} onInput={(e) => setTag(e.currentTarget.value)} /></label>}
      <label class="field"><span>Send at (empty: now)</span><input name="when" type="datetime-local" value={when} onInput={(e) => setWhen(e.currentTarget.value)} /></label>
      <div class="form form-inline">
        <button type="button" class="button" onClick={check}>Preview</button>
        <button type="button" class="button" onClick={save(false)}>Save draft</button>
        <button class="button button-primary">{when ? 'Schedule' : 'Send now'}</button>
      </div>
      <Note note={note} />
      {preview && (
        <ul data-testid="broadcast-preview">
          {preview.samples.map((s) => <li key={s.phone}>{s.phone}{s.name ? ` (${s.name})` : ''}: {s.error ?? JSON.stringify(s.content)}</li>)}
        </ul>
      )}
    </form>
  );
}
