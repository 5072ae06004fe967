// The segment rule builder (AND/OR groups one level deep over every rule kind the API parses), its
// conversion to and from the API's rule JSON, and the live estimate. Used by the Segments screen and by
// compose's "custom rules" audience. The server stays the validator: a 422 names the rule by JSON path
// (`rules.groups[1].conditions[0].value: …`) and the builder shows it at that rule.

import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';

export type Match = 'all' | 'any';
type ValueKind = 'list' | 'none' | 'number' | 'time' | 'attribute';
type AttrType = 'string' | 'number' | 'bool';

interface FieldSpec {
  label: string;
  ops: [string, string][];
  value: ValueKind;
  placeholder?: string;
}

const IN: [string, string][] = [['in', 'is one of'], ['not_in', 'is none of']];
const TIME_OPS: [string, string][] = [['within_days', 'within the last N days'], ['not_within_days', 'more than N days ago'], ['before', 'before'], ['after', 'after']];

export const FIELDS: Record<string, FieldSpec> = {
  tags: { label: 'Tags', ops: [['any', 'has any of'], ['all', 'has all of'], ['none', 'has none of']], value: 'list', placeholder: 'vip, newsletter' },
  external_id: { label: 'External user id', ops: [['exists', 'is set'], ['not_exists', 'is not set']], value: 'none' },
  browser: { label: 'Browser', ops: IN, value: 'list', placeholder: 'Chrome, Firefox' },
  os: { label: 'Operating system', ops: IN, value: 'list', placeholder: 'Windows, Android' },
  language: { label: 'Language', ops: IN, value: 'list', placeholder: 'en, de-CH' },
  country: { label: 'Country', ops: IN, value: 'list', placeholder: 'DE, FR' },
  time_zone: { label: 'Time zone', ops: IN, value: 'list', placeholder: 'Europe/Berlin' },
  subscribed: { label: 'Subscribed', ops: TIME_OPS, value: 'time' },
  last_seen: { label: 'Last seen', ops: TIME_OPS, value: 'time' },
  clicks: { label: 'Clicks', ops: [['gte', 'at least'], ['lte', 'at most'], ['eq', 'exactly']], value: 'number' },
  attribute: { label: 'Custom attribute', ops: [['eq', 'equals'], ['neq', 'does not equal'], ['gt', 'greater than'], ['lt', 'less than'], ['exists', 'is set'], ['not_exists', 'is not set']], value: 'attribute' },
};

export interface CondDraft {
  field: string;
  op: string;
  /** The value as typed: comma-separated for lists, digits for numbers, YYYY-MM-DD for dates. */
  text: string;
  /** Attribute name (attribute rules only). */
  key: string;
  type: AttrType;
}

export interface GroupDraft {
  match: Match;
  conditions: CondDraft[];
}

export interface RulesDraft {
  match: Match;
  groups: GroupDraft[];
}

export const MAX_GROUPS = 10;
export const MAX_CONDITIONS = 20;

export const newCondition = (field = 'tags'): CondDraft => ({ field, op: FIELDS[field]!.ops[0]![0], text: '', key: '', type: 'string' });
export const newRules = (): RulesDraft => ({ match: 'all', groups: [{ match: 'all', conditions: [newCondition()] }] });

const numberOr = (t: string): number | string => (/^-?\d+(\.\d+)?$/.test(t.trim()) ? Number(t.trim()) : t.trim());

function valueOf(c: CondDraft): unknown {
  const spec = FIELDS[c.field];
  switch (spec?.value) {
    case 'list':
      return c.text.split(',').map((t) => t.trim()).filter(Boolean);
    case 'number':
      return numberOr(c.text);
    case 'time':
      return c.op.endsWith('within_days') ? numberOr(c.text) : c.text.trim();
    case 'attribute':
      if (c.op === 'exists' || c.op === 'not_exists') return undefined;
      if (c.op === 'gt' || c.op === 'lt' || c.type === 'number') return numberOr(c.text);
      if (c.type === 'bool') return c.text === 'true';
      return c.text;
    default:
      return undefined;
  }
}

/** The API's rule JSON for a draft. Values are passed as typed, so the server's refusal names the rule. */
export function toRules(d: RulesDraft): unknown {
  return {
    match: d.match,
    groups: d.groups.map((g) => ({
      match: g.match,
      conditions: g.conditions.map((c) => {
        const value = valueOf(c);
        return { field: c.field, op: c.op, ...(value === undefined ? {} : { value }), ...(c.field === 'attribute' ? { key: c.key.trim() } : {}) };
      }),
    })),
  };
}

