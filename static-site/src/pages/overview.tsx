import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { ApiError, CLIENT_ERROR, getHealth, type Health } from '../api';
import { Icon } from '../icons';
import { NAV } from '../nav';
import { useOnline } from '../pwa';
import { onLinkClick } from '../router';
import { SetupChecklist } from './setup-checklist';

type HealthState =
  | { kind: 'loading' }
  | { kind: 'ok'; health: Health; checkedAt: Date }
  | { kind: 'error'; error: ApiError; checkedAt: Date };

/** The queue heartbeat runs every minute; older than this means the worker pipeline is stuck. */
const HEARTBEAT_STALE_SECONDS = 180;
const REFRESH_INTERVAL_MS = 60_000;

export function OverviewPage() {
  const online = useOnline();
  const [state, setState] = useState<HealthState>({ kind: 'loading' });
  const [refreshing, setRefreshing] = useState(false);
  const inflight = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    inflight.current?.abort();
    const controller = new AbortController();
    inflight.current = controller;
    setRefreshing(true);
    try {
      const health = await getHealth(controller.signal);
      setState({ kind: 'ok', health, checkedAt: new Date() });
    } catch (error) {
      if (controller.signal.aborted) return;
      const apiError =
        error instanceof ApiError ? error : new ApiError(0, CLIENT_ERROR.network, error instanceof Error ? error.message : String(error));
      setState({ kind: 'error', error: apiError, checkedAt: new Date() });
    } finally {
      if (inflight.current === controller) {
        inflight.current = null;
        setRefreshing(false);
      }
    }
  }, []);

  // Load now, again whenever the browser comes back online, and every minute while visible.
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, REFRESH_INTERVAL_MS);
    return () => {
      window.clearInterval(timer);
      inflight.current?.abort();
    };
  }, [load, online]);

  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">Overview</h1>
        <p class="page-lead">Platform status and everything this dashboard will manage.</p>
      </header>

      <SetupChecklist />
      <HealthCard state={state} refreshing={refreshing} online={online} onRefresh={() => void load()} />

      <h2 class="section-title">Dashboard areas</h2>
      <ul class="area-grid">
        {NAV.filter((group) => group.pages[0]!.path !== '/').map((group) => {
          const first = group.pages[0]!;
          const description = group.pages.length === 1 ? first.description : group.pages.map((p) => p.title).join(' · ');
          const ready = group.pages.some((p) => p.ready);
          return (
            <li key={group.label}>
              <a class="area-card" href={first.path} onClick={(e) => onLinkClick(e, first.path)}>
                <span class="area-icon">
                  <Icon name={group.icon} />
                </span>
                <span class="area-body">
                  <span class="area-title">
                    {group.label}
                    {!ready && <span class="badge">Coming soon</span>}
                  </span>
                  <span class="area-description">{description}</span>
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function HealthCard({
  state,
  refreshing,
  online,
  onRefresh,
}: {
  state: HealthState;
  refreshing: boolean;
  online: boolean;
  onRefresh: () => void;
}) {
  return (
    <div class="card health-card" data-testid="health-card" aria-busy={state.kind === 'loading'}>
      <div class="card-header">
        <div>
          <h2 class="card-title">Platform status</h2>
          {state.kind !== 'loading' && (
            <p class="card-subtitle">Checked {state.checkedAt.toLocaleTimeString()}</p>
          )}
        </div>
        <div class="card-actions">
          <StatusPill state={state} />
          <button
            type="button"
            class={`icon-button${refreshing ? ' spinning' : ''}`}
            onClick={onRefresh}
            disabled={refreshing}
            aria-label="Refresh status"
            title="Refresh status"
          >
            <Icon name="refresh" size={18} />
          </button>
        </div>
      </div>

      {state.kind === 'loading' && <p class="muted">Checking the API…</p>}

      {state.kind === 'ok' && <HealthDetails health={state.health} />}

      {state.kind === 'error' && (
        <div class="alert alert-error" role="alert" data-testid="health-error">
          {state.error.isNetworkError ? (
            <>
              <Icon name="wifiOff" />
              <div>
                <p class="alert-title">
                  {!online || state.error.code === CLIENT_ERROR.offline
                    ? 'Offline: platform status is unavailable'
                    : 'The WebTrigger API is unreachable'}
                </p>
                <p>
                  {!online || state.error.code === CLIENT_ERROR.offline
                    ? 'Status will refresh automatically when your connection returns.'
                    : `${state.error.message} Check that the server is running, then refresh.`}
                </p>
              </div>
            </>
          ) : (
            <div>
              <p class="alert-title">The API answered with an error</p>
              <p>
                {state.error.message} <code>{state.error.code}</code>
                {state.error.status > 0 && <span class="muted"> (HTTP {state.error.status})</span>}
              </p>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function StatusPill({ state }: { state: HealthState }) {
  if (state.kind === 'loading') return <span class="pill pill-neutral">Checking</span>;
  if (state.kind === 'error') {
    return (
      <span class="pill pill-bad" data-testid="health-status">
        {state.error.isNetworkError ? 'Unreachable' : 'Error'}
      </span>
    );
  }
  const healthy = state.health.status === 'ok';
  return (
    <span class={`pill ${healthy ? 'pill-good' : 'pill-warn'}`} data-testid="health-status">
      {healthy ? 'Operational' : state.health.status}
    </span>
  );
}

function HealthDetails({ health }: { health: Health }) {
  const age = health.heartbeat_age_seconds;
  let heartbeat: { text: string; tone: 'good' | 'warn' | 'neutral' };
  if (age === undefined) heartbeat = { text: 'Not reported', tone: 'neutral' };
  else if (age === null) heartbeat = { text: 'Waiting for the first heartbeat', tone: 'neutral' };
  else if (age <= HEARTBEAT_STALE_SECONDS) heartbeat = { text: `Running · ${formatAge(age)} ago`, tone: 'good' };
  else heartbeat = { text: `Stalled · last seen ${formatAge(age)} ago`, tone: 'warn' };

  return (
    <dl class="stats">
      <div class="stat">
        <dt>Status</dt>
        <dd data-testid="health-status-text">{health.status}</dd>
      </div>
      <div class="stat">
        <dt>Backend</dt>
        <dd>
          <span data-testid="health-backend">{health.backend}</span>
          <span class="stat-note">{health.backend === 'aws' ? 'DynamoDB, SQS, KMS' : 'SQLite, local binary'}</span>
        </dd>
      </div>
      <div class="stat">
        <dt>Version</dt>
        <dd data-testid="health-version">{health.version}</dd>
      </div>
      <div class="stat">
        <dt>Queue pipeline</dt>
        <dd class={`tone-${heartbeat.tone}`}>
          <Icon name="clock" size={16} />
          {heartbeat.text}
        </dd>
      </div>
    </dl>
  );
}

function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
