// Web Push analytics: a site's delivery and click-through over time, subscriber growth, top
// notifications and new subscribers by browser and OS; a notification's funnel (targeted → accepted →
// shown → clicked → converted) per A/B variant and by delivery hour. Both export CSV.

import { useEffect, useMemo, useState } from 'preact/hooks';

import { apiFetch, apiFetchText } from '../api';
import type { WorkspaceSummary } from '../auth';
import { navigate, onLinkClick } from '../router';
import { TimeChart, type Series } from './chart';
import { WithWorkspace, message, useLoad } from './settings';

interface Counts {
  sent: number;
  accepted: number;
  failed_gone: number;
  failed_too_large: number;
  failed_transient: number;
  failed_rejected: number;
  capped: number;
  impressions: number;
  clicks: number;
  dismissals: number;
  conversions: number;
  value: number;
  unsubscribes: number;
  ctr: number;
}

interface SiteReport {
  granularity: 'hour' | 'day';
  subscribers: number;
  buckets: (Counts & { start: string })[];
  totals: Counts;
  growth: { date: string; new: number; unsubscribed: number; expired: number }[];
  by_browser: Record<string, number>;
  by_os: Record<string, number>;
  top_notifications: { id: string; title: string; created_at: string; status: string; accepted: number; clicks: number; conversions: number; ctr: number }[];
}

interface Funnel {
  targeted: number;
  accepted: number;
  shown: number;
  clicked: number;
  converted: number;
  dismissed: number;
  value: number;
  ctr: number;
  conversion_rate: number;
}

interface NotificationReport {
  notification_id: string;
  title: string;
  status: string;
  created_at: string;
  funnel: Funnel;
  variants: (Funnel & { variant: number; title: string; percent: number })[];
  hours: (Counts & { hour: string; utc_offset: string | null })[];
}

const RANGES = [
  { id: '24h', label: 'Last 24 hours', granularity: 'hour', hours: 24 },
  { id: '7d', label: 'Last 7 days', granularity: 'day', hours: 7 * 24 },
  { id: '30d', label: 'Last 30 days', granularity: 'day', hours: 30 * 24 },
  { id: '90d', label: 'Last 90 days', granularity: 'day', hours: 90 * 24 },
  { id: '12m', label: 'Last 12 months', granularity: 'day', hours: 365 * 24 },
] as const;

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const money = (v: number) => v.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** The page's query string, re-read on in-app navigation and back/forward. */
function useSearch(): URLSearchParams {
  const [search, setSearch] = useState(window.location.search);
  useEffect(() => {
    const update = () => setSearch(window.location.search);
    window.addEventListener('popstate', update);
    window.addEventListener('webtrigger:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('webtrigger:navigate', update);
    };
  }, []);
  return useMemo(() => new URLSearchParams(search), [search]);
}

