// Browser test of the dashboard's own opt-in: a member enables notifications on this browser, the device is
// listed, "Send a test notification" reaches a push-service fake with a body only this browser's keys can
// decrypt, and that payload delivered to the dashboard's service worker shows the notification.
//
//   BASE_URL=… EXPECT_API=1 PUSH_FAKE_HOST=127.0.0.1:<port> npm run test:e2e
// The server must run with `--allow-push-host $PUSH_FAKE_HOST`; this test listens on that port itself.

import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, recordShownNotifications } from './support.mjs';

const FAKE = process.env.PUSH_FAKE_HOST ?? '';
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE ? 'needs the API and PUSH_FAKE_HOST (see the header)' : false;
let context;
let dir;
let fake;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (fake) await new Promise((resolve) => fake.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** RFC 8291 aes128gcm decryption with the browser's private key: the independent check of the server's encryption. */
function decrypt(body, ecdh, auth) {
  const salt = body.subarray(0, 16);
  const idLen = body[20];
  const serverKey = body.subarray(21, 21 + idLen);
  const shared = ecdh.computeSecret(serverKey);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const record = body.subarray(21 + idLen);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  return JSON.parse(plain.subarray(0, plain.lastIndexOf(2)).toString('utf8'));
}

test('a member opts this browser in and receives the test notification', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const received = [];
  fake = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => fake.listen(Number(FAKE.split(':')[1]), '127.0.0.1', resolve));

  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const stub = { endpoint: `http://${FAKE}/push/member-device`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };

  dir = mkdtempSync(join(tmpdir(), 'webtrigger-devices-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  await context.grantPermissions(['notifications'], { origin: BASE_URL });
  // Option A of browser-e2e.md: offline Chromium never completes a real subscribe(), so it returns real keys we hold.
  await context.addInitScript((s) => {
    const toBuffer = (b64) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    const subscription = { endpoint: s.endpoint, expirationTime: null, getKey: (name) => toBuffer(name === 'auth' ? s.auth : s.p256dh), toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }), unsubscribe: async () => true };
    let subscribed = false;
    PushManager.prototype.subscribe = async function () { subscribed = true; return subscription; };
    PushManager.prototype.getSubscription = async function () { return subscribed ? subscription : null; };
    PushManager.prototype.permissionState = async function () { return 'granted'; };
  }, stub);
  const page = context.pages()[0] ?? (await context.newPage());

  await page.goto(`${BASE_URL}/signup?next=/settings/devices`);
  await page.locator('input[name=email]').fill(`devices+${Date.now()}@example.com`);
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Notifications on your devices' }).waitFor();
  await page.getByText('No devices yet.').waitFor();

  await page.getByRole('button', { name: 'Enable notifications on this device' }).click();
  await page.getByRole('status').getByText(/Notifications are on for .*Linux/).waitFor();
  await page.getByTestId('devices-table').getByText(/on Linux/).waitFor();
  t.diagnostic('✔ enabled: the device is listed');

  await page.getByRole('button', { name: 'Send a test notification' }).click();
  await page.getByRole('status').getByText('Test sent: 1 device(s) reached, 0 failed.').waitFor();
  const push = received.find((r) => r.path === '/push/member-device');
  assert.ok(push, 'the push service fake got the test notification');
  assert.equal(push.headers['content-encoding'], 'aes128gcm');
  assert.match(push.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]{87}$/);
  const payload = decrypt(push.body, ecdh, auth);
  assert.equal(payload.title, 'WebTrigger');
  t.diagnostic('✔ the test push decrypts with this browser’s keys');

  // The decrypted payload, delivered to the dashboard's worker, is shown as a notification.
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: r }) => registrations.push(...r));
  await cdp.send('ServiceWorker.enable');
  await page.waitForFunction(() => navigator.serviceWorker.ready.then(() => true));
  for (let i = 0; i < 50 && !registrations.some((r) => r.scopeURL === `${BASE_URL}/`); i++) await page.waitForTimeout(100);
  const registration = registrations.find((r) => r.scopeURL === `${BASE_URL}/`);
  assert.ok(registration, 'the dashboard worker is registered at the root scope');
  // Headless Chromium's notification centre sometimes drops a shown notification at once (getNotifications()
  // is empty although showNotification resolved), so the test records what the worker asked to show.
  let worker = null;
  for (let i = 0; i < 100 && !worker; i++) {
    worker = context.serviceWorkers().find((w) => w.url() === `${BASE_URL}/sw.js`) ?? null;
    if (!worker) await page.waitForTimeout(100);
  }
  assert.ok(worker, 'the dashboard worker runs');
  await recordShownNotifications(worker);
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: BASE_URL, registrationId: registration.registrationId, data: JSON.stringify(payload) });
  let shown = null;
  for (let i = 0; i < 100 && !shown; i++) {
    shown = await worker.evaluate(() => { const n = self.shownForTest[0]; return n ? { title: n.title, body: n.options?.body } : null; });
    if (!shown) await page.waitForTimeout(100);
  }
  assert.deepEqual(shown, { title: 'WebTrigger', body: 'Notifications are on for this device.' });
  t.diagnostic('✔ delivered to the service worker, the notification is shown');

  await page.getByRole('button', { name: 'Remove' }).click();
  await page.getByText('No devices yet.').waitFor();
  t.diagnostic('✔ the device can be removed');
});
