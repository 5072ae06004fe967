// Notifications on this device: a member opts this browser in to the platform's own notifications
// (new inbox messages assigned to them, trigger failures), sees their other devices, and sends a test.

import { useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { useSession } from '../auth';
import { message, useLoad } from './settings';

interface Device {
  id: string;
  label: string;
  subscription: { endpoint: string };
  created_at: string;
}

/** offline Chromium never settles `subscribe()`; a stuck prompt must not freeze the page. */
const SUBSCRIBE_TIMEOUT_MS = 30_000;

function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(value.length / 4) * 4, '=');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function deviceLabel(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Asks for permission, subscribes this browser with the dashboard's key and registers it. */
async function optIn(): Promise<Device> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) throw new Error('This browser does not support push notifications.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked for this site in the browser settings.');
  const { vapid_public_key } = await apiFetch<{ vapid_public_key: string }>('/v1/me/push-key');
  const registration = await navigator.serviceWorker.ready;
  const existing = await registration.pushManager.getSubscription();
  const subscribing = existing ?? registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(vapid_public_key) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('The browser did not finish subscribing; try again.')), SUBSCRIBE_TIMEOUT_MS);
  });
  try {
    const subscription = await Promise.race([subscribing, timeout]);
    return await apiFetch<Device>('/v1/me/devices', { method: 'POST', body: { subscription: subscription.toJSON(), label: deviceLabel() } });
  } finally {
    clearTimeout(timer);
  }
}

export function DevicesPage() {
  const session = useSession();
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">Notifications on your devices</h1>
        <p class="page-lead">Get a notification when a conversation is assigned to you or a trigger fails.</p>
      </header>
      {session.status === 'signed-in' ? <Devices /> : <p class="card muted">Log in to manage your devices.</p>}
    </section>
  );
}

function Devices() {
  const devices = useLoad(() => apiFetch<Device[]>('/v1/me/devices'), []);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async (work: () => Promise<string>) => {
    setBusy(true);
    setNote(null);
    try {
      setNote({ ok: true, text: await work() });
      devices.reload();
    } catch (e) {
      setNote({ ok: false, text: message(e) });
    } finally {
      setBusy(false);
    }
  };
  const enable = () => run(async () => `Notifications are on for ${(await optIn()).label}.`);
  const test = () =>
    run(async () => {
      const r = await apiFetch<{ accepted: number; failed: number }>('/v1/me/devices/test', { method: 'POST', body: {} });
      return `Test sent: ${r.accepted} device(s) reached, ${r.failed} failed.`;
    });
  const remove = (d: Device) => run(async () => (await apiFetch(`/v1/me/devices/${d.id}`, { method: 'DELETE' }), `${d.label} removed.`));
  const list = devices.data ?? [];
  return (
    <>
      <div class="card form form-inline">
        <button type="button" class="button button-primary" disabled={busy} onClick={enable}>
          Enable notifications on this device
        </button>
        <button type="button" class="button" disabled={busy || list.length === 0} onClick={test}>
          Send a test notification
        </button>
        {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role={note.ok ? 'status' : 'alert'}>{note.text}</p>}
      </div>
      {devices.error && <p class="alert alert-error" role="alert">{devices.error}</p>}
      <div class="card">
        {list.length === 0 ? (
          <p class="muted">No devices yet.</p>
        ) : (
          <table class="table" data-testid="devices-table">
            <thead><tr><th>Device</th><th>Added</th><th /></tr></thead>
            <tbody>
              {list.map((d) => (
                <tr key={d.id}>
                  <td>{d.label}</td>
                  <td>{new Date(d.created_at).toLocaleString()}</td>
                  <td><button type="button" class="button button-small" disabled={busy} onClick={() => remove(d)}>Remove</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}
