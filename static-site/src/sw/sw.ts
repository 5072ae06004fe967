/// <reference lib="webworker" />
// WebTrigger service worker, served unhashed at /sw.js with scope "/".
//
// Built by the `webtrigger-sw` plugin in vite.config.ts: it compiles this file and defines
// __PRECACHE_URLS__ (app shell + every file Vite emitted under /assets/) and __CACHE_VERSION__ (a hash of
// all of them), so every build that changes any shell file produces a byte-different sw.js and the browser
// installs the new worker.
//
// Routing (same-origin GET only; everything else goes straight to the network untouched):
//   /v1/*              network only, never cached (API responses are private and live)
//   navigations        network first, cached /index.html when the network fails or stalls (SPA shell offline)
//   /assets/*          cache first (hashed, immutable), filled on miss
//   other precached    cache first (manifest, icons); anything else is not intercepted

export {};
declare const self: ServiceWorkerGlobalScope;
declare const __PRECACHE_URLS__: string[];
declare const __CACHE_VERSION__: string;

const CACHE_PREFIX = 'webtrigger-shell-';
const CACHE_NAME = `${CACHE_PREFIX}${__CACHE_VERSION__}`;
const SHELL_URL = '/index.html';
/** How long a navigation waits for the network before serving the cached shell instead. */
const NAVIGATION_TIMEOUT_MS = 5000;
const DEFAULT_ICON = '/icons/icon-192.png';
const PRECACHED = new Set(__PRECACHE_URLS__);

// ---------------------------------------------------------------------------------------------------------
// Lifecycle

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      // `cache: 'reload'` bypasses the HTTP cache so a new version never precaches stale copies.
      await cache.addAll(__PRECACHE_URLS__.map((url) => new Request(url, { cache: 'reload' })));
    })(),
  );
  // No automatic skipWaiting: a page running the old version may still lazy-load old hashed chunks.
  // The app shows "new version available" and sends SKIP_WAITING when the user chooses to reload.
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  const data: unknown = event.data;
  if (typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'SKIP_WAITING') {
    void self.skipWaiting();
  }
});

// ---------------------------------------------------------------------------------------------------------
// Fetch routing

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  // API: network only. Not calling respondWith leaves the request to the browser, uncached by us.
  if (url.pathname === '/v1' || url.pathname.startsWith('/v1/')) return;

  if (request.mode === 'navigate') {
    event.respondWith(networkFirstNavigation(event));
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    event.respondWith(cacheFirst(request, true));
    return;
  }
  if (PRECACHED.has(url.pathname) && url.search === '') {
    event.respondWith(cacheFirst(request, false));
  }
});

async function networkFirstNavigation(event: FetchEvent): Promise<Response> {
  const network = fetch(event.request);
  // Keep the worker alive until the network settles even if the cached shell answered first.
  event.waitUntil(network.then(noop, noop));

  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<'stalled'>((resolve) => {
    timer = setTimeout(() => resolve('stalled'), NAVIGATION_TIMEOUT_MS);
  });
  try {
    const first = await Promise.race([network, stalled]);
    if (first !== 'stalled') return first;
    const cached = await cachedShell();
    return cached ?? (await network);
  } catch (error) {
    const cached = await cachedShell();
    if (cached) return cached;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function cachedShell(): Promise<Response | undefined> {
  const cache = await caches.open(CACHE_NAME);
  return (await cache.match(SHELL_URL)) ?? (await cache.match('/'));
}

async function cacheFirst(request: Request, fillOnMiss: boolean): Promise<Response> {
  const cache = await caches.open(CACHE_NAME);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  // Only store real files: the server answers unknown paths with index.html (200, text/html).
  if (fillOnMiss && response.ok && response.type === 'basic' && !isHtml(response)) {
    await cache.put(request, response.clone());
  }
  return response;
}

function isHtml(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').includes('text/html');
}

// ---------------------------------------------------------------------------------------------------------
// Web Push

/** The JSON payload the platform sends: `{title, body, icon, url, tag}`; every field optional. */
interface PushPayload {
  title: string;
  body?: string;
  icon?: string;
  url: string;
  tag?: string;
}

self.addEventListener('push', (event) => {
  const payload = parsePushPayload(event.data);
  const options: NotificationOptions = {
    icon: payload.icon ?? DEFAULT_ICON,
    badge: DEFAULT_ICON,
    data: { url: payload.url },
  };
  if (payload.body !== undefined) options.body = payload.body;
  if (payload.tag !== undefined) options.tag = payload.tag;
  event.waitUntil(self.registration.showNotification(payload.title, options));
});

function parsePushPayload(data: PushMessageData | null): PushPayload {
  const fallback: PushPayload = { title: 'WebTrigger', url: '/' };
  if (!data) return fallback;
  let raw: unknown;
  try {
    raw = data.json();
  } catch {
    const text = data.text().trim();
    return text ? { ...fallback, body: text } : fallback;
  }
  if (typeof raw !== 'object' || raw === null) return fallback;
  const obj = raw as Record<string, unknown>;
  const payload: PushPayload = {
    title: nonEmptyString(obj.title) ?? fallback.title,
    url: safeUrl(obj.url) ?? '/',
  };
  const body = nonEmptyString(obj.body);
  if (body !== undefined) payload.body = body;
  const icon = safeUrl(obj.icon);
  if (icon !== undefined) payload.icon = icon;
  const tag = nonEmptyString(obj.tag);
  if (tag !== undefined) payload.tag = tag;
  return payload;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** Absolute http(s) URL resolved against our origin; anything else (javascript:, data:, junk) is dropped. */
function safeUrl(value: unknown): string | undefined {
  const text = nonEmptyString(value);
  if (text === undefined) return undefined;
  try {
    const url = new URL(text, self.location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data: unknown = event.notification.data;
  const target =
    safeUrl(typeof data === 'object' && data !== null ? (data as { url?: unknown }).url : undefined) ??
    new URL('/', self.location.origin).href;
  const work = focusOrOpen(target).catch(noop);
  try {
    event.waitUntil(work);
  } catch {
    // A script-constructed NotificationEvent (tests) throws InvalidStateError here; the work still runs.
  }
});

async function focusOrOpen(target: string): Promise<void> {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const exact = windows.find((client) => client.url === target);
  if (exact) {
    await exact.focus();
    return;
  }
  const sameOrigin = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (sameOrigin && new URL(target).origin === self.location.origin) {
    const focused = await sameOrigin.focus();
    await focused.navigate(target).catch(() => self.clients.openWindow(target));
    return;
  }
  await self.clients.openWindow(target);
}

function noop(): void {}
