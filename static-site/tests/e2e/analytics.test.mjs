// Browser test of the Analytics page against the real API: a site with three subscribers gets a send
// (through a loopback push-service fake) and engagement reported the way the SDK's worker and page report
// it (impressions, clicks, a dismissal, a conversion); the page charts delivery and growth on canvases that
// must hold drawn pixels (in light and dark mode, and on a phone), lists the notification, and its detail
// page shows the funnel numbers. A site with nothing yet shows the empty state.
//
//   BASE_URL=… EXPECT_API=1 PUSH_FAKE_HOST=127.0.0.1:<port> npm run test:e2e
// PUSH_FAKE_HOST must be a host the server was started with `--allow-push-host` for (test-all.sh does);
// this test listens on that port itself while it runs.

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { BASE_URL, api, launchBrowser } from './support.mjs';

const FAKE = process.env.PUSH_FAKE_HOST ?? '';
const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results');
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE ? 'needs the API and PUSH_FAKE_HOST (see the header)' : false;
const cleanup = [];

after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function until(what, probe, tries = 200) {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Pixels of the chart's canvas that something was drawn on (uPlot's background is transparent). */
function drawnPixels(page, testId) {
  return page.evaluate((id) => {
    const canvas = document.querySelector(`[data-testid="${id}"] canvas`);
    if (!canvas || !canvas.width || !canvas.height) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let drawn = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
    return drawn;
  }, testId);
}

