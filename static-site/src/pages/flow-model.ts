// The flow document as the builder edits it: types, the connections ("slots") each step type has
// (its `next`, branch rules, choice options, error and timeout exits), reordering, and the graph layout.
// Plain functions, no DOM: the list editor, the graph and the preview all read the draft through them.

export type Json = Record<string, unknown>;
/** `_k` is the editor's stable key for a step (its id can be edited); `clean` drops it before saving. */
export interface Step extends Json { id: string; type: string; _k?: number }
export interface FlowDoc { name: string; priority: number; triggers: Json[]; steps: Step[]; expiry_hours?: number | null; retention_days?: number | null }
export interface Problem { step: string | null; field: string; message: string }

/** One outgoing connection of a step: `key` addresses it (`next`, `default`, `rules.0`, `buttons.1`…). */
export interface Slot { key: string; label: string; kind: 'next' | 'branch' | 'error' | 'timeout'; target: string | undefined }

let counter = 0;
export function withKeys(doc: FlowDoc): FlowDoc {
  return { ...doc, steps: doc.steps.map((s) => (s._k === undefined ? { ...s, _k: ++counter } : s)) };
}
export function newStep(type: string, existing: Step[]): Step {
  let n = existing.length + 1;
  while (existing.some((s) => s.id === `${type}_${n}`)) n += 1;
  // A branch starts with one rule of one condition to fill in (the server wants at least one).
  const extra = type === 'branch' ? { rules: [{ when: [{ op: 'eq', var: '', value: '' }], next: '' }], default: '' } : {};
  return { id: `${type}_${n}`, type, ...extra, _k: ++counter };
}

/** Drops the editor's keys and empty optional fields so the server sees absent values, not empty strings. */
export function clean(doc: FlowDoc): FlowDoc {
  const steps = doc.steps.map((s) => Object.fromEntries(Object.entries(s).filter(([k, v]) => k !== '_k' && v !== '' && v !== undefined && v !== null)) as Step);
  return { ...doc, steps };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((x): x is Json => !!x && typeof x === 'object') : []);

/** Every connection a step of this type can have, in the order the graph draws its ports. */
export function slotsOf(step: Step): Slot[] {
  const next: Slot = { key: 'next', label: 'next', kind: 'next', target: str(step.next) };
  switch (step.type) {
    case 'buttons': case 'list': {
      const field = step.type === 'buttons' ? 'buttons' : 'rows';
      const options = list(step[field]).map((o, i): Slot => ({ key: `${field}.${i}`, label: String(o.title ?? o.id ?? `option ${i + 1}`), kind: 'branch', target: str(o.next) }));
      return [...options, { ...next, label: options.length ? 'other' : 'next' }];
    }
    case 'ask': return [next, { key: 'on_invalid', label: 'invalid', kind: 'error', target: str(step.on_invalid) }];
    case 'branch': return [...list(step.rules).map((r, i): Slot => ({ key: `rules.${i}`, label: `rule ${i + 1}`, kind: 'branch', target: str(r.next) })), { key: 'default', label: 'otherwise', kind: 'next', target: str(step.default) }];
    case 'wait': return step.for_reply ? [{ ...next, label: 'reply' }, { key: 'on_timeout', label: 'timeout', kind: 'timeout', target: str(step.on_timeout) }] : [next];
    case 'webhook': return [next, { key: 'on_error', label: 'error', kind: 'error', target: str(step.on_error) }];
    case 'handoff': case 'end': return [];
    default: return [next];
  }
}

/** The step with one connection pointed at `target` (`undefined`: the flow ends there). */
export function setSlot(step: Step, key: string, target: string | undefined): Step {
  const [field, index] = key.split('.');
  if (index === undefined) return { ...step, [field!]: field === 'default' ? (target ?? '') : target };
  const items = list(step[field!]).map((item, i) => {
    if (i !== Number(index)) return item;
    const { next: _old, ...rest } = item;
    return field === 'rules' ? { ...item, next: target ?? '' } : target ? { ...rest, next: target } : rest;
  });
  return { ...step, [field!]: items };
}

/** A branch condition's kinds (`op`, the serde tag of `Cond`) with the words the form shows. */
export const COND_OPS: [string, string][] = [
  ['eq', 'equals'], ['ne', 'does not equal'], ['contains', 'contains'], ['gt', 'is greater than'], ['lt', 'is less than'],
  ['exists', 'is set'], ['has_tag', 'contact has tag'], ['time_between', 'time of day (UTC) between'], ['business_hours', 'business hours'],
];
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const TEXT_OPS = ['eq', 'ne', 'contains'];
const NUMBER_OPS = ['gt', 'lt'];
const VAR_OPS = [...TEXT_OPS, ...NUMBER_OPS, 'exists'];
/** A day as the server reads it (`mon`, `Monday`, `MON`…), by its first three letters. */
export const dayOf = (d: unknown): string | undefined => (typeof d === 'string' ? DAYS.find((x) => d.toLowerCase().startsWith(x)) : undefined);

/** The condition turned into kind `op`, keeping what still fits: the variable, the value (as text or as a
 * number), the times and days. */
