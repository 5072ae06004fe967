// Bot flows: the list, the builder (a step list reordered by dragging or the arrow buttons, and a graph
// whose connections are drawn by dragging from a port; problems from the server's check show on the step
// and its node), a local preview that walks the draft with no runtime calls, the simulator chat box (the
// real engine, nothing sent), versions, the funnel and captured answers.

import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { type Flow, Publishing } from './flow-data';
import { FlowGraph } from './flow-graph';
import { type FlowDoc, type Json, type Problem, type Step, clean, moveStep, newStep, setSlot, tagsOf, varsOf, withKeys } from './flow-model';
import { type DragHandle, FIELDS, type People, StepCard } from './flow-steps';
import type { Agent, Team } from './inbox-parts';
import { WithWorkspace, message, useLoad } from './settings';

interface Bubble { from: 'bot' | 'contact' | 'system'; text: string }

const EMPTY: FlowDoc = { name: '', priority: 0, triggers: [{ type: 'keyword', match: 'exact', value: 'hi' }], steps: [{ id: 'welcome', type: 'send_text', text: 'Hello!' }] };
const NARROW = '(max-width: 720px)';

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

function useNarrow(): boolean {
  const [narrow, setNarrow] = useState(() => window.matchMedia(NARROW).matches);
  useEffect(() => {
    const m = window.matchMedia(NARROW);
    const on = () => setNarrow(m.matches);
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, []);
  return narrow;
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
  const [doc, setDoc] = useState<FlowDoc>(() => withKeys(flow?.draft ?? EMPTY));
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [view, setView] = useState<'list' | 'graph'>('list');
  const [selected, setSelected] = useState<number | null>(null);
  const narrow = useNarrow();
  const teams = useLoad(() => apiFetch<Team[]>(`/v1/workspaces/${ws.id}/teams`), [ws.id]);
  const agents = useLoad(() => apiFetch<Agent[]>(`/v1/workspaces/${ws.id}/agents`), [ws.id]);
  const people: People = { teams: teams.error ? [] : teams.data, agents: agents.error ? [] : agents.data };
  const setSteps = (f: (steps: Step[]) => Step[]) => setDoc((d) => ({ ...d, steps: f(d.steps) }));
  const setStep = (i: number, patch: Json) => setSteps((steps) => steps.map((s, j) => (j === i ? ({ ...s, ...patch } as Step) : s)));
  const move = (from: number, to: number) => setSteps((steps) => (to < 0 || to >= steps.length ? steps : moveStep(steps, from, to)));

  // The server's check, 400 ms after the last edit: problems appear on their step and node.
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
  const ids = doc.steps.map((s) => s.id);
  const names = { vars: varsOf(doc.steps), tags: tagsOf(doc.steps) };
  const card = (s: Step, i: number, extra?: { handle?: DragHandle; dragging?: boolean; dropBefore?: boolean }) => (
    <StepCard key={s._k ?? i} step={s} ids={ids} problems={problems.filter((p) => p.step === s.id)} people={people} names={names} onChange={(patch) => setStep(i, patch)}
      onMove={(by) => move(i, i + by)} onRemove={() => {
        setSteps((steps) => steps.filter((_, j) => j !== i));
        setSelected(null);
      }} {...extra} />
  );
  const general = problems.filter((p) => !p.step);
  const graph = view === 'graph' && !narrow;
  return (
    <div class={graph ? 'compose compose-single' : 'compose'}>
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
        {narrow ? <p class="muted">The graph needs a wider screen; the list below edits the same flow.</p> : (
          <div class="segmented" role="group" aria-label="Builder view">
            {(['list', 'graph'] as const).map((v) => <button key={v} type="button" class={`button button-small${view === v ? '' : ' button-secondary'}`} aria-pressed={view === v} onClick={() => setView(v)}>{v === 'list' ? 'Step list' : 'Graph'}</button>)}
          </div>
        )}
        {graph ? (
          <>
            <p class="muted">Drag from a port on the right of a step onto another step to connect it; select a step to edit it.</p>
            <FlowGraph steps={doc.steps} problems={problems} selected={selected} onSelect={setSelected} onConnect={(i, slot, target) => setSteps((steps) => steps.map((s, j) => (j === i ? setSlot(s, slot, target) : s)))} />
            {selected !== null && doc.steps[selected] ? <ol class="steps" data-testid="steps">{card(doc.steps[selected]!, selected)}</ol> : <p class="muted">Select a step to edit it.</p>}
          </>
        ) : <StepList steps={doc.steps} card={card} move={move} />}
        <div>
          <select name="add-step" value="" onChange={(e) => {
            const type = e.currentTarget.value;
            if (!type) return;
            setSteps((steps) => [...steps, newStep(type, steps)]);
            setSelected(doc.steps.length);
          }}>
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

type Card = (s: Step, i: number, extra?: { handle?: DragHandle; dragging?: boolean; dropBefore?: boolean }) => JSX.Element;

/** The step list; a step's handle drags it to a new place (the drop line shows where it lands). */
function StepList({ steps, card, move }: { steps: Step[]; card: Card; move: (from: number, to: number) => void }) {
  const list = useRef<HTMLOListElement>(null);
  const [drag, setDrag] = useState<{ from: number; to: number } | null>(null);
  // The insertion point under the pointer: before the first step whose middle is below it.
  const slotAt = (y: number) => {
    const items = Array.from(list.current?.children ?? []);
    const i = items.findIndex((el) => { const r = el.getBoundingClientRect(); return y < r.top + r.height / 2; });
    return i === -1 ? items.length : i;
  };
  const handle = (i: number): DragHandle => ({
    onPointerDown: (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
      setDrag({ from: i, to: i });
    },
    onPointerMove: (e) => {
      if (!drag) return;
      // Near the window's top or bottom edge the page scrolls, so a long list can be crossed.
      if (e.clientY < 60) window.scrollBy(0, -16);
      else if (e.clientY > window.innerHeight - 60) window.scrollBy(0, 16);
      setDrag({ ...drag, to: slotAt(e.clientY) });
    },
    onPointerUp: (e) => {
      if (!drag) return;
      const to = slotAt(e.clientY);
      setDrag(null);
      const final = to > drag.from ? to - 1 : to;
      if (final !== drag.from) move(drag.from, final);
    },
    onPointerCancel: () => setDrag(null),
  });
  const shows = (to: number) => !!drag && to !== drag.from && to !== drag.from + 1;
  return (
    <ol class={`steps${shows(steps.length) && drag?.to === steps.length ? ' steps-drop-end' : ''}`} data-testid="steps" ref={list}>
      {steps.map((s, i) => card(s, i, { handle: handle(i), dragging: drag?.from === i, dropBefore: drag?.to === i && shows(i) }))}
    </ol>
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
