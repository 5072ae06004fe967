// What every browser test shares: the server under test, the Chromium binary and its flags (exactly
// those of /work/shared/reference/browser-e2e.md), and a JSON client for setting up state through the API.
// Not a test file itself (node --test picks up only *.test.mjs).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.BASE_URL ?? '').trim().replace(/\/+$/, '');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Calls the API and returns `data`; fails the test on any error envelope. */
export async function api(path, { token, method = 'GET', body } = {}) {
  const res = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok && json.success, `${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data;
}

/** A headless Chromium with a fresh profile and its first page; `close()` ends it and removes the profile. */
export async function launchBrowser(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `webtrigger-${prefix}-`));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return { context, page, close };
}

/**
 * Makes `worker` (a Playwright service worker) record every `showNotification(title, options)` it is asked
 * for in `self.shownForTest`. Headless Chromium's notification centre sometimes drops a shown notification
 * at once (getNotifications() is empty although showNotification resolved), so tests assert on the request.
 */
export async function recordShownNotifications(worker) {
  await worker.evaluate(() => {
    self.shownForTest = [];
    const show = self.registration.showNotification.bind(self.registration);
    self.registration.showNotification = (title, options) => {
      self.shownForTest.push({ title, options });
      return show(title, options);
    };
  });
}

/** The WhatsApp Business Account every Meta browser test's fake answers for. */
export const META_WABA = '102290129340398';
/** The Meta app id the fakes accept for sample uploads. */
export const META_APP_ID = '584544743160774';

/**
 * Signs up a fresh user with a workspace and a Meta credential + channel on `phoneNumberId`. The browser
 * tests share one server and a sender belongs to one channel platform-wide, so each test passes its own
 * phone number id. Returns what a test needs to log in and call the API.
 */
export async function metaChannel(prefix, phoneNumberId, { appId = META_APP_ID, channelName = 'Main' } = {}) {
  const email = `${prefix}+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Shop' } })).id;
  const accessToken = `EAAGe2e${prefix}token0123456789`;
  const credential = await api(`/v1/workspaces/${ws}/credentials`, {
    token, method: 'POST',
    body: { name: 'Meta', provider: 'meta', access_token: accessToken, app_secret: '0123456789abcdef0123456789abcdef', phone_number_id: phoneNumberId, waba_id: META_WABA, ...(appId ? { app_id: appId } : {}) },
  });
  const channel = await api(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: channelName, credential_id: credential.id } });
  return { email, password, token, ws, channel: channel.id, credential: credential.id, accessToken };
}

/** Logs in through the dashboard's form and lands on `next`. */
export async function logIn(page, { email, password }, next) {
  await page.goto(`${BASE_URL}/login?next=${next}`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}
