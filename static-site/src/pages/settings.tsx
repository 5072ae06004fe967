// Settings: workspace (rename, create), members and invites, API keys, audit log.

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import { canManage, createWorkspace, reloadMe, useSession, type Role, type WorkspaceSummary } from '../auth';
import { onLinkClick } from '../router';
import { BrandingCard } from './branding';

const ROLES: Role[] = ['owner', 'admin', 'editor', 'agent', 'viewer'];
const SCOPES = ['read', 'notifications:send', 'messages:send', 'triggers:manage'] as const;

export function message(error: unknown): string {
  return error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
}

function PageHeader({ title, lead }: { title: string; lead: string }) {
  return (
    <header class="page-header">
      <h1 id="page-title">{title}</h1>
      <p class="page-lead">{lead}</p>
    </header>
  );
}

/** Renders `children` with the current workspace, or the sign-in / create-workspace prompt. */
export function WithWorkspace({ title, lead, children }: { title: string; lead: string; children: (ws: WorkspaceSummary) => ComponentChildren }) {
  const session = useSession();
  let body: ComponentChildren;
  if (session.status === 'loading') body = <p class="muted">Loading…</p>;
  else if (session.status === 'signed-out') {
    const next = `?next=${encodeURIComponent(window.location.pathname)}`;
    body = (
      <div class="card" data-testid="sign-in-prompt">
        <p>
          <a href={`/login${next}`} onClick={(e) => onLinkClick(e, `/login${next}`)}>Log in</a> or{' '}
          <a href={`/signup${next}`} onClick={(e) => onLinkClick(e, `/signup${next}`)}>create an account</a> to manage this.
        </p>
      </div>
    );
  } else if (!session.workspace) body = <CreateWorkspaceCard lead="Create your first workspace to get started." />;
  else body = children(session.workspace);
  return (
    <section class="page" aria-labelledby="page-title">
      <PageHeader title={title} lead={lead} />
      {body}
    </section>
  );
}

export function CreateWorkspaceCard({ lead }: { lead: string }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await createWorkspace(name);
      setName('');
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form form-inline" onSubmit={submit} data-testid="create-workspace">
      <p>{lead}</p>
      <label class="field">
        <span>Workspace name</span>
        <input name="workspace-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <button class="button button-primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create workspace'}
      </button>
      {error && <p class="alert alert-error" role="alert">{error}</p>}
    </form>
  );
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then((d) => live && (setData(d), setError(null)), (e) => live && setError(message(e)));
    return () => void (live = false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** A one-line outcome shown under a form or a card. */
export type Notice = { ok: boolean; text: string } | null;

export function Note({ note }: { note: Notice }) {
  if (!note) return null;
  return <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role={note.ok ? 'status' : 'alert'}>{note.text}</p>;
}

/** `act(work)` runs an action whose answer is the line to show, or shows its error; `after` runs on success
 * (typically a reload). */
export function useAction(after?: () => void): { note: Notice; setNote: (n: Notice) => void; act: (work: () => Promise<string>) => Promise<void> } {
  const [note, setNote] = useState<Notice>(null);
  const act = async (work: () => Promise<string>) => {
    setNote(null);
    try {
      setNote({ ok: true, text: await work() });
      after?.();
    } catch (e) {
      setNote({ ok: false, text: message(e) });
    }
  };
  return { note, setNote, act };
}

/** Re-runs `tick` every `ms` while the page is visible. */
export function usePoll(ms: number): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    const id = window.setInterval(() => document.visibilityState === 'visible' && setN((x) => x + 1), ms);
    return () => window.clearInterval(id);
  }, [ms]);
  return n;
}

export function WorkspaceSettingsPage() {
  return (
    <WithWorkspace title="Workspace" lead="Workspace name, time zone, branding and the workspaces you belong to.">
      {(ws) => <WorkspaceSettings ws={ws} />}
    </WithWorkspace>
  );
}

/** The browser's list of IANA zones, for the time zone field's suggestions. */
const ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
})();

