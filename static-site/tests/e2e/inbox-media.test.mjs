// Browser test of inbound media against the real API, on a phone in dark mode and on a desktop: a signed
// Meta webhook with an image, a document and an expired image reaches the inbox; the image shows as a
// thumbnail whose bytes came from the loopback Meta fake (Graph `GET /{media-id}` with the bearer token,
// then the lookaside URL with it again), opens full size, the document is a download named after the
// file, and the expired one says it is no longer available.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, logIn, metaChannel } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
// Its own sender: the browser tests share one server, and a sender belongs to one channel.
const PHONE_NUMBER_ID = '106540352242933';
const CONTACT = '16505557799';
// A real 2×1 PNG, so the thumbnail must decode to that size.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR42mP8z8DwnwEIGBkAAB0GAf/PjQb0AAAAAElFTkSuQmCC', 'base64');
const PDF = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
let context;
let dir;
let fake;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

test('an inbound image from a signed Meta webhook shows as a thumbnail, a document as a download', { timeout: 120_000, skip }, async (t) => {
  const account = await metaChannel('inmedia', PHONE_NUMBER_ID);
  const files = { 7001: ['image/png', PNG], 7002: ['application/pdf', PDF] };
  const seen = [];
  fake = createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${FAKE_PORT}`);
    seen.push({ path: url.pathname, query: url.search, auth: req.headers.authorization });
    const json = (status, value) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.headers.authorization !== `Bearer ${account.accessToken}`) return json(401, { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } });
    const lookup = /^\/v23\.0\/(\d+)$/.exec(url.pathname);
    const download = /^\/lookaside\/(\d+)$/.exec(url.pathname);
    const file = files[(lookup ?? download)?.[1]];
    if (!file) return json(400, { error: { message: 'Unsupported get request. Object does not exist', type: 'GraphMethodException', code: 100, error_subcode: 33 } });
    if (lookup) return json(200, { messaging_product: 'whatsapp', url: `http://127.0.0.1:${FAKE_PORT}/lookaside/${lookup[1]}`, mime_type: file[0], sha256: 'x', file_size: String(file[1].length), id: lookup[1] });
    return res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const now = Math.floor(Date.now() / 1000);
  const message = (id, type, media) => ({ from: CONTACT, id: `wamid.INMEDIA-${id}-${Date.now()}`, timestamp: String(now), type, [type]: media });
  const inbound = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID }, contacts: [{ profile: { name: 'Noor Media' }, wa_id: CONTACT }],
    messages: [
      message('gone', 'image', { mime_type: 'image/jpeg', sha256: 'x', id: '7999' }),
      message('doc', 'document', { filename: 'receipt-0423.pdf', mime_type: 'application/pdf', sha256: 'x', id: '7002' }),
      message('img', 'image', { caption: 'The scratch on the lid', mime_type: 'image/png', sha256: 'x', id: '7001' }),
    ] } }] }] });
  const hook = await fetch(`${BASE_URL}${account.webhookPath}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', account.appSecret).update(inbound).digest('hex')}` }, body: inbound });
  assert.equal(hook.status, 200);

  for (const [viewport, colorScheme] of [[{ width: 390, height: 844 }, 'dark'], [{ width: 1280, height: 800 }, 'light']]) {
    dir = mkdtempSync(join(tmpdir(), 'webtrigger-inmedia-'));
    context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, colorScheme, acceptDownloads: true });
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error' && !/401|410/.test(m.text())) errors.push(m.text()); });
    await logIn(page, account, '/inbox');
    await page.getByTestId('conversation-list').getByText('Noor Media').click();
    const timeline = page.getByTestId('timeline');
    await timeline.getByText('The scratch on the lid').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=inbound-thumb]')?.naturalWidth === 2, null, { timeout: 30_000 });
    await timeline.getByTestId('inbound-document').getByText('receipt-0423.pdf').waitFor();
    await timeline.getByTestId('inbound-media-error').getByText(/no longer available/).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), viewport.width, 'no horizontal overflow');
    t.diagnostic(`✔ ${viewport.width} px ${colorScheme}: thumbnail decoded, document named, expired file explained`);

    await page.getByRole('button', { name: 'Open the image full size' }).click();
    const viewer = page.getByTestId('media-viewer');
    await viewer.waitFor();
    assert.equal(await viewer.locator('img').evaluate((img) => img.naturalWidth), 2);
    await viewer.getByRole('button', { name: 'Close' }).click();
    await viewer.waitFor({ state: 'hidden' });

    const [download] = await Promise.all([page.waitForEvent('download'), timeline.getByTestId('inbound-document').click()]);
    assert.equal(download.suggestedFilename(), 'receipt-0423.pdf');
    assert.deepEqual(errors, []);
    await context.close();
    rmSync(dir, { recursive: true, force: true });
    context = null;
    dir = null;
  }
  t.diagnostic('✔ the full-size viewer opens and closes; the document downloads under its name');

  const lookups = seen.filter((s) => s.path === '/v23.0/7001');
  assert.ok(lookups.length >= 1 && lookups.every((s) => s.auth === `Bearer ${account.accessToken}` && s.query === `?phone_number_id=${PHONE_NUMBER_ID}`), JSON.stringify(seen));
  assert.ok(seen.some((s) => s.path === '/lookaside/7001' && s.auth === `Bearer ${account.accessToken}`), 'the lookaside URL was fetched with the token');
});
