// Campaigns: push notifications of every site and WhatsApp broadcasts in one list, newest first, with
// their key counters and a status filter; each row links to its existing detail screen and the two
// "New" buttons lead to the existing compose screens. Reads only the two list APIs, so a failure of one
// (say WhatsApp) still shows the other's rows with the error above them.

import { apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { useState } from 'preact/hooks';
import type { NotificationView } from './compose';
import { WithWorkspace, message, useLoad, usePoll } from './settings';

interface Site {
  id: string;
  name: string;
}

interface BroadcastRow {
  id: string;
  name: string;
  status: string;
  send_at: { mode: 'now' } | { mode: 'at'; at: string } | { mode: 'local_time'; date: string; time: string };
  counters: { recipients: number; sent: number; delivered: number; read: number; failed: number };
  created_at: string;
}

/** One row of the combined list, whichever kind it is. */
interface Campaign {
  kind: 'push' | 'whatsapp';
  id: string;
  name: string;
  status: string;
  /** Sort key and the time shown: the schedule when scheduled, else when it was made. */
  when: string;
  scheduled: boolean;
  /** Shown instead of `when` for a send at each contact's local time. */
  label?: string;
  counters: [string, number][];
  href: string;
  site?: string;
}

/** Statuses of either kind (`paused` exists only for broadcasts, so the push lists are not asked for it). */
const STATUSES = ['draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled'] as const;
const PUSH_LIMIT = 50;

interface Loaded {
  rows: Campaign[];
  errors: string[];
  sites: number;
}

function pushRow(site: Site, n: NotificationView): Campaign {
  const scheduled = n.status === 'scheduled' && !!n.send_at;
  return {
    kind: 'push',
    id: n.id,
    name: n.title,
    status: n.status,
    when: scheduled ? n.send_at! : n.created_at,
    scheduled,
    counters: [['targeted', n.stats.targeted ?? 0], ['accepted', n.stats.accepted ?? 0], ['clicks', n.stats.clicks ?? 0]],
    href: `/web-push/analytics?site=${encodeURIComponent(site.id)}&notification=${encodeURIComponent(n.id)}`,
    site: site.name,
  };
}

function broadcastRow(b: BroadcastRow): Campaign {
  const s = b.send_at;
  const scheduled = s.mode !== 'now' && ['draft', 'scheduled'].includes(b.status);
  const c = b.counters;
  // A local-time send has no one instant: sort it by its date and time as if in UTC.
  const when = s.mode === 'now' || !scheduled ? b.created_at : s.mode === 'at' ? s.at : `${s.date}T${s.time}:00Z`;
  return {
    kind: 'whatsapp',
    id: b.id,
    name: b.name,
    status: b.status,
    when,
    scheduled,
    ...(scheduled && s.mode === 'local_time' ? { label: `${s.date} ${s.time} in each contact's time zone` } : {}),
    counters: [['sent', c.sent], ['delivered', c.delivered], ['read', c.read], ['failed', c.failed]],
    href: `/whatsapp/broadcasts?broadcast=${encodeURIComponent(b.id)}`,
  };
}

/** Both lists, each failure kept as a message rather than failing the whole page. */
async function loadCampaigns(ws: string, status: string): Promise<Loaded> {
  const errors: string[] = [];
  const rows: Campaign[] = [];
  const push = async () => {
    const sites = await apiFetch<Site[]>(`/v1/workspaces/${ws}/sites`);
    if (status !== 'paused') {
      const pages = await Promise.all(
        sites.map((s) => apiFetch<{ notifications: NotificationView[] }>(`/v1/workspaces/${ws}/sites/${s.id}/notifications?limit=${PUSH_LIMIT}${status ? `&status=${status}` : ''}`).then((p) => p.notifications.map((n) => pushRow(s, n)))),
      );
      rows.push(...pages.flat());
    }
    return sites.length;
  };
  const whatsapp = async () => {
    const list = await apiFetch<BroadcastRow[]>(`/v1/workspaces/${ws}/broadcasts`);
    rows.push(...list.filter((b) => !status || b.status === status).map(broadcastRow));
  };
  const [sites, broadcasts] = await Promise.allSettled([push(), whatsapp()]);
  if (sites.status === 'rejected') errors.push(`Web Push: ${message(sites.reason)}`);
  if (broadcasts.status === 'rejected') errors.push(`WhatsApp: ${message(broadcasts.reason)}`);
  rows.sort((a, b) => Date.parse(b.when) - Date.parse(a.when));
  return { rows, errors, sites: sites.status === 'fulfilled' ? sites.value : 0 };
}

export function CampaignsPage() {
  return (
    <WithWorkspace title="Campaigns" lead="Push notifications of every site and WhatsApp broadcasts in one list, newest first; open one for its results.">
      {(ws) => <Campaigns ws={ws} />}
    </WithWorkspace>
  );
}

function Link({ href, children, class: cls }: { href: string; children: preact.ComponentChildren; class?: string }) {
  return <a href={href} class={cls} onClick={(e) => onLinkClick(e, href)}>{children}</a>;
}

function Campaigns({ ws }: { ws: WorkspaceSummary }) {
  const [status, setStatus] = useState('');
  const poll = usePoll(5000);
  const list = useLoad(() => loadCampaigns(ws.id, status), [ws.id, status, poll]);
  const data = list.data;
  return (
    <>
      <div class="card form form-inline">
        <Link href="/web-push/notifications" class="button button-primary">New push campaign</Link>
        <Link href="/whatsapp/broadcasts" class="button button-primary">New broadcast</Link>
        <label class="field">
          <span>Status</span>
          <select name="campaign-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">All</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </div>
      {list.error && <p class="alert alert-error" role="alert">{list.error}</p>}
      {data?.errors.map((e) => <p key={e} class="alert alert-error" role="alert">{e}</p>)}
      {!data && !list.error && <p class="muted" aria-busy="true">Loading…</p>}
      {data && data.rows.length === 0 && (
        <div class="empty-state" data-testid="campaigns-empty">
          <h2>{status ? `No ${status} campaigns` : 'No campaigns yet'}</h2>
          <p>
            {status
              ? 'Nothing in this status; pick another or All.'
              : data.sites === 0
                ? 'Add a site under Web Push → Sites to send push notifications, or connect a WhatsApp channel to send broadcasts.'
                : 'Send a push notification or create a WhatsApp broadcast; both show up here with their results.'}
          </p>
        </div>
      )}
      {data && data.rows.length > 0 && (
        <div class="card table-scroll">
          <table class="table campaigns-table" data-testid="campaigns-table">
            <thead><tr><th>Kind</th><th>Name</th><th>Status</th><th>When</th><th>Results</th></tr></thead>
            <tbody>
              {data.rows.map((c) => (
                <tr key={`${c.kind}:${c.id}`} data-kind={c.kind}>
                  <td>{c.kind === 'push' ? 'Web Push' : 'WhatsApp'}</td>
                  <td><Link href={c.href}>{c.name}</Link>{c.site && <div class="muted">{c.site}</div>}</td>
                  <td><span class={`chip chip-${c.status}`}>{c.status}</span></td>
                  <td>{c.scheduled ? 'Scheduled for ' : ''}{c.label ?? new Date(c.when).toLocaleString()}</td>
                  <td>{c.counters.map(([k, v]) => `${v} ${k}`).join(' · ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.rows.some((c) => c.kind === 'push') && <p class="muted">Up to the {PUSH_LIMIT} newest notifications of each site; older ones are under Web Push → Notifications.</p>}
        </div>
      )}
    </>
  );
}
