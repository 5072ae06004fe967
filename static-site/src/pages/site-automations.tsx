// The scaffolding the per-site automation pages (welcome drips, recurring sends) share: the site picker, the
// list with its loading and empty states, the site's segments for the editors, the one editor open at a time,
// and pause / resume / delete with a confirmation.

import { Fragment, type ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { SitePicker, useSites } from './push';

export interface Segment {
  id: string;
  name: string;
}

export type Act = 'pause' | 'resume' | 'delete';

export const errorText = (e: unknown) => (e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));
/** A trimmed text field, or null when left empty (the API's "not set"). */
export const optional = (v: string) => (v.trim() ? v.trim() : null);

interface Props<T> {
  ws: WorkspaceSummary;
  /** The collection under `…/sites/{site}/`, e.g. `drips`; its list answers `{[listKey]: T[]}`. */
  path: string;
  listKey: string;
  newLabel: string;
  /** What deleting one means for subscribers, shown in the confirmation. */
  deleteWarning: string;
  empty: { testId: string; title: string; text: string; action: string };
  editor: (base: string, item: T | null, segments: Segment[], done: () => void, cancel: () => void) => ComponentChildren;
  card: (base: string, item: T, segments: Segment[], edit: () => void, act: (what: Act) => void) => ComponentChildren;
}

export function SiteAutomations<T extends { id: string; name: string }>(p: Props<T>) {
  const { sites, error: sitesError } = useSites(p.ws);
  const [site, setSite] = useState('');
  const [list, setList] = useState<T[] | null>(null);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [editing, setEditing] = useState<T | 'new' | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const current = site || sites[0]?.id || '';
  const base = `/v1/workspaces/${p.ws.id}/sites/${current}`;
  const load = useCallback(() => {
    if (!current) return;
    apiFetch<Record<string, T[]>>(`${base}/${p.path}?limit=100`).then((page) => setList(page[p.listKey] ?? []), (e) => setNote(errorText(e)));
  }, [base, current, p.path, p.listKey]);
  useEffect(() => {
    setList(null);
    load();
    if (current) apiFetch<Segment[]>(`${base}/segments`).then(setSegments, () => setSegments([]));
  }, [load, base, current]);

  const act = async (item: T, what: Act) => {
    setNote(null);
    try {
      if (what === 'delete') {
        if (!window.confirm(`Delete “${item.name}”? ${p.deleteWarning}`)) return;
        await apiFetch(`${base}/${p.path}/${item.id}`, { method: 'DELETE' });
      } else {
        await apiFetch(`${base}/${p.path}/${item.id}/${what}`, { method: 'POST', body: {} });
      }
      load();
    } catch (x) {
      setNote(errorText(x));
    }
  };
  const done = () => {
    setEditing(null);
    load();
  };

  if (sitesError) return <p class="alert alert-error">{sitesError}</p>;
  if (!sites.length) return <p class="card muted">Add a site first.</p>;
  return (
    <>
      <div class="card form form-inline">
        <SitePicker sites={sites} value={current} onChange={(id) => { setSite(id); setEditing(null); }} />
        {editing === null && <button type="button" class="button button-primary" onClick={() => setEditing('new')}>{p.newLabel}</button>}
      </div>
      {note && <p class="alert alert-error" role="alert">{note}</p>}
      {editing !== null && p.editor(base, editing === 'new' ? null : editing, segments, done, () => setEditing(null))}
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        editing === null && (
          <div class="empty-state" data-testid={p.empty.testId}>
            <h2>{p.empty.title}</h2>
            <p>{p.empty.text}</p>
            <button type="button" class="button button-primary" onClick={() => setEditing('new')}>{p.empty.action}</button>
          </div>
        )
      ) : (
        list.map((item) => <Fragment key={item.id}>{p.card(base, item, segments, () => setEditing(item), (what) => act(item, what))}</Fragment>)
      )}
    </>
  );
}
