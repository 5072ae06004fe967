// The push compose screen: every field the API takes (content, up to two action buttons, delivery
// options), a live preview per platform style, scheduling (a time, or a time in each subscriber's zone),
// pacing, A/B variants, a test to the member's own devices, and the list with its status filter and
// the lifecycle actions (send a draft, cancel).

import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import type { WorkspaceSummary } from '../auth';

export interface ComposeSite {
  id: string;
  name: string;
  allowed_origins: string[];
  default_icon: string | null;
}

export interface NotificationView {
  id: string;
  title: string;
  body: string | null;
  created_at: string;
  send_at?: string;
  local_time?: string;
  status: 'draft' | 'scheduled' | 'sending' | 'completed' | 'cancelled';
  variants?: { title: string; percent: number }[];
  stats: Record<string, number>;
}

interface Variant {
  title: string;
  body: string;
  url: string;
  percent: number;
}

type Platform = 'windows' | 'macos' | 'android';
type When = 'now' | 'at' | 'local';

const err = (e: unknown) => (e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));
const opt = (v: string) => (v.trim() ? v.trim() : null);

/** Click-through rate: clicks per shown notification (impressions), or a dash before any was shown. */
export function ctr(clicks: number, impressions: number): string {
  return impressions > 0 ? `${((100 * clicks) / impressions).toFixed(1)} %` : '—';
}

/** Even split of 100 % over `n` variants, the remainder on the first. */
export function evenSplit(n: number): number[] {
  const base = Math.floor(100 / n);
  return Array.from({ length: n }, (_, i) => base + (i === 0 ? 100 - base * n : 0));
}

