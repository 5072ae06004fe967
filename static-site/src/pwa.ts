// PWA plumbing: service worker registration and updates, the install prompt, and online/offline state.
// Each piece is a tiny observable store with a Preact hook, so the shell re-renders when it changes.

import { useEffect, useState } from 'preact/hooks';

class Store<T> {
  private listeners = new Set<(value: T) => void>();
  constructor(private value: T) {}
  get(): T {
    return this.value;
  }
  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(() => store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Online / offline

const online = new Store<boolean>(typeof navigator === 'undefined' ? true : navigator.onLine);
window.addEventListener('online', () => online.set(true));
window.addEventListener('offline', () => online.set(false));

export function useOnline(): boolean {
  return useStore(online);
}

// ---------------------------------------------------------------------------------------------------------
// Install prompt (Chromium's `beforeinstallprompt`; not in the DOM typings)

interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  readonly userChoice: Promise<{ outcome: 'accepted' | 'dismissed'; platform: string }>;
}

const installPrompt = new Store<BeforeInstallPromptEvent | null>(null);

window.addEventListener('beforeinstallprompt', (event) => {
  event.preventDefault(); // keep the mini-infobar away; we show our own button
  installPrompt.set(event as BeforeInstallPromptEvent);
});
window.addEventListener('appinstalled', () => installPrompt.set(null));

/** True while the browser offers installation (i.e. `beforeinstallprompt` fired and was not used yet). */
export function useCanInstall(): boolean {
  return useStore(installPrompt) !== null;
}

export async function promptInstall(): Promise<void> {
  const event = installPrompt.get();
  if (!event) return;
  installPrompt.set(null); // a prompt event can be used once
  await event.prompt();
  await event.userChoice;
}

// ---------------------------------------------------------------------------------------------------------
// Service worker

/** A new worker has installed and waits for the page's go-ahead (see `applyUpdate`). */
const waitingWorker = new Store<ServiceWorker | null>(null);

export function useUpdateAvailable(): boolean {
  return useStore(waitingWorker) !== null;
}

/** Activates the waiting worker, then reloads once it controls the page. */
export function applyUpdate(): void {
  const worker = waitingWorker.get();
  if (!worker) return;
  navigator.serviceWorker.addEventListener('controllerchange', () => window.location.reload(), { once: true });
  worker.postMessage({ type: 'SKIP_WAITING' });
}

/** Follows a registration's lifecycle so the shell can offer "new version available". */
export function watchServiceWorker(registration: ServiceWorkerRegistration): void {
  const track = (worker: ServiceWorker | null) => {
    if (!worker) return;
    const check = () => {
      // "installed" with an existing controller = an update waiting; without one it is the first install.
      if (worker.state === 'installed' && navigator.serviceWorker.controller) waitingWorker.set(worker);
    };
    check();
    worker.addEventListener('statechange', check);
  };
  track(registration.waiting);
  registration.addEventListener('updatefound', () => track(registration.installing));
  // Long-lived dashboards: look for a new version when the tab comes back to the foreground.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') registration.update().catch(() => undefined);
  });
}
