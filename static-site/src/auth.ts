// The signed-in session. The access token lives in memory (api.ts); the refresh token in an HttpOnly
// cookie the script never sees. Refreshes share one in-flight promise: the server ends a session when a
// refresh token is presented twice, so two tabs' worth of concurrent refreshes must never happen here.
//
// A copy of the profile (`Me`: email, workspace names and roles; never a token) is kept in localStorage so a
// reload while offline stays signed in, and so a signed-out load does not probe the refresh endpoint at all
// (its 401 would be a console error). A network failure keeps the session; only a 401 ends it.

import { useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch, setAccessToken, setRefreshHandler } from './api';
import type { Branding } from './theme';

export type Role = 'owner' | 'admin' | 'editor' | 'agent' | 'viewer';

export interface WorkspaceSummary {
  id: string;
  name: string;
  role: Role | null;
  created_at: string;
  /** IANA zone that bot flows read business hours in; absent means UTC. */
  time_zone?: string | null;
  /** Accent colour and logo the dashboard themes itself with; `{}` for the default theme. */
  branding?: Branding;
}

export interface Me {
  id: string;
  email: string;
  created_at: string;
  default_workspace: string | null;
  workspaces: WorkspaceSummary[];
}

interface TokenResponse {
  user_id: string;
  access_token: string;
  expires_in: number;
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out' }
  | { status: 'signed-in'; me: Me; workspace: WorkspaceSummary | null };

let state: SessionState = { status: 'loading' };
const listeners = new Set<(s: SessionState) => void>();
let refreshTimer: number | undefined;

const STORED_SESSION = 'webtrigger.session';

function publish(next: SessionState): void {
  state = next;
  try {
    if (next.status === 'signed-in') localStorage.setItem(STORED_SESSION, JSON.stringify({ me: next.me, workspace: next.workspace?.id ?? null }));
    else if (next.status === 'signed-out') localStorage.removeItem(STORED_SESSION);
  } catch {
    /* storage disabled (private mode): the session still works, just not offline */
  }
  listeners.forEach((l) => l(state));
}

/** The profile saved by the last signed-in page, if any. */
function storedSession(): { me: Me; workspace: string | null } | null {
  try {
    const raw = localStorage.getItem(STORED_SESSION);
    const parsed = raw ? (JSON.parse(raw) as { me?: Me; workspace?: string | null }) : null;
    return parsed?.me && Array.isArray(parsed.me.workspaces) ? { me: parsed.me, workspace: parsed.workspace ?? null } : null;
  } catch {
    return null;
  }
}

export function useSession(): SessionState {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => void listeners.delete(setS);
  }, []);
  return s;
}

function accept(tokens: TokenResponse): void {
  setAccessToken(tokens.access_token);
  window.clearTimeout(refreshTimer);
  // Renew a minute before expiry so requests never wait on a refresh.
  refreshTimer = window.setTimeout(() => void refresh(), Math.max(10, tokens.expires_in - 60) * 1000);
}

type RefreshOutcome = 'ok' | 'signed-out' | 'unreachable';
let refreshing: Promise<RefreshOutcome> | null = null;

/** Exchanges the refresh cookie for a new access token. Concurrent callers share one request. */
function refreshOutcome(): Promise<RefreshOutcome> {
  refreshing ??= (async (): Promise<RefreshOutcome> => {
    try {
      accept(await apiFetch<TokenResponse>('/v1/auth/refresh', { method: 'POST' }));
      return 'ok';
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setAccessToken(null);
        publish({ status: 'signed-out' });
        return 'signed-out';
      }
      return 'unreachable';
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** True when a fresh access token was obtained. */
export async function refresh(): Promise<boolean> {
  return (await refreshOutcome()) === 'ok';
}

setRefreshHandler(refresh);

function pickWorkspace(me: Me, preferred?: string | null): WorkspaceSummary | null {
  const wanted = preferred ?? (state.status === 'signed-in' ? state.workspace?.id : null) ?? me.default_workspace;
  return me.workspaces.find((w) => w.id === wanted) ?? me.workspaces[0] ?? null;
}

/** Reloads the user and their workspaces, keeping (or choosing) the current workspace. */
export async function reloadMe(preferred?: string | null): Promise<void> {
  const me = await apiFetch<Me>('/v1/me');
  publish({ status: 'signed-in', me, workspace: pickWorkspace(me, preferred) });
}

/** On start: restore the session from the refresh cookie, if this browser was signed in. */
export async function restoreSession(): Promise<void> {
  const stored = storedSession();
  // Never signed in here (or signed out): nothing to refresh, and probing would only earn a 401.
  if (!stored) return publish({ status: 'signed-out' });
  const offline = () => {
    // Unreachable server, not a rejected session: stay signed in from the saved profile and retry on reconnect.
    publish({ status: 'signed-in', me: stored.me, workspace: pickWorkspace(stored.me, stored.workspace) });
    window.addEventListener('online', () => void restoreSession(), { once: true });
  };
  const outcome = await refreshOutcome();
  if (outcome === 'signed-out') return;
  if (outcome === 'unreachable') return offline();
  try {
    await reloadMe();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) publish({ status: 'signed-out' });
    else offline();
  }
}

export async function signIn(email: string, password: string): Promise<void> {
  accept(await apiFetch<TokenResponse>('/v1/auth/login', { method: 'POST', body: { email, password } }));
  await reloadMe();
}

export async function signUp(email: string, password: string): Promise<void> {
  accept(await apiFetch<TokenResponse>('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  await reloadMe();
}

export async function signOut(): Promise<void> {
  window.clearTimeout(refreshTimer);
  try {
    await apiFetch('/v1/auth/logout', { method: 'POST' });
  } finally {
    setAccessToken(null);
    publish({ status: 'signed-out' });
  }
}

export async function switchWorkspace(id: string): Promise<void> {
  await apiFetch('/v1/me/default-workspace', { method: 'PUT', body: { workspace_id: id } });
  await reloadMe(id);
}

export async function createWorkspace(name: string): Promise<WorkspaceSummary> {
  const ws = await apiFetch<WorkspaceSummary>('/v1/workspaces', { method: 'POST', body: { name } });
  await apiFetch('/v1/me/default-workspace', { method: 'PUT', body: { workspace_id: ws.id } });
  await reloadMe(ws.id);
  return ws;
}

/** Roles that may manage members, invites and API keys (mirrors the server's permission table). */
export function canManage(role: Role | null | undefined): boolean {
  return role === 'owner' || role === 'admin';
}
