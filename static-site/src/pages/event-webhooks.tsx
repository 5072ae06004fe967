// Event webhooks: the workspace's endpoints that receive platform events signed per Standard Webhooks,
// with the signing secret shown once, a test event, enable/disable, and each endpoint's delivery attempts.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, useAction, useLoad, usePoll } from './settings';

interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  last_success_at: string | null;
  secret_hint: string;
}

interface Attempt {
  event_id: string;
  event_type: string;
  attempt: number;
  at: string;
  ok: boolean;
  status: number | null;
  error: string | null;
  duration_ms: number;
  next_attempt_at: string | null;
}

const EVENT_TYPES: [string, string][] = [
  ['message.status', 'WhatsApp message status changed'],
  ['message.inbound', 'WhatsApp message received'],
  ['push.clicked', 'Push notification clicked'],
  ['trigger.failed', 'Trigger invocation failed'],
];

export function EventWebhooksPage() {
  return (
    <WithWorkspace title="Event webhooks" lead="Your endpoints receive WebTrigger events as signed Standard Webhooks, retried immediately, after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.">
      {(ws) => <EventWebhooks ws={ws} />}
    </WithWorkspace>
  );
}

function EventWebhooks({ ws }: { ws: WorkspaceSummary }) {
  const base = `/v1/workspaces/${ws.id}/event-endpoints`;
  const endpoints = useLoad(() => apiFetch<Endpoint[]>(base), [base]);
  const [form, setForm] = useState<{ url: string; description: string; types: string[] }>({ url: 'https://', description: '', types: [] });
  const { note, act } = useAction(() => endpoints.reload());
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const created = await apiFetch<Endpoint & { secret: string }>(base, { method: 'POST', body: { url: form.url, description: form.description.trim() || null, event_types: form.types } });
      setSecret({ id: created.id, secret: created.secret });
      setOpen(created.id);
      setForm({ url: 'https://', description: '', types: [] });
      return 'Endpoint added. Copy its signing secret now: it is not shown again.';
    });
  };
  const toggleType = (t: string) => setForm((f) => ({ ...f, types: f.types.includes(t) ? f.types.filter((x) => x !== t) : [...f.types, t] }));
  const setEnabled = (ep: Endpoint, enabled: boolean) =>
    act(async () => (await apiFetch(`${base}/${ep.id}`, { method: 'PUT', body: { url: ep.url, description: ep.description, event_types: ep.event_types, enabled } }), enabled ? 'Enabled; failures were cleared.' : 'Disabled.'));
  const test = (ep: Endpoint) => act(async () => (await apiFetch(`${base}/${ep.id}/test`, { method: 'POST' }), setOpen(ep.id), 'A webhook.test event is on its way.'));
  const remove = (ep: Endpoint) => confirm(`Delete the endpoint ${ep.url}?`) && act(async () => (await apiFetch(`${base}/${ep.id}`, { method: 'DELETE' }), 'Deleted.'));
  return (
    <>
      <form class="card form" onSubmit={create} data-testid="endpoint-form">
        <h2 class="card-title">Add an endpoint</h2>
        <label class="field"><span>URL (https, publicly reachable)</span><input name="endpoint-url" required value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} /></label>
        <label class="field"><span>Description</span><input name="endpoint-description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} /></label>
        <fieldset class="field">
          <legend>Events (none ticked: all of them)</legend>
          {EVENT_TYPES.map(([t, label]) => (
            <label key={t} class="check"><input type="checkbox" checked={form.types.includes(t)} onChange={() => toggleType(t)} /> {label} <code>{t}</code></label>
          ))}
        </fieldset>
        <button class="button button-primary">Add endpoint</button>
      </form>
      <Note note={note} />
      {endpoints.error && <p class="alert alert-error">{endpoints.error}</p>}
      {endpoints.data?.length === 0 && <p class="card muted">No endpoints yet.</p>}
      {(endpoints.data ?? []).map((ep) => (
        <div class="card" key={ep.id} data-testid="endpoint-card">
          <h2 class="card-title"><code>{ep.url}</code> <span class={`badge ${ep.enabled ? (ep.failing_since ? 'badge-degraded' : 'badge-active') : 'badge-disconnected'}`}>{ep.enabled ? (ep.failing_since ? 'failing' : 'enabled') : 'disabled'}</span></h2>
          {ep.description && <p>{ep.description}</p>}
          <p class="muted">
            Events: {ep.event_types.length ? ep.event_types.join(', ') : 'all'} · secret ends in <code>{ep.secret_hint}</code>
            {ep.last_success_at && ` · last success ${new Date(ep.last_success_at).toLocaleString()}`}
            {ep.failing_since && ` · failing since ${new Date(ep.failing_since).toLocaleString()}`}
          </p>
          {ep.disabled_reason && <p class="alert alert-error">{ep.disabled_reason}</p>}
          {secret?.id === ep.id && <p class="alert alert-success">Signing secret (shown only now): <code data-testid="endpoint-secret">{secret.secret}</code></p>}
          <button type="button" class="button button-small" onClick={() => test(ep)}>Send test event</button>{' '}
          <button type="button" class="button button-small" onClick={() => setEnabled(ep, !ep.enabled)}>{ep.enabled ? 'Disable' : 'Enable'}</button>{' '}
          <button type="button" class="button button-small" onClick={() => setOpen(open === ep.id ? null : ep.id)}>{open === ep.id ? 'Hide attempts' : 'Delivery attempts'}</button>{' '}
          <button type="button" class="button button-small" onClick={() => remove(ep)}>Delete</button>
          {open === ep.id && <Attempts path={`${base}/${ep.id}/attempts`} />}
        </div>
      ))}
    </>
  );
}

function Attempts({ path }: { path: string }) {
  const poll = usePoll(3000);
  const attempts = useLoad(() => apiFetch<Attempt[]>(path), [path, poll]);
  if (attempts.error) return <p class="alert alert-error">{attempts.error}</p>;
  if (attempts.data?.length === 0) return <p class="muted">No deliveries yet.</p>;
  return (
    <table class="table" data-testid="endpoint-attempts">
      <thead><tr><th>When</th><th>Event</th><th>Attempt</th><th>Result</th><th>Next try</th></tr></thead>
      <tbody>
        {(attempts.data ?? []).map((a) => (
          <tr key={`${a.event_id}-${a.attempt}`} data-ok={a.ok}>
            <td>{new Date(a.at).toLocaleString()}</td>
            <td>{a.event_type} <span class="muted">{a.event_id}</span></td>
            <td>{a.attempt}</td>
            <td>{a.ok ? '✔' : '✖'} {a.status ?? ''} {a.error ?? ''} <span class="muted">({a.duration_ms} ms)</span></td>
            <td>{a.next_attempt_at ? new Date(a.next_attempt_at).toLocaleString() : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
