// WhatsApp: provider credentials (add, test, rotate secrets, delete), channels (status, throughput,
// pause/resume, Whapi QR linking), and the message log with a send form.

import { useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { ChannelSetup, WebhookHealth, type LastWebhook, type Provider, type SetupValues } from './channel-setup';
import { Note, WithWorkspace, message, useAction, useLoad } from './settings';

interface TestOutcome {
  ok: boolean;
  summary: string;
  provider_code: string | null;
  at: string;
}

interface Credential {
  id: string;
  name: string;
  provider: Provider;
  hint: string;
  account_sid: string | null;
  phone_number_id: string | null;
  key_version: string;
  updated_at: string;
  last_test: TestOutcome | null;
}

interface Channel {
  id: string;
  name: string;
  provider: Provider;
  credential_id: string;
  number: string | null;
  status: 'active' | 'degraded' | 'paused' | 'disconnected';
  paused_until: string | null;
  status_reason: string | null;
  throughput_per_second: number;
  webhook_path: string;
  last_webhook: LastWebhook | null;
}

interface LinkState {
  status: string;
  connected: boolean;
  qr: string | null;
  pairing_code: string | null;
  expires_in: number | null;
}

interface Message {
  id: string;
  channel_id: string;
  to: string;
  content: { type: string; body?: string; name?: string };
  status: string;
  attempts: number;
  used_template_fallback: boolean;
  error: { class: string; code: string; message: string } | null;
  created_at: string;
}

/** The secret fields each provider needs, as [field, label, secret?]. */
const FIELDS: Record<Provider, [string, string, boolean][]> = {
  twilio: [['account_sid', 'Account SID (AC…)', false], ['auth_token', 'Auth token', true], ['api_key_sid', 'API key SID (SK…, optional)', false], ['api_key_secret', 'API key secret (optional)', true]],
  meta: [['access_token', 'Access token', true], ['app_secret', 'App secret', true], ['phone_number_id', 'Phone number ID', false], ['waba_id', 'WhatsApp Business Account ID', false], ['app_id', 'App ID (optional; needed for template image/video/document samples)', false]],
  whapi: [['token', 'Channel token', true]],
};

function SecretFields({ provider, values, onChange }: { provider: Provider; values: Record<string, string>; onChange: (v: Record<string, string>) => void }) {
  return (
    <>
      {FIELDS[provider].map(([field, label, secret]) => (
        <label class="field" key={field}>
          <span>{label}</span>
          <input name={field} type={secret ? 'password' : 'text'} autoComplete="off" value={values[field] ?? ''} onInput={(e) => onChange({ ...values, [field]: e.currentTarget.value })} />
        </label>
      ))}
    </>
  );
}

/** Only the filled fields, so optional ones are left out of the request. */
const filled = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ''));

export function CredentialsPage() {
  return <WithWorkspace title="Credentials" lead="Provider accounts WhatsApp messages are sent through. Secrets are encrypted and never shown again.">{(ws) => <Credentials ws={ws} />}</WithWorkspace>;
}

