// A tiny History-API router. The server answers every non-/v1, non-file path with index.html, and the
// service worker does the same offline, so deep links like /web-push/sites load the app directly.

import { useEffect, useState } from 'preact/hooks';

const NAVIGATE_EVENT = 'webtrigger:navigate';

function currentPath(): string {
  const path = window.location.pathname.replace(/\/+$/, '');
  return path === '' ? '/' : path;
}

/** Current pathname (trailing slash stripped), re-rendering on back/forward and in-app navigation. */
export function usePath(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return path;
}

export function navigate(path: string, { replace = false } = {}): void {
  if (path === currentPath() && !replace) return;
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
  window.scrollTo(0, 0);
}

/** Click handler for in-app links: plain left clicks navigate in place, modified clicks keep browser behaviour. */
export function onLinkClick(event: MouseEvent, path: string, after?: () => void): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  event.preventDefault();
  navigate(path);
  after?.();
}
