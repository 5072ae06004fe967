// Segments of a site: the list (with an estimate on demand), the rule builder to create or edit one
// with a live estimate of the draft, and delete.

import { useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { SitePicker, useSites } from './push';
import { EstimateLine, RuleBuilder, describeRules, fromRules, newRules, ruleProblem, toRules, useDraftEstimate, type Estimate, type RuleProblem, type RulesDraft, type SegmentView, useSegments } from './segment-rules';
import { WithWorkspace } from './settings';

const err = (e: unknown) => (e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));

export function SegmentsPage() {
  return <WithWorkspace title="Segments" lead="Named groups of a site's subscribers by tags, browser, language, country, activity, clicks and custom attributes.">{(ws) => <Segments ws={ws} />}</WithWorkspace>;
}

function Segments({ ws }: { ws: WorkspaceSummary }) {
  const { sites, error: sitesError } = useSites(ws);
  const [site, setSite] = useState('');
  const current = site || sites[0]?.id || '';
  const { segments, error, reload } = useSegments(ws.id, current);
  const [editing, setEditing] = useState<SegmentView | 'new' | null>(null);
  const [estimates, setEstimates] = useState<Record<string, Estimate | string>>({});
  const [confirm, setConfirm] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  if (sitesError) return <p class="alert alert-error">{sitesError}</p>;
  if (!sites.length) {
    return (
      <div class="empty-state" data-testid="empty-state">
        <h2>No site yet</h2>
        <p>Segments group the subscribers of a site. <a href="/web-push/sites" onClick={(e) => onLinkClick(e, '/web-push/sites')}>Add a site first</a>.</p>
      </div>
    );
  }
  const base = `/v1/workspaces/${ws.id}/sites/${current}/segments`;
  const estimate = async (s: SegmentView) => {
    setEstimates((e) => ({ ...e, [s.id]: 'Counting…' }));
    try {
      const r = await apiFetch<Estimate>(`${base}/${s.id}/estimate`, { method: 'POST', timeoutMs: 60_000 });
      setEstimates((e) => ({ ...e, [s.id]: r }));
    } catch (x) {
      setEstimates((e) => ({ ...e, [s.id]: err(x) }));
    }
  };
  const remove = async (s: SegmentView) => {
    try {
      await apiFetch(`${base}/${s.id}`, { method: 'DELETE' });
      setConfirm(null);
      setNote(`Deleted “${s.name}”.`);
      if (editing !== 'new' && editing?.id === s.id) setEditing(null);
      reload();
    } catch (x) {
      setNote(err(x));
    }
  };
  return (
    <>
      <div class="card form form-inline">
        <SitePicker sites={sites} value={current} onChange={(id) => { setSite(id); setEditing(null); setEstimates({}); }} />
        <button type="button" class="button button-primary" onClick={() => setEditing('new')} disabled={editing === 'new'}>New segment</button>
      </div>
      {error && <p class="alert alert-error">{error}</p>}
      {note && <p class="alert alert-success" role="status">{note}</p>}
      {editing && (
        <SegmentEditor
          key={editing === 'new' ? 'new' : editing.id}
          ws={ws.id}
          site={current}
          segment={editing === 'new' ? null : editing}
          onDone={(saved) => { setEditing(null); setNote(saved ? `Saved “${saved}”.` : null); reload(); }}
        />
      )}
      {segments && segments.length === 0 && !editing && (
        <div class="empty-state" data-testid="empty-state">
          <h2>No segments yet</h2>
          <p>A segment is a saved set of rules — for example “tagged vip, in Germany, seen in the last 30 days”. Notifications can target it, and its size is counted live as you build it.</p>
          <button type="button" class="button button-primary" onClick={() => setEditing('new')}>Create a segment</button>
        </div>
      )}
      {segments && segments.length > 0 && (
        <div class="card">
          <table class="table" data-testid="segments-table">
            <thead><tr><th>Segment</th><th>Subscribers</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {segments.map((s) => {
                const e = estimates[s.id];
                return (
                  <tr key={s.id} data-segment={s.id}>
                    <td>
                      <div class="segment-cell">
                        <strong>{s.name}</strong>
                        <small class="muted">{describeRules(s.rules)}</small>
                        <small class="muted">Updated {new Date(s.updated_at).toLocaleString()}</small>
                      </div>
                    </td>
                    <td data-testid="segment-estimate">{e === undefined ? <button type="button" class="button button-small" onClick={() => estimate(s)}>Estimate</button> : typeof e === 'string' ? e : `${e.count} of ${e.total}`}</td>
                    <td>
                      <div class="row-actions">
                        <button type="button" class="button button-small" onClick={() => setEditing(s)}>Edit</button>
                        {confirm === s.id ? (
                          <>
                            <button type="button" class="button button-small button-danger" onClick={() => remove(s)}>Confirm delete</button>
                            <button type="button" class="button button-small" onClick={() => setConfirm(null)}>Keep</button>
                          </>
                        ) : (
                          <button type="button" class="button button-small" onClick={() => setConfirm(s.id)}>Delete</button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function SegmentEditor({ ws, site, segment, onDone }: { ws: string; site: string; segment: SegmentView | null; onDone: (saved: string | null) => void }) {
  const [name, setName] = useState(segment?.name ?? '');
  const [draft, setDraft] = useState<RulesDraft>(() => (segment ? fromRules(segment.rules) : newRules()));
  const [saveProblem, setSaveProblem] = useState<RuleProblem | null>(null);
  const [nameError, setNameError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const live = useDraftEstimate(ws, site, draft);
  const problem = saveProblem ?? live.problem;
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNameError(null);
    setSaveProblem(null);
    const base = `/v1/workspaces/${ws}/sites/${site}/segments`;
    try {
      await apiFetch(segment ? `${base}/${segment.id}` : base, { method: segment ? 'PUT' : 'POST', body: { name, rules: toRules(draft) } });
      onDone(name.trim());
    } catch (x) {
      const m = err(x);
      if (m.startsWith('name')) setNameError(m);
      else setSaveProblem(ruleProblem(m));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form" onSubmit={save} data-testid="segment-editor">
      <h2 class="card-title">{segment ? `Edit “${segment.name}”` : 'New segment'}</h2>
      <label class="field"><span>Name</span><input name="segment-name" required maxLength={80} value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      {nameError && <p class="alert alert-error" role="alert">{nameError}</p>}
      <RuleBuilder value={draft} onChange={(d) => { setDraft(d); setSaveProblem(null); }} problem={problem} />
      <EstimateLine estimate={live.estimate} busy={live.busy} waiting={live.waiting} />
      <div class="compose-actions">
        <button class="button button-primary" disabled={busy}>{segment ? 'Save changes' : 'Save segment'}</button>
        <button type="button" class="button" onClick={() => onDone(null)}>Cancel</button>
      </div>
    </form>
  );
}