function host(url: string, fallback: string | undefined): string {
  try {
    return url ? new URL(url, window.location.href).host : (fallback ?? '').replace(/^https?:\/\//, '');
  } catch {
    return fallback ?? '';
  }
}

function Preview({ platform, title, body, icon, image, origin, actions }: { platform: Platform; title: string; body: string; icon: string; image: string; origin: string; actions: string[] }) {
  const shownTitle = title || 'Notification title';
  const shownBody = body || 'The message body appears here.';
  return (
    <div class={`notification-preview preview-${platform}`} data-platform={platform}>
      <img src={icon || '/icons/icon-192.png'} alt="" width="40" height="40" />
      <div>
        {platform === 'android' && <small class="muted">{origin}</small>}
        <strong>{shownTitle}</strong>
        <p>{shownBody}</p>
        {platform !== 'android' && <small class="muted">{platform === 'macos' ? `Chrome · ${origin}` : origin}</small>}
        {image && platform !== 'macos' && <img class="preview-image" src={image} alt="" />}
        {actions.length > 0 && <div class="preview-actions">{actions.map((a) => <span key={a}>{a}</span>)}</div>}
      </div>
    </div>
  );
}

export function Compose({ ws, sites, picker }: { ws: WorkspaceSummary; sites: ComposeSite[]; picker: (value: string, onChange: (id: string) => void) => preact.ComponentChildren }) {
  const [site, setSite] = useState('');
  const [f, setF] = useState({ title: '', body: '', url: '', icon: '', image: '', badge: '', tags: '', ttl: '', urgency: '', topic: '', rate: '' });
  const [requireInteraction, setRequireInteraction] = useState(false);
  const [actions, setActions] = useState<{ title: string; url: string }[]>([]);
  const [when, setWhen] = useState<When>('now');
  const [sendAt, setSendAt] = useState('');
  const [localTime, setLocalTime] = useState('09:00');
  const [variants, setVariants] = useState<Variant[]>([]);
  const [testFirst, setTestFirst] = useState(false);
  const [testPercent, setTestPercent] = useState(20);
  const [waitMinutes, setWaitMinutes] = useState(60);
  const [platform, setPlatform] = useState<Platform>('windows');
  const [status, setStatus] = useState('');
  const [list, setList] = useState<NotificationView[]>([]);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const current = site || sites[0]?.id || '';
  const base = `/v1/workspaces/${ws.id}/sites/${current}/notifications`;
  const load = useCallback(() => {
    if (!current) return;
    apiFetch<{ notifications: NotificationView[] }>(`${base}?limit=20${status ? `&status=${status}` : ''}`).then((p) => setList(p.notifications), (e) => setNote({ ok: false, text: err(e) }));
  }, [base, current, status]);
  useEffect(() => {
    load();
    const timer = window.setInterval(load, 3000);
    return () => window.clearInterval(timer);
  }, [load]);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });

  const request = (draft: boolean) => {
    const tagList = f.tags.split(',').map((t) => t.trim()).filter(Boolean);
    return {
      title: f.title, body: opt(f.body), url: opt(f.url), icon: opt(f.icon), image: opt(f.image), badge: opt(f.badge),
      require_interaction: requireInteraction,
      actions: actions.filter((a) => a.title.trim()).map((a, i) => ({ action: `a${i + 1}`, title: a.title.trim(), url: opt(a.url) })),
      target: tagList.length ? { type: 'tags', tags: tagList } : { type: 'all' },
      ttl_seconds: f.ttl ? Number(f.ttl) : null, urgency: opt(f.urgency), topic: opt(f.topic),
      pushes_per_minute: f.rate ? Number(f.rate) : null,
      draft,
      send_at: when === 'at' && sendAt ? new Date(sendAt).toISOString() : when === 'local' && sendAt ? new Date(sendAt).toISOString() : null,
      local_time: when === 'local' ? localTime : null,
      variants: variants.map((v) => ({ title: v.title, body: opt(v.body), url: opt(v.url), percent: Number(v.percent) })),
      test_first: variants.length && testFirst ? { test_percent: Number(testPercent), wait_minutes: Number(waitMinutes) } : null,
    };
  };
  const submit = async (draft: boolean) => {
    try {
      const created = await apiFetch<NotificationView>(base, { method: 'POST', body: request(draft) });
      setNote({ ok: true, text: created.status === 'scheduled' ? 'Scheduled.' : created.status === 'draft' ? 'Saved as a draft.' : 'Queued for delivery.' });
      load();
    } catch (x) {
      setNote({ ok: false, text: err(x) });
    }
  };
  const testSend = async () => {
    try {
      const r = await apiFetch<{ accepted: number; failed: number }>('/v1/me/devices/test', { method: 'POST', body: { title: f.title || null, body: opt(f.body), url: opt(f.url), icon: opt(f.icon), image: opt(f.image) } });
      setNote({ ok: true, text: `Test sent to your devices: ${r.accepted} reached, ${r.failed} failed.` });
    } catch (x) {
      setNote({ ok: false, text: err(x) });
    }
  };
  const act = async (n: NotificationView, what: 'send' | 'cancel') => {
    try {
      await apiFetch(what === 'send' ? `${base}/${n.id}/send` : `${base}/${n.id}`, { method: what === 'send' ? 'POST' : 'DELETE', body: what === 'send' ? {} : undefined });
      load();
    } catch (x) {
      setNote({ ok: false, text: err(x) });
    }
  };
  const setVariant = (i: number, k: keyof Variant, v: string) => setVariants(variants.map((x, j) => (j === i ? { ...x, [k]: k === 'percent' ? Number(v) : v } : x)));
  const resize = (n: number) => {
    const split = evenSplit(n);
    const next = Array.from({ length: n }, (_, i) => ({ ...(variants[i] ?? { title: '', body: '', url: '' }), percent: split[i] }));
    setVariants(n >= 2 ? next : []);
  };
  const origin = host(f.url, sites.find((s) => s.id === current)?.allowed_origins[0]);
  const shown = variants[0]?.title ? variants[0] : null;
  const mainLabel = when === 'now' ? 'Send' : 'Schedule';

  return (
    <>
      <div class="compose">
        <form class="card form" onSubmit={(e) => { e.preventDefault(); submit(false); }} data-testid="compose-form">
          {picker(current, setSite)}
          <label class="field"><span>Title</span><input name="title" required maxLength={200} value={f.title} onInput={set('title')} /></label>
          <label class="field"><span>Body</span><input name="body" maxLength={1000} value={f.body} onInput={set('body')} /></label>
          <label class="field"><span>Click URL</span><input name="url" value={f.url} onInput={set('url')} placeholder="https://…" /></label>
          <details>
            <summary>Images, buttons and delivery options</summary>
            <label class="field"><span>Icon URL</span><input name="icon" value={f.icon} onInput={set('icon')} placeholder="https://…/icon.png" /></label>
            <label class="field"><span>Image URL</span><input name="image" value={f.image} onInput={set('image')} placeholder="https://…/banner.jpg" /></label>
            <label class="field"><span>Badge URL (Android status bar)</span><input name="badge" value={f.badge} onInput={set('badge')} /></label>
            {actions.map((a, i) => (
              <div class="field-row" key={i}>
                <label class="field"><span>Button {i + 1}</span><input name={`action-${i}-title`} maxLength={60} value={a.title} onInput={(e) => setActions(actions.map((x, j) => (j === i ? { ...x, title: e.currentTarget.value } : x)))} /></label>
                <label class="field"><span>Button {i + 1} URL</span><input name={`action-${i}-url`} value={a.url} onInput={(e) => setActions(actions.map((x, j) => (j === i ? { ...x, url: e.currentTarget.value } : x)))} /></label>
              </div>
            ))}
            {actions.length < 2 && <button type="button" class="button" onClick={() => setActions([...actions, { title: '', url: '' }])}>Add a button</button>}
            <div class="field-row">
              <label class="field"><span>TTL (seconds)</span><input name="ttl" type="number" min={0} max={2419200} value={f.ttl} onInput={set('ttl')} placeholder="site default" /></label>
              <label class="field"><span>Urgency</span>
                <select name="urgency" value={f.urgency} onChange={set('urgency')}>
                  <option value="">site default</option><option value="very-low">very low</option><option value="low">low</option><option value="normal">normal</option><option value="high">high</option>
                </select>
              </label>
              <label class="field"><span>Topic (replaces an undelivered one)</span><input name="topic" maxLength={32} value={f.topic} onInput={set('topic')} /></label>
            </div>
            <label class="check"><input type="checkbox" name="require-interaction" checked={requireInteraction} onChange={(e) => setRequireInteraction(e.currentTarget.checked)} /> Stay on screen until clicked or dismissed</label>
          </details>
          <label class="field"><span>Only subscribers tagged (comma-separated; empty = everyone)</span><input name="tags" value={f.tags} onInput={set('tags')} /></label>
          {/* SLOT: H1's segment picker with its live estimate goes here (target `{type: "segment"}`). */}
          <fieldset class="field">
            <legend>When</legend>
            <label class="check"><input type="radio" name="when" value="now" checked={when === 'now'} onChange={() => setWhen('now')} /> Now</label>
            <label class="check"><input type="radio" name="when" value="at" checked={when === 'at'} onChange={() => setWhen('at')} /> At a time</label>
            <label class="check"><input type="radio" name="when" value="local" checked={when === 'local'} onChange={() => setWhen('local')} /> At a time of day in each subscriber's time zone</label>
            {when !== 'now' && <label class="field"><span>{when === 'local' ? 'Start (optional; within 30 days)' : 'Send at (within 30 days)'}</span><input name="send-at" type="datetime-local" value={sendAt} onInput={(e) => setSendAt(e.currentTarget.value)} required={when === 'at'} /></label>}
            {when === 'local' && <label class="field"><span>Local time</span><input name="local-time" type="time" value={localTime} onInput={(e) => setLocalTime(e.currentTarget.value)} required /></label>}
            <label class="field"><span>Pushes per minute (empty: as fast as possible)</span><input name="rate" type="number" min={1} value={f.rate} onInput={set('rate')} /></label>
          </fieldset>
          <fieldset class="field" data-testid="variants">
            <legend>A/B test</legend>
            <label class="field"><span>Variants</span>
              <select name="variant-count" value={String(variants.length)} onChange={(e) => resize(Number(e.currentTarget.value))}>
                <option value="0">none</option><option value="2">2</option><option value="3">3</option><option value="4">4</option>
              </select>
            </label>
            {variants.map((v, i) => (
              <div class="field-row" key={i}>
                <label class="field"><span>Variant {String.fromCharCode(65 + i)} title</span><input name={`variant-${i}-title`} maxLength={200} value={v.title} onInput={(e) => setVariant(i, 'title', e.currentTarget.value)} /></label>
                <label class="field"><span>Body</span><input name={`variant-${i}-body`} maxLength={1000} value={v.body} onInput={(e) => setVariant(i, 'body', e.currentTarget.value)} /></label>
                <label class="field"><span>URL</span><input name={`variant-${i}-url`} value={v.url} onInput={(e) => setVariant(i, 'url', e.currentTarget.value)} /></label>
                <label class="field"><span>%</span><input name={`variant-${i}-percent`} type="number" min={1} max={99} value={v.percent} onInput={(e) => setVariant(i, 'percent', e.currentTarget.value)} /></label>
              </div>
            ))}
            {variants.length > 0 && (
              <>
                <label class="check"><input type="checkbox" name="test-first" checked={testFirst} onChange={(e) => setTestFirst(e.currentTarget.checked)} /> Test on a share first, then send the winner (best click rate) to the rest</label>
                {testFirst && (
                  <div class="field-row">
                    <label class="field"><span>Test share %</span><input name="test-percent" type="number" min={1} max={99} value={testPercent} onInput={(e) => setTestPercent(Number(e.currentTarget.value))} /></label>
                    <label class="field"><span>Wait (minutes)</span><input name="wait-minutes" type="number" min={5} max={10080} value={waitMinutes} onInput={(e) => setWaitMinutes(Number(e.currentTarget.value))} /></label>
                  </div>
                )}
              </>
            )}
          </fieldset>
          <div class="compose-actions">
            <button class="button button-primary" disabled={!f.title.trim()}>{mainLabel}</button>
            <button type="button" class="button" disabled={!f.title.trim()} onClick={() => submit(true)}>Save draft</button>
            <button type="button" class="button" onClick={testSend}>Test on my devices</button>
          </div>
          {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role="status">{note.text}</p>}
        </form>
        <div class="card preview" aria-label="Preview" data-testid="preview">
          <div class="segmented" role="group" aria-label="Platform">
            {(['windows', 'macos', 'android'] as Platform[]).map((p) => (
              <button type="button" key={p} class={`button${platform === p ? ' button-primary' : ''}`} aria-pressed={platform === p} onClick={() => setPlatform(p)}>{p === 'windows' ? 'Chrome / Windows' : p === 'macos' ? 'macOS' : 'Android'}</button>
            ))}
          </div>
          <Preview platform={platform} title={shown?.title ?? f.title} body={shown?.body || f.body} icon={f.icon} image={f.image} origin={origin} actions={actions.map((a) => a.title).filter(Boolean)} />
          {shown && <p class="muted">Showing variant A.</p>}
        </div>
      </div>
      <div class="card">
        <label class="field"><span>Status</span>
          <select name="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {['draft', 'scheduled', 'sending', 'completed', 'cancelled'].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <table class="table" data-testid="notifications-table">
          <thead><tr><th>Sent</th><th>Title</th><th>Status</th><th>Targeted</th><th>Accepted</th><th>Failed</th><th>Impressions</th><th>Clicks</th><th>CTR</th><th>Unsubscribes</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {list.map((n) => {
              const failed = ['failed_gone', 'failed_too_large', 'failed_transient', 'failed_rejected'].reduce((a, k) => a + (n.stats[k] ?? 0), 0);
              const when = n.status === 'scheduled' && n.send_at ? `${new Date(n.send_at).toLocaleString()}${n.local_time ? ` (${n.local_time} local)` : ''}` : new Date(n.created_at).toLocaleString();
              return (
                <tr key={n.id}>
                  <td>{when}</td><td>{n.title}{n.variants?.length ? ` (A/B ×${n.variants.length})` : ''}</td><td>{n.status}</td>
                  <td>{n.stats.targeted}</td><td>{n.stats.accepted}</td><td>{failed}</td><td>{n.stats.impressions ?? 0}</td><td>{n.stats.clicks ?? 0}</td><td>{ctr(n.stats.clicks ?? 0, n.stats.impressions ?? 0)}</td><td>{n.stats.unsubscribes ?? 0}</td>
                  <td>
                    {n.status === 'draft' && <button type="button" class="button" onClick={() => act(n, 'send')}>Send draft</button>}
                    {['draft', 'scheduled', 'sending'].includes(n.status) && <button type="button" class="button" onClick={() => act(n, 'cancel')}>Cancel</button>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