function WorkspaceSettings({ ws }: { ws: WorkspaceSummary }) {
  const [name, setName] = useState(ws.name);
  const [zone, setZone] = useState(ws.time_zone ?? '');
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => (setName(ws.name), setZone(ws.time_zone ?? '')), [ws.id, ws.name, ws.time_zone]);
  const rename = async (e: Event) => {
    e.preventDefault();
    try {
      await apiFetch(`/v1/workspaces/${ws.id}`, { method: 'PATCH', body: { name, time_zone: zone.trim() } });
      await reloadMe(ws.id);
      setNote({ ok: true, text: 'Saved.' });
    } catch (err) {
      setNote({ ok: false, text: message(err) });
    }
  };
  return (
    <>
      <form class="card form form-inline" onSubmit={rename}>
        <label class="field">
          <span>Name</span>
          <input name="name" value={name} disabled={!canManage(ws.role)} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Time zone (bot business hours; empty: UTC)</span>
          <input name="time_zone" list="time-zones" placeholder="Europe/Berlin" value={zone} disabled={!canManage(ws.role)} onInput={(e) => setZone(e.currentTarget.value)} />
          <datalist id="time-zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>
        </label>
        <button class="button" disabled={!canManage(ws.role)}>Save</button>
        {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role="status">{note.text}</p>}
        <p class="muted">
          Your role: <strong>{ws.role}</strong> · id <code>{ws.id}</code>
        </p>
      </form>
      <BrandingCard ws={ws} />
      <CreateWorkspaceCard lead="Create another workspace (a separate tenant with its own members and data)." />
    </>
  );
}

interface Member {
  user_id: string;
  email: string;
  role: Role;
  joined_at: string;
}

interface Invite {
  id: string;
  email: string;
  role: Role;
  expires_at: number;
  accept_path?: string;
  emailed?: boolean;
}

export function MembersPage() {
  return (
    <WithWorkspace title="Members" lead="Invite teammates and manage their roles.">
      {(ws) => <Members ws={ws} />}
    </WithWorkspace>
  );
}

