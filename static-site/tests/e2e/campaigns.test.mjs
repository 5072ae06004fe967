// Browser test of the Campaigns page against the real API: an empty workspace shows the empty state;
// a draft push notification and scheduled WhatsApp broadcasts (Whapi: free text, so no provider is
// called while it stays unsent) appear in one list with their kind, status and counters, the status
// filter narrows it (and names an empty result), and each row opens its existing detail screen.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
let close;

after(async () => {
  if (close) await close();
});

test('push notifications and broadcasts in one list, filtered and linked', { timeout: 180_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const stamp = Date.now();
  const email = `campaigns+${stamp}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Campaigns' } })).id;

  let page;
  ({ page, close } = await launchBrowser('campaigns'));
  await page.goto(`${BASE_URL}/login?next=/campaigns`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('campaigns-empty').getByText('No campaigns yet').waitFor();
  await page.getByTestId('campaigns-empty').getByText(/Add a site under Web Push/).waitFor();
  t.diagnostic('✔ an empty workspace shows the empty state with what to do first');

  const site = await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Shop', allowed_origins: ['https://shop.example.com'], contact: 'mailto:ops@example.com' } });
  const draft = await api(`/v1/workspaces/${ws}/sites/${site.id}/notifications`, { token, method: 'POST', body: { title: `Spring push ${stamp}`, target: { type: 'all' }, draft: true } });
  assert.equal(draft.status, 'draft');
  const cred = await api(`/v1/workspaces/${ws}/credentials`, { token, method: 'POST', body: { name: 'Whapi', provider: 'whapi', token: `whapicampaigns${stamp}` } });
  const chan = await api(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: 'Sales', credential_id: cred.id } });
  const at = new Date(Date.now() + 7 * 86_400_000).toISOString();
  const bc = await api(`/v1/workspaces/${ws}/broadcasts`, { token, method: 'POST', body: { name: `Spring broadcast ${stamp}`, channel_id: chan.id, template: { text: 'Hi there, the sale starts soon' }, rules: { match: 'all', rules: [] }, send_at: { mode: 'at', at } } });
  assert.equal(bc.status, 'draft');
  const date = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  await api(`/v1/workspaces/${ws}/broadcasts`, { token, method: 'POST', body: { name: `Local broadcast ${stamp}`, channel_id: chan.id, template: { text: 'Good morning' }, rules: { match: 'all', rules: [] }, send_at: { mode: 'local_time', date, time: '09:30' } } });

  await page.reload();
  const table = page.getByTestId('campaigns-table');
  const pushRow = table.getByRole('row', { name: new RegExp(`Spring push ${stamp}`) });
  const bcRow = table.getByRole('row', { name: new RegExp(`Spring broadcast ${stamp}`) });
  await pushRow.waitFor();
  await bcRow.waitFor();
  assert.equal(await pushRow.locator('td').first().innerText(), 'Web Push');
  assert.equal(await bcRow.locator('td').first().innerText(), 'WhatsApp');
  assert.match(await pushRow.innerText(), /draft/);
  assert.match(await pushRow.innerText(), /0 targeted · 0 accepted · 0 clicks/);
  assert.match(await bcRow.innerText(), /Scheduled for /);
  assert.match(await bcRow.innerText(), /0 sent · 0 delivered · 0 read · 0 failed/);
  const localRow = table.getByRole('row', { name: new RegExp(`Local broadcast ${stamp}`) });
  assert.match(await localRow.innerText(), new RegExp(`Scheduled for ${date} 09:30 in each contact's time zone`));
  // Newest first by the time shown: a week ahead, then three days ahead, then the draft made just now.
  const rows = await table.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 3);
  assert.match(rows[0], /Spring broadcast/);
  assert.match(rows[1], /Local broadcast/);
  assert.match(rows[2], /Spring push/);
  t.diagnostic('✔ a draft push notification and two scheduled broadcasts (at a time, at local time) are listed together with kind, status, time and counters');

  await page.setViewportSize({ width: 390, height: 844 });
  await localRow.waitFor();
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `the list at 390 px is ${scroll} px wide: the table must scroll inside its card`);
  await page.setViewportSize({ width: 1280, height: 800 });
  t.diagnostic('✔ at 390 px the list scrolls inside its card, not the page');

  const filter = page.locator('select[name=campaign-status]');
  await filter.selectOption('completed');
  await page.getByTestId('campaigns-empty').getByText('No completed campaigns').waitFor();
  await filter.selectOption('paused');
  await page.getByTestId('campaigns-empty').getByText('No paused campaigns').waitFor();
  await filter.selectOption('draft');
  await pushRow.waitFor();
  await bcRow.waitFor();
  t.diagnostic('✔ the status filter narrows the list and names an empty result');

  await pushRow.getByRole('link', { name: `Spring push ${stamp}` }).click();
  await page.waitForURL(`${BASE_URL}/web-push/analytics?site=${site.id}&notification=${draft.id}`);
  await page.getByTestId('notification-analytics').getByText(`Spring push ${stamp}`).waitFor();
  await page.goBack();
  await page.waitForURL(`${BASE_URL}/campaigns`);
  await bcRow.getByRole('link', { name: `Spring broadcast ${stamp}` }).click();
  await page.waitForURL(`${BASE_URL}/whatsapp/broadcasts?broadcast=${bc.id}`);
  await page.getByTestId('broadcast-detail').getByText(`Spring broadcast ${stamp}`).waitFor();
  t.diagnostic('✔ each row opens its detail: the notification funnel, the broadcast with its progress');

  await page.goto(`${BASE_URL}/campaigns`);
  await page.getByRole('link', { name: 'New push campaign' }).click();
  await page.waitForURL(`${BASE_URL}/web-push/notifications`);
  await page.goto(`${BASE_URL}/campaigns`);
  await page.getByRole('link', { name: 'New broadcast' }).click();
  await page.waitForURL(`${BASE_URL}/whatsapp/broadcasts`);
  await page.getByTestId('broadcast-form').waitFor();
  t.diagnostic('✔ the New buttons lead to the compose screens');
});
