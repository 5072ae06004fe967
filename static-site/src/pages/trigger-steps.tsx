// The trigger editor's actions as steps: one card per action (its type and that type's fields, with the
// sample payload's variables as insertable hints), added, removed and reordered; the raw JSON stays one
// toggle away ("advanced") and round-trips, since the cards edit the same array and keep unknown keys.
// Also the test-send panel: the saved trigger's POST …/test renders each step against the sample body
// (what would be sent, or the error naming the missing variable) and, on request, sends once as a test.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { message } from './settings';

export type Action = Record<string, unknown>;
type Kind = 'push' | 'whatsapp' | 'members';

const KIND_LABELS: Record<Kind, string> = { push: 'Web Push to a site', whatsapp: 'WhatsApp message', members: 'Push to the team’s devices' };

/** The defaults a new step of each type starts from (the editor's sample payload renders them all). */
export function defaultAction(kind: Kind, siteId?: string, channelId?: string): Action {
  switch (kind) {
    case 'push':
      return { type: 'push', site_id: siteId ?? 'site_…', target: { type: 'all' }, title: 'Order {{ order.id }}', body: '{{ order.total }} paid', url: 'https://example.com/orders/{{ order.id }}' };
    case 'whatsapp':
      return { type: 'whatsapp', channel_id: channelId ?? 'chn_…', to: '{{ order.customer.phone }}', text: 'Hi {{ order.customer.name }}, order {{ order.id }} is {{ status }}.' };
    case 'members':
      return { type: 'members', title: 'Order {{ order.id }} {{ status }}', body: '{{ order.total }}' };
  }
}

/** Drops `null`s and empty lists the API fills in, so saved actions read as they were entered. */
export function tidy(actions: unknown[]): Action[] {
  return actions.map((a) =>
    Object.fromEntries(Object.entries(a as Action).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))),
  );
}

/** Dotted paths of the sample's leaves (`order.customer.phone`), the variables a template can use. */
export function samplePaths(sample: string): string[] {
  let root: unknown;
  try {
    root = JSON.parse(sample);
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown, path: string, depth: number) => {
    if (out.length >= 24) return;
    if (v && typeof v === 'object' && !Array.isArray(v) && depth < 5) {
      for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k, depth + 1);
    } else if (path) out.push(path);
  };
  walk(root, '', 0);
  return out;
}

interface Options {
  sites: { id: string; name?: string }[];
  channels: { id: string; name?: string }[];
  variables: string[];
}

