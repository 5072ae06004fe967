// Triggers: the list, the editor (actions as steps, or raw JSON) with a sample payload, a live preview and
// test-send, the secret and a copy-paste
// curl example (shown once after create or rotate), and the invocation log with replay.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, message, useAction, useLoad, usePoll } from './settings';
import { StepEditor, TestSend, defaultAction, samplePaths, tidy, type Action } from './trigger-steps';

type AuthMode = 'standard_webhooks' | 'token' | 'github' | 'stripe' | 'shopify' | 'hmac';

interface HmacSettings {
  header: string;
  algorithm: 'sha1' | 'sha256';
  encoding: 'hex' | 'base64';
  prefix: string;
}

interface Trigger {
  id: string;
  name: string;
  enabled: boolean;
  auth: AuthMode;
  hmac?: HmacSettings;
  filter: string | null;
  dedupe_path: string | null;
  dedupe_window_seconds: number;
  actions: Record<string, unknown>[];
  secret_hint: string;
  previous_secret_valid_until: string | null;
  updated_at: string;
}

interface Invocation {
  id: string;
  received_at: string;
  status: 'rejected' | 'running' | 'filtered' | 'fired' | 'failed';
  verification: string;
  idempotency_key: string | null;
  error: string | null;
  rendered: unknown[];
  outcomes: { index: number; ok: boolean; detail: string }[];
  payload: unknown;
  replay_of: string | null;
}

interface Preview {
  fires: boolean;
  actions?: unknown[];
  error?: string;
}

const AUTH_LABELS: Record<AuthMode, string> = {
  standard_webhooks: 'Standard Webhooks signature',
  token: 'Secret token (Authorization: Bearer)',
  github: 'GitHub (X-Hub-Signature-256)',
  stripe: 'Stripe (Stripe-Signature)',
  shopify: 'Shopify (X-Shopify-Hmac-Sha256)',
  hmac: 'HMAC of the body in a header (most other services)',
};

const DEFAULT_HMAC: HmacSettings = { header: 'X-Signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=' };

const SAMPLE = JSON.stringify({ order: { id: 'A-1001', total: 42.5, customer: { name: 'Ada', phone: '+14155552671' } }, status: 'paid' }, null, 2);

interface Draft {
  name: string;
  auth: AuthMode;
  filter: string;
  dedupe_path: string;
  dedupe_window_seconds: string;
  actions: string;
  secret: string;
  hmac: HmacSettings;
}

const EMPTY: Draft = { name: '', auth: 'standard_webhooks', filter: '', dedupe_path: '', dedupe_window_seconds: '', actions: '[]', secret: '', hmac: DEFAULT_HMAC };

function draftOf(t: Trigger): Draft {
  return { name: t.name, auth: t.auth, filter: t.filter ?? '', dedupe_path: t.dedupe_path ?? '', dedupe_window_seconds: String(t.dedupe_window_seconds), actions: JSON.stringify(tidy(t.actions), null, 2), secret: '', hmac: t.hmac ?? DEFAULT_HMAC };
}

/** The actions textarea parsed, or the reason it does not parse. */
function parseActions(raw: string): { actions: unknown[] } | { error: string } {
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? { actions: v } : { error: 'Actions must be a JSON array.' };
  } catch (e) {
    return { error: `Actions are not valid JSON: ${(e as Error).message}` };
  }
}

