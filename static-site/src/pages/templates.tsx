// WhatsApp templates: the channel's library (synced from Meta or Twilio, or written locally for Whapi)
// with status chips, a sync button, a preview with the variables filled in, and a create form.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, useAction, useLoad } from './settings';

interface Channel {
  id: string;
  name: string;
  provider: 'twilio' | 'meta' | 'whapi';
  capabilities: { templates: { sync: boolean; create: boolean; approval_required: boolean } };
}

type Button = { type: 'quick_reply' | 'url' | 'phone_number' | 'copy_code'; text?: string; url?: string; phone_number?: string };

interface Template {
  id: string;
  name: string;
  language: string;
  category: string | null;
  status: string;
  components: { header: { format: string; text: string | null } | null; body: string; footer: string | null; buttons: Button[] };
  rejected_reason: string | null;
}

/** The variable names in `text`, in order: `{{1}}` → `1`, `{{first_name}}` → `first_name`. */
function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\{\{\s*([a-z0-9_]+)\s*\}\}/g)].map((m) => m[1]))];
}

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{\s*([a-z0-9_]+)\s*\}\}/g, (all, name: string) => values[name] || all);
}

export function TemplatesPage() {
  return <WithWorkspace title="Templates" lead="Approved message templates per channel: sync them from the provider, preview them, or submit new ones.">{(ws) => <Templates ws={ws} />}</WithWorkspace>;
}

function Templates({ ws }: { ws: WorkspaceSummary }) {
  const channels = useLoad(() => apiFetch<Channel[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]);
  const [chosen, setChosen] = useState('');
  const channel = channels.data?.find((c) => c.id === chosen) ?? channels.data?.[0];
  const [tick, setTick] = useState(0);
  const list = useLoad(
    () => (channel ? apiFetch<{ templates: Template[] }>(`/v1/workspaces/${ws.id}/channels/${channel.id}/templates?limit=100`) : Promise.resolve({ templates: [] })),
    [ws.id, channel?.id, tick],
  );
  const { note, act } = useAction(() => setTick((t) => t + 1));
  const [preview, setPreview] = useState<Template | null>(null);
  const sync = () => act(async () => {
    const r = await apiFetch<{ added: number; updated: number; removed: number; skipped: number }>(`/v1/workspaces/${ws.id}/channels/${channel!.id}/templates/sync`, { method: 'POST', body: {} });
    return `Synced: ${r.added} added, ${r.updated} updated, ${r.removed} removed${r.skipped ? `, ${r.skipped} skipped (unsupported components)` : ''}.`;
  });
  if (channels.data && channels.data.length === 0) return <p class="card" data-testid="empty-state">Templates belong to a channel: add a WhatsApp channel first.</p>;
  return (
    <>
      <div class="card form form-inline">
        <label class="field">
          <span>Channel</span>
          <select name="channel" value={channel?.id ?? ''} onChange={(e) => { setChosen(e.currentTarget.value); setPreview(null); }}>
            {(channels.data ?? []).map((c) => <option key={c.id} value={c.id}>{c.name} ({c.provider})</option>)}
          </select>
        </label>
        {channel?.capabilities.templates.sync && <button type="button" class="button button-primary" onClick={sync} data-testid="sync-templates">Sync from {channel.provider}</button>}
        {channel && !channel.capabilities.templates.approval_required && <p>Whapi sends free text: templates here are filled in and sent as normal messages, no review needed.</p>}
      </div>
      <Note note={note} />
      {list.error && <p class="alert alert-error">{list.error}</p>}
      <div class="card">
        <table class="table" data-testid="templates-table">
          <thead><tr><th>Name</th><th>Language</th><th>Category</th><th>Status</th><th /></tr></thead>
          <tbody>
            {(list.data?.templates ?? []).map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.language}</td>
                <td>{t.category ?? ''}</td>
                <td><span class={`chip chip-${t.status.toLowerCase()}`} title={t.rejected_reason ?? undefined}>{t.status}</span></td>
                <td><button type="button" class="button" onClick={() => setPreview(t)}>Preview</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {preview && <Preview key={preview.id} template={preview} />}
      {channel?.capabilities.templates.create && <CreateForm ws={ws} channel={channel} onCreated={() => setTick((t) => t + 1)} />}
    </>
  );
}