function Members({ ws }: { ws: WorkspaceSummary }) {
  const manage = canManage(ws.role);
  const members = useLoad(() => apiFetch<Member[]>(`/v1/workspaces/${ws.id}/members`), [ws.id]);
  const invites = useLoad(() => (manage ? apiFetch<Invite[]>(`/v1/workspaces/${ws.id}/invites`) : Promise.resolve([])), [ws.id, manage]);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [link, setLink] = useState<{ url: string; emailed: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      members.reload();
      invites.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  const invite = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const created = await apiFetch<Invite>(`/v1/workspaces/${ws.id}/invites`, { method: 'POST', body: { email, role } });
      setLink({ url: window.location.origin + created.accept_path, emailed: created.emailed === true });
      setEmail('');
    });
  };

  return (
    <>
      {error && <p class="alert alert-error" role="alert" data-testid="members-error">{error}</p>}
      <div class="card">
        <h2 class="card-title">Members</h2>
        <table class="table" data-testid="members-table">
          <thead>
            <tr><th>Email</th><th>Role</th><th>Joined</th><th /></tr>
          </thead>
          <tbody>
            {(members.data ?? []).map((m) => (
              <tr key={m.user_id}>
                <td>{m.email}</td>
                <td>
                  {manage ? (
                    <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => void act(() => apiFetch(`/v1/workspaces/${ws.id}/members/${m.user_id}`, { method: 'PATCH', body: { role: e.currentTarget.value } }))}>
                      {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  ) : (
                    m.role
                  )}
                </td>
                <td>{new Date(m.joined_at).toLocaleDateString()}</td>
                <td>
                  {manage && (
                    <button type="button" class="button button-small" onClick={() => confirm(`Remove ${m.email}?`) && void act(() => apiFetch(`/v1/workspaces/${ws.id}/members/${m.user_id}`, { method: 'DELETE' }))}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {members.error && <p class="alert alert-error">{members.error}</p>}
      </div>

      {manage && (
        <form class="card form form-inline" onSubmit={invite} data-testid="invite-form">
          <h2 class="card-title">Invite someone</h2>
          <label class="field">
            <span>Email</span>
            <input type="email" name="invite-email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Role</span>
            <select name="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.filter((r) => r !== 'owner' || ws.role === 'owner').map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </label>
          <button class="button button-primary">Create invite link</button>
          {link && (
            <div class="secret-box" data-testid="invite-link">
              <p data-testid="invite-delivery">
                {link.emailed
                  ? 'The invite was emailed. You can also share this link yourself.'
                  : 'This server does not send email, so share this link with them yourself.'}{' '}
                It works once, for that email address, for 7 days.
              </p>
              <code>{link.url}</code>
              <button type="button" class="button button-small" onClick={() => void navigator.clipboard?.writeText(link.url)}>Copy</button>
            </div>
          )}
        </form>
      )}

      {manage && (invites.data ?? []).length > 0 && (
        <div class="card">
          <h2 class="card-title">Pending invites</h2>
          <table class="table" data-testid="invites-table">
            <thead><tr><th>Email</th><th>Role</th><th>Expires</th><th /></tr></thead>
            <tbody>
              {(invites.data ?? []).map((i) => (
                <tr key={i.id}>
                  <td>{i.email}</td>
                  <td>{i.role}</td>
                  <td>{new Date(i.expires_at * 1000).toLocaleDateString()}</td>
                  <td>
                    <button type="button" class="button button-small" onClick={() => void act(() => apiFetch(`/v1/workspaces/${ws.id}/invites/${i.id}`, { method: 'DELETE' }))}>Revoke</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
  secret?: string;
}

export function ApiKeysPage() {
  return (
    <WithWorkspace title="API keys" lead="Keys for calling the WebTrigger API from your own systems.">
      {(ws) => (canManage(ws.role) ? <ApiKeys ws={ws} /> : <p class="card muted">Only owners and admins manage API keys.</p>)}
    </WithWorkspace>
  );
}

function ApiKeys({ ws }: { ws: WorkspaceSummary }) {
  const keys = useLoad(() => apiFetch<ApiKey[]>(`/v1/workspaces/${ws.id}/api-keys`), [ws.id]);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const created = await apiFetch<ApiKey>(`/v1/workspaces/${ws.id}/api-keys`, { method: 'POST', body: { name, scopes } });
      setSecret(created.secret ?? null);
      setName('');
      keys.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke “${key.name}”? Calls using it fail from now on.`)) return;
    try {
      await apiFetch(`/v1/workspaces/${ws.id}/api-keys/${key.id}`, { method: 'DELETE' });
      keys.reload();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <>
      <form class="card form form-inline" onSubmit={create} data-testid="api-key-form">
        <label class="field">
          <span>Name</span>
          <input name="key-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <fieldset class="field">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s} class="check">
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
              {s}
            </label>
          ))}
        </fieldset>
        <button class="button button-primary">Create key</button>
        {error && <p class="alert alert-error" role="alert">{error}</p>}
      </form>
      {secret && (
        <div class="card secret-box" data-testid="api-key-secret">
          <p><strong>Copy this key now.</strong> It is shown once and cannot be recovered.</p>
          <code>{secret}</code>
          <button type="button" class="button button-small" onClick={() => void navigator.clipboard?.writeText(secret)}>Copy</button>
        </div>
      )}
      <div class="card">
        <table class="table" data-testid="api-keys-table">
          <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Status</th><th /></tr></thead>
          <tbody>
            {(keys.data ?? []).map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td><code>{k.prefix}…</code></td>
                <td>{k.scopes.join(', ')}</td>
                <td>{new Date(k.created_at).toLocaleDateString()}</td>
                <td>{k.revoked_at ? 'revoked' : 'active'}</td>
                <td>{!k.revoked_at && <button type="button" class="button button-small" onClick={() => void revoke(k)}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {keys.error && <p class="alert alert-error">{keys.error}</p>}
      </div>
    </>
  );
}

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  ip: string;
}

export function AuditLogPage() {
  return (
    <WithWorkspace title="Audit log" lead="Who changed what in this workspace, and when.">
      {(ws) => (canManage(ws.role) ? <AuditLog ws={ws} /> : <p class="card muted">Only owners and admins can read the audit log.</p>)}
    </WithWorkspace>
  );
}

function AuditLog({ ws }: { ws: WorkspaceSummary }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    async (from: string | null) => {
      try {
        const q = from ? `?limit=50&cursor=${encodeURIComponent(from)}` : '?limit=50';
        const page = await apiFetch<{ entries: AuditEntry[]; next_cursor: string | null }>(`/v1/workspaces/${ws.id}/audit${q}`);
        setEntries((prev) => (from ? [...prev, ...page.entries] : page.entries));
        setCursor(page.next_cursor);
        setDone(!page.next_cursor);
      } catch (err) {
        setError(message(err));
      }
    },
    [ws.id],
  );
  useEffect(() => void load(null), [load]);
  // Ids become the member's email or the API key's name; an id nobody here owns any more stays as is.
  const members = useLoad(() => apiFetch<Member[]>(`/v1/workspaces/${ws.id}/members`), [ws.id]);
  const keys = useLoad(() => apiFetch<ApiKey[]>(`/v1/workspaces/${ws.id}/api-keys`), [ws.id]);
  const who = (id: string) => members.data?.find((m) => m.user_id === id)?.email ?? ((k) => (k ? `API key “${k.name}”` : id))(keys.data?.find((k) => k.id === id));
  return (
    <div class="card">
      <table class="table" data-testid="audit-table">
        <thead><tr><th>When</th><th>Action</th><th>Target</th><th>Actor</th><th>From</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td><code>{e.action}</code></td>
              <td>{who(e.target)}</td>
              <td>{who(e.actor)}</td>
              <td>{e.ip}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <p class="alert alert-error">{error}</p>}
      {!done && <button type="button" class="button" onClick={() => void load(cursor)}>Load more</button>}
    </div>
  );
}