test('the Analytics page charts a send and shows its funnel', { timeout: 180_000, skip }, async (t) => {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const pushes = [];
  const fake = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pushes.push(req.url);
      res.writeHead(201).end();
    });
  });
  await new Promise((resolve) => fake.listen(Number(FAKE.split(':')[1]), '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => fake.close(resolve)));

  const email = `analytics+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Charts' } })).id;
  const origin = 'https://charts.example.com';
  const site = await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Charted shop', allowed_origins: [origin], contact: 'mailto:ops@example.com' } });
  await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Quiet shop', allowed_origins: [origin], contact: 'mailto:ops@example.com' } });

  const publicApi = (path, body, userAgent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36') =>
    fetch(`${BASE_URL}/v1/public/sites/${site.id}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin, 'user-agent': userAgent }, body: JSON.stringify(body) });
  const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
  const endpoints = [1, 2, 3].map((i) => `http://${FAKE}/push/analytics-${Date.now()}-${i}`);
  for (const [i, endpoint] of endpoints.entries()) {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const p256dh = publicKey.export({ format: 'der', type: 'spki' }).subarray(-65).toString('base64url');
    const res = await publicApi('/subscriptions', { subscription: { endpoint, keys: { p256dh, auth: randomBytes(16).toString('base64url') } }, timezone: 'Europe/Berlin' }, ...(i === 0 ? [firefox] : []));
    assert.equal(res.status, 201, await res.text());
  }
  const sent = await api(`/v1/workspaces/${ws}/sites/${site.id}/notifications`, {
    token, method: 'POST', body: { title: 'Winter boots', body: 'Warm feet', url: `${origin}/boots`, actions: [{ action: 'cart', title: 'Add to cart' }], target: { type: 'all' } },
  });
  const one = `/v1/workspaces/${ws}/sites/${site.id}/notifications/${sent.id}`;
  await until('the send to complete', async () => (await api(one, { token })).status === 'completed');
  assert.equal(pushes.length, 3);

  // What the SDK's worker and page report.
  const report = async (event) => {
    const res = await publicApi(`/notifications/${sent.id}/events`, event);
    assert.equal(res.status, 200, await res.text());
  };
  for (const endpoint of endpoints) await report({ event: 'impression', endpoint });
  await report({ event: 'click', endpoint: endpoints[0], action: 'cart' });
  await report({ event: 'click', endpoint: endpoints[1] });
  await report({ event: 'click', endpoint: endpoints[1] });
  await report({ event: 'dismiss', endpoint: endpoints[2] });
  await report({ event: 'conversion', endpoint: endpoints[0], value: 12.5 });
  const stats = (await api(one, { token })).stats;
  assert.deepEqual([stats.impressions, stats.clicks, stats.dismissals, stats.conversions, stats.action1_clicks], [3, 2, 1, 1, 1], JSON.stringify(stats));
  t.diagnostic('✔ a send to three subscribers with impressions, clicks (one repeated), a dismissal and a conversion');

  const { page, close } = await launchBrowser('analytics');
  cleanup.push(close);
  await page.setViewportSize({ width: 1280, height: 900 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${BASE_URL}/login?next=/web-push/analytics`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('site-analytics').waitFor();
  await page.locator('select[name=analytics-site]').selectOption(site.id);
  await page.getByTestId('stat-clicks').getByText('2', { exact: false }).waitFor();
  assert.match(await page.getByTestId('stat-accepted').innerText(), /^3/);
  assert.match(await page.getByTestId('stat-conversions').innerText(), /^1\s*value 12\.50/);
  await page.locator('[data-testid="delivery-chart"] canvas').waitFor();
  await page.locator('[data-testid="growth-chart"] canvas').waitFor();
  assert.ok((await until('the delivery chart drawn', () => drawnPixels(page, 'delivery-chart'))) > 200, 'the delivery chart has drawn pixels');
  assert.ok((await drawnPixels(page, 'growth-chart')) > 200, 'the growth chart has drawn pixels');
  await page.getByTestId('by-browser').getByText('Chrome').waitFor();
  assert.match(await page.getByTestId('by-browser').innerText(), /Chrome\s*2[\s\S]*Firefox\s*1/);
  await page.screenshot({ path: join(RESULTS_DIR, 'analytics-light.png'), fullPage: true });
  t.diagnostic('✔ totals, a drawn delivery chart and growth chart, and new subscribers by browser');

  await page.emulateMedia({ colorScheme: 'dark' });
  await until('the chart redrawn in dark mode', () => drawnPixels(page, 'delivery-chart'));
  // The chart is rebuilt on a theme switch: read the legend until the rebuilt one is in place.
  const legendColour = () => page.locator('[data-testid="delivery-chart"] .u-legend').evaluate((el) => getComputedStyle(el).color).catch(() => '');
  await until('the legend in the dark theme text colour', async () => (await legendColour()) === 'rgb(229, 231, 235)');
  assert.equal(await legendColour(), 'rgb(229, 231, 235)', 'the legend uses the dark theme text colour');
  await page.setViewportSize({ width: 390, height: 844 });
  await until('the chart resized for a phone', async () => (await page.locator('[data-testid="delivery-chart"] canvas').evaluate((c) => c.getBoundingClientRect().width)) <= 390);
  assert.ok((await drawnPixels(page, 'delivery-chart')) > 200, 'still drawn on a phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (${overflow}px)`);
  await page.screenshot({ path: join(RESULTS_DIR, 'analytics-dark-phone.png'), fullPage: true });
  t.diagnostic('✔ readable in dark mode and on a phone');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByTestId('top-notifications').getByRole('link', { name: 'Winter boots' }).click();
  await page.getByTestId('notification-analytics').waitFor();
  const funnel = {};
  for (const step of ['targeted', 'accepted', 'shown', 'clicked', 'converted']) funnel[step] = await page.getByTestId(`funnel-${step}`).innerText();
  assert.deepEqual(funnel, { targeted: '3', accepted: '3', shown: '3', clicked: '2', converted: '1' });
  await page.getByTestId('hours').waitFor();
  t.diagnostic('✔ the notification page shows the funnel targeted 3 → accepted 3 → shown 3 → clicked 2 → converted 1');

  await page.getByRole('link', { name: /All of the site/ }).click();
  await page.locator('select[name=analytics-site]').selectOption({ label: 'Quiet shop' });
  await page.getByTestId('analytics-quiet').waitFor();
  assert.equal(await page.getByTestId('top-notifications').count(), 0);
  t.diagnostic('✔ a site with nothing yet shows the empty state');
  assert.deepEqual(errors, []);
});
