// A flow's versions (publish, roll back), what it captured (answers a page at a time with the API's
// cursor, CSV export) and its funnel: per step of a published version, how many conversations entered,
// completed and dropped it and how long they spent there (the runtime counts these as it moves them).

import { useState } from 'preact/hooks';

import { apiDownload, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import type { FlowDoc } from './flow-model';
import { Note, message, useAction, useLoad } from './settings';

export interface Flow { id: string; draft: FlowDoc; live_version: number | null; versions: number; updated_at: string }
interface Version { number: number; published_by: string; published_at: string; doc: FlowDoc }
interface Answer { flow_version: number; contact: string; step: string; into: string; value: string; at: string }
interface StepStats { version: number; step: string; entered: number; completed: number; dropped: number; average_seconds: number | null }

const PAGE = 20;

export function Publishing({ ws, flow, onChanged }: { ws: WorkspaceSummary; flow: Flow; onChanged: (f: Flow) => void }) {
  const base = `/v1/workspaces/${ws.id}/flows/${flow.id}`;
  const versions = useLoad(() => apiFetch<Version[]>(`${base}/versions`), [base, flow.versions]);
  const { note, act } = useAction();
  const publish = (version?: number) => act(async () => {
    const f = await apiFetch<Flow>(`${base}/publish`, { method: 'POST', body: version ? { version } : {} });
    onChanged(f);
    return `Version ${f.live_version} is live.`;
  });
  return (
    <>
      <div class="card" data-testid="publishing">
        <h2 class="card-title">Versions</h2>
        <p>{flow.live_version ? <>Live: <strong data-testid="live-version">v{flow.live_version}</strong></> : 'Not published yet.'}</p>
        <button type="button" class="button button-primary" onClick={() => publish()}>Publish draft</button>
        <Note note={note} />
        {versions.error && <p class="alert alert-error">{versions.error}</p>}
        <ul>
          {(versions.data ?? []).map((v) => (
            <li key={v.number}>v{v.number} · {new Date(v.published_at).toLocaleString()} · {v.published_by}{' '}
              {v.number !== flow.live_version && <button type="button" class="button button-small" onClick={() => publish(v.number)}>Make live</button>}</li>
          ))}
        </ul>
      </div>
      <Funnel base={base} versions={versions.data ?? []} live={flow.live_version} />
      <Answers base={base} flowId={flow.id} />
    </>
  );
}

function duration(s: number | null): string {
  if (s === null) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function Funnel({ base, versions, live }: { base: string; versions: Version[]; live: number | null }) {
  const stats = useLoad(() => apiFetch<StepStats[]>(`${base}/funnel`), [base]);
  const [picked, setPicked] = useState<number | null>(null);
  const counted = [...new Set((stats.data ?? []).map((s) => s.version))].sort((a, b) => b - a);
  const version = picked ?? (live !== null && counted.includes(live) ? live : counted[0] ?? null);
  const order = versions.find((v) => v.number === version)?.doc.steps.map((s) => s.id) ?? [];
  const rank = (step: string) => (order.indexOf(step) + 1 || order.length + 1);
  const rows = (stats.data ?? []).filter((s) => s.version === version).sort((a, b) => rank(a.step) - rank(b.step) || a.step.localeCompare(b.step));
  const top = Math.max(1, ...rows.map((r) => r.entered));
  return (
    <div class="card" data-testid="funnel">
      <h2 class="card-title">Funnel</h2>
      {stats.error && <p class="alert alert-error">{stats.error}</p>}
      {stats.data && counted.length === 0 && <p class="muted">No conversation has run a published version yet.</p>}
      {counted.length > 0 && (
        <div class="form-inline">
          <label class="field"><span>Version</span>
            <select name="funnel-version" value={String(version ?? '')} onChange={(e) => setPicked(Number(e.currentTarget.value))}>{counted.map((v) => <option key={v} value={v}>v{v}</option>)}</select>
          </label>
          <button type="button" class="button button-small" onClick={stats.reload}>Refresh</button>
        </div>
      )}
      {rows.length > 0 && (
        <table class="table funnel-table">
          <thead><tr><th>Step</th><th>Entered</th><th>Completed</th><th>Dropped</th><th>Avg. time</th></tr></thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.step} data-step={r.step}>
                <td><span class="funnel-bar" style={{ width: `${Math.round((r.entered / top) * 100)}%` }} aria-hidden="true" />{r.step}</td>
                <td>{r.entered}</td><td>{r.completed}</td><td>{r.dropped}</td><td>{duration(r.average_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Answers a page at a time: the API's cursor goes forward, a stack of the cursors seen goes back. */
function Answers({ base, flowId }: { base: string; flowId: string }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(() => apiFetch<{ answers: Answer[]; next_cursor: string | null }>(`${base}/answers?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), [base, cursor]);
  const [error, setError] = useState<string | null>(null);
  const csv = async () => {
    setError(null);
    try {
      const url = URL.createObjectURL(await apiDownload(`${base}/answers.csv`));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${flowId}-answers.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setError(message(e));
    }
  };
  const answers = page.data?.answers ?? [];
  return (
    <div class="card" data-testid="answers">
      <h2 class="card-title">Captured answers</h2>
      <button type="button" class="button button-small" onClick={csv}>Export CSV</button>
      {(page.error || error) && <p class="alert alert-error">{page.error ?? error}</p>}
      {page.data && answers.length === 0 && cursors.length === 0 && <p class="muted">Nothing captured yet.</p>}
      {answers.length > 0 && (
        <table class="table" data-testid="answers-table">
          <thead><tr><th>When</th><th>Contact</th><th>Step</th><th>Saved into</th><th>Value</th></tr></thead>
          <tbody>{answers.map((a, i) => <tr key={i}><td>{new Date(a.at).toLocaleString()}</td><td>{a.contact}</td><td>{a.step} <span class="muted">v{a.flow_version}</span></td><td>{a.into}</td><td>{a.value}</td></tr>)}</tbody>
        </table>
      )}
      {(cursors.length > 0 || page.data?.next_cursor) && (
        <div class="form-inline pager">
          <button type="button" class="button button-small" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>
          <span class="muted" data-testid="answers-page">Page {cursors.length + 1}</span>
          <button type="button" class="button button-small" disabled={!page.data?.next_cursor} onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}>Next</button>
        </div>
      )}
    </div>
  );
}
