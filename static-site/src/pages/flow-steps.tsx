// One step's form in the flow builder: its fields by type, its connections as selects (the keyboard
// and phone way to wire what the graph wires by dragging), the hand-off step's team and agent pickers
// filled from the workspace, and the problems the server's check found on it.

import { useState } from 'preact/hooks';

import { onLinkClick } from '../router';
import type { Agent, Team } from './inbox-parts';
import { type Json, type Problem, type Step, rulesFormProblem, setSlot, slotsOf } from './flow-model';
import { RulesEditor, ruleOfProblem } from './flow-rules';

type Kind = 'text' | 'area' | 'number' | 'bool' | 'lines' | 'json' | 'kind' | 'media' | 'agent' | 'team' | 'rules';

/** Each step type's form fields: [key, label, kind]. Connections (`next`, exits, branch targets) are
 * edited separately, from `slotsOf`. `lines` edits options as `id | title` per line. */
export const FIELDS: Record<string, [string, string, Kind][]> = {
  send_text: [['text', 'Message', 'area']],
  send_media: [['media', 'Media type', 'media'], ['url', 'https URL', 'text'], ['caption', 'Caption', 'text']],
  send_template: [['name', 'Template name (Meta)', 'text'], ['language', 'Language', 'text'], ['content_sid', 'Content SID (Twilio)', 'text']],
  buttons: [['text', 'Message', 'area'], ['buttons', 'Buttons (id | title, one per line, at most 3)', 'lines'], ['into', 'Save choice into', 'text']],
  list: [['text', 'Message', 'area'], ['button', 'Menu button label (default: Choose)', 'text'], ['rows', 'Rows (id | title, one per line, at most 10)', 'lines'], ['into', 'Save choice into', 'text']],
  ask: [['text', 'Question', 'area'], ['into', 'Save answer into (variable or contact.field)', 'text'], ['kind', 'Answer must be', 'kind'], ['retries', 'Re-prompts', 'number'], ['retry_text', 'Re-prompt text', 'text']],
  branch: [['rules', 'Rules', 'rules']],
  set_tag: [['tag', 'Tag', 'text']],
  set_field: [['field', 'Contact field', 'text'], ['value', 'Value', 'text']],
  set_label: [['label', 'Inbox label', 'text']],
  wait: [['seconds', 'Seconds', 'number'], ['for_reply', 'Until the contact replies (seconds = timeout)', 'bool']],
  webhook: [['url', 'URL (POSTed the variables)', 'text'], ['timeout_seconds', 'Timeout (s)', 'number'], ['map', 'Map response into variables (JSON: {"tier":"data.tier"})', 'json']],
  handoff: [['team', 'Team (round-robin among its available members)', 'team'], ['agent', 'Agent', 'agent'], ['note', 'Note for the agent', 'text']],
  end: [],
};
const KINDS = ['text', 'number', 'email', 'phone', 'date', 'choice'];

function linesOf(v: unknown): string {
  return Array.isArray(v) ? v.map((c: Json) => `${c.id} | ${c.title}`).join('\n') : '';
}

/** Options from `id | title` lines; an option keeps the `next` it had under the same id. */
function parseLines(raw: string, old: unknown): Json[] {
  const before = new Map((Array.isArray(old) ? old : []).map((o: Json) => [o.id, o.next]));
  return raw.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [id, ...title] = l.split('|');
    const option: Json = { id: id!.trim(), title: (title.join('|') || id!).trim() };
    const next = before.get(option.id);
    return next ? { ...option, next } : option;
  });
}

export interface People { teams: Team[] | null; agents: Agent[] | null }
/** The pointer handlers of a step's drag handle (the list view's drag to reorder). */
export interface DragHandle { onPointerDown: (e: PointerEvent) => void; onPointerMove: (e: PointerEvent) => void; onPointerUp: (e: PointerEvent) => void; onPointerCancel: () => void }

export interface StepCardProps {
  step: Step;
  ids: string[];
  problems: Problem[];
  people: People;
  /** The flow's variable names and tags, suggested in branch conditions. */
  names: { vars: string[]; tags: string[] };
  onChange: (patch: Json) => void;
  onMove: (by: number) => void;
  onRemove: () => void;
  handle?: DragHandle;
  dragging?: boolean;
  dropBefore?: boolean;
}

