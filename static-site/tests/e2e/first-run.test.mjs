// Browser test of the first run: a new workspace's Overview shows the setup checklist with nothing
// done; creating a site, and creating a trigger and calling it (through the API, as a user would from
// the other pages and a shell) tick those steps by themselves on the next visit.
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

test('the Overview checklist of a new workspace ticks its steps as they are done', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const email = `first+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Bakery' } })).id;
  browser = await launchBrowser('first');
  const { page } = browser;
  await page.goto(`${BASE_URL}/login?next=/`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();

  const list = page.getByTestId('setup-checklist');
  await list.getByText('6 of 6 steps left').waitFor();
  assert.equal(await list.locator('li[data-done=true]').count(), 0);
  await list.getByRole('link', { name: 'Create a site for Web Push' }).waitFor();
  t.diagnostic('✔ a new workspace shows six steps, none done, each a link');

  await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Shop', allowed_origins: ['https://shop.example.com'], contact: 'mailto:ops@example.com' } });
  const trigger = await api(`/v1/workspaces/${ws}/triggers`, { token, method: 'POST', body: { name: 'Ping', auth: 'token', actions: [{ type: 'members', title: 'Ping' }] } });
  await page.reload();
  await list.getByText('4 of 6 steps left').waitFor();
  const done = await list.locator('li[data-done=true]').allTextContents();
  assert.deepEqual(done.map((d) => d.replace(/^✔\s*/, '').replace(/ \(done\)$/, '')), ['Create a site for Web Push', 'Create a trigger']);
  t.diagnostic('✔ creating a site and a trigger ticks those two steps');

  const call = await fetch(`${BASE_URL}/t/${trigger.id}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${trigger.secret}` }, body: '{}' });
  assert.ok(call.status < 300, `the trigger call answered ${call.status}`);
  await page.reload();
  await list.getByText('3 of 6 steps left').waitFor();
  assert.equal(await list.locator('li[data-done=true]', { hasText: 'Call it' }).count(), 1);
  t.diagnostic('✔ calling the trigger ticks “Call it”');
});
