// Recurring sends of a site: the list (rule, next run, summed stats), create and edit with a live
// preview of the next runs, pause, resume, delete, and each schedule's next runs and past runs.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { ctr } from './compose';
import { WithWorkspace } from './settings';
import { type Act, type Segment, SiteAutomations, errorText as err, optional as opt } from './site-automations';

type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
type Rule = { kind: 'daily' } | { kind: 'weekly'; days: Day[] } | { kind: 'monthly'; day: number };
type Target = { type: 'all' } | { type: 'tags'; tags: string[] } | { type: 'segment'; segment_id: string };

interface Run {
  date: string;
  starts_at: string;
}

interface Schedule {
  id: string;
  name: string;
  status: 'active' | 'paused' | 'ended';
  rule: Rule;
  time: string;
  timezone: string;
  subscriber_local: boolean;
  start_date: string;
  end_date?: string;
  target: Target;
  notification: { title: string; body?: string | null; url?: string | null };
  next_run: Run | null;
  last_error?: string;
  stats: Record<string, number>;
  version: number;
}

interface RunView {
  date: string;
  started_at: string;
  notification: { id: string; status: string; stats: Record<string, number> } | null;
}

const DAYS: [Day, string][] = [['mon', 'Mon'], ['tue', 'Tue'], ['wed', 'Wed'], ['thu', 'Thu'], ['fri', 'Fri'], ['sat', 'Sat'], ['sun', 'Sun']];
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** "Every day", "Mon, Fri", "On day 31 of each month (or the month's last day)". */
export function ruleLabel(s: Pick<Schedule, 'rule' | 'time' | 'timezone' | 'subscriber_local'>): string {
  const when = s.rule.kind === 'daily' ? 'Every day' : s.rule.kind === 'weekly' ? `Every ${s.rule.days.map((d) => DAYS.find(([k]) => k === d)?.[1] ?? d).join(', ')}` : `On day ${s.rule.day} of each month`;
  return `${when} at ${s.time} ${s.subscriber_local ? "in each subscriber's time zone" : `(${s.timezone})`}`;
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** A run as people read it: the local date with its start here, or with the time on each subscriber's clock. */
function runLabel(r: Run, subscriberLocal: boolean, time: string): string {
  return subscriberLocal ? `${r.date} at ${time} on each subscriber's clock` : `${r.date}, ${when(r.starts_at)}`;
}

export function RecurringPage() {
  return (
    <WithWorkspace title="Recurring" lead="Notifications sent on a schedule: daily, on days of the week or a day of the month, at a time in your zone or each subscriber's.">
      {(ws) => (
        <SiteAutomations<Schedule>
          ws={ws}
          path="recurring"
          listKey="schedules"
          newLabel="New schedule"
          deleteWarning="Notifications it already sent stay."
          empty={{ testId: 'recurring-empty', title: 'No recurring sends yet', text: 'Send a digest every morning, a reminder every Friday or a report on the first of each month — each run is a normal notification with its own stats.', action: 'Create a schedule' }}
          editor={(base, schedule, segments, done, cancel) => <ScheduleForm base={base} schedule={schedule} segments={segments} onDone={done} onCancel={cancel} />}
          card={(base, schedule, _segments, edit, act) => <ScheduleCard base={base} schedule={schedule} onEdit={edit} onAct={act} />}
        />
      )}
    </WithWorkspace>
  );
}

function ScheduleCard({ base, schedule: s, onEdit, onAct }: { base: string; schedule: Schedule; onEdit: () => void; onAct: (what: Act) => void }) {
  const [next, setNext] = useState<Run[] | null>(null);
  const [runs, setRuns] = useState<RunView[] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const showNext = () => apiFetch<Run[]>(`${base}/recurring/${s.id}/next-runs?count=5`).then(setNext, (e) => setNote(err(e)));
  const showRuns = () => apiFetch<{ runs: RunView[] }>(`${base}/recurring/${s.id}/runs?limit=20`).then((p) => setRuns(p.runs), (e) => setNote(err(e)));
  return (
    <div class="card" data-testid="schedule-card">
      <h2 class="card-title">
        {s.name} <span class={`badge badge-${s.status === 'ended' ? 'disconnected' : s.status}`}>{s.status}</span>
      </h2>
      <p>{ruleLabel(s)}, from {s.start_date}{s.end_date ? ` to ${s.end_date}` : ''}. “{s.notification.title}” to {s.target.type === 'all' ? 'everyone' : s.target.type === 'tags' ? `tags ${s.target.tags.join(', ')}` : 'a segment'}.</p>
      <p class="muted" data-testid="schedule-next">
        {s.next_run ? `Next run ${runLabel(s.next_run, s.subscriber_local, s.time)}${s.status === 'paused' ? ' (when resumed)' : ''}` : 'No run ahead'} · {s.stats.runs ?? 0} runs · {s.stats.accepted ?? 0} accepted · {s.stats.clicks ?? 0} clicks · CTR {ctr(s.stats.clicks ?? 0, s.stats.impressions ?? 0)}
      </p>
      {s.last_error && <p class="alert alert-error">Last run not sent: {s.last_error}</p>}
      <div class="compose-actions">
        <button type="button" class="button" onClick={onEdit}>Edit</button>
        {s.status === 'active' && <button type="button" class="button" onClick={() => onAct('pause')}>Pause</button>}
        {s.status !== 'active' && <button type="button" class="button" onClick={() => onAct('resume')}>Resume</button>}
        <button type="button" class="button" onClick={showNext}>Next runs</button>
        <button type="button" class="button" onClick={showRuns}>Past runs</button>
        <button type="button" class="button" onClick={() => onAct('delete')}>Delete</button>
      </div>
      {note && <p class="alert alert-error" role="alert">{note}</p>}
      {next && (next.length ? <ol data-testid="next-runs">{next.map((r) => <li key={r.date}>{runLabel(r, s.subscriber_local, s.time)}</li>)}</ol> : <p class="muted">No run ahead.</p>)}
      {runs && (runs.length ? (
        <table class="table" data-testid="past-runs">
          <thead><tr><th>Date</th><th>Status</th><th>Targeted</th><th>Accepted</th><th>Clicks</th><th>CTR</th></tr></thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.date}>
                <td>{r.date}</td><td>{r.notification?.status ?? 'deleted'}</td><td>{r.notification?.stats.targeted ?? 0}</td><td>{r.notification?.stats.accepted ?? 0}</td><td>{r.notification?.stats.clicks ?? 0}</td>
                <td>{ctr(r.notification?.stats.clicks ?? 0, r.notification?.stats.impressions ?? 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No run yet.</p>)}
    </div>
  );
}

function ScheduleForm({ base, schedule, segments, onDone, onCancel }: { base: string; schedule: Schedule | null; segments: Segment[]; onDone: () => void; onCancel: () => void }) {
  const [name, setName] = useState(schedule?.name ?? '');
  const [kind, setKind] = useState<Rule['kind']>(schedule?.rule.kind ?? 'daily');
  const [days, setDays] = useState<Day[]>(schedule?.rule.kind === 'weekly' ? schedule.rule.days : ['mon']);
  const [monthDay, setMonthDay] = useState(schedule?.rule.kind === 'monthly' ? schedule.rule.day : 1);
  const [time, setTime] = useState(schedule?.time ?? '09:00');
  const [local, setLocal] = useState(schedule?.subscriber_local ?? false);
  const [zone, setZone] = useState(schedule?.timezone ?? browserZone());
  const [start, setStart] = useState(schedule?.start_date ?? '');
  const [end, setEnd] = useState(schedule?.end_date ?? '');
  const [audience, setAudience] = useState(schedule ? (schedule.target.type === 'segment' ? `segment:${schedule.target.segment_id}` : schedule.target.type) : 'all');
  const [tags, setTags] = useState(schedule?.target.type === 'tags' ? schedule.target.tags.join(', ') : '');
  const [title, setTitle] = useState(schedule?.notification.title ?? '');
  const [body, setBody] = useState(schedule?.notification.body ?? '');
  const [url, setUrl] = useState(schedule?.notification.url ?? '');
  const [preview, setPreview] = useState<{ runs: Run[] } | { error: string } | null>(null);
  const [note, setNote] = useState<string | null>(null);

  const rule: Rule = kind === 'daily' ? { kind } : kind === 'weekly' ? { kind, days } : { kind, day: Number(monthDay) };
  const target: Target = audience === 'tags' ? { type: 'tags', tags: tags.split(',').map((t) => t.trim()).filter(Boolean) } : audience.startsWith('segment:') ? { type: 'segment', segment_id: audience.slice(8) } : { type: 'all' };
  const request = { name: name || 'Preview', rule, time, timezone: zone, subscriber_local: local, start_date: opt(start), end_date: opt(end), target, notification: { title: title || 'Preview', body: opt(body), url: opt(url) } };
  const key = JSON.stringify(request);
  useEffect(() => {
    const timer = window.setTimeout(() => {
      apiFetch<Run[]>(`${base}/recurring/next-runs?count=3`, { method: 'POST', body: request }).then((runs) => setPreview({ runs }), (e) => setPreview({ error: err(e) }));
    }, 300);
    return () => window.clearTimeout(timer);
  }, [key, base]);

  const save = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    try {
      const sent = { ...request, name, notification: { ...request.notification, title }, version: schedule?.version };
      await apiFetch(schedule ? `${base}/recurring/${schedule.id}` : `${base}/recurring`, { method: schedule ? 'PUT' : 'POST', body: sent });
      onDone();
    } catch (x) {
      setNote(err(x));
    }
  };
  const toggleDay = (d: Day) => setDays(days.includes(d) ? days.filter((x) => x !== d) : [...days, d]);
  return (
    <form class="card form" onSubmit={save} data-testid="schedule-form">
      <h2 class="card-title">{schedule ? `Edit “${schedule.name}”` : 'New recurring send'}</h2>
      <label class="field"><span>Name</span><input name="schedule-name" required maxLength={80} value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <div class="field-row">
        <label class="field"><span>Repeat</span>
          <select name="rule-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Rule['kind'])}>
            <option value="daily">every day</option><option value="weekly">on days of the week</option><option value="monthly">on a day of the month</option>
          </select>
        </label>
        {kind === 'monthly' && <label class="field"><span>Day of the month</span><input name="month-day" type="number" min={1} max={31} value={monthDay} onInput={(e) => setMonthDay(Number(e.currentTarget.value))} /></label>}
        <label class="field"><span>Time</span><input name="time" type="time" required value={time} onInput={(e) => setTime(e.currentTarget.value)} /></label>
      </div>
      {kind === 'weekly' && (
        <fieldset class="field">
          <legend>Days</legend>
          <div class="field-row">
            {DAYS.map(([d, label]) => <label class="check" key={d}><input type="checkbox" name={`day-${d}`} checked={days.includes(d)} onChange={() => toggleDay(d)} /> {label}</label>)}
          </div>
        </fieldset>
      )}
      <fieldset class="field">
        <legend>Whose clock</legend>
        <label class="check"><input type="radio" name="zone-mode" checked={!local} onChange={() => setLocal(false)} /> One time zone</label>
        <label class="check"><input type="radio" name="zone-mode" checked={local} onChange={() => setLocal(true)} /> Each subscriber's own time zone</label>
        {!local && <label class="field"><span>Time zone (IANA)</span><input name="timezone" value={zone} onInput={(e) => setZone(e.currentTarget.value)} placeholder="Europe/Berlin" /></label>}
      </fieldset>
      <div class="field-row">
        <label class="field"><span>First date (empty: today)</span><input name="start-date" type="date" value={start} onInput={(e) => setStart(e.currentTarget.value)} /></label>
        <label class="field"><span>Last date (optional)</span><input name="end-date" type="date" value={end} onInput={(e) => setEnd(e.currentTarget.value)} /></label>
      </div>
      <label class="field"><span>To</span>
        <select name="audience" value={audience} onChange={(e) => setAudience(e.currentTarget.value)}>
          <option value="all">everyone</option><option value="tags">subscribers with tags</option>
          {segments.map((s) => <option key={s.id} value={`segment:${s.id}`}>segment: {s.name}</option>)}
        </select>
      </label>
      {audience === 'tags' && <label class="field"><span>Tags (comma-separated)</span><input name="tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} /></label>}
      <label class="field"><span>Title</span><input name="schedule-title" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} /></label>
      <label class="field"><span>Body</span><input name="schedule-body" maxLength={1000} value={body} onInput={(e) => setBody(e.currentTarget.value)} /></label>
      <label class="field"><span>Click URL</span><input name="schedule-url" value={url} placeholder="https://…" onInput={(e) => setUrl(e.currentTarget.value)} /></label>
      <div data-testid="runs-preview" aria-live="polite">
        {preview === null ? <p class="muted">Working out the next runs…</p> : 'error' in preview ? <p class="alert alert-error">{preview.error}</p> : (
          <p class="muted">Next runs: {preview.runs.length ? preview.runs.map((r) => runLabel(r, local, time)).join(' · ') : 'none'}</p>
        )}
      </div>
      <div class="compose-actions">
        <button class="button button-primary">{schedule ? 'Save schedule' : 'Create schedule'}</button>
        <button type="button" class="button" onClick={onCancel}>Cancel</button>
      </div>
      {note && <p class="alert alert-error" role="alert">{note}</p>}
    </form>
  );
}
