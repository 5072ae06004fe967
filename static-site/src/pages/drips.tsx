// Welcome drips of a site: the list with each step's stats, create and edit (steps with a delay after the
// subscription, optional segment), pause, resume and delete.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { ctr } from './compose';
import { WithWorkspace } from './settings';
import { type Act, type Segment, SiteAutomations, errorText as err, optional as opt } from './site-automations';

interface Step {
  id: string;
  delay_minutes: number;
  title: string;
  body?: string | null;
  url?: string | null;
  stats: Record<string, number>;
}

interface Drip {
  id: string;
  name: string;
  status: 'active' | 'paused';
  segment_id?: string | null;
  steps: Step[];
  stats: Record<string, number>;
  version: number;
}

type Unit = 'minutes' | 'hours' | 'days';
interface StepDraft {
  id?: string;
  amount: number;
  unit: Unit;
  title: string;
  body: string;
  url: string;
}

const UNIT_MINUTES: Record<Unit, number> = { minutes: 1, hours: 60, days: 1440 };

/** "at once", "1 day", "3 days 2 h", "45 min". */
export function delayLabel(minutes: number): string {
  if (minutes === 0) return 'at once';
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const parts = [d ? `${d} day${d > 1 ? 's' : ''}` : '', h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean);
  return `after ${parts.join(' ')}`;
}

function toDraft(s: Step): StepDraft {
  const unit: Unit = s.delay_minutes % 1440 === 0 && s.delay_minutes > 0 ? 'days' : s.delay_minutes % 60 === 0 && s.delay_minutes > 0 ? 'hours' : 'minutes';
  return { id: s.id, amount: s.delay_minutes / UNIT_MINUTES[unit], unit, title: s.title, body: s.body ?? '', url: s.url ?? '' };
}

const blankStep = (amount: number, unit: Unit): StepDraft => ({ amount, unit, title: '', body: '', url: '' });

export function DripsPage() {
  return (
    <WithWorkspace title="Drips" lead="Welcome sequences: steps sent to each new subscriber a set time after they subscribed.">
      {(ws) => (
        <SiteAutomations<Drip>
          ws={ws}
          path="drips"
          listKey="drips"
          newLabel="New drip"
          deleteWarning="Subscribers on their way through it get no further steps."
          empty={{ testId: 'drips-empty', title: 'No welcome drips yet', text: 'A drip greets every new subscriber: a first message at once, then more after a day, three days, a week — skipped for anyone who unsubscribed or left the segment.', action: 'Create a drip' }}
          editor={(base, drip, segments, done, cancel) => <DripForm base={base} drip={drip} segments={segments} onDone={done} onCancel={cancel} />}
          card={(_base, drip, segments, edit, act) => <DripCard drip={drip} segments={segments} onEdit={edit} onAct={act} />}
        />
      )}
    </WithWorkspace>
  );
}

