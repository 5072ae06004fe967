// Feeds: RSS/Atom feeds of a site whose new items become notifications. A list with each feed's poll
// status and last error, add/edit, pause, poll now, and the recent items with what each became.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { SitePicker, useSites } from './push';
import { Note, WithWorkspace, useAction, useLoad } from './settings';

interface Template {
  title: string;
  body: string;
  url: string;
  image: string;
  icon: string;
}

interface Feed {
  id: string;
  url: string;
  name: string | null;
  feed_title: string | null;
  template: Template;
  target: { type: 'all' } | { type: 'segment'; segment_id: string };
  newest_only: boolean;
  send_existing: boolean;
  active: boolean;
  baseline_pending: boolean;
  last_status: 'pending' | 'ok' | 'not_modified' | 'error';
  last_polled_at: string | null;
  last_error: string | null;
  consecutive_failures: number;
  items_sent: number;
  next_poll_at: string | null;
}

interface FeedItem {
  item_id: string;
  title: string | null;
  link: string | null;
  seen_at: string;
  outcome: 'sent' | 'baseline' | 'skipped' | 'failed';
  notification_id: string | null;
  error: string | null;
}

interface PollReport {
  status: string;
  items: number;
  new_items: number;
  sent: number;
  not_sent: number;
  error: string | null;
}

interface Segment {
  id: string;
  name: string;
}

interface Form {
  url: string;
  name: string;
  segment: string;
  newest_only: boolean;
  send_existing: boolean;
  active: boolean;
  template: Template;
}

const DEFAULT_TEMPLATE: Template = { title: '{{ item.title }}', body: '{{ item.summary }}', url: '{{ item.link }}', image: '{{ item.image }}', icon: '' };
const EMPTY: Form = { url: 'https://', name: '', segment: '', newest_only: false, send_existing: false, active: true, template: DEFAULT_TEMPLATE };

const STATUS: Record<Feed['last_status'], [string, string]> = {
  pending: ['not polled yet', 'badge-disconnected'],
  ok: ['ok', 'badge-active'],
  not_modified: ['ok (unchanged)', 'badge-active'],
  error: ['failing', 'badge-degraded'],
};

const OUTCOME: Record<FeedItem['outcome'], string> = {
  sent: 'sent',
  baseline: 'already there when added (not sent)',
  skipped: 'skipped (newest only / per-poll cap)',
  failed: 'not sent',
};

export function FeedsPage() {
  return (
    <WithWorkspace title="Feeds" lead="RSS and Atom feeds polled every 15 minutes; each new item becomes one notification to the site's subscribers (quiet hours and the frequency cap apply).">
      {(ws) => <Feeds ws={ws} />}
    </WithWorkspace>
  );
}

function body(f: Form) {
  return {
    url: f.url.trim(),
    name: f.name.trim() || null,
    target: f.segment ? { type: 'segment', segment_id: f.segment } : { type: 'all' },
    newest_only: f.newest_only,
    send_existing: f.send_existing,
    active: f.active,
    template: f.template,
  };
}

function toForm(feed: Feed): Form {
  return { url: feed.url, name: feed.name ?? '', segment: feed.target.type === 'segment' ? feed.target.segment_id : '', newest_only: feed.newest_only, send_existing: feed.send_existing, active: feed.active, template: feed.template };
}

function Feeds({ ws }: { ws: WorkspaceSummary }) {
  const { sites, error: sitesError } = useSites(ws);
  const [site, setSite] = useState('');
  const current = site || sites[0]?.id || '';
  if (sitesError) return <p class="alert alert-error">{sitesError}</p>;
  if (!sites.length) return <p class="card muted">Add a site first: feeds send to a site's subscribers.</p>;
  return (
    <>
      <div class="card form form-inline"><SitePicker sites={sites} value={current} onChange={setSite} /></div>
      <SiteFeeds key={current} base={`/v1/workspaces/${ws.id}/sites/${current}`} />
    </>
  );
}

