// Browser test of the WhatsApp screens against the real API: add a credential (the secret is never
// shown again), create a channel, send a message that the 24-hour window refuses with the server's
// explanation, send it again with a template fallback and see it in the message log; pause the channel.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
let context;
let dir;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('credentials, channels and messages in the dashboard', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-wa-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());

  await page.goto(`${BASE_URL}/signup?next=/whatsapp/credentials`);
  await page.locator('input[name=email]').fill(`wa+${Date.now()}@example.com`);
  await page.locator('input[name=password]').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('create-workspace').waitFor();
  await page.getByLabel('Workspace name').fill('Support');
  await page.getByRole('button', { name: 'Create workspace' }).click();

  // A new workspace's Channels page says what to do first, with a link there.
  await page.getByRole('link', { name: 'Channels' }).click();
  await page.getByTestId('empty-state').getByRole('link', { name: 'Add a credential first' }).click();
  await page.locator('select[name=provider]').waitFor();
  t.diagnostic('✔ the empty Channels page links to adding a credential first');

  const secret = 'EAAGsecretaccesstoken1234567890wxyz';
  await page.locator('select[name=provider]').selectOption('meta');
  await page.locator('input[name=credential-name]').fill('Meta prod');
  await page.locator('input[name=access_token]').fill(secret);
  await page.locator('input[name=app_secret]').fill('0123456789abcdef0123456789abcdef');
  await page.locator('input[name=phone_number_id]').fill('not-a-number');
  await page.locator('input[name=waba_id]').fill('102290129340398');
  await page.getByRole('button', { name: 'Save credential' }).click();
  await page.getByRole('alert').getByText(/phone_number_id must be the numeric id/).waitFor();
  t.diagnostic('✔ a bad phone number id is refused with the server message');
  await page.locator('input[name=phone_number_id]').fill('106540352242922');
  await page.getByRole('button', { name: 'Save credential' }).click();
  await page.getByTestId('credentials-table').getByText('access token ••••wxyz').waitFor();
  assert.ok(!(await page.content()).includes(secret), 'the secret is not on the page after saving');
  t.diagnostic('✔ saved; only the masked hint is shown');

  await page.getByRole('link', { name: 'Channels' }).click();
  await page.locator('select[name=credential] option').first().waitFor({ state: 'attached' });
  assert.notEqual(await page.locator('select[name=credential]').inputValue(), '', 'the credential select shows the credential it will use');
  assert.equal(await page.getByTestId('empty-state').count(), 0);
  await page.locator('input[name=channel-name]').fill('Support line');
  await page.getByRole('button', { name: 'Create channel' }).click();
  const row = page.getByTestId('channels-table').locator('tr', { hasText: 'Support line' });
  await row.getByText('active').waitFor();
  await row.getByText('80/s').waitFor();
  t.diagnostic('✔ channel created, active, with Meta’s default 80/s');

  // The one-time setup values: the callback URL and verify token work against the receiver as shown.
  const setup = page.getByTestId('channel-setup');
  const url = await setup.locator('input[name=webhook-url]').inputValue();
  const token = await setup.locator('input[name=webhook-secret]').inputValue();
  assert.match(url, new RegExp(`^${BASE_URL}/hooks/meta/ws_[^/]+/chan_[0-9a-z]+$`, 'i'));
  assert.match(token, /^whsk_/);
  await setup.getByText('Subscribe the webhook field “messages”.').waitFor();
  await row.getByText('No webhook received yet').waitFor();
  const wrong = await fetch(`${url}?hub.mode=subscribe&hub.challenge=7&hub.verify_token=nope`);
  assert.equal(wrong.status, 403);
  const handshake = await fetch(`${url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${encodeURIComponent(token)}`);
  assert.equal(await handshake.text(), '1158201444', 'Meta’s handshake succeeds with the values as shown');
  await setup.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.getByTestId('channel-setup').count(), 0);
  await page.reload();
  await row.getByTestId('webhook-health').getByText('accepted').waitFor();
  await row.getByText('verification handshake answered').waitFor();
  t.diagnostic('✔ setup values shown once, working against the receiver; the health row shows the handshake');

  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'New secret' }).click();
  const fresh = await page.getByTestId('channel-setup').locator('input[name=webhook-secret]').inputValue();
  assert.ok(fresh.startsWith('whsk_') && fresh !== token);
  assert.equal((await fetch(`${url}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=${encodeURIComponent(token)}`)).status, 403, 'the old token stops working');
  assert.equal((await fetch(`${url}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=${encodeURIComponent(fresh)}`)).status, 200);
  t.diagnostic('✔ rotating the secret shows the new one; the old one is refused');

  await page.getByRole('link', { name: 'Messages' }).click();
  await page.locator('select[name=channel] option').first().waitFor({ state: 'attached' });
  assert.notEqual(await page.locator('select[name=channel]').inputValue(), '', 'the channel select shows the channel it will use');
  await page.locator('input[name=to]').fill('+14155552671');
  await page.locator('textarea[name=text]').fill('Your order shipped');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('alert').getByText(/has not written to this channel in the last 24 hours.*fill in “Template if outside 24 h”/).waitFor();
  assert.ok(!(await page.content()).includes('template_fallback'), 'no API field name on screen');
  t.diagnostic('✔ outside the 24-hour window: refused with the reason');
  await page.locator('input[name=template]').fill('order_update');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText('Outside the 24-hour window: the template was queued instead.').waitFor();
  await page.getByTestId('messages-table').getByText('template order_update').waitFor();
  t.diagnostic('✔ the template fallback is queued and listed');

  await page.getByRole('link', { name: 'Channels' }).click();
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByText('paused by a member').waitFor();
  await row.getByRole('button', { name: 'Resume' }).click();
  await row.getByText('active').waitFor();
  t.diagnostic('✔ paused and resumed');
});