/** The shell commands that send `body` to the trigger, signed the way its auth mode expects. */
export function curlExample(url: string, auth: AuthMode, secret: string | null, hmac?: HmacSettings): string {
  // The editor's sample payload, so the default actions (which use order.customer) render as shown.
  const body = `BODY='${JSON.stringify(JSON.parse(SAMPLE))}'`;
  const head = [`SECRET='${secret ?? '<the secret shown when the trigger was created>'}'`, body];
  const post = `curl -sS -X POST '${url}' -H 'content-type: application/json'`;
  switch (auth) {
    case 'standard_webhooks':
      return [...head, 'ID="msg_$(date +%s%N)"; TS=$(date +%s)',
        'KEY=$(printf %s "${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d \' \\n\')',
        'SIG=$(printf %s "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary | base64)',
        `${post} \\\n  -H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \\\n  --data "$BODY"`].join('\n');
    case 'token':
      return [...head, `${post} \\\n  -H "authorization: Bearer $SECRET" --data "$BODY"`].join('\n');
    case 'github':
      return [...head, 'SIG=$(printf %s "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d" " -f1)',
        `${post} \\\n  -H "x-github-event: push" -H "x-github-delivery: $(date +%s%N)" -H "x-hub-signature-256: sha256=$SIG" --data "$BODY"`].join('\n');
    case 'stripe':
      return [...head, 'TS=$(date +%s)', 'SIG=$(printf %s "$TS.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d" " -f1)',
        `${post} \\\n  -H "stripe-signature: t=$TS,v1=$SIG" --data "$BODY"`].join('\n');
    case 'shopify':
      return [...head, 'SIG=$(printf %s "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64)',
        `${post} \\\n  -H "x-shopify-hmac-sha256: $SIG" -H "x-shopify-webhook-id: $(date +%s%N)" --data "$BODY"`].join('\n');
    case 'hmac': {
      const h = hmac ?? DEFAULT_HMAC;
      const digest = h.encoding === 'hex' ? '-r | cut -d" " -f1' : '-binary | base64';
      return [...head, `SIG=$(printf %s "$BODY" | openssl dgst -${h.algorithm} -hmac "$SECRET" ${digest})`,
        `${post} \\\n  -H "${h.header}: ${h.prefix}$SIG" -H "idempotency-key: $(date +%s%N)" --data "$BODY"`].join('\n');
    }
  }
}

export function TriggersPage() {
  return (
    <WithWorkspace title="Triggers" lead="A trigger is a URL any system can POST JSON to; each event becomes push notifications or WhatsApp messages through your templates.">
      {(ws) => <Triggers ws={ws} />}
    </WithWorkspace>
  );
}

