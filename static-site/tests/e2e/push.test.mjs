// Browser test of the Web Push dashboard against the real API: create a site (install snippet with its
// key), see a subscriber that a page registered through the public API, compose a notification with a
// live preview, send it, and watch it in the list with its counters.
//
//   BASE_URL=… EXPECT_API=1 PUSH_FAKE_HOST=127.0.0.1:<port> npm run test:e2e
// PUSH_FAKE_HOST must be a host the server was started with `--allow-push-host` for (test-all.sh does).

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS } from './support.mjs';

const FAKE = process.env.PUSH_FAKE_HOST ?? '';
const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results');
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE ? 'needs the API and PUSH_FAKE_HOST (see the header)' : false;
let context;
let dir;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('sites, subscribers and notifications in the dashboard', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  mkdirSync(RESULTS_DIR, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-push-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());

  await page.goto(`${BASE_URL}/signup?next=/web-push/sites`);
  await page.locator('input[name=email]').fill(`push+${Date.now()}@example.com`);
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('create-workspace').waitFor();
  await page.getByLabel('Workspace name').fill('Shop');
  await page.getByRole('button', { name: 'Create workspace' }).click();

  const origin = 'http://127.0.0.1:5173';
  await page.locator('input[name=site-name]').fill('Shop');
  await page.locator('input[name=site-origin]').fill('ftp://nope');
  await page.locator('input[name=site-contact]').fill('mailto:ops@example.com');
  await page.getByRole('button', { name: 'Create site' }).click();
  await page.getByRole('alert').getByText(/not an origin/).waitFor();
  t.diagnostic('✔ an invalid origin is refused with the server message');
  await page.locator('input[name=site-origin]').fill(origin);
  await page.getByRole('button', { name: 'Create site' }).click();
  const snippet = await page.getByTestId('install-snippet').innerText();
  const siteId = snippet.match(/data-site="(site_[0-9a-z]{26})"/)?.[1];
  const key = (await page.getByTestId('vapid-key').first().innerText()).match(/^[A-Za-z0-9_-]{87}$/)?.[0];
  assert.ok(siteId && key, `snippet carries the site id and VAPID key: ${snippet}`);
  t.diagnostic('✔ site created; the install snippet carries its id and key');

  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p256dh = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65).toString('base64url');
  const sub = await fetch(`${BASE_URL}/v1/public/sites/${siteId}/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ subscription: { endpoint: `http://${FAKE}/push/browser-1`, keys: { p256dh, auth: randomBytes(16).toString('base64url') } }, browser: 'Chromium', language: 'en-GB', timezone: 'Europe/London', tags: ['vip'] }),
  });
  assert.equal(sub.status, 201, await sub.text());

  await page.getByRole('link', { name: 'Subscribers' }).click();
  await page.getByTestId('subscriber-total').getByText('1 subscriber(s)').waitFor();
  await page.getByTestId('subscribers-table').getByText('Europe/London').waitFor();
  t.diagnostic('✔ the subscriber registered by the page is listed');

  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.locator('input[name=title]').fill('Flash sale');
  await page.locator('input[name=body]').fill('Two hours only');
  const preview = page.getByTestId('preview');
  await preview.getByText('Flash sale').waitFor();
  await preview.getByText('Two hours only').waitFor();
  t.diagnostic('✔ the preview follows the form');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Queued for delivery.').waitFor();
  const row = page.getByTestId('notifications-table').locator('tr', { hasText: 'Flash sale' });
  await row.waitFor();
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('[data-testid="notifications-table"] tbody tr:first-child td')].map((td) => td.textContent);
    return cells[3] === '1';
  }, null, { timeout: 20_000 });
  t.diagnostic('✔ sent; the list shows it with 1 subscriber targeted');
  const headers = await page.getByTestId('notifications-table').locator('th').allTextContents();
  assert.deepEqual(headers.slice(6, 10), ['Impressions', 'Clicks', 'CTR', 'Unsubscribes']);
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(6, 10), ['0', '0', '—', '0'], 'no impression yet: CTR is a dash, not NaN');
  t.diagnostic('✔ the stats show impressions, clicks, CTR and unsubscribes');
  await page.screenshot({ path: join(RESULTS_DIR, 'push-notifications.png'), fullPage: true });

  // An A/B test scheduled for tomorrow: the preview follows variant A on each platform style, the list
  // shows it scheduled (the status filter finds it), and it can be cancelled.
  await page.locator('input[name=title]').fill('Weekend deal');
  await page.locator('input[name=body]').fill('Saturday and Sunday');
  await page.locator('input[name=when][value=at]').check();
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  await page.locator('input[name=send-at]').fill(new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16));
  await page.locator('select[name=variant-count]').selectOption('2');
  await page.locator('input[name=variant-0-title]').fill('Weekend deal: 20 % off');
  await page.locator('input[name=variant-1-title]').fill('Your weekend treat');
  await page.locator('input[name=test-first]').check();
  await preview.getByText('Weekend deal: 20 % off').waitFor();
  for (const [name, platform] of [['macOS', 'macos'], ['Android', 'android'], ['Chrome / Windows', 'windows']]) {
    await preview.getByRole('button', { name }).click();
    await preview.locator(`[data-platform=${platform}]`).getByText('Weekend deal: 20 % off').waitFor();
  }
  t.diagnostic('✔ the preview shows variant A in each platform style');
  await page.getByRole('button', { name: 'Schedule', exact: true }).click();
  await page.getByText('Scheduled.').waitFor();
  await page.locator('select[name=status-filter]').selectOption('scheduled');
  const onlyScheduled = () => page.waitForFunction((status) => {
    const rows = [...document.querySelectorAll('[data-testid="notifications-table"] tbody tr')];
    return rows.length === 1 && rows[0].textContent.includes('Weekend deal (A/B ×2)') && rows[0].querySelectorAll('td')[2].textContent === status;
  }, 'scheduled');
  await onlyScheduled();
  t.diagnostic('✔ scheduled with its variants; the status filter shows only it');
  await page.getByTestId('notifications-table').getByRole('button', { name: 'Cancel' }).click();
  await page.locator('select[name=status-filter]').selectOption('cancelled');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="notifications-table"] tbody tr')];
    return rows.length === 1 && rows[0].querySelectorAll('td')[2].textContent === 'cancelled';
  });
  t.diagnostic('✔ cancelled from the list');
  await page.screenshot({ path: join(RESULTS_DIR, 'push-compose-scheduled.png'), fullPage: true });
});