function DripCard({ drip, segments, onEdit, onAct }: { drip: Drip; segments: Segment[]; onEdit: () => void; onAct: (what: Act) => void }) {
  const segment = drip.segment_id ? segments.find((s) => s.id === drip.segment_id)?.name ?? drip.segment_id : null;
  return (
    <div class="card" data-testid="drip-card">
      <h2 class="card-title">
        {drip.name} <span class={`badge badge-${drip.status}`}>{drip.status}</span>
      </h2>
      <p class="muted">
        {segment ? `Segment: ${segment}` : 'Every new subscriber'} · {drip.stats.enrolled ?? 0} enrolled · {drip.stats.completed ?? 0} completed · {drip.stats.stopped ?? 0} unsubscribed on the way
      </p>
      <table class="table" data-testid="drip-steps">
        <thead><tr><th>When</th><th>Title</th><th>Sent</th><th>Accepted</th><th>Clicks</th><th>CTR</th><th>Skipped</th></tr></thead>
        <tbody>
          {drip.steps.map((s) => {
            const skipped = (s.stats.skipped_unsubscribed ?? 0) + (s.stats.skipped_segment ?? 0) + (s.stats.skipped_paused ?? 0);
            return (
              <tr key={s.id}>
                <td>{delayLabel(s.delay_minutes)}</td><td>{s.title}</td><td>{s.stats.sent ?? 0}</td><td>{s.stats.accepted ?? 0}</td><td>{s.stats.clicks ?? 0}</td>
                <td>{ctr(s.stats.clicks ?? 0, s.stats.impressions ?? 0)}</td>
                <td title={`unsubscribed ${s.stats.skipped_unsubscribed ?? 0}, not in segment ${s.stats.skipped_segment ?? 0}, paused ${s.stats.skipped_paused ?? 0}`}>{skipped}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div class="compose-actions">
        <button type="button" class="button" onClick={onEdit}>Edit</button>
        {drip.status === 'active' ? <button type="button" class="button" onClick={() => onAct('pause')}>Pause</button> : <button type="button" class="button" onClick={() => onAct('resume')}>Resume</button>}
        <button type="button" class="button" onClick={() => onAct('delete')}>Delete</button>
      </div>
    </div>
  );
}

function DripForm({ base, drip, segments, onDone, onCancel }: { base: string; drip: Drip | null; segments: Segment[]; onDone: () => void; onCancel: () => void }) {
  const [name, setName] = useState(drip?.name ?? '');
  const [segment, setSegment] = useState(drip?.segment_id ?? '');
  const [steps, setSteps] = useState<StepDraft[]>(drip ? drip.steps.map(toDraft) : [blankStep(0, 'minutes'), blankStep(1, 'days')]);
  const [note, setNote] = useState<string | null>(null);
  const setStep = (i: number, patch: Partial<StepDraft>) => setSteps(steps.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const save = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    const body = {
      name,
      segment_id: opt(segment),
      steps: steps.map((s) => ({ id: s.id, delay_minutes: Math.round(Number(s.amount) * UNIT_MINUTES[s.unit]), title: s.title, body: opt(s.body), url: opt(s.url) })),
      version: drip?.version,
    };
    try {
      await apiFetch(drip ? `${base}/drips/${drip.id}` : `${base}/drips`, { method: drip ? 'PUT' : 'POST', body });
      onDone();
    } catch (x) {
      setNote(err(x));
    }
  };
  return (
    <form class="card form" onSubmit={save} data-testid="drip-form">
      <h2 class="card-title">{drip ? `Edit “${drip.name}”` : 'New drip'}</h2>
      {drip && <p class="muted">Edits affect only the steps still ahead of each subscriber; steps already sent are never sent again.</p>}
      <label class="field"><span>Name</span><input name="drip-name" required maxLength={80} value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label class="field"><span>Who</span>
        <select name="drip-segment" value={segment} onChange={(e) => setSegment(e.currentTarget.value)}>
          <option value="">Every new subscriber</option>
          {segments.map((s) => <option key={s.id} value={s.id}>Only segment: {s.name}</option>)}
        </select>
      </label>
      {steps.map((s, i) => (
        <fieldset class="field" key={s.id ?? `new-${i}`} data-testid="drip-step">
          <legend>Step {i + 1}</legend>
          <div class="field-row">
            <label class="field"><span>Send after</span><input name={`step-${i}-amount`} type="number" min={0} step="any" required value={s.amount} onInput={(e) => setStep(i, { amount: Number(e.currentTarget.value) })} /></label>
            <label class="field"><span>Unit</span>
              <select name={`step-${i}-unit`} value={s.unit} onChange={(e) => setStep(i, { unit: e.currentTarget.value as Unit })}>
                <option value="minutes">minutes</option><option value="hours">hours</option><option value="days">days</option>
              </select>
            </label>
          </div>
          <label class="field"><span>Title</span><input name={`step-${i}-title`} required maxLength={200} value={s.title} onInput={(e) => setStep(i, { title: e.currentTarget.value })} /></label>
          <label class="field"><span>Body</span><input name={`step-${i}-body`} maxLength={1000} value={s.body} onInput={(e) => setStep(i, { body: e.currentTarget.value })} /></label>
          <label class="field"><span>Click URL</span><input name={`step-${i}-url`} value={s.url} placeholder="https://…" onInput={(e) => setStep(i, { url: e.currentTarget.value })} /></label>
          {steps.length > 1 && <button type="button" class="button button-small" onClick={() => setSteps(steps.filter((_, j) => j !== i))}>Remove step {i + 1}</button>}
        </fieldset>
      ))}
      <div class="compose-actions">
        {steps.length < 20 && <button type="button" class="button" onClick={() => setSteps([...steps, blankStep((steps.at(-1)?.amount ?? 0) + 1, steps.at(-1)?.unit ?? 'days')])}>Add a step</button>}
        <button class="button button-primary">{drip ? 'Save drip' : 'Create drip'}</button>
        <button type="button" class="button" onClick={onCancel}>Cancel</button>
      </div>
      {note && <p class="alert alert-error" role="alert">{note}</p>}
    </form>
  );
}