export function StepEditor({ actions, onChange, options }: { actions: Action[]; onChange: (a: Action[]) => void; options: Options }) {
  const update = (i: number, a: Action) => onChange(actions.map((x, j) => (j === i ? a : x)));
  const move = (i: number, by: number) => {
    const next = [...actions];
    const [a] = next.splice(i, 1);
    next.splice(i + by, 0, a!);
    onChange(next);
  };
  return (
    <div class="steps" data-testid="trigger-steps">
      {actions.length === 0 && <p class="muted">No steps yet: add what this trigger sends below.</p>}
      {actions.map((a, i) => (
        <fieldset class="card step" key={i} data-testid="trigger-step" data-type={String(a.type)}>
          <legend class="step-title">Step {i + 1}</legend>
          <div class="step-head">
            <label class="field">
              <span>Type</span>
              <select name="step-type" value={String(a.type)} onChange={(e) => update(i, defaultAction(e.currentTarget.value as Kind, options.sites[0]?.id, options.channels[0]?.id))}>
                {(Object.keys(KIND_LABELS) as Kind[]).map((k) => <option key={k} value={k}>{KIND_LABELS[k]}</option>)}
              </select>
            </label>
            <div class="step-buttons">
              <button type="button" class="button button-secondary button-small" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move step ${i + 1} up`}>↑</button>
              <button type="button" class="button button-secondary button-small" disabled={i === actions.length - 1} onClick={() => move(i, 1)} aria-label={`Move step ${i + 1} down`}>↓</button>
              <button type="button" class="button button-danger button-small" onClick={() => onChange(actions.filter((_, j) => j !== i))} aria-label={`Remove step ${i + 1}`}>Remove</button>
            </div>
          </div>
          <StepFields action={a} onChange={(x) => update(i, x)} options={options} />
        </fieldset>
      ))}
    </div>
  );
}

function StepFields({ action, onChange, options }: { action: Action; onChange: (a: Action) => void; options: Options }) {
  const [focused, setFocused] = useState<string | null>(null);
  const str = (k: string) => (typeof action[k] === 'string' ? (action[k] as string) : '');
  // An emptied optional field leaves the JSON instead of staying as "".
  const set = (k: string, v: string, optional = true) => {
    const next = { ...action };
    if (optional && v === '') delete next[k];
    else next[k] = v;
    onChange(next);
  };
  const text = (k: string, label: string, optional = true) => (
    <label class="field">
      <span>{label}</span>
      <input name={`step-${k}`} value={str(k)} onFocus={() => setFocused(k)} onInput={(e) => set(k, e.currentTarget.value, optional)} />
    </label>
  );
  const insert = (path: string) => {
    const k = focused ?? (action.type === 'whatsapp' ? 'text' : 'title');
    set(k, `${str(k)}{{ ${path} }}`, false);
  };
  const target = (action.target ?? { type: 'all' }) as Action;
  const variables = (action.template_variables as string[] | undefined) ?? [];
  return (
    <>
      {action.type === 'push' && (
        <>
          <label class="field">
            <span>Site</span>
            {options.sites.length ? (
              <select name="step-site_id" value={str('site_id')} onChange={(e) => set('site_id', e.currentTarget.value, false)}>
                {!options.sites.some((s) => s.id === action.site_id) && <option value={str('site_id')}>{str('site_id') || 'choose a site'}</option>}
                {options.sites.map((s) => <option key={s.id} value={s.id}>{s.name ?? s.id}</option>)}
              </select>
            ) : <input name="step-site_id" value={str('site_id')} placeholder="add a site first (Push → Sites)" onInput={(e) => set('site_id', e.currentTarget.value, false)} />}
          </label>
          <div class="form-inline">
            <label class="field">
              <span>Who</span>
              <select name="step-target" value={String(target.type)} onChange={(e) => onChange({ ...action, target: e.currentTarget.value === 'tags' ? { type: 'tags', tags: '' } : e.currentTarget.value === 'external_id' ? { type: 'external_id', external_id: '' } : { type: 'all' } })}>
                <option value="all">Every subscriber</option>
                <option value="tags">Subscribers with a tag</option>
                <option value="external_id">One subscriber (external id)</option>
              </select>
            </label>
            {target.type === 'tags' && <label class="field"><span>Tags (comma-separated)</span><input name="step-target-tags" value={String(target.tags ?? '')} onInput={(e) => onChange({ ...action, target: { type: 'tags', tags: e.currentTarget.value } })} /></label>}
            {target.type === 'external_id' && <label class="field"><span>External id</span><input name="step-target-external_id" value={String(target.external_id ?? '')} onInput={(e) => onChange({ ...action, target: { type: 'external_id', external_id: e.currentTarget.value } })} /></label>}
          </div>
          {text('title', 'Title', false)}
          {text('body', 'Body')}
          {text('url', 'Link (opened on click)')}
          <label class="check"><input type="checkbox" name="step-transactional" checked={action.transactional === true} onChange={(e) => { const next = { ...action }; if (e.currentTarget.checked) next.transactional = true; else delete next.transactional; onChange(next); }} /> Transactional (not held back by the site’s frequency cap)</label>
        </>
      )}
      {action.type === 'members' && (
        <>
          {text('title', 'Title', false)}
          {text('body', 'Body')}
          {text('url', 'Link (opened on click)')}
        </>
      )}
      {action.type === 'whatsapp' && (
        <>
          <label class="field">
            <span>Channel</span>
            {options.channels.length ? (
              <select name="step-channel_id" value={str('channel_id')} onChange={(e) => set('channel_id', e.currentTarget.value, false)}>
                {!options.channels.some((c) => c.id === action.channel_id) && <option value={str('channel_id')}>{str('channel_id') || 'choose a channel'}</option>}
                {options.channels.map((c) => <option key={c.id} value={c.id}>{c.name ?? c.id}</option>)}
              </select>
            ) : <input name="step-channel_id" value={str('channel_id')} placeholder="add a channel first (WhatsApp → Channels)" onInput={(e) => set('channel_id', e.currentTarget.value, false)} />}
          </label>
          {text('to', 'To (numbers, comma-separated)', false)}
          <label class="field">
            <span>Send</span>
            <select name="step-content" value={action.template_name !== undefined ? 'template' : 'text'} onChange={(e) => {
              const rest = { ...action };
              for (const k of ['text', 'template_name', 'template_language', 'template_variables']) delete rest[k];
              onChange(e.currentTarget.value === 'template' ? { ...rest, template_name: '', template_language: 'en' } : { ...rest, text: '' });
            }}>
              <option value="text">A text (inside the 24-hour window)</option>
              <option value="template">An approved template</option>
            </select>
          </label>
          {action.template_name !== undefined ? (
            <>
              {text('template_name', 'Template name', false)}
              {text('template_language', 'Template language')}
              <label class="field">
                <span>Template variables (one per line)</span>
                <textarea name="step-template_variables" rows={3} value={variables.join('\n')} onInput={(e) => {
                  const lines = e.currentTarget.value.split('\n');
                  const next: Action = { ...action, template_variables: lines };
                  if (lines.length === 1 && lines[0] === '') delete next.template_variables;
                  onChange(next);
                }} />
              </label>
            </>
          ) : text('text', 'Text', false)}
        </>
      )}
      {options.variables.length > 0 && (
        <p class="step-hints muted">
          Insert from the sample{focused ? ` into ${focused.replace('_', ' ')}` : ''}:{' '}
          {options.variables.map((v) => <button type="button" key={v} class="chip chip-button" onMouseDown={(e) => e.preventDefault()} onClick={() => insert(v)}>{`{{ ${v} }}`}</button>)}
        </p>
      )}
    </>
  );
}

interface ActionReport {
  index: number;
  type: string;
  ok: boolean;
  rendered?: unknown;
  error?: string | null;
}

interface TestReport {
  fires: boolean;
  filter_error?: string | null;
  actions: ActionReport[];
  invocation?: { id: string; status: string; error: string | null; outcomes: { index: number; ok: boolean; detail: string }[] } | null;
}

/** Test-send for a saved trigger: renders the editor's steps against the sample, or sends them once. */
export function TestSend({ ws, triggerId, actions, filter, sample }: { ws: string; triggerId: string | null; actions: () => Action[] | null; filter: string; sample: string }) {
  const [report, setReport] = useState<TestReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (send: boolean) => {
    setError(null);
    const steps = actions();
    if (!steps) return setError('Fix the actions JSON first.');
    let payload: unknown;
    try {
      payload = JSON.parse(sample);
    } catch (e) {
      return setError(`The sample payload is not valid JSON: ${(e as Error).message}`);
    }
    if (send && !confirm('Send these steps once for real with the sample body? It shows in the log as a test.')) return;
    setBusy(true);
    try {
      setReport(await apiFetch<TestReport>(`/v1/workspaces/${ws}/triggers/${triggerId}/test`, { method: 'POST', body: { payload, actions: steps, filter, send } }));
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="test-send" data-testid="test-send">
      <h3>Test-send</h3>
      {!triggerId ? (
        <p class="muted">Create the trigger first; then test its steps with the sample here, or send them once.</p>
      ) : (
        <div class="compose-actions">
          <button type="button" class="button button-secondary" disabled={busy} onClick={() => run(false)}>Check with sample</button>
          <button type="button" class="button" disabled={busy} onClick={() => run(true)}>Send test</button>
        </div>
      )}
      {error && <p class="alert alert-error" role="alert">{error}</p>}
      {report && (
        <div data-testid="test-report" aria-live="polite">
          {report.filter_error && <p class="alert alert-error">{report.filter_error}</p>}
          {!report.filter_error && !report.fires && <p class="muted">The filter skips this body: nothing would be sent.</p>}
          <ol class="test-results">
            {report.actions.map((a) => (
              <li key={a.index} data-ok={String(a.ok)}>
                <strong>{a.ok ? '✔' : '✖'} Step {a.index + 1} · {a.type}</strong>
                {a.ok ? <pre class="snippet">{JSON.stringify(a.rendered, null, 2)}</pre> : <p class="alert alert-error">{a.error}</p>}
              </li>
            ))}
          </ol>
          {report.invocation && (
            <p class={`alert ${report.invocation.status === 'fired' ? 'alert-success' : 'alert-error'}`} role="status" data-testid="test-invocation">
              Sent as test invocation <code>{report.invocation.id}</code> ({report.invocation.status}): {report.invocation.error ?? report.invocation.outcomes.map((o) => `${o.ok ? '✔' : '✖'} ${o.detail}`).join(' · ')}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
