// Browser test of the session across loads: a signed-out load logs no console error (the app does not
// probe the refresh endpoint when this browser never signed in), and a signed-in user who reloads while
// offline stays signed in from the service worker's copy of the shell, with the offline banner, then
// picks the live session up again on reconnect.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
let browser;

after(async () => {
  if (browser) await browser.close();
});

test('signed out: no console error; signed in and offline: still signed in', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const email = `offline+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Offline bakery' } });

  browser = await launchBrowser('session');
  const { page, context } = browser;
  const consoleErrors = [];
  const refreshCalls = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => r.url().endsWith('/v1/auth/refresh') && refreshCalls.push(r.url()));

  await page.goto(`${BASE_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await page.getByRole('link', { name: 'Log in' }).first().waitFor();
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  assert.deepEqual(consoleErrors, [], 'a signed-out load logs no console error');
  assert.equal(refreshCalls.length, 0, 'no refresh probe without a session in this browser');
  t.diagnostic('✔ signed-out load: no console error, no refresh probe');

  await page.goto(`${BASE_URL}/login?next=/`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  const account = page.getByTestId('account');
  await account.getByText(email).waitFor();
  // The service worker must control the page for an offline reload to find the shell.
  await page.reload();
  await account.getByText(email).waitFor();
  assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true, 'the service worker controls the page');

  let refreshed;
  await context.setOffline(true);
  try {
    const response = await page.reload({ waitUntil: 'load' });
    assert.equal(response?.fromServiceWorker(), true, 'the offline reload came from the service worker');
    await page.getByTestId('offline-banner').waitFor();
    await account.getByText(email).waitFor();
    assert.equal(await page.getByTestId('workspace-switcher').inputValue() !== '', true, 'the workspace is still selected');
    assert.equal(await page.getByRole('link', { name: 'Log in' }).count(), 0, 'no sign-in prompt while offline');
    t.diagnostic('✔ offline reload: still signed in, offline banner shown, no sign-in prompt');
  } finally {
    // Back online the app refreshes the real session (listening before the switch, so the answer is not missed).
    refreshed = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh'));
    await context.setOffline(false);
  }
  assert.equal((await refreshed).status(), 200, 'the session was refreshed on reconnect');
  await page.getByTestId('offline-banner').waitFor({ state: 'detached' });
  await account.getByText(email).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Log in' }).count(), 0);
  t.diagnostic('✔ reconnect: the session is refreshed and stays signed in');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Log in' }).first().waitFor();
  const n = refreshCalls.length;
  consoleErrors.length = 0;
  await page.goto(`${BASE_URL}/`);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await page.getByRole('link', { name: 'Log in' }).first().waitFor();
  assert.equal(refreshCalls.length, n, 'after logging out the next load does not probe either');
  assert.deepEqual(consoleErrors, [], 'no console error on the signed-out load after logging out');
  t.diagnostic('✔ after logging out: signed-out loads stay quiet');
});
