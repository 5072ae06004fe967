import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { Icon } from './icons';
import { GROUP_REDIRECTS, NAV, findGroup, findPage, type NavGroup } from './nav';
import { FeedsPage } from './pages/feeds';
import { FlowsPage } from './pages/flows';
import { ComingSoonPage } from './pages/coming-soon';
import { NotFoundPage } from './pages/not-found';
import { OverviewPage } from './pages/overview';
import { AcceptInvitePage, ForgotPasswordPage, LoginPage, ResetPasswordPage, SignupPage } from './pages/auth-pages';
import { ApiKeysPage, AuditLogPage, MembersPage, WorkspaceSettingsPage } from './pages/settings';
import { NotificationsPage, SitesPage, SubscribersPage } from './pages/push';
import { DripsPage } from './pages/drips';
import { RecurringPage } from './pages/recurring';
import { SegmentsPage } from './pages/segments';
import { ImportPage } from './pages/subscriber-import';
import { AnalyticsPage } from './pages/analytics';
import { DevicesPage } from './pages/devices';
import { InboxPage } from './pages/inbox';
import { TriggersPage } from './pages/triggers';
import { EventWebhooksPage } from './pages/event-webhooks';
import { ChannelsPage, CredentialsPage, MessagesPage } from './pages/whatsapp';
import { TemplatesPage } from './pages/templates';
import { ContactsPage } from './pages/contacts';
import { BroadcastsPage } from './pages/broadcasts';
import { CampaignsPage } from './pages/campaigns';
import { signOut, switchWorkspace, useSession } from './auth';
import { applyUpdate, promptInstall, useCanInstall, useOnline, useUpdateAvailable } from './pwa';
import { navigate, onLinkClick, usePath } from './router';
import { applyBranding } from './theme';

export function App() {
  const path = usePath();
  const [navOpen, setNavOpen] = useState(false);
  const online = useOnline();
  const updateAvailable = useUpdateAvailable();
  const session = useSession();
  const branding = session.status === 'signed-in' ? session.workspace?.branding : undefined;
  useEffect(() => applyBranding(branding), [branding?.primary_color]);

  const redirect = GROUP_REDIRECTS[path];
  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  const page = findPage(path);
  const group = findGroup(path);
  const standalone = STANDALONE[path];
  useEffect(() => {
    const parts = standalone ? [standalone.title] : page ? [page.title, group && group.label !== page.title ? group.label : null] : ['Not found'];
    document.title = [...parts.filter(Boolean), 'WebTrigger'].join(' · ');
  }, [page, group, standalone]);

  // Close the mobile drawer with Escape.
  useEffect(() => {
    if (!navOpen) return;
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && setNavOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navOpen]);

  let content;
  const Built = BUILT[path];
  if (redirect) content = null;
  else if (standalone) content = <standalone.Page />;
  else if (!page) content = <NotFoundPage path={path} />;
  else if (Built) content = <Built />;
  else content = <ComingSoonPage page={page} group={group} />;

  return (
    <div class={`shell${navOpen ? ' nav-open' : ''}`}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>

      <header class="topbar">
        <button
          type="button"
          class="icon-button"
          aria-label={navOpen ? 'Close navigation' : 'Open navigation'}
          aria-expanded={navOpen}
          aria-controls="sidebar"
          onClick={() => setNavOpen(!navOpen)}
        >
          <Icon name={navOpen ? 'close' : 'menu'} />
        </button>
        <Brand />
        <InstallButton compact />
      </header>

      <aside id="sidebar" class="sidebar" aria-label="Main">
        <div class="sidebar-brand">
          <Brand />
        </div>
        <AccountPanel />
        <nav class="nav" aria-label="Dashboard">
          {NAV.map((g) => (
            <NavSection key={g.label} group={g} path={path} onNavigate={() => setNavOpen(false)} />
          ))}
        </nav>
        <div class="sidebar-footer">
          <InstallButton />
          <p class="sidebar-version">Dashboard v{__APP_VERSION__}</p>
        </div>
      </aside>
      <div class="scrim" aria-hidden="true" onClick={() => setNavOpen(false)} />

      <main id="main" class="content" tabIndex={-1}>
        {!online && (
          <div class="banner banner-offline" role="status" data-testid="offline-banner">
            <Icon name="wifiOff" />
            <p>
              <strong>You're offline.</strong> The dashboard is running from its offline copy; live data loads again
              when you reconnect.
            </p>
          </div>
        )}
        {updateAvailable && (
          <div class="banner banner-update" role="status">
            <Icon name="refresh" />
            <p>A new version of WebTrigger is available.</p>
            <button type="button" class="button button-small" onClick={applyUpdate}>
              Reload
            </button>
          </div>
        )}
        {content}
      </main>
    </div>
  );
}

/** Pages outside the navigation. */
const STANDALONE: Record<string, { title: string; Page: () => preact.JSX.Element }> = {
  '/login': { title: 'Log in', Page: LoginPage },
  '/signup': { title: 'Sign up', Page: SignupPage },
  '/accept-invite': { title: 'Join a workspace', Page: AcceptInvitePage },
  '/forgot-password': { title: 'Forgot password', Page: ForgotPasswordPage },
  '/reset-password': { title: 'Reset password', Page: ResetPasswordPage },
};

