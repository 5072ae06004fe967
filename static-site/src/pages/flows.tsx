// Bot flows: the list, a step-list editor (per-step forms, reorder, problems shown on the step from the
// server's check), a local preview that walks the draft with no runtime calls, the simulator chat box
// (the real engine, nothing sent), publish / rollback with the version history, and captured answers.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, message, useAction, useLoad } from './settings';

type Json = Record<string, unknown>;
interface Step extends Json { id: string; type: string }
interface FlowDoc { name: string; priority: number; triggers: Json[]; steps: Step[]; expiry_hours?: number | null; retention_days?: number | null }
interface Flow { id: string; draft: FlowDoc; live_version: number | null; versions: number; updated_at: string }
interface Version { number: number; published_by: string; published_at: string }
interface Problem { step: string | null; field: string; message: string }
interface Bubble { from: 'bot' | 'contact' | 'system'; text: string }

/** Each step type's form fields: [key, label, kind]. `lines` edits options as `id | title` per line. */
const FIELDS: Record<string, [string, string, 'text' | 'area' | 'number' | 'bool' | 'lines' | 'json' | 'kind' | 'media'][]> = {
  send_text: [['text', 'Message', 'area'], ['next', 'Next step', 'text']],
  send_media: [['media', 'Media type', 'media'], ['url', 'https URL', 'text'], ['caption', 'Caption', 'text'], ['next', 'Next step', 'text']],
  send_template: [['name', 'Template name (Meta)', 'text'], ['language', 'Language', 'text'], ['content_sid', 'Content SID (Twilio)', 'text'], ['next', 'Next step', 'text']],
  buttons: [['text', 'Message', 'area'], ['buttons', 'Buttons (id | title, one per line, at most 3)', 'lines'], ['into', 'Save choice into', 'text'], ['next', 'Next step', 'text']],
  list: [['text', 'Message', 'area'], ['button', 'Menu button label (default: Choose)', 'text'], ['rows', 'Rows (id | title, one per line, at most 10)', 'lines'], ['into', 'Save choice into', 'text'], ['next', 'Next step', 'text']],
  ask: [['text', 'Question', 'area'], ['into', 'Save answer into (variable or contact.field)', 'text'], ['kind', 'Answer must be', 'kind'], ['retries', 'Re-prompts', 'number'], ['retry_text', 'Re-prompt text', 'text'], ['next', 'Next step', 'text'], ['on_invalid', 'When retries run out', 'text']],
  branch: [['rules', 'Rules (JSON: [{"when":[{"op":"eq","var":"reply_id","value":"large"}],"next":"…"}]; business hours: {"op":"business_hours","days":["mon","fri"],"from":"09:00","to":"17:00"} in the workspace time zone)', 'json'], ['default', 'Otherwise go to', 'text']],
  set_tag: [['tag', 'Tag', 'text'], ['next', 'Next step', 'text']],
  set_field: [['field', 'Contact field', 'text'], ['value', 'Value', 'text'], ['next', 'Next step', 'text']],
  set_label: [['label', 'Inbox label', 'text'], ['next', 'Next step', 'text']],
  wait: [['seconds', 'Seconds', 'number'], ['for_reply', 'Until the contact replies (seconds = timeout)', 'bool'], ['next', 'Next step', 'text'], ['on_timeout', 'On timeout', 'text']],
  webhook: [['url', 'URL (POSTed the variables)', 'text'], ['timeout_seconds', 'Timeout (s)', 'number'], ['map', 'Map response into variables (JSON: {"tier":"data.tier"})', 'json'], ['next', 'Next step', 'text'], ['on_error', 'On error', 'text']],
  handoff: [['agent', 'Agent user id (empty: round-robin)', 'text'], ['team', 'Team id (Inbox → Teams; round-robin among its available members)', 'text'], ['note', 'Note for the agent', 'text']],
  end: [],
};
const KINDS = ['text', 'number', 'email', 'phone', 'date', 'choice'];

const EMPTY: FlowDoc = { name: '', priority: 0, triggers: [{ type: 'keyword', match: 'exact', value: 'hi' }], steps: [{ id: 'welcome', type: 'send_text', text: 'Hello!' }] };

function linesOf(v: unknown): string {
  return Array.isArray(v) ? v.map((c: Json) => `${c.id} | ${c.title}`).join('\n') : '';
}

