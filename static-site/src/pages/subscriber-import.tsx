// Subscriber import and export for a site: upload a CSV or JSON-lines file (run by the server as a
// background job), follow its progress, counts and row errors, and download every subscriber as CSV.

import { useEffect, useState } from 'preact/hooks';

import { ApiError, apiDownloadAll, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { SitePicker, useSites } from './push';
import { WithWorkspace } from './settings';

export interface ImportView {
  id: string;
  format: 'csv' | 'json_lines';
  status: 'uploading' | 'running' | 'completed';
  parts: number;
  max_part_bytes: number;
  rows: number;
  processed: number;
  created: number;
  updated: number;
  failed: number;
  errors: { line: number; message: string }[];
  created_at: string;
}

const err = (e: unknown) => (e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));

/** The content type the import endpoint reads the format from (it sniffs when none fits). */
export function contentTypeOf(file: { name: string; type: string }): string {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv')) return 'text/csv';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson') || name.endsWith('.json')) return 'application/x-ndjson';
  return file.type || 'text/csv';
}

/** Room left under the server's body limit for the request's own overhead. */
const PART_HEADROOM = 4096;

/**
 * Cuts a file into parts of at most `max` bytes, each ending at a line end (the server numbers the
 * lines across parts), reading one slice at a time so a large file is never held whole.
 */
export async function* fileParts(file: Blob, max: number): AsyncGenerator<Uint8Array> {
  let start = 0;
  while (start < file.size) {
    const end = Math.min(start + max, file.size);
    const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
    let cut = bytes.length;
    if (end < file.size) {
      cut = bytes.lastIndexOf(0x0a) + 1;
      if (cut === 0) throw new Error(`A line near byte ${start} is longer than one upload part (${max} bytes).`);
    }
    yield bytes.subarray(0, cut);
    start += cut;
  }
}

/** Sends one part, again after a network failure or a server error (a re-sent part is harmless). */
async function sendPart(url: string, body: Uint8Array, contentType: string): Promise<ImportView> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await apiFetch<ImportView>(url, { method: 'PUT', body, headers: { 'Content-Type': contentType }, timeoutMs: 120_000 });
    } catch (x) {
      const transient = x instanceof ApiError && (x.status === 0 || x.status >= 500);
      if (!transient || attempt >= 4) throw x;
      await new Promise((r) => window.setTimeout(r, 500 * 2 ** attempt));
    }
  }
}

export function ImportPage() {
  return <WithWorkspace title="Import and export" lead="Bring subscribers from another push vendor, or download a site's subscribers as CSV.">{(ws) => <Import ws={ws} />}</WithWorkspace>;
}

function Import({ ws }: { ws: WorkspaceSummary }) {
  const { sites, error: sitesError } = useSites(ws);
  const [site, setSite] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [job, setJob] = useState<ImportView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<{ bytes: number; total: number } | null>(null);
  const current = site || sites[0]?.id || '';
  const base = `/v1/workspaces/${ws.id}/sites/${current}`;
  useEffect(() => {
    if (!job || job.status !== 'running') return;
    const timer = window.setTimeout(() => {
      apiFetch<ImportView>(`${base}/imports/${job.id}`).then(setJob, (e) => setError(err(e)));
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [job, base]);
  if (sitesError) return <p class="alert alert-error">{sitesError}</p>;
  if (!sites.length) {
    return (
      <div class="empty-state" data-testid="empty-state">
        <h2>No site yet</h2>
        <p>Subscribers belong to a site. <a href="/web-push/sites" onClick={(e) => onLinkClick(e, '/web-push/sites')}>Add a site first</a>.</p>
      </div>
    );
  }
  const upload = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    setJob(null);
    const contentType = contentTypeOf(file);
    try {
      const format = contentType === 'text/csv' ? 'csv' : 'json_lines';
      const created = await apiFetch<ImportView>(`${base}/imports`, { method: 'POST', body: { format } });
      let part = 0;
      let bytes = 0;
      setSent({ bytes, total: file.size });
      let view = created;
      const max = Math.max(created.max_part_bytes - PART_HEADROOM, 1024);
      const pieces = fileParts(file, max);
      let next = await pieces.next();
      while (!next.done) {
        const following = await pieces.next();
        part += 1;
        const last = following.done ? '?last=true' : '';
        view = await sendPart(`${base}/imports/${created.id}/parts/${part}${last}`, next.value, contentType);
        bytes += next.value.length;
        setSent({ bytes, total: file.size });
        next = following;
      }
      if (part === 0) view = await sendPart(`${base}/imports/${created.id}/parts/1?last=true`, new Uint8Array(), contentType);
      setJob(view);
    } catch (x) {
      setError(err(x));
    } finally {
      setBusy(false);
      setSent(null);
    }
  };
  const download = async () => {
    setError(null);
    try {
      const blob = await apiDownloadAll(`${base}/subscribers/export`);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `subscribers-${current}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (x) {
      setError(err(x));
    }
  };
  const percent = job && job.rows ? Math.round((100 * job.processed) / job.rows) : 0;
  return (
    <>
      <form class="card form" onSubmit={upload} data-testid="import-form">
        <SitePicker sites={sites} value={current} onChange={(id) => { setSite(id); setJob(null); setError(null); }} />
        <label class="field"><span>File (CSV or JSON lines)</span><input name="import-file" type="file" accept=".csv,.jsonl,.ndjson,.json,text/csv,application/x-ndjson" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} /></label>
        <div class="compose-actions">
          <button class="button button-primary" disabled={!file || busy}>{busy ? 'Uploading…' : 'Import'}</button>
          <button type="button" class="button" onClick={download}>Download all subscribers (CSV)</button>
        </div>
        {sent && <p class="muted" data-testid="import-upload">Uploading {Math.round((100 * sent.bytes) / Math.max(sent.total, 1))} % of {(sent.total / 1048576).toFixed(1)} MB</p>}
        {error && <p class="alert alert-error" role="alert">{error}</p>}
      </form>
      {!job && !error && (
        <div class="empty-state" data-testid="import-help">
          <h2>No import running</h2>
          <p>CSV: a header naming <code>endpoint,p256dh,auth</code> and any of <code>tags</code> (space-separated), <code>external_id</code>, <code>attributes</code> (a JSON object) and <code>time_zone</code>. Or JSON lines with the same keys. The export of another site here is a valid import.</p>
          <p>Rows are checked like a browser subscribing and upserted by endpoint, so importing a file twice updates rather than duplicates. Large files are sent in parts that fit the server's request size, so a vendor's full export of a million rows can come in one go.</p>
        </div>
      )}
      {job && (
        <div class="card" data-testid="import-result">
          <h2 class="card-title">Import {job.status === 'completed' ? 'finished' : 'running'}</h2>
          <p class="muted" data-testid="import-parts">{job.parts} {job.parts === 1 ? 'part' : 'parts'} uploaded</p>
          <progress max={100} value={percent} aria-label="Import progress" />
          <p data-testid="import-counts">{job.processed} of {job.rows} rows · {job.created} created · {job.updated} updated · {job.failed} failed</p>
          {job.errors.length > 0 && (
            <table class="table" data-testid="import-errors">
              <thead><tr><th>Line</th><th>Problem</th></tr></thead>
              <tbody>{job.errors.map((r) => <tr key={r.line}><td>{r.line}</td><td>{r.message}</td></tr>)}</tbody>
            </table>
          )}
          {job.failed > job.errors.length && <p class="muted">Showing the first {job.errors.length} row errors.</p>}
        </div>
      )}
    </>
  );
}