interface RawCondition {
  field: string;
  op: string;
  value?: unknown;
  key?: string;
}

/** A draft from stored rules (the API's canonical JSON). */
export function fromRules(raw: unknown): RulesDraft {
  const r = raw as { match?: Match; groups?: { match?: Match; conditions?: RawCondition[] }[] };
  return {
    match: r.match ?? 'all',
    groups: (r.groups ?? []).map((g) => ({
      match: g.match ?? 'all',
      conditions: (g.conditions ?? []).map((c) => {
        const v = c.value;
        let text = Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v);
        // Stored instants are RFC 3339; the date input shows the day.
        if ((c.field === 'subscribed' || c.field === 'last_seen') && (c.op === 'before' || c.op === 'after')) text = text.slice(0, 10);
        const type: AttrType = typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'bool' : 'string';
        return { field: c.field, op: c.op, text, key: c.key ?? '', type };
      }),
    })),
  };
}

/** Where a 422 about rules points: `rules.groups[g]` and maybe `.conditions[c]`. */
export interface RuleProblem {
  group: number | null;
  condition: number | null;
  message: string;
}

export function ruleProblem(message: string): RuleProblem {
  const m = /^rules\.groups\[(\d+)\](?:\.conditions\[(\d+)\])?/.exec(message);
  return { group: m ? Number(m[1]) : null, condition: m?.[2] !== undefined ? Number(m[2]) : null, message };
}

/** True when a condition still needs its value typed (no estimate is asked for until it has one). */
export function incomplete(d: RulesDraft): boolean {
  return d.groups.some((g) => g.conditions.some((c) => {
    const kind = FIELDS[c.field]?.value;
    const valueless = kind === 'none' || (kind === 'attribute' && (c.op === 'exists' || c.op === 'not_exists'));
    return !valueless && (c.text.trim() === '' || (c.field === 'attribute' && c.key.trim() === ''));
  }));
}

/** A human summary of stored rules for lists ("tags has any of vip AND country is one of de"). */
export function describeRules(raw: unknown): string {
  const d = fromRules(raw);
  const part = (c: CondDraft) => {
    const spec = FIELDS[c.field];
    const op = spec?.ops.find(([o]) => o === c.op)?.[1] ?? c.op;
    const name = c.field === 'attribute' ? c.key : (spec?.label ?? c.field).toLowerCase();
    return `${name} ${op}${c.text ? ` ${c.text}` : ''}`;
  };
  const join = (m: Match) => (m === 'all' ? ' and ' : ' or ');
  const groups = d.groups.map((g) => g.conditions.map(part).join(join(g.match)));
  return groups.length > 1 ? groups.map((g) => `(${g})`).join(join(d.match).toUpperCase()) : (groups[0] ?? '');
}

export interface Estimate {
  count: number;
  total: number;
}

export function EstimateLine({ estimate, busy, waiting }: { estimate: Estimate | null; busy?: boolean; waiting?: boolean }) {
  if (waiting) return <p class="muted" data-testid="estimate">Fill in every condition to see how many subscribers match.</p>;
  if (!estimate) return <p class="muted" data-testid="estimate">{busy ? 'Counting…' : 'No estimate yet.'}</p>;
  const share = estimate.total ? ` (${((100 * estimate.count) / estimate.total).toFixed(1)} %)` : '';
  return <p data-testid="estimate" aria-live="polite"><strong>{estimate.count}</strong> of {estimate.total} subscribers match{share}{busy ? ' · updating…' : ''}</p>;
}