/** The template as the contact would see it, with a field per variable. */
function Preview({ template }: { template: Template }) {
  const c = template.components;
  const headerText = c.header?.format === 'text' ? c.header.text ?? '' : '';
  const names = placeholders(`${headerText} ${c.body}`);
  const [values, setValues] = useState<Record<string, string>>({});
  return (
    <div class="card" data-testid="template-preview">
      <h2 class="card-title">{template.name} ({template.language})</h2>
      <div class="form form-inline">
        {names.map((n) => <label class="field" key={n}><span>{`{{${n}}}`}</span><input name={`var-${n}`} value={values[n] ?? ''} onInput={(e) => setValues({ ...values, [n]: e.currentTarget.value })} /></label>)}
      </div>
      <div class="bubble" data-testid="preview-bubble">
        {c.header && c.header.format !== 'text' && <p>[{c.header.format}]</p>}
        {headerText && <p><strong>{fill(headerText, values)}</strong></p>}
        <p>{fill(c.body, values)}</p>
        {c.footer && <p><small>{c.footer}</small></p>}
        {c.buttons.map((b, i) => <p key={i}><span class="chip">{b.text ?? 'Copy code'}</span></p>)}
      </div>
    </div>
  );
}

function CreateForm({ ws, channel, onCreated }: { ws: WorkspaceSummary; channel: Channel; onCreated: () => void }) {
  const [form, setForm] = useState({ name: '', language: channel.provider === 'meta' ? 'en_US' : 'en', category: 'UTILITY', body: '', footer: '' });
  const [examples, setExamples] = useState<Record<string, string>>({});
  const { note, act } = useAction(onCreated);
  const names = placeholders(form.body);
  const submit = (e: Event) => {
    e.preventDefault();
    const body = Object.fromEntries(names.map((n) => [n, examples[n] ?? '']));
    return act(async () => {
      const t = await apiFetch<Template>(`/v1/workspaces/${ws.id}/channels/${channel.id}/templates`, {
        method: 'POST',
        body: { name: form.name, language: form.language, category: form.category, components: { header: null, body: form.body, footer: form.footer || null, buttons: [] }, examples: { body } },
      });
      return t.status === 'APPROVED' ? `${t.name} is ready to send.` : `${t.name} was submitted for review (${t.status}).`;
    });
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="template-form">
      <h2 class="card-title">New template</h2>
      <label class="field"><span>Name</span><input name="name" required pattern="[a-z0-9_]+" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} /></label>
      <label class="field"><span>Language</span><input name="language" required value={form.language} onInput={(e) => setForm({ ...form, language: e.currentTarget.value })} /></label>
      <label class="field">
        <span>Category</span>
        <select name="category" value={form.category} onChange={(e) => setForm({ ...form, category: e.currentTarget.value })}>
          <option value="UTILITY">Utility</option><option value="MARKETING">Marketing</option><option value="AUTHENTICATION">Authentication</option>
        </select>
      </label>
      <label class="field"><span>Body (variables as {'{{1}}'} or {'{{first_name}}'})</span><textarea name="body" required value={form.body} onInput={(e) => setForm({ ...form, body: e.currentTarget.value })} /></label>
      {names.map((n) => <label class="field" key={n}><span>Example for {`{{${n}}}`}</span><input name={`example-${n}`} required value={examples[n] ?? ''} onInput={(e) => setExamples({ ...examples, [n]: e.currentTarget.value })} /></label>)}
      <label class="field"><span>Footer (optional)</span><input name="footer" value={form.footer} onInput={(e) => setForm({ ...form, footer: e.currentTarget.value })} /></label>
      <button class="button button-primary">{channel.capabilities.templates.approval_required ? 'Submit for review' : 'Create'}</button>
      <Note note={note} />
    </form>
  );
}