function parseLines(raw: string): Json[] {
  return raw.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [id, ...title] = l.split('|');
    return { id: id!.trim(), title: (title.join('|') || id!).trim() };
  });
}

/** Drops empty optional fields so the server sees absent values, not empty strings. */
function clean(doc: FlowDoc): FlowDoc {
  const steps = doc.steps.map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== '' && v !== undefined && v !== null)) as Step);
  return { ...doc, steps };
}

/** The local preview: walks the draft from the first step, following `next` (first option of a choice). */
export function previewOf(doc: FlowDoc): Bubble[] {
  const out: Bubble[] = [];
  const byId = new Map(doc.steps.map((s) => [s.id, s]));
  let step: Step | undefined = doc.steps[0];
  const seen = new Set<string>();
  while (step && !seen.has(step.id) && out.length < 30) {
    seen.add(step.id);
    const options = (step.buttons ?? step.rows) as Json[] | undefined;
    switch (step.type) {
      case 'send_text': case 'ask': out.push({ from: 'bot', text: String(step.text ?? '') }); break;
      case 'buttons': case 'list': out.push({ from: 'bot', text: `${step.text}\n${(options ?? []).map((o) => `[${o.title}]`).join(' ')}` }); break;
      case 'send_media': out.push({ from: 'bot', text: `[${step.media}] ${step.caption ?? step.url}` }); break;
      case 'send_template': out.push({ from: 'bot', text: `[template ${step.name ?? step.content_sid}]` }); break;
      case 'handoff': out.push({ from: 'system', text: 'Handed off to a person; the bot stops.' }); break;
      case 'wait': out.push({ from: 'system', text: step.for_reply ? `Waits up to ${step.seconds}s for a reply` : `Waits ${step.seconds}s` }); break;
      case 'webhook': out.push({ from: 'system', text: `Calls ${step.url}` }); break;
      case 'end': out.push({ from: 'system', text: 'End.' }); break;
    }
    const next: string | undefined = step.type === 'branch' ? (step.default as string) : ((options?.[0]?.next as string | undefined) ?? (step.next as string | undefined));
    step = next ? byId.get(next) : undefined;
  }
  return out;
}

export function FlowsPage() {
  return (
    <WithWorkspace title="Bot flows" lead="Flows answer WhatsApp conversations: triggers start them, steps ask, branch, call webhooks and hand off to your team in the inbox.">
      {(ws) => <Flows ws={ws} />}
    </WithWorkspace>
  );
}

