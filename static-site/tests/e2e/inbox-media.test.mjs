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
import { createServer } from 'node:http';
import { after, test } from 'node:test';

import { BASE_URL, launchBrowser, logIn, metaChannel, metaInbound, postMetaWebhook } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
// Its own sender: the browser tests share one server, and a sender belongs to one channel.
const PHONE_NUMBER_ID = '106540352242933';
const CONTACT = '16505557799';
// A real 2×1 PNG, so the thumbnail must decode to that size.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR42mP8z8DwnwEIGBkAAB0GAf/PjQb0AAAAAElFTkSuQmCC', 'base64');
const PDF = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
let browser;
let fake;

after(async () => {
  if (browser) await browser.close();
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

  const message = (id, type, media) => metaInbound(PHONE_NUMBER_ID, { id: `wamid.INMEDIA-${id}-${Date.now()}`, from: CONTACT, name: 'Noor Media', message: { type, [type]: media } });
  await postMetaWebhook(account.webhookPath, message('gone', 'image', { mime_type: 'image/jpeg', sha256: 'x', id: '7999' }));
  await postMetaWebhook(account.webhookPath, message('doc', 'document', { filename: 'receipt-0423.pdf', mime_type: 'application/pdf', sha256: 'x', id: '7002' }));
  await postMetaWebhook(account.webhookPath, message('img', 'image', { caption: 'The scratch on the lid', mime_type: 'image/png', sha256: 'x', id: '7001' }));

  for (const [viewport, colorScheme] of [[{ width: 390, height: 844 }, 'dark'], [{ width: 1280, height: 800 }, 'light']]) {
    browser = await launchBrowser('inmedia', { viewport, colorScheme, acceptDownloads: true });
    const { page } = browser;
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
    await browser.close();
    browser = null;
  }
  t.diagnostic('✔ the full-size viewer opens and closes; the document downloads under its name');

  const lookups = seen.filter((s) => s.path === '/v23.0/7001');
  assert.ok(lookups.length >= 1 && lookups.every((s) => s.auth === `Bearer ${account.accessToken}` && s.query === `?phone_number_id=${PHONE_NUMBER_ID}`), JSON.stringify(seen));
  assert.ok(seen.some((s) => s.path === '/lookaside/7001' && s.auth === `Bearer ${account.accessToken}`), 'the lookaside URL was fetched with the token');
});
