// Browser test of the site SDK on a customer's site: a second origin (a node server on loopback) pastes the
// snippets the dashboard shows, keeps its own root service worker, and a visitor opts in through the soft
// prompt. A notification sent through the API reaches the push-service fake encrypted for the visitor's
// keys; delivered to the SDK's worker it is shown and reports an impression; a click reports a click; the
// visitor lands with the notification's utm tags and an unsubscribe is attributed to it.
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

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, api, recordShownNotifications } from './support.mjs';

const FAKE = process.env.PUSH_FAKE_HOST ?? '';
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE ? 'needs the API and PUSH_FAKE_HOST (see the header)' : false;
const servers = [];
let context;
let dir;

after(async () => {
  if (context) await context.close().catch(() => {});
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** RFC 8291 aes128gcm decryption with the browser's private key. */
function decrypt(body, ecdh, auth) {
  const salt = body.subarray(0, 16);
  const idLen = body[20];
  const serverKey = body.subarray(21, 21 + idLen);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(serverKey), auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const record = body.subarray(21 + idLen);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  return plain.subarray(0, plain.lastIndexOf(2)).toString('utf8');
}

function listen(server, port = 0) {
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server.address().port)));
}

async function until(what, probe, tries = 150) {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('the site SDK on a customer site: soft prompt, subscribe, show, track, unsubscribe', { timeout: 180_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));

  // The customer's site, on its own origin; its pages and worker file are filled in from the dashboard.
  const shop = { page: '', worker: '' };
  const sitePort = await listen(createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/webtrigger-sw.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(shop.worker);
    if (path === '/site-sw.js') {
      // The site's own PWA worker at the root scope, which the SDK must leave alone.
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(
        "self.addEventListener('install', () => self.skipWaiting());\nself.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));\nself.addEventListener('fetch', () => {});\n");
    }
    if (path === '/favicon.ico') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><html lang="en"><head><title>Shoe shop</title></head><body><h1>Shoe shop</h1>\n${shop.page}\n<script>navigator.serviceWorker.register('/site-sw.js');</script></body></html>`);
  }));
  const SITE = `http://127.0.0.1:${sitePort}`;

  const pushes = [];
  await listen(createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      pushes.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  }), Number(FAKE.split(':')[1]));

  const email = `sdk+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Shoes' } })).id;
  const site = await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Shoe shop', allowed_origins: [SITE], contact: 'mailto:ops@example.com' } });

  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const stub = { endpoint: `http://${FAKE}/push/sdk-visitor`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };

  dir = mkdtempSync(join(tmpdir(), 'webtrigger-sdk-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  // Offline Chromium never completes a real subscribe(): it returns keys this test holds (browser-e2e.md, option A).
  await context.addInitScript((s) => {
    const toBuffer = (b64) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer;
    let key = null;
    const subscription = {
      endpoint: s.endpoint, expirationTime: null, get options() { return { userVisibleOnly: true, applicationServerKey: key }; },
      getKey: (name) => toBuffer(name === 'auth' ? s.auth : s.p256dh),
      toJSON: () => ({ endpoint: s.endpoint, expirationTime: null, keys: { p256dh: s.p256dh, auth: s.auth } }),
      unsubscribe: async () => { localStorage.removeItem('stub:subscribed'); return true; },
    };
    PushManager.prototype.subscribe = async function (options) { key = options.applicationServerKey.buffer ?? options.applicationServerKey; localStorage.setItem('stub:subscribed', '1'); return subscription; };
    PushManager.prototype.getSubscription = async function () { return localStorage.getItem('stub:subscribed') ? subscription : null; };
  }, stub);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${BASE_URL}/login?next=/web-push/sites`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  shop.page = await page.getByTestId('install-snippet').first().innerText();
  shop.worker = await page.getByTestId('worker-snippet').first().innerText();
  assert.match(shop.page, new RegExp(`<script src="${BASE_URL}/sdk/webtrigger-sdk.js" data-site="${site.id}"`));
  assert.match(shop.worker, new RegExp(`importScripts\\('${BASE_URL}/sdk/webtrigger-sw.js'\\)`));
  t.diagnostic('✔ the dashboard shows the page tag and the worker file for this site');

  await page.goto(`${SITE}/`);
  await page.waitForFunction(() => window.WebTrigger && window.WebTrigger.supported());
  await page.waitForTimeout(300);
  assert.equal(await page.locator('[data-webtrigger-prompt]').count(), 0, 'no prompt on the first page view');
  await page.goto(`${SITE}/shoes`);
  const prompt = page.getByRole('dialog', { name: 'Notifications' });
  await prompt.getByText('Get notified about news and offers?').waitFor();
  await prompt.getByRole('button', { name: 'Not now' }).click();
  await prompt.waitFor({ state: 'detached' });
  await page.goto(`${SITE}/boots`);
  await page.waitForTimeout(300);
  assert.equal(await page.locator('[data-webtrigger-prompt]').count(), 0, '"Not now" snoozes the prompt');
  t.diagnostic('✔ soft prompt from the second page view; "Not now" snoozes it');

  await page.evaluate(() => window.WebTrigger.showPrompt());
  await context.grantPermissions(['notifications'], { origin: SITE });
  const subscribed = page.evaluate(() => new Promise((resolve) => window.addEventListener('webtrigger:subscribed', (e) => resolve(e.detail), { once: true })));
  await prompt.getByRole('button', { name: 'Allow' }).click();
  assert.equal((await subscribed).created, true);
  assert.equal(await page.evaluate(() => window.WebTrigger.state()), 'subscribed');
  await page.evaluate(() => window.WebTrigger.setExternalId('user-42'));
  assert.deepEqual(await page.evaluate(() => window.WebTrigger.setTags(['VIP', 'boots'])), ['boots', 'vip']);
  const { subscribers } = await api(`/v1/workspaces/${ws}/sites/${site.id}/subscribers`, { token });
  assert.equal(subscribers.length, 1);
  const s = subscribers[0];
  assert.deepEqual([s.browser, s.os, s.external_id, s.tags, s.page_url], ['Chromium', 'Linux', 'user-42', ['boots', 'vip'], `${SITE}/boots`]);
  assert.ok(s.language && s.timezone, `language and time zone recorded: ${JSON.stringify(s)}`);
  t.diagnostic('✔ "Allow" subscribed the visitor with browser, OS, language, time zone, page, external id and tags');

  const scopes = await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).map((r) => r.scope).sort());
  assert.deepEqual(scopes, [`${SITE}/`, `${SITE}/webtrigger-push/`]);
  await page.reload();
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), `${SITE}/site-sw.js`);
  t.diagnostic('✔ the SDK worker lives under /webtrigger-push/; the site’s own worker still controls the page');

  const sent = await api(`/v1/workspaces/${ws}/sites/${site.id}/notifications`, {
    token, method: 'POST',
    body: { title: 'Boots are back', body: 'Your size is in stock', url: `${SITE}/boots/42`, actions: [{ action: 'cart', title: 'Add to cart', url: `${SITE}/cart` }], target: { type: 'external_id', external_id: 'user-42' } },
  });
  const push = await until('the push at the fake', () => pushes.find((p) => p.path === '/push/sdk-visitor'));
  assert.equal(push.headers['content-encoding'], 'aes128gcm');
  const payload = decrypt(push.body, ecdh, auth);
  assert.equal(JSON.parse(payload).data.notification_id, sent.id);

  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: r }) => registrations.push(...r));
  await cdp.send('ServiceWorker.enable');
  const registration = await until('the /webtrigger-push/ registration', () => registrations.find((r) => r.scopeURL === `${SITE}/webtrigger-push/`));
  const worker = await until('the SDK worker running', () => context.serviceWorkers().find((w) => w.url().startsWith(`${SITE}/webtrigger-sw.js`)));
  // Headless Chromium's notification centre sometimes drops a shown notification at once (getNotifications()
  // is empty although showNotification resolved), so the test records what the worker asked to show.
  await recordShownNotifications(worker);
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: SITE, registrationId: registration.registrationId, data: payload });
  const [shown] = await until('the notification', () => worker.evaluate(() => self.shownForTest.length && self.shownForTest));
  assert.deepEqual([shown.title, shown.options.body, shown.options.tag, shown.options.actions], ['Boots are back', 'Your size is in stock', sent.id, [{ action: 'cart', title: 'Add to cart' }]]);
  const meta = shown.options.data.webtrigger;
  assert.deepEqual([meta.site_id, meta.notification_id, meta.actions], [site.id, sent.id, { cart: `${SITE}/cart` }]);
  assert.match(meta.url, new RegExp(`^${SITE}/boots/42\\?utm_source=webtrigger&utm_medium=push&utm_campaign=${sent.id}`));
  const stats = async () => (await api(`/v1/workspaces/${ws}/sites/${site.id}/notifications/${sent.id}`, { token })).stats;
  await until('an impression', async () => (await stats()).impressions === 1);
  t.diagnostic('✔ the push decrypts, the SDK worker shows it with its action and reports the impression');

  // A click on the action button, as the browser dispatches it (the notification object is the one shown).
  const closed = await worker.evaluate((options) => {
    let closedByHandler = false;
    const event = new ExtendableEvent('notificationclick');
    Object.defineProperty(event, 'action', { value: 'cart' });
    Object.defineProperty(event, 'notification', { value: { data: options.data, close: () => { closedByHandler = true; } } });
    self.dispatchEvent(event);
    return closedByHandler;
  }, shown.options);
  assert.equal(closed, true, 'the handler closes the clicked notification');
  await until('a click', async () => (await stats()).clicks === 1);
  t.diagnostic('✔ a click on the action closes the notification and reports the click');

  await page.goto(meta.url);
  assert.equal(await page.evaluate(() => window.WebTrigger.unsubscribe()), true);
  assert.equal(await page.evaluate(() => window.WebTrigger.state()), 'unsubscribed');
  await until('the unsubscribe', async () => (await stats()).unsubscribes === 1);
  assert.equal((await api(`/v1/workspaces/${ws}/sites/${site.id}/subscribers`, { token })).subscribers.length, 0);
  t.diagnostic('✔ arriving from the notification and unsubscribing removes the subscriber and counts against it');
  assert.deepEqual(errors, [], 'no uncaught errors on the customer site');
});
