import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

import { Icon } from './icons';
import { GROUP_REDIRECTS, NAV, findGroup, findPage, type NavGroup } from './nav';
import { ComingSoonPage } from './pages/coming-soon';
import { NotFoundPage } from './pages/not-found';
import { OverviewPage } from './pages/overview';
import { applyUpdate, promptInstall, useCanInstall, useOnline, useUpdateAvailable } from './pwa';
import { navigate, onLinkClick, usePath } from './router';

export function App() {
  const path = usePath();
  const [navOpen, setNavOpen] = useState(false);
  const online = useOnline();
  const updateAvailable = useUpdateAvailable();

  const redirect = GROUP_REDIRECTS[path];
  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  const page = findPage(path);
  const group = findGroup(path);
  useEffect(() => {
    const parts = page ? [page.title, group && group.label !== page.title ? group.label : null] : ['Not found'];
    document.title = [...parts.filter(Boolean), 'WebTrigger'].join(' · ');
  }, [page, group]);

  // Close the mobile drawer with Escape.
  useEffect(() => {
    if (!navOpen) return;
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && setNavOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navOpen]);

  let content;
  if (redirect) content = null;
  else if (!page) content = <NotFoundPage path={path} />;
  else if (page.path === '/') content = <OverviewPage />;
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

function Brand() {
  return (
    <a class="brand" href="/" onClick={(e) => onLinkClick(e, '/')}>
      <img src="/icons/icon-192.png" alt="" width="28" height="28" />
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
