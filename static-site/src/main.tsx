import { render } from 'preact';

import { App } from './app';
import { restoreSession } from './auth';
import { watchServiceWorker } from './pwa';
import './styles.css';

const root = document.getElementById('app');
if (!root) throw new Error('#app element missing from index.html');
render(<App />, root);
void restoreSession();

// The worker (dist/sw.js) is built by `vite build` only; the dev server has none, so register in production.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  const register = () =>
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .then(watchServiceWorker)
      .catch((error: unknown) => console.warn('Service worker registration failed; no offline support.', error));
  if (document.readyState === 'complete') void register();
  else window.addEventListener('load', () => void register(), { once: true });
}