/** Navigation pages that are built (the rest show their "coming later" state). */
const BUILT: Record<string, () => preact.JSX.Element> = {
  '/': OverviewPage,
  '/settings/workspace': WorkspaceSettingsPage,
  '/web-push/sites': SitesPage,
  '/web-push/subscribers': SubscribersPage,
  '/web-push/notifications': NotificationsPage,
  '/web-push/drips': DripsPage,
  '/web-push/recurring': RecurringPage,
  '/web-push/segments': SegmentsPage,
  '/web-push/import': ImportPage,
  '/web-push/feeds': FeedsPage,
  '/settings/members': MembersPage,
  '/settings/api-keys': ApiKeysPage,
  '/settings/audit-log': AuditLogPage,
  '/settings/devices': DevicesPage,
  '/whatsapp/credentials': CredentialsPage,
  '/whatsapp/channels': ChannelsPage,
  '/whatsapp/messages': MessagesPage,
  '/whatsapp/templates': TemplatesPage,
  '/whatsapp/contacts': ContactsPage,
  '/whatsapp/broadcasts': BroadcastsPage,
  '/campaigns': CampaignsPage,
  '/inbox': InboxPage,
  '/triggers': TriggersPage,
  '/web-push/analytics': AnalyticsPage,
  '/flows': FlowsPage,
  '/settings/event-webhooks': EventWebhooksPage,
};

/** The signed-in user, the workspace switcher, and sign in/out. */
function AccountPanel() {
  const session = useSession();
  if (session.status === 'loading') return <div class="account" aria-busy="true" />;
  if (session.status === 'signed-out') {
    return (
      <div class="account">
        <a class="button button-small" href="/login" onClick={(e) => onLinkClick(e, '/login')}>Log in</a>
        <a class="button button-small button-primary" href="/signup" onClick={(e) => onLinkClick(e, '/signup')}>Sign up</a>
      </div>
    );
  }
  return (
    <div class="account" data-testid="account">
      <label class="field workspace-switcher">
        <span>Workspace</span>
        <select
          aria-label="Workspace"
          value={session.workspace?.id ?? ''}
          onChange={(e) => void switchWorkspace(e.currentTarget.value)}
          data-testid="workspace-switcher"
        >
          {session.workspace === null && <option value="">No workspace yet</option>}
          {session.me.workspaces.map((w) => (
            <option key={w.id} value={w.id}>{w.name}</option>
          ))}
        </select>
      </label>
      <p class="account-email" title={session.me.email}>{session.me.email}</p>
      <button type="button" class="button button-small" onClick={() => void signOut().then(() => navigate('/login'))}>Log out</button>
    </div>
  );
}

/** The product mark, or the current workspace's logo when it has one. */
function Brand() {
  const session = useSession();
  const ws = session.status === 'signed-in' ? session.workspace : null;
  const logo = ws?.branding?.logo;
  return (
    <a class="brand" href="/" onClick={(e) => onLinkClick(e, '/')}>
      {logo ? (
        <img class="brand-logo" src={logo} alt={`${ws.name} logo`} width="28" height="28" data-testid="brand-logo" />
      ) : (
        <img src="/icons/icon-192.png" alt="" width="28" height="28" />
      )}
      <span>WebTrigger</span>
    </a>
  );
}

function NavSection({ group, path, onNavigate }: { group: NavGroup; path: string; onNavigate: () => void }) {
  if (group.pages.length === 1) {
    const page = group.pages[0]!;
    return (
      <ul class="nav-list">
        <li>
          <NavLink path={page.path} current={path === page.path} onNavigate={onNavigate}>
            <Icon name={group.icon} />
            <span>{group.label}</span>
          </NavLink>
        </li>
      </ul>
    );
  }
  const active = group.pages.some((p) => p.path === path);
  return (
    <div class={`nav-group${active ? ' active' : ''}`}>
      <p class="nav-group-label">
        <Icon name={group.icon} />
        <span>{group.label}</span>
      </p>
      <ul class="nav-list nav-sublist">
        {group.pages.map((page) => (
          <li key={page.path}>
            <NavLink path={page.path} current={path === page.path} onNavigate={onNavigate}>
              <span>{page.title}</span>
            </NavLink>
          </li>
        ))}
      </ul>
    </div>
  );
}

function NavLink({
  path,
  current,
  onNavigate,
  children,
}: {
  path: string;
  current: boolean;
  onNavigate: () => void;
  children: ComponentChildren;
}) {
  return (
    <a
      class={`nav-link${current ? ' current' : ''}`}
      href={path}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => onLinkClick(e, path, onNavigate)}
    >
      {children}
    </a>
  );
}

function InstallButton({ compact = false }: { compact?: boolean }) {
  const canInstall = useCanInstall();
  if (!canInstall) return null;
  return (
    <button
      type="button"
      class={`button install-button${compact ? ' button-small' : ''}`}
      data-testid={compact ? 'install-button-compact' : 'install-button'}
      onClick={() => void promptInstall()}
    >
      <Icon name="download" size={16} />
      <span>Install app</span>
    </button>
  );
}
