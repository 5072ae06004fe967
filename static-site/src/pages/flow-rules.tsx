// A branch step's rules as forms: per rule its conditions (all must hold), each a kind and that kind's
// fields (a variable from the flow's own names, a number for gt/lt, day boxes and times for business
// hours), and where the rule goes; an "edit as JSON" view of the same rules, which goes back to the form
// only when the form can show what was typed. Problems the server's check names by rule show in it.

import { useState } from 'preact/hooks';

import { COND_OPS, DAYS, type Json, type Problem, type Step, condAs, dayOf, rulesFormProblem } from './flow-model';

const DAY_NAMES: Record<string, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };
const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];

type Rule = { when: Json[]; next?: string };
const rulesOf = (v: unknown): Rule[] => (Array.isArray(v) ? (v as Rule[]) : []);
export const newRule = (): Rule => ({ when: [{ op: 'eq', var: '', value: '' }], next: '' });
/** The rule index a problem's field names (`rules[2].when` → 2). */
export const ruleOfProblem = (p: Problem): number | null => {
  const m = /^rules\[(\d+)\]/.exec(p.field);
  return m ? Number(m[1]) : null;
};

export interface RulesEditorProps {
  step: Step;
  ids: string[];
  vars: string[];
  tags: string[];
  problems: Problem[];
  json: boolean;
  onJson: (json: boolean) => void;
  onChange: (patch: Json) => void;
}