export function condAs(op: string, old: Json): Json {
  const v = typeof old.var === 'string' ? old.var : '';
  const from = str(old.from) ?? '09:00';
  const to = str(old.to) ?? '17:00';
  if (TEXT_OPS.includes(op)) return { op, var: v, value: typeof old.value === 'string' || typeof old.value === 'number' ? String(old.value) : '' };
  if (NUMBER_OPS.includes(op)) {
    const n = typeof old.value === 'number' ? old.value : Number(old.value);
    return { op, var: v, value: Number.isFinite(n) && old.value !== '' ? n : 0 };
  }
  switch (op) {
    case 'exists': return { op, var: v };
    case 'has_tag': return { op, tag: str(old.tag) ?? '' };
    case 'time_between': return { op, from, to };
    default: {
      const zone = str(old.time_zone);
      return { op: 'business_hours', days: Array.isArray(old.days) ? old.days : DAYS.slice(0, 5), from, to, ...(zone ? { time_zone: zone } : {}) };
    }
  }
}

/** Why the form cannot show these rules (then they stay JSON), or `null` when every rule and condition is
 * one it edits. The server's check stays the judge of the values themselves. */
export function rulesFormProblem(rules: unknown): string | null {
  if (rules == null) return null;
  if (!Array.isArray(rules)) return 'rules are a list: [{"when": […], "next": "step"}]';
  for (const [i, r] of rules.entries()) {
    const at = `rule ${i + 1}`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) return `${at} is not an object`;
    if (r.next != null && typeof r.next !== 'string') return `${at}: next is a step id`;
    if (!Array.isArray(r.when)) return `${at}: when is a list of conditions`;
    for (const [j, c] of (r.when as unknown[]).entries()) {
      const where = `${at}, condition ${j + 1}`;
      if (!c || typeof c !== 'object' || Array.isArray(c)) return `${where} is not an object`;
      const cond = c as Json;
      const op = String(cond.op);
      if (!COND_OPS.some(([o]) => o === op)) return `${where}: unknown op \`${op}\``;
      const isStr = (k: string) => typeof cond[k] === 'string';
      const fits = VAR_OPS.includes(op) ? isStr('var') && (op === 'exists' || (NUMBER_OPS.includes(op) ? typeof cond.value === 'number' : isStr('value')))
        : op === 'has_tag' ? isStr('tag')
          : isStr('from') && isStr('to') && (op === 'time_between' || ((cond.days == null || (Array.isArray(cond.days) && cond.days.every((d) => typeof d === 'string'))) && (cond.time_zone == null || isStr('time_zone'))));
      if (!fits) return `${where}: the fields do not match \`${op}\``;
    }
  }
  return null;
}

/** Names a condition can test: variables the flow captures (answers, choices, webhook mappings, the
 * engine's own) and contact fields it writes, sorted. */
export function varsOf(steps: Step[]): string[] {
  const names = new Set(['reply_id', 'last_reply', 'webhook_error']);
  for (const s of steps) {
    const into = str(s.into);
    if (into) names.add(into);
    if (s.type === 'set_field' && str(s.field)) names.add(`contact.${s.field}`);
    if (s.type === 'webhook' && s.map && typeof s.map === 'object') Object.keys(s.map).forEach((k) => names.add(k));
  }
  return [...names].sort();
}

/** Tags the flow sets (suggestions for `has_tag`). */
export const tagsOf = (steps: Step[]): string[] => [...new Set(steps.filter((s) => s.type === 'set_tag').map((s) => str(s.tag)).filter((t): t is string => !!t))].sort();

/** The list with the step at `from` moved to position `to` (both indexes into the list). */
export function moveStep<T>(steps: T[], from: number, to: number): T[] {
  const out = [...steps];
  const [s] = out.splice(from, 1);
  out.splice(Math.max(0, Math.min(out.length, to)), 0, s!);
  return out;
}

export const NODE_W = 200;
export const HEAD_H = 48;
export const SLOT_H = 24;
export const ERROR_H = 20;
const COL_GAP = 90;
const ROW_GAP = 28;
const PAD = 20;

export interface NodeBox { x: number; y: number; h: number }

/** A layered layout: columns by distance from the first step (breadth first over the connections),
 * stacked in list order; unreachable steps go under the first column, next to where they would start. Node heights come from the port and
 * problem counts, so ports sit at fixed offsets the edges can be drawn to without measuring. */
export function layout(steps: Step[], problemsOf: (id: string) => number): { boxes: Map<string, NodeBox>; width: number; height: number } {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map<string, number>();
  const queue: string[] = [];
  if (steps[0]) {
    depth.set(steps[0].id, 0);
    queue.push(steps[0].id);
  }
  while (queue.length) {
    const id = queue.shift()!;
    for (const s of slotsOf(byId.get(id)!)) {
      if (s.target && byId.has(s.target) && !depth.has(s.target)) {
        depth.set(s.target, depth.get(id)! + 1);
        queue.push(s.target);
      }
    }
  }
  const heights: number[] = [];
  const boxes = new Map<string, NodeBox>();
  const ordered = [...steps.filter((s) => depth.has(s.id)), ...steps.filter((s) => !depth.has(s.id))];
  for (const s of ordered) {
    if (boxes.has(s.id)) continue;
    const col = depth.get(s.id) ?? 0;
    const h = HEAD_H + Math.max(1, slotsOf(s).length) * SLOT_H + Math.min(2, problemsOf(s.id)) * ERROR_H + 8;
    const y = heights[col] ?? PAD;
    boxes.set(s.id, { x: PAD + col * (NODE_W + COL_GAP), y, h });
    heights[col] = y + h + ROW_GAP;
  }
  const cols = heights.length;
  return { boxes, width: PAD * 2 + Math.max(1, cols) * (NODE_W + COL_GAP) - COL_GAP, height: Math.max(PAD * 2, ...Array.from(heights, (h) => h ?? 0)) };
}