function Triggers({ ws }: { ws: WorkspaceSummary }) {
  const triggers = useLoad(() => apiFetch<Trigger[]>(`/v1/workspaces/${ws.id}/triggers`), [ws.id]);
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState<'new' | string | null>(null);
  const [revealed, setRevealed] = useState<{ id: string; secret: string } | null>(null);
  const current = triggers.data?.find((t) => t.id === selected) ?? null;
  const saved = (t: Trigger, secret?: string) => {
    triggers.reload();
    setSelected(t.id);
    setEditing(null);
    if (secret) setRevealed({ id: t.id, secret });
  };
  return (
    <>
      {triggers.error && <p class="alert alert-error">{triggers.error}</p>}
      <div class="card">
        <h2 class="card-title">Your triggers</h2>
        {triggers.data?.length === 0 && <p class="muted">No triggers yet. Create one and POST your first event to its URL.</p>}
        {!!triggers.data?.length && (
          <table class="table" data-testid="triggers-table">
            <thead><tr><th>Name</th><th>Authentication</th><th>Actions</th><th>State</th><th /></tr></thead>
            <tbody>
              {triggers.data.map((t) => (
                <tr key={t.id} aria-selected={t.id === selected}>
                  <td>{t.name}<div class="muted"><code>/t/{t.id}</code></div></td>
                  <td>{AUTH_LABELS[t.auth]}</td>
                  <td>{t.actions.map((a) => String(a.type)).join(', ')}</td>
                  <td><span class={`badge ${t.enabled ? 'badge-active' : 'badge-paused'}`}>{t.enabled ? 'enabled' : 'disabled'}</span></td>
                  <td><button type="button" class="button button-small" onClick={() => (setSelected(t.id), setEditing(null))}>Open</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <button type="button" class="button button-primary" onClick={() => (setEditing('new'), setSelected(null))}>New trigger</button>
      </div>
      {editing && <Editor ws={ws} key={editing} trigger={editing === 'new' ? null : current} onSaved={saved} onCancel={() => setEditing(null)} />}
      {current && !editing && (
        <Details ws={ws} trigger={current} secret={revealed?.id === current.id ? revealed.secret : null} onEdit={() => setEditing(current.id)}
          onChanged={(t, secret) => (t ? saved(t, secret) : (triggers.reload(), setSelected(null)))} />
      )}
    </>
  );
}

function Editor({ ws, trigger, onSaved, onCancel }: { ws: WorkspaceSummary; trigger: Trigger | null; onSaved: (t: Trigger, secret?: string) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState<Draft>(trigger ? draftOf(trigger) : EMPTY);
  const [sample, setSample] = useState(SAMPLE);
  const [preview, setPreview] = useState<Preview | { error: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [advanced, setAdvanced] = useState(false);
  const sites = useLoad(() => apiFetch<{ id: string; name?: string }[]>(`/v1/workspaces/${ws.id}/sites`), [ws.id]);
  const channels = useLoad(() => apiFetch<{ id: string; name?: string }[]>(`/v1/workspaces/${ws.id}/channels`), [ws.id]);
  const steps = parseActions(draft.actions);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  // Live preview: re-rendered on the server 400 ms after the last keystroke, nothing is sent.
  useEffect(() => {
    const timer = window.setTimeout(async () => {
      const parsed = parseActions(draft.actions);
      if ('error' in parsed) return setPreview({ error: parsed.error });
      let payload: unknown;
      try {
        payload = JSON.parse(sample);
      } catch (e) {
        return setPreview({ error: `The sample payload is not valid JSON: ${(e as Error).message}` });
      }
      try {
        setPreview(await apiFetch<Preview>(`/v1/workspaces/${ws.id}/trigger-preview`, { method: 'POST', body: { payload, actions: parsed.actions, filter: draft.filter } }));
      } catch (e) {
        setPreview({ error: message(e) });
      }
    }, 400);
    return () => window.clearTimeout(timer);
  }, [draft.actions, draft.filter, sample, ws.id]);

  const add = (action: Action) => {
    const parsed = parseActions(draft.actions);
    set({ actions: JSON.stringify([...('actions' in parsed ? parsed.actions : []), action], null, 2) });
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const parsed = parseActions(draft.actions);
    if ('error' in parsed) return setError(parsed.error);
    const body: Record<string, unknown> = { name: draft.name, filter: draft.filter.trim() || null, dedupe_path: draft.dedupe_path.trim() || null, actions: parsed.actions, enabled: trigger?.enabled ?? true };
    if (draft.dedupe_window_seconds.trim()) body.dedupe_window_seconds = Number(draft.dedupe_window_seconds);
    if ((trigger?.auth ?? draft.auth) === 'hmac') body.hmac = draft.hmac;
    try {
      if (trigger) return onSaved(await apiFetch<Trigger>(`/v1/workspaces/${ws.id}/triggers/${trigger.id}`, { method: 'PUT', body: { ...body, auth: trigger.auth } }));
      if (draft.secret.trim()) body.secret = draft.secret.trim();
      const created = await apiFetch<Trigger & { secret: string }>(`/v1/workspaces/${ws.id}/triggers`, { method: 'POST', body: { ...body, auth: draft.auth } });
      onSaved(created, created.secret);
    } catch (x) {
      setError(message(x));
    }
  };
  return (
    <div class="compose">
      <form class="card form form-inline" onSubmit={save} data-testid="trigger-form">
        <h2 class="card-title">{trigger ? `Edit ${trigger.name}` : 'New trigger'}</h2>
        <label class="field"><span>Name</span><input name="trigger-name" required value={draft.name} onInput={(e) => set({ name: e.currentTarget.value })} /></label>
        <label class="field">
          <span>How callers authenticate</span>
          <select name="auth" value={draft.auth} disabled={!!trigger} onChange={(e) => set({ auth: e.currentTarget.value as AuthMode })}>
            {(Object.keys(AUTH_LABELS) as AuthMode[]).map((m) => <option key={m} value={m}>{AUTH_LABELS[m]}</option>)}
          </select>
        </label>
        {!trigger && draft.auth in SECRET_LABELS && (
          <label class="field"><span>{SECRET_LABELS[draft.auth]}</span><input name="provider-secret" type="password" autoComplete="off" value={draft.secret} onInput={(e) => set({ secret: e.currentTarget.value })} /></label>
        )}
        {draft.auth === 'hmac' && <HmacFields value={draft.hmac} onChange={(hmac) => set({ hmac })} />}
        <label class="field"><span>Fire only when (optional expression, e.g. <code>status == "paid"</code>)</span><input name="filter" value={draft.filter} onInput={(e) => set({ filter: e.currentTarget.value })} /></label>
        <div class="form-inline">
          <label class="field"><span>Dedupe on payload path (default: the webhook-id header)</span><input name="dedupe-path" placeholder="event.id" value={draft.dedupe_path} onInput={(e) => set({ dedupe_path: e.currentTarget.value })} /></label>
          <label class="field"><span>Dedupe window (seconds)</span><input name="dedupe-window" inputMode="numeric" placeholder="86400" value={draft.dedupe_window_seconds} onInput={(e) => set({ dedupe_window_seconds: e.currentTarget.value })} /></label>
        </div>
        <div class="steps-header">
          <h3>Steps <span class="muted">(every text is a template such as <code>{'{{ order.id }}'}</code>)</span></h3>
          <label class="check"><input type="checkbox" name="advanced-json" checked={advanced} onChange={(e) => setAdvanced(e.currentTarget.checked)} /> Edit as JSON (advanced)</label>
        </div>
        {advanced ? (
          <label class="field">
            <span>Actions (JSON array)</span>
            <textarea name="actions" rows={12} spellcheck={false} value={draft.actions} onInput={(e) => set({ actions: e.currentTarget.value })} />
          </label>
        ) : 'error' in steps ? (
          <p class="alert alert-error" role="alert">{steps.error} Fix it with “Edit as JSON”.</p>
        ) : (
          <StepEditor actions={steps.actions as Action[]} onChange={(a) => set({ actions: JSON.stringify(a, null, 2) })}
            options={{ sites: sites.data ?? [], channels: channels.data ?? [], variables: samplePaths(sample) }} />
        )}
        <div class="compose-actions">
          <button type="button" class="button button-secondary button-small" onClick={() => add(defaultAction('push', sites.data?.[0]?.id, channels.data?.[0]?.id))}>Add push action</button>
          <button type="button" class="button button-secondary button-small" onClick={() => add(defaultAction('whatsapp', sites.data?.[0]?.id, channels.data?.[0]?.id))}>Add WhatsApp action</button>
          <button type="button" class="button button-secondary button-small" onClick={() => add(defaultAction('members'))}>Add team devices action</button>
        </div>
        {error && <p class="alert alert-error" role="alert">{error}</p>}
        <div>
          <button class="button button-primary">{trigger ? 'Save changes' : 'Create trigger'}</button>{' '}
          <button type="button" class="button" onClick={onCancel}>Cancel</button>
        </div>
      </form>
      <div class="card form form-inline">
        <h2 class="card-title">Preview</h2>
        <label class="field"><span>Sample payload</span><textarea name="sample" rows={10} spellcheck={false} value={sample} onInput={(e) => setSample(e.currentTarget.value)} /></label>
        <div data-testid="trigger-preview" aria-live="polite">
          {preview && 'error' in preview && preview.error && <p class="alert alert-error">{preview.error}</p>}
          {preview && 'fires' in preview && <p class="muted">{preview.fires ? 'This event fires the trigger.' : 'The filter skips this event.'}</p>}
          {preview && 'actions' in preview && preview.actions && <pre class="snippet">{JSON.stringify(preview.actions, null, 2)}</pre>}
        </div>
        <TestSend ws={ws.id} triggerId={trigger?.id ?? null} filter={draft.filter} sample={sample} actions={() => ('actions' in steps ? (steps.actions as Action[]) : null)} />
      </div>
    </div>
  );
}

const SECRET_LABELS: Partial<Record<AuthMode, string>> = {
  stripe: 'Stripe endpoint signing secret (whsec_…)',
  github: 'GitHub webhook secret (leave empty to generate one)',
  shopify: 'Shopify app client secret (Shopify signs webhooks with it)',
  hmac: 'The sender’s signing secret (leave empty to generate one)',
};

/** The generic HMAC mode's settings: which header, which hash, how the digest is written. */
function HmacFields({ value, onChange }: { value: HmacSettings; onChange: (v: HmacSettings) => void }) {
  return (
    <div class="form-inline" data-testid="hmac-settings">
      <label class="field"><span>Signature header</span><input name="hmac-header" required value={value.header} onInput={(e) => onChange({ ...value, header: e.currentTarget.value })} /></label>
      <label class="field">
        <span>Hash</span>
        <select name="hmac-algorithm" value={value.algorithm} onChange={(e) => onChange({ ...value, algorithm: e.currentTarget.value as HmacSettings['algorithm'] })}>
          <option value="sha256">HMAC-SHA256</option>
          <option value="sha1">HMAC-SHA1</option>
        </select>
      </label>
      <label class="field">
        <span>Digest written as</span>
        <select name="hmac-encoding" value={value.encoding} onChange={(e) => onChange({ ...value, encoding: e.currentTarget.value as HmacSettings['encoding'] })}>
          <option value="hex">hex</option>
          <option value="base64">base64</option>
        </select>
      </label>
      <label class="field"><span>Prefix before the digest (optional)</span><input name="hmac-prefix" value={value.prefix} onInput={(e) => onChange({ ...value, prefix: e.currentTarget.value })} /></label>
    </div>
  );
}

function Details({ ws, trigger, secret, onEdit, onChanged }: { ws: WorkspaceSummary; trigger: Trigger; secret: string | null; onEdit: () => void; onChanged: (t: Trigger | null, secret?: string) => void }) {
  const { note, act } = useAction();
  const url = `${location.origin}/t/${trigger.id}`;
  const base = `/v1/workspaces/${ws.id}/triggers/${trigger.id}`;
  const toggle = () => act(async () => {
    const { name, auth, hmac, filter, dedupe_path, dedupe_window_seconds, actions } = trigger;
    onChanged(await apiFetch<Trigger>(base, { method: 'PUT', body: { name, auth, hmac, filter, dedupe_path, dedupe_window_seconds, actions, enabled: !trigger.enabled } }));
    return trigger.enabled ? 'Disabled: calls are refused until you enable it again.' : 'Enabled.';
  });
  const rotate = () => confirm('Issue a new secret? The current one keeps working for 24 hours.') && act(async () => {
    const t = await apiFetch<Trigger & { secret: string }>(`${base}/rotate-secret`, { method: 'POST', body: { overlap_seconds: 86_400 } });
    onChanged(t, t.secret);
    return 'New secret issued; the previous one is accepted for 24 hours.';
  });
  const remove = () => confirm(`Delete “${trigger.name}”? Its URL stops working.`) && act(async () => (await apiFetch(base, { method: 'DELETE' }), onChanged(null), 'Deleted.'));
  return (
    <>
      <div class="card" data-testid="trigger-details">
        <h2 class="card-title">{trigger.name}</h2>
        <p>URL: <code data-testid="trigger-url">{url}</code></p>
        {secret ? (
          <p class="alert alert-success" role="status">Secret (shown only now, copy it): <code data-testid="trigger-secret">{secret}</code></p>
        ) : (
          <p class="muted">Secret ends in <code>{trigger.secret_hint}</code>{trigger.previous_secret_valid_until && ` · the previous secret works until ${new Date(trigger.previous_secret_valid_until).toLocaleString()}`}</p>
        )}
        <p>Try it from a shell:</p>
        <pre class="snippet" data-testid="curl-example">{curlExample(url, trigger.auth, secret, trigger.hmac)}</pre>
        <button type="button" class="button button-small" onClick={onEdit}>Edit</button>{' '}
        <button type="button" class="button button-small" onClick={toggle}>{trigger.enabled ? 'Disable' : 'Enable'}</button>{' '}
        <button type="button" class="button button-small" onClick={rotate}>Rotate secret</button>{' '}
        <button type="button" class="button button-small" onClick={remove}>Delete</button>
        <Note note={note} />
      </div>
      <InvocationLog ws={ws} trigger={trigger} />
    </>
  );
}

function InvocationLog({ ws, trigger }: { ws: WorkspaceSummary; trigger: Trigger }) {
  const poll = usePoll(3000);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const base = `/v1/workspaces/${ws.id}/triggers/${trigger.id}/invocations`;
  // Only the newest page follows new calls; an older page stays put while it is read.
  const page = useLoad(() => apiFetch<{ invocations: Invocation[]; next_cursor: string | null }>(`${base}${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`), [base, cursor, cursor ? 0 : poll]);
  const replay = async (inv: Invocation) => {
    setError(null);
    try {
      const again = await apiFetch<Invocation>(`${base}/${inv.id}/replay`, { method: 'POST' });
      setCursor(null);
      setOpen(again.id);
      page.reload();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <div class="card">
      <h2 class="card-title">Invocation log</h2>
      <p class="muted">Every call, newest first, refreshed every few seconds; kept 30 days.</p>
      {(error || page.error) && <p class="alert alert-error">{error ?? page.error}</p>}
      {page.data?.invocations.length === 0 && <p class="muted">No calls yet.</p>}
      <table class="table" data-testid="invocation-log">
        <thead><tr><th>Received</th><th>Status</th><th>Verification</th><th>Outcome</th><th /></tr></thead>
        <tbody>
          {(page.data?.invocations ?? []).map((inv) => [
            <tr key={inv.id} data-status={inv.status}>
              <td>{new Date(inv.received_at).toLocaleString()}</td>
              <td><span class={`badge ${inv.status === 'fired' ? 'badge-active' : inv.status === 'filtered' ? '' : 'badge-disconnected'}`}>{inv.status}</span></td>
              <td>{inv.replay_of ? `replay of ${inv.replay_of}` : inv.verification}</td>
              <td>{inv.error ?? inv.outcomes.map((o) => `${o.ok ? '✔' : '✖'} ${o.detail}`).join(' · ')}</td>
              <td>
                <button type="button" class="button button-small" onClick={() => setOpen(open === inv.id ? null : inv.id)}>{open === inv.id ? 'Hide' : 'Details'}</button>{' '}
                {inv.payload != null && <button type="button" class="button button-small" onClick={() => replay(inv)}>Replay</button>}
              </td>
            </tr>,
            open === inv.id && (
              <tr key={`${inv.id}-details`}>
                <td colSpan={5}><pre class="snippet">{JSON.stringify({ id: inv.id, idempotency_key: inv.idempotency_key, rendered: inv.rendered, payload: inv.payload }, null, 2)}</pre></td>
              </tr>
            ),
          ])}
        </tbody>
      </table>
      {page.data?.next_cursor && <button type="button" class="button" onClick={() => setCursor(page.data!.next_cursor)}>Older</button>}
      {cursor && <button type="button" class="button" onClick={() => setCursor(null)}>Newest</button>}
    </div>
  );
}