export function StepCard({ step, ids, problems, people, names, onChange, onMove, onRemove, handle, dragging, dropBefore }: StepCardProps) {
  const [raw, setRaw] = useState<Record<string, string>>({});
  // Branch rules open as the form unless it cannot show them (then as JSON).
  const [rulesJson, setRulesJson] = useState(() => step.type === 'branch' && rulesFormProblem(step.rules) !== null);
  const ruleForm = step.type === 'branch' && !rulesJson;
  // The form shows a rule's problems in that rule and its target in it; the rest show below.
  const below = ruleForm ? problems.filter((p) => ruleOfProblem(p) === null) : problems;
  // Text being typed wins while it still means the stored value; an edit from elsewhere (the graph) shows.
  const shown = (key: string, format: (v: unknown) => string, parse: (s: string) => unknown) => {
    const r = raw[key];
    if (r === undefined) return format(step[key]);
    try {
      return JSON.stringify(parse(r)) === JSON.stringify(step[key] ?? null) ? r : format(step[key]);
    } catch {
      return r;
    }
  };
  const cls = ['card', 'step', problems.length ? 'step-invalid' : '', dragging ? 'step-dragging' : '', dropBefore ? 'step-drop-before' : ''].filter(Boolean).join(' ');
  return (
    <li class={cls} data-step={step.id}>
      <div class="form-inline step-head">
        {handle && <button type="button" class="button button-small step-handle" aria-label={`Drag to reorder ${step.id} (or use the arrow keys)`} title="Drag to reorder" {...handle}
          onKeyDown={(e) => { if (e.key === 'ArrowUp' || e.key === 'ArrowDown') { e.preventDefault(); onMove(e.key === 'ArrowUp' ? -1 : 1); } }}>⠿</button>}
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
          case 'lines': return <label key={key} class="field"><span>{label}</span><textarea name={name} rows={3} value={shown(key, linesOf, (s) => parseLines(s, value))} onInput={(e) => { const v = e.currentTarget.value; setRaw({ ...raw, [key]: v }); onChange({ [key]: parseLines(v, value) }); }} /></label>;
          case 'json': return <label key={key} class="field"><span>{label}</span><textarea name={name} rows={3} spellcheck={false} value={shown(key, (v) => (v == null ? '' : JSON.stringify(v)), (s) => (s.trim() ? JSON.parse(s) : null))}
            onInput={(e) => { const v = e.currentTarget.value; setRaw({ ...raw, [key]: v }); try { onChange({ [key]: v.trim() ? JSON.parse(v) : undefined }); } catch { /* shown once it parses */ } }} /></label>;
          case 'rules': return <RulesEditor key={key} step={step} ids={ids} vars={names.vars} tags={names.tags} problems={problems} json={rulesJson} onJson={setRulesJson} onChange={onChange} />;
          case 'team': return <TeamPicker key={key} name={name} label={label} value={value as string | undefined} teams={people.teams} onPick={(v) => onChange({ [key]: v })} />;
          case 'agent': return <AgentPicker key={key} name={name} label={label} value={value as string | undefined} agents={people.agents} onPick={(v) => onChange({ [key]: v })} />;
          default: return <label key={key} class="field"><span>{label}</span><input name={name} value={String(value ?? '')} onInput={(e) => onChange({ [key]: e.currentTarget.value })} /></label>;
        }
      })}
      <Connections step={step} ids={ids} onChange={onChange} skipRules={ruleForm} />
      {below.map((p, i) => <p key={i} class="alert alert-error" data-testid="step-error">{p.field}: {p.message}</p>)}
    </li>
  );
}

/** Where each exit of the step goes, as selects (the graph's drag does the same). */
function Connections({ step, ids, onChange, skipRules }: { step: Step; ids: string[]; onChange: (patch: Json) => void; skipRules: boolean }) {
  const slots = slotsOf(step).filter((s) => !(skipRules && s.key.startsWith('rules.')));
  if (!slots.length) return null;
  return (
    <fieldset class="step-connections">
      <legend>Goes to</legend>
      {slots.map((s) => (
        <label key={s.key} class="field">
          <span>{s.label}</span>
          <select name={`${step.id}.${s.key}`} value={s.target ?? ''} onChange={(e) => onChange(setSlot(step, s.key, e.currentTarget.value || undefined))}>
            <option value="">{s.key === 'default' ? '— choose a step —' : '— end of flow —'}</option>
            {s.target && !ids.includes(s.target) && <option value={s.target}>{s.target} (no such step)</option>}
            {ids.map((id) => <option key={id} value={id}>{id}</option>)}
          </select>
        </label>
      ))}
    </fieldset>
  );
}

function TeamPicker({ name, label, value, teams, onPick }: { name: string; label: string; value: string | undefined; teams: Team[] | null; onPick: (v: string | undefined) => void }) {
  return (
    <label class="field">
      <span>{label}</span>
      <select name={name} value={value ?? ''} onChange={(e) => onPick(e.currentTarget.value || undefined)} disabled={teams === null}>
        <option value="">No team (the workspace's agents)</option>
        {value && teams && !teams.some((t) => t.id === value) && <option value={value}>A deleted team ({value})</option>}
        {(teams ?? []).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
      </select>
      {teams?.length === 0 && (
        <small class="muted" data-testid="no-teams">No teams yet: <a href="/inbox" onClick={(e) => onLinkClick(e, '/inbox')}>create a team first</a> (Inbox → Teams and canned replies).</small>
      )}
    </label>
  );
}

function AgentPicker({ name, label, value, agents, onPick }: { name: string; label: string; value: string | undefined; agents: Agent[] | null; onPick: (v: string | undefined) => void }) {
  const able = (agents ?? []).filter((a) => a.can_reply || a.user_id === value);
  return (
    <label class="field">
      <span>{label}</span>
      <select name={name} value={value ?? ''} onChange={(e) => onPick(e.currentTarget.value || undefined)} disabled={agents === null}>
        <option value="">Round-robin (whoever is available)</option>
        {value && agents && !agents.some((a) => a.user_id === value) && <option value={value}>A former member ({value})</option>}
        {able.map((a) => <option key={a.user_id} value={a.user_id}>{a.email}{a.availability === 'away' ? ' (away)' : ''}</option>)}
      </select>
    </label>
  );
}
