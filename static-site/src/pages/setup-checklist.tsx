// First run: the Overview's setup checklist for the current workspace. Each step is read from the API
// (sites and their subscribers, channels and their last webhook, triggers and their invocations), so
// it ticks itself once done; the card goes away when every step is.

import { apiFetch } from '../api';
import { useSession, type WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { useLoad } from './settings';

interface Step {
  label: string;
  done: boolean;
  path: string;
}

async function steps(ws: string): Promise<Step[]> {
  const base = `/v1/workspaces/${ws}`;
  const [sites, channels, triggers] = await Promise.all([
    apiFetch<{ id: string }[]>(`${base}/sites`),
    apiFetch<{ last_webhook: { status: string } | null }[]>(`${base}/channels`),
    apiFetch<{ id: string }[]>(`${base}/triggers`),
  ]);
  // A few lists at most: a workspace that has many sites or triggers has long passed its first run.
  const subscribed = await Promise.all(sites.slice(0, 5).map((s) => apiFetch<{ total: number }>(`${base}/sites/${s.id}/subscribers?limit=1`).then((p) => p.total > 0)));
  const called = await Promise.all(triggers.slice(0, 5).map((t) => apiFetch<{ invocations: unknown[] }>(`${base}/triggers/${t.id}/invocations?limit=1`).then((p) => p.invocations.length > 0)));
  return [
    { label: 'Create a site for Web Push', done: sites.length > 0, path: '/web-push/sites' },
    { label: 'Install the snippet on it (a first subscriber arrives)', done: subscribed.some(Boolean), path: '/web-push/sites' },
    { label: 'Connect a WhatsApp channel', done: channels.length > 0, path: '/whatsapp/channels' },
    { label: 'Point the provider’s webhook at it (a first webhook is accepted)', done: channels.some((c) => c.last_webhook?.status === 'accepted'), path: '/whatsapp/channels' },
    { label: 'Create a trigger', done: triggers.length > 0, path: '/triggers' },
    { label: 'Call it (a first invocation is logged)', done: called.some(Boolean), path: '/triggers' },
  ];
}

export function SetupChecklist() {
  const session = useSession();
  if (session.status !== 'signed-in' || !session.workspace) return null;
  return <Checklist ws={session.workspace} />;
}

function Checklist({ ws }: { ws: WorkspaceSummary }) {
  const list = useLoad(() => steps(ws.id), [ws.id]);
  if (!list.data || list.data.every((s) => s.done)) return null;
  const left = list.data.filter((s) => !s.done).length;
  return (
    <div class="card" data-testid="setup-checklist">
      <h2 class="card-title">Set up {ws.name}: {left} of {list.data.length} steps left</h2>
      <ul class="checklist">
        {list.data.map((s) => (
          <li key={s.label} data-done={s.done ? 'true' : 'false'}>
            <span aria-hidden="true">{s.done ? '✔' : '○'}</span>{' '}
            {s.done ? <span>{s.label}</span> : <a href={s.path} onClick={(e) => onLinkClick(e, s.path)}>{s.label}</a>}
            <span class="visually-hidden">{s.done ? ' (done)' : ' (to do)'}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
