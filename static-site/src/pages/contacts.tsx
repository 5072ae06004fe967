// WhatsApp contacts: search with paging, add by hand, edit name / tags / fields / time zone, opt-out and
// opt-in with the consent history, GDPR erase, and CSV import as a background job with progress and
// per-row errors.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Note, WithWorkspace, message, useAction, useLoad } from './settings';

type FieldValue = string | number | boolean;

interface Contact {
  phone: string;
  name: string | null;
  tags: string[];
  fields: Record<string, FieldValue>;
  time_zone: string | null;
  opted_out: boolean;
  last_inbound_at: string | null;
}

interface ConsentChange {
  opted_out: boolean;
  at: string;
  how: string;
}

interface Detail extends Contact {
  conversations: unknown[];
  consent_history: ConsentChange[];
}

interface ImportView {
  id: string;
  status: string;
  rows_total: number;
  imported: number;
  failed: number;
}

/** `city=Lisbon` lines → fields; numbers and true/false keep their type. */
function parseFields(text: string): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at < 1) continue;
    const raw = line.slice(at + 1).trim();
    out[line.slice(0, at).trim()] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

const fieldsText = (f: Record<string, FieldValue>) => Object.entries(f).map(([k, v]) => `${k}=${String(v)}`).join('\n');
const tagList = (text: string) => text.split(',').map((t) => t.trim()).filter(Boolean);

export function ContactsPage() {
  return <WithWorkspace title="Contacts" lead="Everyone your WhatsApp channels know: from the inbox, added by hand or imported from CSV.">{(ws) => <Contacts ws={ws} />}</WithWorkspace>;
}