async function download(path: string, name: string): Promise<void> {
  const text = await apiFetchText(path);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function AnalyticsPage() {
  return (
    <WithWorkspace title="Analytics" lead="Delivery, click-through, conversions and subscriber growth per site; open a notification for its funnel.">
      {(ws) => <Analytics ws={ws} />}
    </WithWorkspace>
  );
}

function Analytics({ ws }: { ws: WorkspaceSummary }) {
  const search = useSearch();
  const sites = useLoad(() => apiFetch<{ id: string; name: string }[]>(`/v1/workspaces/${ws.id}/sites`), [ws.id]);
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('30d');
  if (sites.error) return <p class="alert alert-error" role="alert">{sites.error}</p>;
  if (!sites.data) return <p class="muted">Loading…</p>;
  if (!sites.data.length) {
    return (
      <div class="empty-state" data-testid="analytics-empty">
        <h2>No sites yet</h2>
        <p>Add a site under Web Push → Sites; its sends, clicks and subscribers are charted here.</p>
      </div>
    );
  }
  const notification = search.get('notification');
  const site = search.get('site') || sites.data[0]!.id;
  if (notification) return <NotificationDetail ws={ws} site={site} id={notification} />;
  return (
    <>
      <div class="card form form-inline">
        <label class="field">
          <span>Site</span>
          <select name="analytics-site" value={site} onChange={(e) => navigate(`/web-push/analytics?site=${e.currentTarget.value}`, { replace: true })}>
            {sites.data.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </label>
        <label class="field">
          <span>Range</span>
          <select name="analytics-range" value={range} onChange={(e) => setRange(e.currentTarget.value as typeof range)}>
            {RANGES.map((r) => <option key={r.id} value={r.id}>{r.label}</option>)}
          </select>
        </label>
      </div>
      <SiteAnalytics ws={ws} site={site} range={RANGES.find((r) => r.id === range)!} />
    </>
  );
}

function SiteAnalytics({ ws, site, range }: { ws: WorkspaceSummary; site: string; range: (typeof RANGES)[number] }) {
  const query = useMemo(() => {
    const to = new Date();
    const from = new Date(to.getTime() - range.hours * 3_600_000);
    return `granularity=${range.granularity}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  }, [range]);
  const base = `/v1/workspaces/${ws.id}/sites/${site}/analytics`;
  const report = useLoad(() => apiFetch<SiteReport>(`${base}?${query}`), [base, query]);
  const [note, setNote] = useState<string | null>(null);
  const r = report.data;
  const delivery = useMemo<{ times: number[]; series: Series[] } | null>(() => {
    if (!r) return null;
    return {
      times: r.buckets.map((b) => Date.parse(b.start) / 1000),
      series: [
        { label: 'Accepted', values: r.buckets.map((b) => b.accepted), color: '--accent' },
        { label: 'Clicks', values: r.buckets.map((b) => b.clicks), color: '--good' },
        { label: 'CTR', values: r.buckets.map((b) => b.ctr), color: '--warn', rate: true },
      ],
    };
  }, [r]);
  const growth = useMemo<{ times: number[]; series: Series[] } | null>(() => {
    if (!r) return null;
    return {
      times: r.growth.map((g) => Date.parse(`${g.date}T00:00:00Z`) / 1000),
      series: [
        { label: 'New', values: r.growth.map((g) => g.new), color: '--good' },
        { label: 'Unsubscribed', values: r.growth.map((g) => g.unsubscribed), color: '--bad' },
        { label: 'Expired', values: r.growth.map((g) => g.expired), color: '--text-muted' },
      ],
    };
  }, [r]);
  if (report.error) return <p class="alert alert-error" role="alert">{report.error}</p>;
  if (!r || !delivery || !growth) return <p class="muted" aria-busy="true">Loading…</p>;
  const t = r.totals;
  const quiet = t.sent === 0 && t.clicks === 0 && r.growth.every((g) => g.new === 0 && g.unsubscribed === 0 && g.expired === 0);
  const csv = () => download(`${base}.csv?${query}`, `analytics-${site}.csv`).then(() => setNote(null), (e) => setNote(message(e)));
  return (
    <div data-testid="site-analytics">
      <dl class="stats analytics-stats">
        <Stat label="Subscribers" value={r.subscribers} />
        <Stat label="Sent" value={t.sent} />
        <Stat label="Accepted" value={t.accepted} />
        <Stat label="Clicks" value={t.clicks} note={`CTR ${pct(t.ctr)}`} />
        <Stat label="Dismissed" value={t.dismissals} />
        <Stat label="Conversions" value={t.conversions} note={t.value ? `value ${money(t.value)}` : undefined} />
      </dl>
      <div class="card-actions analytics-actions">
        <button type="button" class="button button-small" onClick={csv}>Export CSV</button>
        {note && <span class="alert alert-error" role="alert">{note}</span>}
      </div>
      {quiet ? (
        <div class="empty-state" data-testid="analytics-quiet">
          <h2>Nothing in this range yet</h2>
          <p>Send a notification or wait for visitors to subscribe: deliveries, clicks and growth appear here within a minute.</p>
        </div>
      ) : (
        <div class="analytics-grid">
          <section class="card">
            <h2 class="card-title">Delivery and click-through</h2>
            <TimeChart times={delivery.times} series={delivery.series} label="Accepted pushes, clicks and click-through rate over time" testId="delivery-chart" />
          </section>
          <section class="card">
            <h2 class="card-title">Subscriber growth</h2>
            <TimeChart times={growth.times} series={growth.series} label="New, unsubscribed and expired subscribers per day" testId="growth-chart" />
          </section>
        </div>
      )}
      <div class="analytics-grid">
        <section class="card">
          <h2 class="card-title">Top notifications</h2>
          {r.top_notifications.length === 0 ? (
            <p class="muted">No notifications sent in this range.</p>
          ) : (
            <div class="table-scroll">
              <table class="table" data-testid="top-notifications">
                <thead><tr><th>Notification</th><th>Accepted</th><th>Clicks</th><th>CTR</th><th>Conversions</th></tr></thead>
                <tbody>
                  {r.top_notifications.map((n) => {
                    const href = `/web-push/analytics?site=${site}&notification=${n.id}`;
                    return (
                      <tr key={n.id}>
                        <td><a href={href} onClick={(e) => onLinkClick(e, href)}>{n.title}</a></td>
                        <td>{n.accepted}</td><td>{n.clicks}</td><td>{pct(n.ctr)}</td><td>{n.conversions}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section class="card">
          <h2 class="card-title">New subscribers by browser and OS</h2>
          <Breakdown title="Browser" counts={r.by_browser} testId="by-browser" />
          <Breakdown title="Operating system" counts={r.by_os} testId="by-os" />
        </section>
      </div>
    </div>
  );
}

function Stat({ label, value, note }: { label: string; value: number; note?: string | undefined }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd data-testid={`stat-${label.toLowerCase()}`}>{value.toLocaleString()}{note && <span class="stat-note">{note}</span>}</dd>
    </div>
  );
}

/** Horizontal bars, largest first. */
function Breakdown({ title, counts, testId }: { title: string; counts: Record<string, number>; testId: string }) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rows.map(([, n]) => n));
  return (
    <div class="breakdown" data-testid={testId}>
      <h3 class="card-subtitle">{title}</h3>
      {rows.length === 0 ? <p class="muted">No new subscribers in this range.</p> : rows.map(([name, n]) => (
        <div class="bar-row" key={name}>
          <span class="bar-label">{name}</span>
          <span class="bar-track"><span class="bar-fill" style={{ width: `${(n / max) * 100}%` }} /></span>
          <span class="bar-value">{n}</span>
        </div>
      ))}
    </div>
  );
}

const STEPS: [keyof Funnel, string][] = [['targeted', 'Targeted'], ['accepted', 'Accepted'], ['shown', 'Shown'], ['clicked', 'Clicked'], ['converted', 'Converted']];

function FunnelBars({ funnel, testId }: { funnel: Funnel; testId: string }) {
  const top = Math.max(1, funnel.targeted, funnel.accepted);
  return (
    <ol class="funnel" data-testid={testId}>
      {STEPS.map(([key, label]) => (
        <li class="bar-row" key={key} data-step={key}>
          <span class="bar-label">{label}</span>
          <span class="bar-track"><span class="bar-fill" style={{ width: `${(funnel[key] / top) * 100}%` }} /></span>
          <span class="bar-value" data-testid={`funnel-${key}`}>{funnel[key]}</span>
        </li>
      ))}
    </ol>
  );
}

function NotificationDetail({ ws, site, id }: { ws: WorkspaceSummary; site: string; id: string }) {
  const base = `/v1/workspaces/${ws.id}/sites/${site}/notifications/${id}/analytics`;
  const report = useLoad(() => apiFetch<NotificationReport>(base), [base]);
  const [note, setNote] = useState<string | null>(null);
  const back = `/web-push/analytics?site=${site}`;
  const backLink = <a href={back} onClick={(e) => onLinkClick(e, back)}>← All of the site's analytics</a>;
  if (report.error) return <><p>{backLink}</p><p class="alert alert-error" role="alert">{report.error}</p></>;
  const r = report.data;
  if (!r) return <p class="muted" aria-busy="true">Loading…</p>;
  const f = r.funnel;
  const zones = r.hours.some((h) => h.utc_offset);
  const csv = () => download(`${base}.csv`, `analytics-${id}.csv`).then(() => setNote(null), (e) => setNote(message(e)));
  return (
    <div data-testid="notification-analytics">
      <p>{backLink}</p>
      <section class="card">
        <div class="card-header">
          <div>
            <h2 class="card-title">{r.title}</h2>
            <p class="card-subtitle">{r.status} · {new Date(r.created_at).toLocaleString()}</p>
          </div>
          <button type="button" class="button button-small" onClick={csv}>Export CSV</button>
        </div>
        {note && <p class="alert alert-error" role="alert">{note}</p>}
        <FunnelBars funnel={f} testId="funnel" />
        <p class="muted">CTR {pct(f.ctr)} · conversion rate {pct(f.conversion_rate)} · dismissed {f.dismissed}{f.value ? ` · value ${money(f.value)}` : ''}</p>
      </section>
      {r.variants.length > 0 && (
        <section class="card">
          <h2 class="card-title">A/B variants</h2>
          <div class="table-scroll">
            <table class="table" data-testid="variants">
              <thead><tr><th>Variant</th><th>Share</th><th>Targeted</th><th>Accepted</th><th>Shown</th><th>Clicked</th><th>Converted</th><th>CTR</th></tr></thead>
              <tbody>
                {r.variants.map((v) => (
                  <tr key={v.variant}>
                    <td>{String.fromCharCode(65 + v.variant)}: {v.title}</td><td>{v.percent}%</td><td>{v.targeted}</td><td>{v.accepted}</td><td>{v.shown}</td><td>{v.clicked}</td><td>{v.converted}</td><td>{pct(v.ctr)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <section class="card">
        <h2 class="card-title">{zones ? 'By time zone (delivery hour)' : 'By hour'}</h2>
        {r.hours.length === 0 ? <p class="muted">Nothing delivered yet.</p> : (
          <div class="table-scroll">
            <table class="table" data-testid="hours">
              <thead><tr><th>Hour (UTC)</th>{zones && <th>Time zone</th>}<th>Accepted</th><th>Failed</th><th>Shown</th><th>Clicks</th><th>Dismissed</th><th>Conversions</th></tr></thead>
              <tbody>
                {r.hours.map((h) => (
                  <tr key={h.hour}>
                    <td>{new Date(h.hour).toLocaleString()}</td>{zones && <td>{h.utc_offset}</td>}<td>{h.accepted}</td>
                    <td>{h.failed_gone + h.failed_too_large + h.failed_transient + h.failed_rejected}</td><td>{h.impressions}</td><td>{h.clicks}</td><td>{h.dismissals}</td><td>{h.conversions}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
