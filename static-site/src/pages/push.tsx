// Web Push: sites (with the install snippet), subscribers, and notifications (compose with a live
// preview, delivery stats). Plus the member's own opt-in for this browser.

import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { Compose } from './compose';
import { WithWorkspace } from './settings';

interface Site {
  id: string;
  name: string;
  allowed_origins: string[];
  contact: string;
  vapid_public_key: string;
  default_icon: string | null;
  ttl_seconds: number;
}

interface Subscriber {
  id: string;
  subscription: { endpoint: string };
  browser: string | null;
  os: string | null;
  language: string | null;
  timezone: string | null;
  external_id: string | null;
  tags: string[];
  last_seen: string;
}

const err = (e: unknown) => (e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));

function useSites(ws: WorkspaceSummary): { sites: Site[]; reload: () => void; error: string | null } {
  const [sites, setSites] = useState<Site[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    apiFetch<Site[]>(`/v1/workspaces/${ws.id}/sites`).then(setSites, (e) => setError(err(e)));
  }, [ws.id, tick]);
  return { sites, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

function SitePicker({ sites, value, onChange }: { sites: Site[]; value: string; onChange: (id: string) => void }) {
  return (
    <label class="field">
      <span>Site</span>
      <select name="site" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {sites.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
      </select>
    </label>
  );
}

export function SitesPage() {
  return <WithWorkspace title="Sites" lead="Websites that collect push subscribers, with their VAPID keys and install snippet.">{(ws) => <Sites ws={ws} />}</WithWorkspace>;
}

/** The tag for the customer's pages: the SDK (served by this deployment) with the site id. */
function pageSnippet(site: Site): string {
  const api = window.location.origin;
  return `<script src="${api}/sdk/webtrigger-sdk.js" data-site="${site.id}" data-prompt-after-pageviews="2" async></script>
<!-- Optional: your own opt-in button (the permission prompt must come from a click) -->
<button onclick="WebTrigger.subscribe()">Get notifications</button>`;
}

/** The worker file the customer hosts at /webtrigger-sw.js (a worker must be served from their origin). */
function workerSnippet(): string {
  const api = window.location.origin;
  return `self.WEBTRIGGER_API = '${api}';
importScripts('${api}/sdk/webtrigger-sw.js');`;
}

function Sites({ ws }: { ws: WorkspaceSummary }) {
  const { sites, reload, error } = useSites(ws);
  const [name, setName] = useState('');
  const [origin, setOrigin] = useState('https://');
  const [contact, setContact] = useState('mailto:');
  const [note, setNote] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    try {
      await apiFetch(`/v1/workspaces/${ws.id}/sites`, { method: 'POST', body: { name, allowed_origins: [origin], contact } });
      setName('');
      reload();
    } catch (x) {
      setNote(err(x));
    }
  };
  return (
    <>
      <form class="card form form-inline" onSubmit={create} data-testid="site-form">
        <h2 class="card-title">Add a site</h2>
        <label class="field"><span>Name</span><input name="site-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label class="field"><span>Allowed origin</span><input name="site-origin" required value={origin} onInput={(e) => setOrigin(e.currentTarget.value)} /></label>
        <label class="field"><span>Contact (VAPID subject)</span><input name="site-contact" required value={contact} onInput={(e) => setContact(e.currentTarget.value)} /></label>
        <button class="button button-primary">Create site</button>
        {note && <p class="alert alert-error" role="alert">{note}</p>}
      </form>
      {error && <p class="alert alert-error">{error}</p>}
      {sites.map((s) => (
        <div class="card" key={s.id} data-testid="site-card">
          <h2 class="card-title">{s.name}</h2>
          <p class="muted">{s.allowed_origins.join(', ')} · <code>{s.id}</code></p>
          <p>1. Paste this into your site's pages. It asks visitors from their second page view (change or remove <code>data-prompt-after-pageviews</code>), and <code>WebTrigger.subscribe()</code>, <code>unsubscribe()</code>, <code>setTags([…])</code> and <code>setExternalId(id)</code> are yours to call.</p>
          <pre class="snippet" data-testid="install-snippet">{pageSnippet(s)}</pre>
          <p>2. Save this as <code>/webtrigger-sw.js</code> at the root of your site. It runs under the scope <code>/webtrigger-push/</code>, so it never takes over your pages or your own service worker. Already have a worker that should show the notifications? Put these two lines at its top instead and add <code>data-scope="existing"</code> to the tag.</p>
          <pre class="snippet" data-testid="worker-snippet">{workerSnippet()}</pre>
          <p class="muted">VAPID public key: <code data-testid="vapid-key">{s.vapid_public_key}</code></p>
        </div>
      ))}
    </>
  );
}

export function SubscribersPage() {
  return <WithWorkspace title="Subscribers" lead="Browsers subscribed to each site.">{(ws) => <Subscribers ws={ws} />}</WithWorkspace>;
}

function Subscribers({ ws }: { ws: WorkspaceSummary }) {
  const { sites } = useSites(ws);
  const [site, setSite] = useState('');
  const [tag, setTag] = useState('');
  const [page, setPage] = useState<{ subscribers: Subscriber[]; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const current = site || sites[0]?.id || '';
  useEffect(() => {
    if (!current) return;
    const q = tag ? `?limit=100&tag=${encodeURIComponent(tag)}` : '?limit=100';
    apiFetch<{ subscribers: Subscriber[]; total: number }>(`/v1/workspaces/${ws.id}/sites/${current}/subscribers${q}`).then(setPage, (e) => setError(err(e)));
  }, [ws.id, current, tag]);
  if (!sites.length) return <p class="card muted">Add a site first.</p>;
  return (
    <div class="card">
      <div class="form form-inline">
        <SitePicker sites={sites} value={current} onChange={setSite} />
        <label class="field"><span>Tag</span><input name="tag-filter" value={tag} onChange={(e) => setTag(e.currentTarget.value)} placeholder="any" /></label>
      </div>
      {error && <p class="alert alert-error">{error}</p>}
      <p data-testid="subscriber-total">{page ? `${page.total} subscriber(s)` : 'Loading…'}</p>
      <table class="table" data-testid="subscribers-table">
        <thead><tr><th>Browser</th><th>OS</th><th>Language</th><th>Time zone</th><th>User</th><th>Tags</th><th>Last seen</th></tr></thead>
        <tbody>
          {(page?.subscribers ?? []).map((s) => (
            <tr key={s.id}>
              <td>{s.browser ?? '—'}</td><td>{s.os ?? '—'}</td><td>{s.language ?? '—'}</td><td>{s.timezone ?? '—'}</td>
              <td>{s.external_id ?? '—'}</td><td>{s.tags.join(', ')}</td><td>{new Date(s.last_seen).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export { ctr } from './compose';

export function NotificationsPage() {
  return <WithWorkspace title="Notifications" lead="Compose, schedule and A/B test notifications; follow delivery and clicks.">{(ws) => <Notifications ws={ws} />}</WithWorkspace>;
}

function Notifications({ ws }: { ws: WorkspaceSummary }) {
  const { sites } = useSites(ws);
  if (!sites.length) return <p class="card muted">Add a site first.</p>;
  return <Compose ws={ws} sites={sites} picker={(value, onChange) => <SitePicker sites={sites} value={value} onChange={onChange} />} />;
}