function Flows({ ws }: { ws: WorkspaceSummary }) {
  const flows = useLoad(() => apiFetch<Flow[]>(`/v1/workspaces/${ws.id}/flows`), [ws.id]);
  const [open, setOpen] = useState<'new' | string | null>(null);
  const current = flows.data?.find((f) => f.id === open) ?? null;
  return (
    <>
      {flows.error && <p class="alert alert-error">{flows.error}</p>}
      <div class="card">
        <h2 class="card-title">Your flows</h2>
        {flows.data?.length === 0 && <p class="muted">No flows yet.</p>}
        {!!flows.data?.length && (
          <table class="table" data-testid="flows-table">
            <thead><tr><th>Name</th><th>Triggers</th><th>Live</th><th /></tr></thead>
            <tbody>
              {flows.data.map((f) => (
                <tr key={f.id}>
                  <td>{f.draft.name}</td>
                  <td>{f.draft.triggers.map((t) => (t.value ?? t.id ? `${t.type} “${t.value ?? t.id}”` : String(t.type))).join(', ')}</td>
                  <td><span class={`badge ${f.live_version ? 'badge-active' : 'badge-paused'}`}>{f.live_version ? `v${f.live_version}` : 'draft'}</span></td>
                  <td><button type="button" class="button button-small" onClick={() => setOpen(f.id)}>Open</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <button type="button" class="button button-primary" onClick={() => setOpen('new')}>New flow</button>
      </div>
      {open && <Editor key={open} ws={ws} flow={current} onSaved={(f) => (flows.reload(), setOpen(f.id))} />}
    </>
  );
}

function Editor({ ws, flow, onSaved }: { ws: WorkspaceSummary; flow: Flow | null; onSaved: (f: Flow) => void }) {
  const [doc, setDoc] = useState<FlowDoc>(flow?.draft ?? EMPTY);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const setStep = (i: number, patch: Json) => setDoc((d) => ({ ...d, steps: d.steps.map((s, j) => (j === i ? ({ ...s, ...patch } as Step) : s)) }));
  const move = (i: number, by: number) => setDoc((d) => {
    const steps = [...d.steps];
    const [s] = steps.splice(i, 1);
    steps.splice(Math.max(0, Math.min(steps.length, i + by)), 0, s!);
    return { ...d, steps };
  });

  // The server's check, 400 ms after the last edit: problems appear on their step.
  useEffect(() => {
    const timer = window.setTimeout(async () => {
      try {
        setProblems(await apiFetch<Problem[]>(`/v1/workspaces/${ws.id}/flow-check`, { method: 'POST', body: clean(doc) }));
      } catch (e) {
        setProblems([{ step: null, field: 'document', message: message(e) }]);
      }
    }, 400);
    return () => window.clearTimeout(timer);
  }, [doc, ws.id]);

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body = clean(doc);
      onSaved(flow ? await apiFetch<Flow>(`/v1/workspaces/${ws.id}/flows/${flow.id}`, { method: 'PUT', body }) : await apiFetch<Flow>(`/v1/workspaces/${ws.id}/flows`, { method: 'POST', body }));
    } catch (x) {
      setError(message(x));
    }
  };
  const general = problems.filter((p) => !p.step);
  return (
    <div class="compose">
      <form class="card form" onSubmit={save} data-testid="flow-form">
        <h2 class="card-title">{flow ? `Edit ${flow.draft.name}` : 'New flow'}</h2>
        <label class="field"><span>Name</span><input name="flow-name" required value={doc.name} onInput={(e) => setDoc({ ...doc, name: e.currentTarget.value })} /></label>
        <div class="form-inline">
          <label class="field"><span>Start on keyword</span><input name="keyword" value={String(doc.triggers.find((t) => t.type === 'keyword')?.value ?? '')}
            onInput={(e) => setDoc({ ...doc, triggers: [...doc.triggers.filter((t) => t.type !== 'keyword'), ...(e.currentTarget.value ? [{ type: 'keyword', match: 'contains', value: e.currentTarget.value }] : [])] })} /></label>
          <label class="field"><span>Priority</span><input name="priority" inputMode="numeric" value={String(doc.priority)} onInput={(e) => setDoc({ ...doc, priority: Number(e.currentTarget.value) || 0 })} /></label>
        </div>
        <label class="field"><span>All triggers (JSON)</span><textarea name="triggers" rows={3} spellcheck={false} value={JSON.stringify(doc.triggers)} onChange={(e) => { try { setDoc({ ...doc, triggers: JSON.parse(e.currentTarget.value) }); } catch { setError('Triggers are not valid JSON.'); } }} /></label>
        {general.map((p) => <p key={p.field} class="alert alert-error">{p.field}: {p.message}</p>)}
        <ol class="steps" data-testid="steps">
          {doc.steps.map((s, i) => (
            <StepCard key={i} step={s} problems={problems.filter((p) => p.step === s.id)} onChange={(patch) => setStep(i, patch)}
              onMove={(by) => move(i, by)} onRemove={() => setDoc({ ...doc, steps: doc.steps.filter((_, j) => j !== i) })} />
          ))}
        </ol>
        <div>
          <select name="add-step" value="" onChange={(e) => { const type = e.currentTarget.value; if (type) setDoc({ ...doc, steps: [...doc.steps, { id: `${type}_${doc.steps.length + 1}`, type }] }); }}>
            <option value="">Add a step…</option>
            {Object.keys(FIELDS).map((t) => <option key={t} value={t}>{t.replace('_', ' ')}</option>)}
          </select>
        </div>
        {error && <p class="alert alert-error" role="alert">{error}</p>}
        <button class="button button-primary">{flow ? 'Save draft' : 'Create flow'}</button>
      </form>
      <div>
        <div class="card" data-testid="flow-preview">
          <h2 class="card-title">Preview</h2>
          <p class="muted">The draft as it reads, first option at each choice; nothing runs.</p>
          {previewOf(doc).map((b, i) => <div key={i} class={`bubble ${b.from === 'bot' ? 'bubble-outbound' : b.from === 'system' ? 'bubble-note' : ''}`}><p>{b.text}</p></div>)}
        </div>
        {flow && <Simulator ws={ws} flow={flow} />}
        {flow && <Publishing ws={ws} flow={flow} onChanged={onSaved} />}
      </div>
    </div>
  );
}

function StepCard({ step, problems, onChange, onMove, onRemove }: { step: Step; problems: Problem[]; onChange: (p: Json) => void; onMove: (by: number) => void; onRemove: () => void }) {
  const [raw, setRaw] = useState<Record<string, string>>({});
  return (
    <li class={`card step ${problems.length ? 'step-invalid' : ''}`} data-step={step.id}>
      <div class="form-inline">
        <label class="field"><span>Step id</span><input name="step-id" value={step.id} onInput={(e) => onChange({ id: e.currentTarget.value })} /></label>
        <span class="badge">{step.type.replace('_', ' ')}</span>
        <button type="button" class="button button-small" aria-label="Move up" onClick={() => onMove(-1)}>↑</button>
        <button type="button" class="button button-small" aria-label="Move down" onClick={() => onMove(1)}>↓</button>
        <button type="button" class="button button-small" onClick={onRemove}>Remove</button>
      </div>
      {(FIELDS[step.type] ?? []).map(([key, label, kind]) => {
        const value = step[key];
        const name = `${step.id}.${key}`;
        switch (kind) {
          case 'area': return <label key={key} class="field"><span>{label}</span><textarea name={name} rows={2} value={String(value ?? '')} onInput={(e) => onChange({ [key]: e.currentTarget.value })} /></label>;
          case 'number': return <label key={key} class="field"><span>{label}</span><input name={name} inputMode="numeric" value={value == null ? '' : String(value)} onInput={(e) => onChange({ [key]: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) })} /></label>;
          case 'bool': return <label key={key} class="field"><span>{label}</span><input name={name} type="checkbox" checked={!!value} onChange={(e) => onChange({ [key]: e.currentTarget.checked })} /></label>;
          case 'kind': return <label key={key} class="field"><span>{label}</span><select name={name} value={String(value ?? 'text')} onChange={(e) => onChange({ [key]: e.currentTarget.value })}>{KINDS.map((k) => <option key={k}>{k}</option>)}</select></label>;
          case 'media': return <label key={key} class="field"><span>{label}</span><select name={name} value={String(value ?? 'image')} onChange={(e) => onChange({ [key]: e.currentTarget.value })}>{['image', 'video', 'audio', 'document'].map((k) => <option key={k}>{k}</option>)}</select></label>;
          case 'lines': return <label key={key} class="field"><span>{label}</span><textarea name={name} rows={3} value={raw[key] ?? linesOf(value)} onInput={(e) => { const v = e.currentTarget.value; setRaw({ ...raw, [key]: v }); onChange({ [key]: parseLines(v) }); }} /></label>;
          case 'json': return <label key={key} class="field"><span>{label}</span><textarea name={name} rows={3} spellcheck={false} value={raw[key] ?? (value == null ? '' : JSON.stringify(value))}
            onInput={(e) => { const v = e.currentTarget.value; setRaw({ ...raw, [key]: v }); try { onChange({ [key]: v.trim() ? JSON.parse(v) : undefined }); } catch { /* shown once it parses */ } }} /></label>;
          default: return <label key={key} class="field"><span>{label}</span><input name={name} value={String(value ?? '')} onInput={(e) => onChange({ [key]: e.currentTarget.value })} /></label>;
        }
      })}
      {problems.map((p, i) => <p key={i} class="alert alert-error" data-testid="step-error">{p.field}: {p.message}</p>)}
    </li>
  );
}

function Simulator({ ws, flow }: { ws: WorkspaceSummary; flow: Flow }) {
  const [chat, setChat] = useState<Bubble[]>([]);
  const [state, setState] = useState<{ session: unknown; contact: unknown } | null>(null);
  const [text, setText] = useState('');
  const [options, setOptions] = useState<Json[]>([]);
  const [error, setError] = useState<string | null>(null);
  /** `replyId`: the button or list row tapped (sent as WhatsApp would: its title and its id). */
  const turn = async (input: string | null, replyId?: string) => {
    setError(null);
    try {
      const body = state && input !== null ? { session: state.session, contact: state.contact, text: input, reply_id: replyId } : {};
      const r = await apiFetch<{ messages: Json[]; session: Json; contact: unknown; ended: boolean }>(`/v1/workspaces/${ws.id}/flows/${flow.id}/simulate`, { method: 'POST', body });
      const choices = (m: Json) => (Array.isArray(m.buttons) ? m.buttons : Array.isArray(m.rows) ? m.rows : []) as Json[];
      const said = r.messages.map((m): Bubble => ({ from: 'bot', text: String(m.body ?? m.caption ?? m.name ?? '') + (choices(m).length ? `\n${choices(m).map((b) => `[${b.title}]`).join(' ')}` : '') }));
      setChat((c) => [...(input === null ? [] : c), ...(input !== null ? [{ from: 'contact' as const, text: input }] : []), ...said, ...(r.ended ? [{ from: 'system' as const, text: 'The flow ended.' }] : [])]);
      setState(r.ended ? null : { session: r.session, contact: r.contact });
      setOptions(r.ended ? [] : r.messages.flatMap(choices));
      setText('');
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <div class="card" data-testid="simulator">
      <h2 class="card-title">Simulator</h2>
      <p class="muted">Runs the saved draft on the real engine; messages are shown here, never sent.</p>
      <button type="button" class="button button-small" onClick={() => turn(null)}>{state ? 'Restart' : 'Start'}</button>
      {chat.map((b, i) => <div key={i} class={`bubble ${b.from === 'bot' ? 'bubble-outbound' : b.from === 'system' ? 'bubble-note' : ''}`} data-from={b.from}><p>{b.text}</p></div>)}
      {state && options.length > 0 && (
        <div class="form-inline" data-testid="sim-options">
          {options.map((o) => <button type="button" key={String(o.id)} class="button button-small button-secondary" onClick={() => turn(String(o.title), String(o.id))}>{String(o.title)}</button>)}
        </div>
      )}
      {state && (
        <form class="form-inline" onSubmit={(e) => (e.preventDefault(), turn(text))}>
          <input name="sim-text" placeholder="Reply as the contact" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <button class="button button-small">Send</button>
        </form>
      )}
      {error && <p class="alert alert-error">{error}</p>}
    </div>
  );
}

function Publishing({ ws, flow, onChanged }: { ws: WorkspaceSummary; flow: Flow; onChanged: (f: Flow) => void }) {
  const base = `/v1/workspaces/${ws.id}/flows/${flow.id}`;
  const versions = useLoad(() => apiFetch<Version[]>(`${base}/versions`), [base, flow.versions]);
  const answers = useLoad(() => apiFetch<{ answers: Json[] }>(`${base}/answers?limit=20`), [base]);
  const { note, act } = useAction();
  const publish = (version?: number) => act(async () => {
    const f = await apiFetch<Flow>(`${base}/publish`, { method: 'POST', body: version ? { version } : {} });
    onChanged(f);
    return `Version ${f.live_version} is live.`;
  });
  return (
    <div class="card" data-testid="publishing">
      <h2 class="card-title">Versions</h2>
      <p>{flow.live_version ? <>Live: <strong data-testid="live-version">v{flow.live_version}</strong></> : 'Not published yet.'}</p>
      <button type="button" class="button button-primary" onClick={() => publish()}>Publish draft</button>
      <Note note={note} />
      <ul>
        {(versions.data ?? []).map((v) => (
          <li key={v.number}>v{v.number} · {new Date(v.published_at).toLocaleString()} · {v.published_by}{' '}
            {v.number !== flow.live_version && <button type="button" class="button button-small" onClick={() => publish(v.number)}>Make live</button>}</li>
        ))}
      </ul>
      <h3>Captured answers</h3>
      <a class="button button-small" href={`${base}/answers.csv`} download>Export CSV</a>
      {answers.data?.answers.length === 0 && <p class="muted">Nothing captured yet.</p>}
      <table class="table">
        <tbody>{(answers.data?.answers ?? []).map((a, i) => <tr key={i}><td>{String(a.contact)}</td><td>{String(a.into)}</td><td>{String(a.value)}</td></tr>)}</tbody>
      </table>
    </div>
  );
}