function SiteFeeds({ base }: { base: string }) {
  const feeds = useLoad(() => apiFetch<{ feeds: Feed[] }>(`${base}/feeds?limit=100`), [base]);
  const segments = useLoad(() => apiFetch<Segment[]>(`${base}/segments`).catch(() => [] as Segment[]), [base]);
  const [form, setForm] = useState<Form>(EMPTY);
  const [editing, setEditing] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const { note, act } = useAction(() => feeds.reload());
  const save = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      if (editing) {
        await apiFetch(`${base}/feeds/${editing}`, { method: 'PUT', body: body(form) });
      } else {
        await apiFetch(`${base}/feeds`, { method: 'POST', body: body(form) });
      }
      const msg = editing ? 'Feed saved.' : form.send_existing ? 'Feed added: its current items will be sent on the first poll.' : 'Feed added. Its first poll marks the items already in it as seen without sending them; new items after that are sent.';
      setForm(EMPTY);
      setEditing(null);
      return msg;
    });
  };
  const pollNow = (f: Feed) =>
    act(async () => {
      const r = await apiFetch<PollReport>(`${base}/feeds/${f.id}/poll`, { method: 'POST' });
      setOpen(f.id);
      return r.error ? `Poll failed: ${r.error}` : r.status === 'not_modified' ? 'Polled: unchanged since the last poll.' : `Polled: ${r.items} item(s), ${r.new_items} new, ${r.sent} sent.`;
    });
  const setActive = (f: Feed, active: boolean) => act(async () => (await apiFetch(`${base}/feeds/${f.id}`, { method: 'PUT', body: body({ ...toForm(f), active }) }), active ? 'Resumed: polled at the next minute.' : 'Paused.'));
  const remove = (f: Feed) => confirm(`Delete the feed ${f.url}?`) && act(async () => (await apiFetch(`${base}/feeds/${f.id}`, { method: 'DELETE' }), 'Deleted.'));
  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  const setT = (patch: Partial<Template>) => setForm({ ...form, template: { ...form.template, ...patch } });
  return (
    <>
      <form class="card form" onSubmit={save} data-testid="feed-form">
        <h2 class="card-title">{editing ? 'Edit feed' : 'Add a feed'}</h2>
        <label class="field"><span>Feed URL (RSS or Atom, http or https)</span><input name="feed-url" required value={form.url} onInput={(e) => set({ url: e.currentTarget.value })} /></label>
        <label class="field"><span>Name</span><input name="feed-name" value={form.name} placeholder="the feed's own title" onInput={(e) => set({ name: e.currentTarget.value })} /></label>
        <label class="field">
          <span>Send to</span>
          <select name="feed-segment" value={form.segment} onChange={(e) => set({ segment: e.currentTarget.value })}>
            <option value="">All subscribers</option>
            {(segments.data ?? []).map((s) => <option key={s.id} value={s.id}>Segment: {s.name}</option>)}
          </select>
        </label>
        <details>
          <summary>Notification template</summary>
          <p class="muted">Templates over <code>item.title</code>, <code>item.summary</code>, <code>item.link</code>, <code>item.image</code>, <code>item.author</code>, <code>feed.title</code>.</p>
          <label class="field"><span>Title</span><input name="feed-template-title" value={form.template.title} onInput={(e) => setT({ title: e.currentTarget.value })} /></label>
          <label class="field"><span>Body</span><input name="feed-template-body" value={form.template.body} onInput={(e) => setT({ body: e.currentTarget.value })} /></label>
          <label class="field"><span>Link</span><input name="feed-template-url" value={form.template.url} onInput={(e) => setT({ url: e.currentTarget.value })} /></label>
          <label class="field"><span>Image</span><input name="feed-template-image" value={form.template.image} onInput={(e) => setT({ image: e.currentTarget.value })} /></label>
        </details>
        <label class="check"><input type="checkbox" name="feed-newest-only" checked={form.newest_only} onChange={(e) => set({ newest_only: e.currentTarget.checked })} /> Only the newest new item of each poll</label>
        <label class="check"><input type="checkbox" name="feed-send-existing" checked={form.send_existing} onChange={(e) => set({ send_existing: e.currentTarget.checked })} /> Also send the items already in the feed (off: they are marked seen on the first poll)</label>
        <label class="check"><input type="checkbox" name="feed-active" checked={form.active} onChange={(e) => set({ active: e.currentTarget.checked })} /> Active</label>
        <div>
          <button class="button button-primary">{editing ? 'Save feed' : 'Add feed'}</button>{' '}
          {editing && <button type="button" class="button" onClick={() => (setEditing(null), setForm(EMPTY))}>Cancel</button>}
        </div>
      </form>
      <Note note={note} />
      {feeds.error && <p class="alert alert-error">{feeds.error}</p>}
      {feeds.data?.feeds.length === 0 && <p class="card muted" data-testid="feeds-empty">No feeds yet. Add your blog's RSS or Atom URL above: new posts then reach your subscribers as notifications.</p>}
      {(feeds.data?.feeds ?? []).map((f) => {
        const [label, badge] = f.active ? STATUS[f.last_status] : ['paused', 'badge-disconnected'];
        return (
          <div class="card" key={f.id} data-testid="feed-card">
            <h2 class="card-title">{f.name ?? f.feed_title ?? f.url} <span class={`badge ${badge}`} data-testid="feed-status">{label}</span></h2>
            <p class="muted"><code>{f.url}</code></p>
            <p class="muted">
              {f.target.type === 'all' ? 'To all subscribers' : 'To a segment'} · {f.items_sent} sent
              {f.newest_only && ' · newest item only'}
              {f.last_polled_at && ` · last polled ${new Date(f.last_polled_at).toLocaleString()}`}
              {f.next_poll_at && ` · next poll ${new Date(f.next_poll_at).toLocaleString()}`}
            </p>
            {f.baseline_pending && <p class="muted">The first poll will mark the items already in the feed as seen without sending them.</p>}
            {f.last_error && <p class="alert alert-error" data-testid="feed-error">{f.consecutive_failures} failed poll(s) in a row: {f.last_error}</p>}
            <button type="button" class="button button-small" onClick={() => pollNow(f)}>Poll now</button>{' '}
            <button type="button" class="button button-small" onClick={() => (setEditing(f.id), setForm(toForm(f)))}>Edit</button>{' '}
            <button type="button" class="button button-small" onClick={() => setActive(f, !f.active)}>{f.active ? 'Pause' : 'Resume'}</button>{' '}
            <button type="button" class="button button-small" onClick={() => setOpen(open === f.id ? null : f.id)}>{open === f.id ? 'Hide items' : 'Recent items'}</button>{' '}
            <button type="button" class="button button-small" onClick={() => remove(f)}>Delete</button>
            {open === f.id && <Items key={`${f.id}-${f.last_polled_at}`} path={`${base}/feeds/${f.id}/items?limit=50`} />}
          </div>
        );
      })}
    </>
  );
}

function Items({ path }: { path: string }) {
  const items = useLoad(() => apiFetch<{ items: FeedItem[] }>(path), [path]);
  if (items.error) return <p class="alert alert-error">{items.error}</p>;
  if (items.data?.items.length === 0) return <p class="muted">No items seen yet: poll the feed.</p>;
  return (
    <div style={{ overflowX: "auto" }}>
      <table class="table" data-testid="feed-items">
        <thead><tr><th>Item</th><th>Seen</th><th>Became</th></tr></thead>
        <tbody>
          {(items.data?.items ?? []).map((i) => (
            <tr key={i.item_id} data-outcome={i.outcome}>
              <td>{i.link ? <a href={i.link} target="_blank" rel="noopener noreferrer">{i.title ?? i.item_id}</a> : (i.title ?? i.item_id)}</td>
              <td>{new Date(i.seen_at).toLocaleString()}</td>
              <td>{OUTCOME[i.outcome]}{i.notification_id && <> <code>{i.notification_id}</code></>}{i.error && <span class="muted"> — {i.error}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