function Credentials({ ws }: { ws: WorkspaceSummary }) {
  const creds = useLoad(() => apiFetch<Credential[]>(`/v1/workspaces/${ws.id}/credentials`), [ws.id]);
  const [provider, setProvider] = useState<Provider>('twilio');
  const [name, setName] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const { note, act } = useAction(() => creds.reload());
  const [testTo, setTestTo] = useState('+');
  const [rotating, setRotating] = useState<string | null>(null);
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const c = await apiFetch<Credential>(`/v1/workspaces/${ws.id}/credentials`, { method: 'POST', body: { name, provider, ...filled(values) } });
      setName('');
      setValues({});
      return `Saved ${c.name} (${c.hint}).`;
    });
  };
  const test = (c: Credential) =>
    act(async () => {
      const r = await apiFetch<TestOutcome>(`/v1/workspaces/${ws.id}/credentials/${c.id}/test`, { method: 'POST', body: { to: testTo } });
      if (!r.ok) throw new Error(r.summary);
      return r.summary;
    });
  const rotate = (c: Credential) =>
    act(async () => {
      await apiFetch(`/v1/workspaces/${ws.id}/credentials/${c.id}`, { method: 'PUT', body: { secrets: { provider: c.provider, ...filled(values) } } });
      setRotating(null);
      setValues({});
      return `New secrets saved for ${c.name}.`;
    });
  const remove = (c: Credential) => confirm(`Delete “${c.name}”?`) && act(async () => (await apiFetch(`/v1/workspaces/${ws.id}/credentials/${c.id}`, { method: 'DELETE' }), `${c.name} deleted.`));
  return (
    <>
      <form class="card form form-inline" onSubmit={create} data-testid="credential-form">
        <h2 class="card-title">Add a credential</h2>
        <label class="field">
          <span>Provider</span>
          <select name="provider" value={provider} onChange={(e) => (setProvider(e.currentTarget.value as Provider), setValues({}))}>
            <option value="twilio">Twilio</option>
            <option value="meta">Meta WhatsApp Cloud API</option>
            <option value="whapi">Whapi.Cloud</option>
          </select>
        </label>
        <label class="field"><span>Name</span><input name="credential-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        {rotating === null && <SecretFields provider={provider} values={values} onChange={setValues} />}
        <button class="button button-primary">Save credential</button>
      </form>
      <Note note={note} />
      {creds.error && <p class="alert alert-error">{creds.error}</p>}
      <div class="card">
        <label class="field"><span>Test number (E.164)</span><input name="test-to" value={testTo} onInput={(e) => setTestTo(e.currentTarget.value)} /></label>
        <table class="table" data-testid="credentials-table">
          <thead><tr><th>Name</th><th>Provider</th><th>Secret</th><th>Last test</th><th /></tr></thead>
          <tbody>
            {(creds.data ?? []).map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>{c.provider}</td>
                <td><code>{c.hint}</code> <span class="muted">({c.key_version})</span></td>
                <td>{c.last_test ? `${c.last_test.ok ? '✔' : '✖'} ${c.last_test.summary}` : '—'}</td>
                <td>
                  <button type="button" class="button button-small" onClick={() => test(c)}>Test</button>{' '}
                  <button type="button" class="button button-small" onClick={() => (setRotating(rotating === c.id ? null : c.id), setValues({}))}>Rotate</button>{' '}
                  <button type="button" class="button button-small" onClick={() => remove(c)}>Delete</button>
                  {rotating === c.id && (
                    <div class="form">
                      <SecretFields provider={c.provider} values={values} onChange={setValues} />
                      <button type="button" class="button button-primary" onClick={() => rotate(c)}>Save new secrets</button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function ChannelsPage() {
  return <WithWorkspace title="Channels" lead="The WhatsApp numbers you send from, their status and throughput.">{(ws) => <Channels ws={ws} />}</WithWorkspace>;
}

function Channels({ ws }: { ws: WorkspaceSummary }) {
  const channels = useLoad(() => apiFetch<Channel[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]);
  const creds = useLoad(() => apiFetch<Credential[]>(`/v1/workspaces/${ws.id}/credentials`), [ws.id]);
  const [form, setForm] = useState({ name: '', credential_id: '', number: '', throughput: '' });
  const { note, act } = useAction(() => channels.reload());
  const [link, setLink] = useState<{ channel: string; state: LinkState } | null>(null);
  const [setup, setSetup] = useState<SetupValues | null>(null);
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const body: Record<string, unknown> = { name: form.name, credential_id: form.credential_id || creds.data?.[0]?.id };
      if (form.number.trim()) body.number = form.number;
      if (form.throughput.trim()) body.throughput_per_second = Number(form.throughput);
      const c = await apiFetch<Channel & { webhook_secret: string }>(`/v1/workspaces/${ws.id}/channels`, { method: 'POST', body });
      setForm({ name: '', credential_id: '', number: '', throughput: '' });
      setSetup({ channel: c.name, provider: c.provider, webhook_path: c.webhook_path, webhook_secret: c.webhook_secret });
      return `Channel ${c.name} created (${c.status}).`;
    });
  };
  const rotate = (c: Channel) =>
    confirm(`Issue a new webhook secret for “${c.name}”? The current one stops working at once.`) &&
    act(async () => {
      const r = await apiFetch<{ webhook_secret: string; webhook_path: string }>(`/v1/workspaces/${ws.id}/channels/${c.id}/rotate-secret`, { method: 'POST', body: {} });
      setSetup({ channel: c.name, provider: c.provider, ...r });
      return `New secret issued for ${c.name}: paste it in the provider's console.`;
    });
  const showSetup = (c: Channel) => setSetup({ channel: c.name, provider: c.provider, webhook_path: c.webhook_path, webhook_secret: '' });
  const setStatus = (c: Channel, status: 'active' | 'paused') => act(async () => (await apiFetch(`/v1/workspaces/${ws.id}/channels/${c.id}`, { method: 'PUT', body: { status } }), `${c.name} is ${status}.`));
  const linkWhapi = (c: Channel) =>
    act(async () => {
      const state = await apiFetch<LinkState>(`/v1/workspaces/${ws.id}/channels/${c.id}/link`, { method: 'POST', body: {} });
      setLink(state.connected ? null : { channel: c.id, state });
      return state.connected ? `${c.name} is linked.` : 'Scan the QR code with WhatsApp on the phone (Linked devices), then check again.';
    });
  return (
    <>
      {creds.data && creds.data.length === 0 && (
        <p class="card" data-testid="empty-state">
          A channel sends through a provider credential. <a href="/whatsapp/credentials" onClick={(e) => onLinkClick(e, '/whatsapp/credentials')}>Add a credential first</a>.
        </p>
      )}
      <form class="card form form-inline" onSubmit={create} data-testid="channel-form">
        <h2 class="card-title">Add a channel</h2>
        <label class="field"><span>Name</span><input name="channel-name" required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} /></label>
        <label class="field">
          <span>Credential</span>
          <select name="credential" value={form.credential_id || creds.data?.[0]?.id || ''} onChange={(e) => setForm({ ...form, credential_id: e.currentTarget.value })}>
            {(creds.data ?? []).map((c) => <option key={c.id} value={c.id}>{c.name} ({c.provider})</option>)}
          </select>
        </label>
        <label class="field"><span>Sender number (Twilio)</span><input name="channel-number" placeholder="+14155552671" value={form.number} onInput={(e) => setForm({ ...form, number: e.currentTarget.value })} /></label>
        <label class="field"><span>Messages per second</span><input name="throughput" inputMode="numeric" placeholder="provider default" value={form.throughput} onInput={(e) => setForm({ ...form, throughput: e.currentTarget.value })} /></label>
        <button class="button button-primary">Create channel</button>
      </form>
      <Note note={note} />
      {setup && <ChannelSetup values={setup} onClose={() => setSetup(null)} />}
      {link && (
        <div class="card" data-testid="whapi-qr">
          <p>Status: {link.state.status}{link.state.expires_in ? ` · the code expires in ${link.state.expires_in} s` : ''}</p>
          {link.state.qr && <img src={link.state.qr} alt="WhatsApp link QR code" width={240} height={240} />}
          {link.state.pairing_code && <p>Pairing code: <code>{link.state.pairing_code}</code></p>}
        </div>
      )}
      <div class="card">
        <table class="table" data-testid="channels-table">
          <thead><tr><th>Name</th><th>Provider</th><th>Number</th><th>Status</th><th>Last webhook</th><th>Limit</th><th /></tr></thead>
          <tbody>
            {(channels.data ?? []).map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>{c.provider}</td>
                <td>{c.number ?? '—'}</td>
                <td>
                  <span class={`badge badge-${c.status}`}>{c.status}</span>
                  {c.paused_until && <span class="muted"> until {new Date(c.paused_until).toLocaleTimeString()}</span>}
                  {c.status_reason && <div class="muted">{c.status_reason}</div>}
                </td>
                <td><WebhookHealth last={c.last_webhook} /></td>
                <td>{c.throughput_per_second}/s</td>
                <td>
                  {c.status === 'paused' ? <button type="button" class="button button-small" onClick={() => setStatus(c, 'active')}>Resume</button> : <button type="button" class="button button-small" onClick={() => setStatus(c, 'paused')}>Pause</button>}{' '}
                  <button type="button" class="button button-small" onClick={() => showSetup(c)}>Setup</button>{' '}
                  {c.provider !== 'twilio' && <><button type="button" class="button button-small" onClick={() => rotate(c)}>New secret</button>{' '}</>}
                  {c.provider === 'whapi' && <button type="button" class="button button-small" onClick={() => linkWhapi(c)}>{c.status === 'disconnected' ? 'Link phone' : 'Check link'}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function MessagesPage() {
  return <WithWorkspace title="Messages" lead="Send a WhatsApp message and follow every message's status.">{(ws) => <Messages ws={ws} />}</WithWorkspace>;
}

function Messages({ ws }: { ws: WorkspaceSummary }) {
  const [tick, setTick] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const page = useLoad(() => apiFetch<{ messages: Message[]; next_cursor: string | null }>(`/v1/workspaces/${ws.id}/messages${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`), [ws.id, tick, cursor]);
  const channels = useLoad(() => apiFetch<Channel[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]);
  const [form, setForm] = useState({ channel_id: '', to: '+', body: '', template: '', language: 'en_US' });
  const { note, setNote } = useAction();
  const send = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    const channel_id = form.channel_id || channels.data?.[0]?.id;
    const fallback = form.template.trim() ? { template_fallback: { type: 'template', name: form.template, language: form.language } } : {};
    try {
      const m = await apiFetch<Message>(`/v1/workspaces/${ws.id}/messages`, { method: 'POST', body: { channel_id, to: form.to, type: 'text', body: form.body, ...fallback } });
      setNote({ ok: true, text: m.used_template_fallback ? 'Outside the 24-hour window: the template was queued instead.' : 'Queued.' });
      setCursor(null);
      setTick((t) => t + 1);
    } catch (x) {
      // The API's wording names its own field (template_fallback); on screen, name the form's.
      const outside = x instanceof ApiError && x.code === 'outside_window';
      setNote({ ok: false, text: outside ? `${form.to.trim()} has not written to this channel in the last 24 hours, so WhatsApp only allows a template: fill in “Template if outside 24 h” and send again.` : message(x) });
    }
  };
  const channelName = (id: string) => channels.data?.find((c) => c.id === id)?.name ?? id;
  return (
    <>
      {channels.data && channels.data.length === 0 && (
        <p class="card" data-testid="empty-state">
          Messages go out through a channel. <a href="/whatsapp/channels" onClick={(e) => onLinkClick(e, '/whatsapp/channels')}>Add a channel first</a>.
        </p>
      )}
      <form class="card form form-inline" onSubmit={send} data-testid="message-form">
        <h2 class="card-title">Send a message</h2>
        <label class="field">
          <span>Channel</span>
          <select name="channel" value={form.channel_id || channels.data?.[0]?.id || ''} onChange={(e) => setForm({ ...form, channel_id: e.currentTarget.value })}>
            {(channels.data ?? []).map((c) => <option key={c.id} value={c.id}>{c.name} ({c.provider})</option>)}
          </select>
        </label>
        <label class="field"><span>To</span><input name="to" required value={form.to} onInput={(e) => setForm({ ...form, to: e.currentTarget.value })} /></label>
        <label class="field"><span>Text</span><textarea name="text" required value={form.body} onInput={(e) => setForm({ ...form, body: e.currentTarget.value })} /></label>
        <label class="field"><span>Template if outside 24 h (optional)</span><input name="template" value={form.template} onInput={(e) => setForm({ ...form, template: e.currentTarget.value })} /></label>
        <button class="button button-primary">Send</button>
        <button type="button" class="button" onClick={() => setTick((t) => t + 1)}>Refresh</button>
      </form>
      <Note note={note} />
      {page.error && <p class="alert alert-error">{page.error}</p>}
      <div class="card">
        <table class="table" data-testid="messages-table">
          <thead><tr><th>When</th><th>Channel</th><th>To</th><th>Content</th><th>Status</th><th>Error</th></tr></thead>
          <tbody>
            {(page.data?.messages ?? []).map((m) => (
              <tr key={m.id}>
                <td>{new Date(m.created_at).toLocaleString()}</td>
                <td>{channelName(m.channel_id)}</td>
                <td>{m.to}</td>
                <td>{m.content.body ?? (m.content.name ? `template ${m.content.name}` : m.content.type)}</td>
                <td>{m.status}{m.attempts > 1 ? ` (${m.attempts} attempts)` : ''}</td>
                <td>{m.error ? `${m.error.code}: ${m.error.message}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {page.data?.next_cursor && <button type="button" class="button" onClick={() => setCursor(page.data!.next_cursor)}>Older</button>}
      </div>
    </>
  );
}