function Contacts({ ws }: { ws: WorkspaceSummary }) {
  const [q, setQ] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [tick, setTick] = useState(0);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(
    () => apiFetch<{ contacts: Contact[]; next_cursor: string | null }>(`/v1/workspaces/${ws.id}/contacts?limit=25${q ? `&q=${encodeURIComponent(q)}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
    [ws.id, q, cursor, tick],
  );
  const [open, setOpen] = useState<string | null>(null);
  const reload = () => setTick((t) => t + 1);
  const contacts = list.data?.contacts ?? [];
  return (
    <>
      <div class="card form form-inline">
        <label class="field">
          <span>Search</span>
          <input name="q" type="search" placeholder="+44… or a name" value={q} onInput={(e) => { setQ(e.currentTarget.value); setCursors([]); }} />
        </label>
      </div>
      {list.error && <p class="alert alert-error">{list.error}</p>}
      {list.data && contacts.length === 0 ? (
        <p class="card" data-testid="empty-state">{q ? `No contact matches “${q}”.` : 'No contacts yet: they appear when someone writes to a channel, or add them below or import a CSV.'}</p>
      ) : (
        <div class="card">
          <table class="table" data-testid="contacts-table">
            <thead><tr><th>Number</th><th>Name</th><th>Tags</th><th>Consent</th><th /></tr></thead>
            <tbody>
              {contacts.map((c) => (
                <tr key={c.phone}>
                  <td>{c.phone}</td>
                  <td>{c.name ?? ''}</td>
                  <td>{c.tags.map((t) => <span class="chip" key={t}>{t}</span>)}</td>
                  <td><span class={`chip ${c.opted_out ? 'chip-rejected' : 'chip-approved'}`}>{c.opted_out ? 'Opted out' : 'Opted in'}</span></td>
                  <td><button type="button" class="button" onClick={() => setOpen(c.phone)}>Edit</button></td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="form form-inline">
            {cursors.length > 0 && <button type="button" class="button" onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>}
            {list.data?.next_cursor && <button type="button" class="button" onClick={() => setCursors([...cursors, list.data!.next_cursor!])}>Next page</button>}
          </div>
        </div>
      )}
      {open && <ContactEditor key={open} ws={ws} phone={open} onChanged={reload} onClose={() => { setOpen(null); reload(); }} />}
      <NewContactForm ws={ws} onCreated={reload} />
      <ImportCard ws={ws} onDone={reload} />
    </>
  );
}

function NewContactForm({ ws, onCreated }: { ws: WorkspaceSummary; onCreated: () => void }) {
  const [form, setForm] = useState({ phone: '', country: 'US', name: '', tags: '', fields: '', time_zone: '' });
  const { note, act } = useAction(onCreated);
  const submit = (e: Event) => {
    e.preventDefault();
    return act(async () => {
      const c = await apiFetch<Contact>(`/v1/workspaces/${ws.id}/contacts`, {
        method: 'POST',
        body: { phone: form.phone, default_country: form.country || null, name: form.name || null, tags: tagList(form.tags), fields: parseFields(form.fields), time_zone: form.time_zone || null },
      });
      setForm({ ...form, phone: '', name: '', tags: '', fields: '' });
      return `${c.phone} added.`;
    });
  };
  return (
    <form class="card form" onSubmit={submit} data-testid="contact-form">
      <h2 class="card-title">Add a contact</h2>
      <label class="field"><span>Number</span><input name="phone" required placeholder="+44 7911 123456 or (415) 555-0100" value={form.phone} onInput={(e) => setForm({ ...form, phone: e.currentTarget.value })} /></label>
      <label class="field"><span>Country for national numbers</span><input name="country" maxLength={2} value={form.country} onInput={(e) => setForm({ ...form, country: e.currentTarget.value })} /></label>
      <label class="field"><span>Name</span><input name="name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} /></label>
      <label class="field"><span>Tags (comma separated)</span><input name="tags" value={form.tags} onInput={(e) => setForm({ ...form, tags: e.currentTarget.value })} /></label>
      <label class="field"><span>Fields (one name=value a line)</span><textarea name="fields" value={form.fields} onInput={(e) => setForm({ ...form, fields: e.currentTarget.value })} /></label>
      <label class="field"><span>Time zone (IANA name like Europe/Berlin, or an offset like +01:00)</span><input name="time_zone" value={form.time_zone} onInput={(e) => setForm({ ...form, time_zone: e.currentTarget.value })} /></label>
      <button class="button button-primary">Add contact</button>
      <Note note={note} />
    </form>
  );
}

function ContactEditor({ ws, phone, onChanged, onClose }: { ws: WorkspaceSummary; phone: string; onChanged: () => void; onClose: () => void }) {
  const path = `/v1/workspaces/${ws.id}/contacts/${encodeURIComponent(phone)}`;
  const detail = useLoad(() => apiFetch<Detail>(path), [path]);
  const [form, setForm] = useState<{ name: string; tags: string; fields: string; time_zone: string } | null>(null);
  useEffect(() => {
    const d = detail.data;
    if (d) setForm({ name: d.name ?? '', tags: d.tags.join(', '), fields: fieldsText(d.fields), time_zone: d.time_zone ?? '' });
  }, [detail.data]);
  const { note, act } = useAction(() => { detail.reload(); onChanged(); });
  const d = detail.data;
  if (detail.error) return <p class="alert alert-error">{detail.error}</p>;
  if (!d || !form) return <p class="card" aria-busy="true">Loading {phone}…</p>;
  const save = (e: Event) => {
    e.preventDefault();
    const removed = Object.fromEntries(Object.keys(d.fields).map((k) => [k, null]));
    return act(async () => {
      await apiFetch<Contact>(path, { method: 'PATCH', body: { name: form.name, tags: tagList(form.tags), fields: { ...removed, ...parseFields(form.fields) }, time_zone: form.time_zone } });
      return 'Saved.';
    });
  };
  const consent = (optedOut: boolean) => act(async () => {
    await apiFetch(`${path}/consent`, { method: 'POST', body: { opted_out: optedOut } });
    return optedOut ? `${phone} opted out: no broadcast or message will reach them.` : `${phone} opted in again.`;
  });
  const erase = () => {
    if (!window.confirm(`Erase ${phone} everywhere (conversations, messages, consent history)? This cannot be undone.`)) return;
    void act(async () => {
      await apiFetch(path, { method: 'DELETE' });
      onClose();
      return `${phone} erased.`;
    }).catch((e) => window.alert(message(e)));
  };
  return (
    <form class="card form" onSubmit={save} data-testid="contact-editor">
      <h2 class="card-title">{d.phone}</h2>
      <p>{d.opted_out ? 'Opted out' : 'Opted in'} · {d.conversations.length} conversation(s){d.last_inbound_at ? ` · last wrote ${new Date(d.last_inbound_at).toLocaleString()}` : ''}</p>
      <label class="field"><span>Name</span><input name="edit-name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} /></label>
      <label class="field"><span>Tags (comma separated)</span><input name="edit-tags" value={form.tags} onInput={(e) => setForm({ ...form, tags: e.currentTarget.value })} /></label>
      <label class="field"><span>Fields (one name=value a line)</span><textarea name="edit-fields" value={form.fields} onInput={(e) => setForm({ ...form, fields: e.currentTarget.value })} /></label>
      <label class="field"><span>Time zone (IANA name or offset)</span><input name="edit-time_zone" value={form.time_zone} onInput={(e) => setForm({ ...form, time_zone: e.currentTarget.value })} /></label>
      <div class="form form-inline">
        <button class="button button-primary">Save</button>
        {d.opted_out ? <button type="button" class="button" onClick={() => consent(false)}>Opt in again</button> : <button type="button" class="button" onClick={() => consent(true)}>Opt out</button>}
        <button type="button" class="button button-danger" onClick={erase}>Erase contact</button>
        <button type="button" class="button" onClick={onClose}>Close</button>
      </div>
      <Note note={note} />
      <h3>Consent history</h3>
      {d.consent_history.length === 0 ? <p class="muted">No opt-out or opt-in recorded.</p> : (
        <ul data-testid="consent-history">{d.consent_history.map((h, i) => <li key={i}>{h.opted_out ? 'Opted out' : 'Opted in'} — {h.how} — {new Date(h.at).toLocaleString()}</li>)}</ul>
      )}
    </form>
  );
}

/** Splits a CSV into parts under the request size limit, on line boundaries (part 1 keeps the header). */
function parts(csv: string, max = 200_000): string[] {
  const lines = csv.split(/\r?\n/);
  const out: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines) {
    if (size + line.length + 1 > max && current.length) {
      out.push(current.join('\n'));
      current = [];
      size = 0;
    }
    current.push(line);
    size += line.length + 1;
  }
  if (current.length) out.push(current.join('\n'));
  return out;
}

function ImportCard({ ws, onDone }: { ws: WorkspaceSummary; onDone: () => void }) {
  const [csv, setCsv] = useState('');
  const [country, setCountry] = useState('US');
  const [job, setJob] = useState<ImportView | null>(null);
  const [errors, setErrors] = useState<{ part: number; line: number; error: string }[]>([]);
  const { note, act } = useAction();
  useEffect(() => {
    if (!job || job.status === 'completed' || job.status === 'failed') return;
    const id = window.setTimeout(async () => {
      try {
        const next = await apiFetch<ImportView>(`/v1/workspaces/${ws.id}/contacts/imports/${job.id}`);
        setJob(next);
        if (next.status === 'completed') {
          setErrors((await apiFetch<{ errors: { part: number; line: number; error: string }[] }>(`/v1/workspaces/${ws.id}/contacts/imports/${job.id}/errors`)).errors);
          onDone();
        }
      } catch (e) {
        setJob({ ...job, status: `failed: ${message(e)}` });
      }
    }, 1000);
    return () => window.clearTimeout(id);
  }, [job, ws.id, onDone]);
  const start = (e: Event) => {
    e.preventDefault();
    return act(async () => {
      const created = await apiFetch<ImportView>(`/v1/workspaces/${ws.id}/contacts/imports`, { method: 'POST', body: { default_country: country || null, consent_source: 'csv import' } });
      const chunks = parts(csv.trim());
      let view = created;
      for (const [i, part] of chunks.entries()) {
        view = await apiFetch<ImportView>(`/v1/workspaces/${ws.id}/contacts/imports/${created.id}/parts`, { method: 'POST', body: { part: i + 1, csv: part, last: i === chunks.length - 1 } });
      }
      setErrors([]);
      setJob(view);
      return `Import started (${chunks.length} part(s)).`;
    });
  };
  const onFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) setCsv(await file.text());
  };
  return (
    <form class="card form" onSubmit={start} data-testid="import-form">
      <h2 class="card-title">Import from CSV</h2>
      <p class="muted">A header row with a phone column (and optionally name, tags, time zone and any custom fields). Up to 100,000 rows.</p>
      <label class="field"><span>CSV file</span><input type="file" accept=".csv,text/csv" onChange={onFile} /></label>
      <label class="field"><span>Or paste the CSV</span><textarea name="csv" value={csv} onInput={(e) => setCsv(e.currentTarget.value)} /></label>
      <label class="field"><span>Country for national numbers</span><input name="import-country" maxLength={2} value={country} onInput={(e) => setCountry(e.currentTarget.value)} /></label>
      <button class="button button-primary" disabled={!csv.trim()}>Import</button>
      <Note note={note} />
      {job && (
        <div data-testid="import-progress">
          <p>{job.status}: {job.imported} imported, {job.failed} failed{job.rows_total ? ` of ${job.rows_total} rows` : ''}</p>
          <progress max={Math.max(job.rows_total, 1)} value={job.imported + job.failed} />
        </div>
      )}
      {errors.length > 0 && <ul data-testid="import-errors">{errors.map((e, i) => <li key={i}>Part {e.part}, line {e.line}: {e.error}</li>)}</ul>}
    </form>
  );
}
