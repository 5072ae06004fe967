// WhatsApp templates: the channel's library (synced from Meta or Twilio, or written locally for Whapi)
// with status chips, a sync button, a preview with the variables filled in, and a create form (with a
// text, image, video or document header; on Meta a media header's sample file is uploaded first).

import { useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
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

type HeaderChoice = 'none' | 'text' | 'image' | 'video' | 'document';

/** What Meta accepts as a header sample, per format (the server checks the same). */
const SAMPLE: Record<'image' | 'video' | 'document', { accept: string; limit: string }> = {
  image: { accept: 'image/jpeg,image/png', limit: 'JPEG or PNG, up to 5 MB' },
  video: { accept: 'video/mp4', limit: 'MP4, up to 16 MB' },
  document: { accept: 'application/pdf', limit: 'PDF, up to 16 MB' },
};

/** An upload refusal in plain words (the API's message already names the problem). */
function uploadError(x: unknown): string {
  if (x instanceof ApiError && x.code === 'payload_too_large') return 'The file is too big to upload here (16 MB at most).';
  if (x instanceof ApiError && x.code === 'meta_app_id_missing') return 'The Meta credential has no app ID yet: add it under WhatsApp → Channels, then try again.';
  return x instanceof Error ? x.message : String(x);
}

function CreateForm({ ws, channel, onCreated }: { ws: WorkspaceSummary; channel: Channel; onCreated: () => void }) {
  const [form, setForm] = useState({ name: '', language: channel.provider === 'meta' ? 'en_US' : 'en', category: 'UTILITY', body: '', footer: '', headerText: '', headerMedia: '' });
  const [header, setHeader] = useState<HeaderChoice>('none');
  const [file, setFile] = useState<File | null>(null);
  const [examples, setExamples] = useState<Record<string, string>>({});
  const [headerExamples, setHeaderExamples] = useState<Record<string, string>>({});
  const { note, act } = useAction(onCreated);
  const names = placeholders(form.body);
  const headerNames = header === 'text' ? placeholders(form.headerText) : [];
  const media = header === 'image' || header === 'video' || header === 'document' ? header : null;
  // Meta reviews an uploaded sample; elsewhere the example is a link to the media.
  const uploads = channel.provider === 'meta';
  const submit = (e: Event) => {
    e.preventDefault();
    const body = Object.fromEntries(names.map((n) => [n, examples[n] ?? '']));
    const base = `/v1/workspaces/${ws.id}/channels/${channel.id}/templates`;
    return act(async () => {
      let headerMedia: string | undefined;
      if (media && uploads) {
        if (!file) throw new Error(`Choose the sample ${media} file Meta reviews the template with.`);
        try {
          const q = new URLSearchParams({ format: media, file_name: file.name });
          headerMedia = (await apiFetch<{ handle: string }>(`${base}/media?${q}`, { method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' }, timeoutMs: 120_000 })).handle;
        } catch (x) {
          throw new Error(`The sample file was not accepted: ${uploadError(x)}`);
        }
      } else if (media) {
        headerMedia = form.headerMedia;
      }
      const components = {
        header: header === 'none' ? null : { format: header, text: header === 'text' ? form.headerText : null, media_url: null, example: null },
        body: form.body, footer: form.footer || null, buttons: [],
      };
      const header_vars = Object.fromEntries(headerNames.map((n) => [n, headerExamples[n] ?? '']));
      const t = await apiFetch<Template>(base, { method: 'POST', body: { name: form.name, language: form.language, category: form.category, components, examples: { body, header: header_vars, header_media: headerMedia } } });
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
      <label class="field">
        <span>Header</span>
        <select name="header" value={header} onChange={(e) => { setHeader(e.currentTarget.value as HeaderChoice); setFile(null); }}>
          <option value="none">No header</option><option value="text">Text</option><option value="image">Image</option><option value="video">Video</option><option value="document">Document</option>
        </select>
      </label>
      {header === 'text' && <label class="field"><span>Header text (one variable at most)</span><input name="header-text" required maxLength={60} value={form.headerText} onInput={(e) => setForm({ ...form, headerText: e.currentTarget.value })} /></label>}
      {headerNames.map((n) => <label class="field" key={`h-${n}`}><span>Example for header {`{{${n}}}`}</span><input name={`header-example-${n}`} required value={headerExamples[n] ?? ''} onInput={(e) => setHeaderExamples({ ...headerExamples, [n]: e.currentTarget.value })} /></label>)}
      {media && uploads && (
        <label class="field">
          <span>Sample {media} for review ({SAMPLE[media].limit}); each send gives its own {media}</span>
          <input name="header-file" type="file" required accept={SAMPLE[media].accept} onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        </label>
      )}
      {media && !uploads && <label class="field"><span>Example {media} link (https)</span><input name="header-media" type="url" required value={form.headerMedia} onInput={(e) => setForm({ ...form, headerMedia: e.currentTarget.value })} /></label>}
      <label class="field"><span>Body (variables as {'{{1}}'} or {'{{first_name}}'})</span><textarea name="body" required value={form.body} onInput={(e) => setForm({ ...form, body: e.currentTarget.value })} /></label>
      {names.map((n) => <label class="field" key={n}><span>Example for {`{{${n}}}`}</span><input name={`example-${n}`} required value={examples[n] ?? ''} onInput={(e) => setExamples({ ...examples, [n]: e.currentTarget.value })} /></label>)}
      <label class="field"><span>Footer (optional)</span><input name="footer" value={form.footer} onInput={(e) => setForm({ ...form, footer: e.currentTarget.value })} /></label>
      <button class="button button-primary">{channel.capabilities.templates.approval_required ? 'Submit for review' : 'Create'}</button>
      <Note note={note} />
    </form>
  );
}