export function RulesEditor({ step, ids, vars, tags, problems, json, onJson, onChange }: RulesEditorProps) {
  const [raw, setRaw] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const rules = rulesOf(step.rules);
  const name = (s: string) => `${step.id}.rules${s}`;
  const list = `flow-vars-${step._k ?? step.id}`;
  const tagList = `flow-tags-${step._k ?? step.id}`;
  const setRules = (next: Rule[]) => onChange({ rules: next });
  const setRule = (i: number, f: (r: Rule) => Rule) => setRules(rules.map((r, k) => (k === i ? f(r) : r)));
  const setCond = (i: number, j: number, c: Json) => setRule(i, (r) => ({ ...r, when: r.when.map((x, k) => (k === j ? c : x)) }));
  const pretty = (v: unknown) => JSON.stringify(v ?? [], null, 2);

  if (json) {
    // What is typed shows while it still means the stored rules; an edit from elsewhere (the graph) replaces it.
    let text = pretty(step.rules);
    let parseError: string | null = null;
    if (raw !== null) {
      try {
        if (JSON.stringify(JSON.parse(raw)) === JSON.stringify(step.rules ?? [])) text = raw;
      } catch (e) {
        text = raw;
        parseError = (e as Error).message;
      }
    }
    const toForm = () => {
      if (parseError) return setRefusal(`Fix the JSON first: ${parseError}`);
      const why = rulesFormProblem(step.rules);
      if (why) return setRefusal(`The form cannot show this: ${why}.`);
      setRefusal(null);
      setRaw(null);
      onJson(false);
    };
    return (
      <div class="rule-builder" data-testid="rules-json">
        <label class="field">
          <span>Rules (JSON; a rule's conditions must all hold)</span>
          <textarea name={name('')} rows={Math.min(16, text.split('\n').length + 1)} spellcheck={false} value={text} onInput={(e) => {
            const v = e.currentTarget.value;
            setRaw(v);
            setRefusal(null);
            try {
              onChange({ rules: JSON.parse(v) });
            } catch { /* kept as typed until it parses */ }
          }} />
        </label>
        {parseError && <small class="muted">Not valid JSON yet: {parseError}</small>}
        {refusal && <p class="alert alert-error" role="alert">{refusal}</p>}
        <div><button type="button" class="button button-small button-secondary" onClick={toForm}>Edit as form</button></div>
      </div>
    );
  }

  return (
    <div class="rule-builder" data-testid="rules-form">
      <datalist id={list}>{vars.map((v) => <option key={v} value={v} />)}</datalist>
      <datalist id={tagList}>{tags.map((t) => <option key={t} value={t} />)}</datalist>
      {rules.length === 0 && <p class="muted">No rules yet: every conversation goes the “otherwise” way.</p>}
      {rules.map((r, i) => {
        const mine = problems.filter((p) => ruleOfProblem(p) === i);
        return (
          <fieldset key={i} class={`rule-group flow-rule${mine.length ? ' step-invalid' : ''}`} data-rule={i}>
            <legend class="rule-join">Rule {i + 1}: when all of these hold</legend>
            {r.when.map((c, j) => (
              <CondRow key={j} cond={c} name={name(`.${i}.when.${j}`)} list={list} tagList={tagList} onChange={(next) => setCond(i, j, next)}
                onRemove={() => setRule(i, (x) => ({ ...x, when: x.when.filter((_, k) => k !== j) }))} />
            ))}
            {r.when.length === 0 && <p class="muted">No conditions: add one (a rule needs at least one).</p>}
            <div class="field-row">
              <button type="button" class="button button-small button-secondary" onClick={() => setRule(i, (x) => ({ ...x, when: [...x.when, { op: 'eq', var: '', value: '' }] }))}>Add condition</button>
            </div>
            <div class="field-row">
              <label class="field">
                <span>Then go to</span>
                <select name={name(`.${i}`)} value={r.next ?? ''} onChange={(e) => setRule(i, (x) => ({ ...x, next: e.currentTarget.value }))}>
                  <option value="">— choose a step —</option>
                  {r.next && !ids.includes(r.next) && <option value={r.next}>{r.next} (no such step)</option>}
                  {ids.map((id) => <option key={id} value={id}>{id}</option>)}
                </select>
              </label>
              <button type="button" class="button button-small button-secondary" onClick={() => setRules(rules.filter((_, k) => k !== i))}>Remove rule</button>
            </div>
            {mine.map((p, k) => <p key={k} class="alert alert-error" data-testid="step-error">{p.field}: {p.message}</p>)}
          </fieldset>
        );
      })}
      <div class="compose-actions">
        <button type="button" class="button button-small" onClick={() => setRules([...rules, newRule()])}>Add rule</button>
        <button type="button" class="button button-small button-secondary" onClick={() => { setRaw(null); onJson(true); }}>Edit as JSON</button>
      </div>
      {ZONES.length > 0 && rules.some((r) => r.when.some((c) => c.op === 'business_hours')) && <datalist id="flow-zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>}
    </div>
  );
}

interface CondRowProps { cond: Json; name: string; list: string; tagList: string; onChange: (c: Json) => void; onRemove: () => void }

/** One condition: its kind, then the fields that kind has. */
function CondRow({ cond, name, list, tagList, onChange, onRemove }: CondRowProps) {
  const op = String(cond.op);
  const set = (patch: Json) => onChange({ ...cond, ...patch });
  const text = (key: string, label: string, extra: Record<string, string> = {}) => (
    <label class="field"><span>{label}</span><input name={`${name}.${key}`} value={String(cond[key] ?? '')} {...extra} onInput={(e) => set({ [key]: e.currentTarget.value })} /></label>
  );
  const time = (key: string, label: string) => (
    <label class="field"><span>{label}</span><input name={`${name}.${key}`} type="time" value={String(cond[key] ?? '')} onInput={(e) => set({ [key]: e.currentTarget.value })} /></label>
  );
  const days = Array.isArray(cond.days) ? cond.days : [];
  return (
    <div class="rule-row flow-cond" data-cond={name}>
      <div class="field-row">
        <label class="field">
          <span>Condition</span>
          <select name={`${name}.op`} value={op} onChange={(e) => onChange(condAs(e.currentTarget.value, cond))}>
            {COND_OPS.map(([o, label]) => <option key={o} value={o}>{label}</option>)}
          </select>
        </label>
        {'var' in cond && text('var', 'Variable or contact.field', { list, placeholder: 'e.g. age or contact.city', autocomplete: 'off' })}
        {(op === 'eq' || op === 'ne' || op === 'contains') && text('value', 'Value')}
        {(op === 'gt' || op === 'lt') && <NumberField name={`${name}.value`} value={cond.value as number} onValue={(value) => set({ value })} />}
        {op === 'has_tag' && text('tag', 'Tag', { list: tagList, autocomplete: 'off' })}
        {(op === 'time_between' || op === 'business_hours') && time('from', 'From')}
        {(op === 'time_between' || op === 'business_hours') && time('to', 'Until')}
        {op === 'business_hours' && (
          <label class="field"><span>Time zone</span><input name={`${name}.time_zone`} list="flow-zones" placeholder="the workspace's" autocomplete="off" value={String(cond.time_zone ?? '')}
            onInput={(e) => { const { time_zone: _old, ...rest } = cond; const v = e.currentTarget.value.trim(); onChange(v ? { ...rest, time_zone: v } : rest); }} /></label>
        )}
        <button type="button" class="button button-small button-secondary" aria-label="Remove condition" onClick={onRemove}>Remove</button>
      </div>
      {op === 'business_hours' && (
        <fieldset class="field flow-days">
          <legend>Days (none ticked: every day)</legend>
          <div>
            {DAYS.map((d) => (
              <label key={d} class="check"><input type="checkbox" name={`${name}.days.${d}`} checked={days.some((x) => dayOf(x) === d)}
                onChange={(e) => { const on = e.currentTarget.checked; set({ days: DAYS.filter((x) => (x === d ? on : days.some((y) => dayOf(y) === x))) }); }} />{DAY_NAMES[d]}</label>
            ))}
          </div>
        </fieldset>
      )}
    </div>
  );
}

/** A number typed as text: the stored value changes only when what is typed is a number. */
function NumberField({ name, value, onValue }: { name: string; value: number; onValue: (n: number) => void }) {
  const [raw, setRaw] = useState<string | null>(null);
  const parse = (s: string) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : null);
  const bad = raw !== null && parse(raw) === null;
  const shown = raw !== null && (bad || parse(raw) === value) ? raw : String(value ?? '');
  return (
    <label class="field">
      <span>Number</span>
      <input name={name} inputMode="decimal" value={shown} aria-invalid={bad} onInput={(e) => { const v = e.currentTarget.value; setRaw(v); const n = parse(v); if (n !== null) onValue(n); }} />
      {bad && <small class="muted" role="alert">Enter a number (the saved value stays {String(value)}).</small>}
    </label>
  );
}