/** Counts a draft as it is edited (debounced); a refusal comes back as the rule problem. */
export function useDraftEstimate(ws: string, site: string, draft: RulesDraft | null): { estimate: Estimate | null; problem: RuleProblem | null; busy: boolean; waiting: boolean } {
  const [estimate, setEstimate] = useState<Estimate | null>(null);
  const [problem, setProblem] = useState<RuleProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const waiting = draft !== null && draft.groups.length > 0 && incomplete(draft);
  const body = draft && !waiting ? JSON.stringify({ rules: toRules(draft) }) : null;
  useEffect(() => {
    if (!body || !site) {
      setEstimate(null);
      setProblem(null);
      setBusy(false);
      return;
    }
    let live = true;
    setBusy(true);
    const timer = window.setTimeout(() => {
      apiFetch<Estimate>(`/v1/workspaces/${ws}/sites/${site}/segments/estimate`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' }, timeoutMs: 60_000 }).then(
        (e) => live && (setEstimate(e), setProblem(null), setBusy(false)),
        (e) => live && (setProblem(ruleProblem(e instanceof ApiError ? e.message : String(e))), setEstimate(null), setBusy(false)),
      );
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [ws, site, body]);
  return { estimate, problem, busy, waiting };
}

function MatchSelect({ value, onChange, name, label }: { value: Match; onChange: (m: Match) => void; name: string; label: string }) {
  return (
    <label class="field">
      <span>{label}</span>
      <select name={name} value={value} onChange={(e) => onChange(e.currentTarget.value as Match)}>
        <option value="all">all (AND)</option>
        <option value="any">any (OR)</option>
      </select>
    </label>
  );
}

function ValueInput({ c, set, name }: { c: CondDraft; set: (p: Partial<CondDraft>) => void; name: string }) {
  const spec = FIELDS[c.field]!;
  const text = (props: Record<string, unknown>) => <label class="field"><span>Value</span><input name={name} value={c.text} onInput={(e) => set({ text: e.currentTarget.value })} {...props} /></label>;
  switch (spec.value) {
    case 'none':
      return null;
    case 'list':
      return text({ placeholder: spec.placeholder });
    case 'number':
      return text({ type: 'number', min: 0, inputMode: 'numeric' });
    case 'time':
      return c.op.endsWith('within_days') ? text({ type: 'number', min: 1, max: 3650, placeholder: 'days' }) : text({ type: 'date' });
    case 'attribute': {
      if (c.op === 'exists' || c.op === 'not_exists') return null;
      const numeric = c.op === 'gt' || c.op === 'lt';
      return (
        <>
          {!numeric && (
            <label class="field"><span>Type</span>
              <select name={`${name}-type`} value={c.type} onChange={(e) => set({ type: e.currentTarget.value as AttrType, text: e.currentTarget.value === 'bool' ? 'true' : c.text })}>
                <option value="string">text</option><option value="number">number</option><option value="bool">true/false</option>
              </select>
            </label>
          )}
          {!numeric && c.type === 'bool' ? (
            <label class="field"><span>Value</span>
              <select name={name} value={c.text === 'false' ? 'false' : 'true'} onChange={(e) => set({ text: e.currentTarget.value })}><option value="true">true</option><option value="false">false</option></select>
            </label>
          ) : (
            text(numeric || c.type === 'number' ? { type: 'number', step: 'any' } : { maxLength: 256 })
          )}
        </>
      );
    }
  }
}

/** The AND/OR editor. `problem` (a server refusal) is shown at the rule or group it names. */
export function RuleBuilder({ value, onChange, problem, prefix = 'rule' }: { value: RulesDraft; onChange: (d: RulesDraft) => void; problem: RuleProblem | null; prefix?: string }) {
  const setGroup = (gi: number, g: Partial<GroupDraft>) => onChange({ ...value, groups: value.groups.map((x, i) => (i === gi ? { ...x, ...g } : x)) });
  const setCond = (gi: number, ci: number, p: Partial<CondDraft>) => {
    const g = value.groups[gi]!;
    setGroup(gi, { conditions: g.conditions.map((c, i) => (i === ci ? { ...c, ...p } : c)) });
  };
  const removeCond = (gi: number, ci: number) => {
    const g = value.groups[gi]!;
    const rest = g.conditions.filter((_, i) => i !== ci);
    if (rest.length) setGroup(gi, { conditions: rest });
    else onChange({ ...value, groups: value.groups.filter((_, i) => i !== gi) });
  };
  const atTop = problem && (problem.group === null || problem.group >= value.groups.length);
  return (
    <div class="rule-builder" data-testid={`${prefix}-builder`}>
      {value.groups.length > 1 && <MatchSelect name={`${prefix}-match`} label="Subscribers must match" value={value.match} onChange={(m) => onChange({ ...value, match: m })} />}
      {value.groups.map((g, gi) => {
        const groupProblem = problem?.group === gi && problem.condition === null;
        return (
          <fieldset key={gi} class={`card rule-group${groupProblem ? ' step-invalid' : ''}`} data-testid={`${prefix}-group`}>
            <legend>Group {gi + 1}{value.groups.length > 1 ? (value.match === 'all' ? ' (AND)' : ' (OR)') : ''}</legend>
            {g.conditions.length > 1 && <MatchSelect name={`${prefix}-${gi}-match`} label="Conditions to match" value={g.match} onChange={(m) => setGroup(gi, { match: m })} />}
            {g.conditions.map((c, ci) => {
              const here = problem?.group === gi && problem.condition === ci;
              const name = `${prefix}-${gi}-${ci}`;
              const spec = FIELDS[c.field]!;
              return (
                <div key={ci} class={`rule-row${here ? ' step-invalid' : ''}`} data-testid={`${prefix}-condition`}>
                  <div class="field-row">
                    <label class="field"><span>Field</span>
                      <select name={`${name}-field`} value={c.field} onChange={(e) => setCond(gi, ci, newCondition(e.currentTarget.value))}>
                        {Object.entries(FIELDS).map(([f, s]) => <option key={f} value={f}>{s.label}</option>)}
                      </select>
                    </label>
                    {c.field === 'attribute' && <label class="field"><span>Attribute</span><input name={`${name}-key`} value={c.key} maxLength={64} placeholder="plan" onInput={(e) => setCond(gi, ci, { key: e.currentTarget.value })} /></label>}
                    <label class="field"><span>Condition</span>
                      <select name={`${name}-op`} value={c.op} onChange={(e) => setCond(gi, ci, { op: e.currentTarget.value })}>
                        {spec.ops.map(([o, label]) => <option key={o} value={o}>{label}</option>)}
                      </select>
                    </label>
                    <ValueInput c={c} name={`${name}-value`} set={(p) => setCond(gi, ci, p)} />
                    <button type="button" class="button button-small" aria-label={`Remove condition ${ci + 1} of group ${gi + 1}`} onClick={() => removeCond(gi, ci)}>Remove</button>
                  </div>
                  {here && <p class="alert alert-error" role="alert">{problem.message}</p>}
                  {ci < g.conditions.length - 1 && <p class="muted rule-join">{g.match === 'all' ? 'and' : 'or'}</p>}
                </div>
              );
            })}
            {groupProblem && <p class="alert alert-error" role="alert">{problem.message}</p>}
            {g.conditions.length < MAX_CONDITIONS && <button type="button" class="button button-small" onClick={() => setGroup(gi, { conditions: [...g.conditions, newCondition()] })}>Add condition</button>}
          </fieldset>
        );
      })}
      {value.groups.length === 0 && <p class="muted">No conditions: add a group.</p>}
      {atTop && <p class="alert alert-error" role="alert">{problem.message}</p>}
      {value.groups.length < MAX_GROUPS && <button type="button" class="button button-small" onClick={() => onChange({ ...value, groups: [...value.groups, { match: 'all', conditions: [newCondition()] }] })}>{value.groups.length ? 'Add a group (OR / AND with the others)' : 'Add a group'}</button>}
    </div>
  );
}

export interface SegmentView {
  id: string;
  name: string;
  rules: unknown;
  updated_at: string;
}

/** A site's segments, reloaded on demand. */
export function useSegments(ws: string, site: string): { segments: SegmentView[] | null; error: string | null; reload: () => void } {
  const [segments, setSegments] = useState<SegmentView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!site) return;
    setSegments(null);
    apiFetch<SegmentView[]>(`/v1/workspaces/${ws}/sites/${site}/segments`).then((s) => (setSegments(s), setError(null)), (e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [ws, site, tick]);
  return { segments, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** The size of a saved segment, counted when `id` changes. */
export function useSegmentEstimate(ws: string, site: string, id: string): { estimate: Estimate | null; error: string | null; busy: boolean } {
  const [state, setState] = useState<{ estimate: Estimate | null; error: string | null; busy: boolean }>({ estimate: null, error: null, busy: false });
  useEffect(() => {
    if (!id || !site) return setState({ estimate: null, error: null, busy: false });
    let live = true;
    setState({ estimate: null, error: null, busy: true });
    apiFetch<Estimate>(`/v1/workspaces/${ws}/sites/${site}/segments/${id}/estimate`, { method: 'POST', timeoutMs: 60_000 }).then(
      (e) => live && setState({ estimate: e, error: null, busy: false }),
      (e) => live && setState({ estimate: null, error: e instanceof ApiError ? e.message : String(e), busy: false }),
    );
    return () => {
      live = false;
    };
  }, [ws, site, id]);
  return state;
}
