// Browser test of the Feeds screen against the real API: the empty state, a private URL refused with the
// field named, a feed served from loopback added (its first poll takes the existing item as seen, as the
// screen says), a new item polled now becomes exactly one notification and is listed with it, and a
// malformed document shows the error on the feed's row.
//
//   BASE_URL=… EXPECT_API=1 FEED_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_OUTBOUND_ALLOW_HOSTS including 127.0.0.1:<port> (test-all.sh does);
// this test serves the feed on that port itself.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, api } from './support.mjs';

const FEED_PORT = Number(process.env.FEED_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FEED_PORT ? 'needs the API and FEED_FAKE_PORT (see the header)' : false;
const password = 'correct horse battery';
let token;
let workspace;
let site;
let context;
let page;
let dir;
let server;
let doc = '';

const rss = (items) =>
  `<?xml version="1.0"?><rss version="2.0"><channel><title>E2E blog</title><link>https://blog.example.com/</link>${items
    .map(([id, title]) => `<item><title>${title}</title><link>https://blog.example.com/${id}</link><guid>${id}</guid><description>About ${title}</description></item>`)
    .join('')}</channel></rss>`;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(doc));
  await new Promise((resolve) => server.listen(FEED_PORT, '127.0.0.1', resolve));
  const email = `feeds+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  workspace = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Feeds' } })).id;
  site = (await api(`/v1/workspaces/${workspace}/sites`, { token, method: 'POST', body: { name: 'Feed blog', allowed_origins: ['https://feeds-e2e.example.com'], contact: 'mailto:ops@example.com' } })).id;
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-feeds-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, colorScheme: 'dark', viewport: { width: 390, height: 844 } });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => d.accept());
  await page.goto(`${BASE_URL}/login?next=/web-push/feeds`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server) await new Promise((resolve) => server.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a feed is added, polled, and its new item becomes one notification', { skip }, async () => {
  await page.getByTestId('feeds-empty').waitFor();
  const form = page.getByTestId('feed-form');

  await form.locator('input[name=feed-url]').fill('http://10.0.0.1/rss');
  await form.getByRole('button', { name: 'Add feed' }).click();
  await page.getByText(/url: the URL points at a private or internal address/).waitFor();

  doc = rss([['e1', 'Existing post']]);
  await form.locator('input[name=feed-url]').fill(`http://127.0.0.1:${FEED_PORT}/feed.xml`);
  await form.getByRole('button', { name: 'Add feed' }).click();
  await page.getByText(/marks the items already in it as seen without sending/).waitFor();
  const card = page.getByTestId('feed-card');
  await card.getByText('not polled yet').waitFor();

  await card.getByRole('button', { name: 'Poll now' }).click();
  // A new feed is due at once: when a minute tick falls between adding and this click, the tick's poll takes
  // the baseline first and this one finds nothing new. Either way the item is seen and not sent.
  await page.getByText(/Polled: 1 item\(s\), [01] new, 0 sent\./).waitFor();
  await card.getByTestId('feed-items').locator('tr[data-outcome=baseline]').waitFor();

  doc = rss([['e2', 'Fresh post'], ['e1', 'Existing post']]);
  await card.getByRole('button', { name: 'Poll now' }).click();
  await page.getByText('Polled: 2 item(s), 1 new, 1 sent.').waitFor();
  const sentRow = card.getByTestId('feed-items').locator('tr[data-outcome=sent]');
  await sentRow.waitFor();
  const list = await api(`/v1/workspaces/${workspace}/sites/${site}/notifications`, { token });
  assert.equal(list.notifications.length, 1);
  assert.equal(list.notifications[0].title, 'Fresh post');
  assert.match(await sentRow.textContent(), new RegExp(list.notifications[0].id), 'the item names its notification');

  await card.getByRole('button', { name: 'Poll now' }).click();
  await page.getByText('Polled: 2 item(s), 0 new, 0 sent.').waitFor();
  assert.equal((await api(`/v1/workspaces/${workspace}/sites/${site}/notifications`, { token })).notifications.length, 1, 'nothing is sent twice');

  doc = '<rss><channel><item><title>cut off';
  await card.getByRole('button', { name: 'Poll now' }).click();
  await card.getByTestId('feed-error').waitFor();
  assert.match(await card.getByTestId('feed-error').textContent(), /not a valid RSS or Atom feed/);
  assert.equal(await card.getByTestId('feed-status').textContent(), 'failing');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page fits a phone (overflow ${overflow}px)`);
});
