// Browser test of the layout: every screen of the dashboard, signed in with some data on it, at a
// phone (390×844) and a desktop (1280×800) size, is no wider than the viewport — wide tables and code
// scroll inside their card, never the page. The trigger and segment editors are visited open.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
const SCREENS = ['/', '/triggers', '/web-push/sites', '/web-push/subscribers', '/web-push/notifications', '/web-push/drips', '/web-push/recurring', '/web-push/segments', '/web-push/import', '/web-push/feeds', '/whatsapp/credentials', '/whatsapp/channels', '/whatsapp/messages', '/whatsapp/contacts', '/whatsapp/broadcasts', '/inbox', '/flows', '/campaigns', '/settings/workspace', '/settings/members', '/settings/api-keys', '/settings/audit-log', '/settings/event-webhooks', '/settings/devices', '/login', '/signup'];
let browser;

after(async () => {
  if (browser) await browser.close();
});

test('no screen scrolls sideways at 390 px or 1280 px', { timeout: 240_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const email = `layout+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Layout' } })).id;
  await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'A site with a rather long name for a table cell', allowed_origins: ['https://shop.example.com'], contact: 'mailto:ops@example.com' } });
  await api(`/v1/workspaces/${ws}/triggers`, { token, method: 'POST', body: { name: 'Orders paid', auth: 'token', actions: [{ type: 'members', title: 'Order {{ order.id }} {{ status }}', body: '{{ order.total }}' }] } });
  browser = await launchBrowser('layout');
  const { page } = browser;
  await page.goto(`${BASE_URL}/login?next=/`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#page-title').getByText('Overview').waitFor();

  const wide = [];
  for (const [width, height] of [[390, 844], [1280, 800]]) {
    await page.setViewportSize({ width, height });
    for (const path of SCREENS) {
      await page.goto(`${BASE_URL}${path}`);
      await page.locator('#page-title').waitFor();
      await page.waitForLoadState('networkidle');
      if (path === '/triggers') {
        await page.getByRole('button', { name: 'New trigger' }).click();
        await page.getByTestId('trigger-form').waitFor();
      }
      if (path === '/web-push/segments') {
        await page.getByRole('button', { name: 'New segment' }).click();
        await page.getByTestId('segment-editor').waitFor();
      }
      const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      if (scroll > inner) wide.push(`${path} at ${width}: ${scroll} px`);
    }
  }
  assert.deepEqual(wide, [], `screens wider than the viewport:\n${wide.join('\n')}`);
  t.diagnostic(`✔ ${SCREENS.length} screens at 390 and 1280 px fit the viewport`);
});
