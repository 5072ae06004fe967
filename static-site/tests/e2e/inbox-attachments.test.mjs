// Browser test of inbox attachments against the real API, on a phone in dark mode: the agent picks an
// image with the composer's paperclip, sees the chip with its upload finished, sends it with a caption;
// the image shows as a thumbnail in the timeline and the loopback Meta fake received the multipart
// media upload and then the message by media id. A file over the cap is refused before any upload.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, launchBrowser, logIn, metaChannel, metaInbound, postMetaWebhook } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
// Its own sender and contact: the browser tests share one server, and a sender belongs to one channel.
const PHONE_NUMBER_ID = '106540352242911';
const CONTACT = '16505557788';
// The access token metaChannel('attach', …) gives the credential.
const TOKEN = 'EAAGe2eattachtoken0123456789';
// A real 1×1 PNG, so the thumbnail must decode.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
let browser;
let fake;

after(async () => {
  if (browser) await browser.close();
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

test('an image attached in the composer reaches Meta through its media upload and shows as a thumbnail', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const uploads = [];
  const messages = [];
  fake = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const json = (status, value) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } });
      if (req.url === `/v23.0/${PHONE_NUMBER_ID}/media`) {
        const text = body.toString('latin1');
        const field = (name) => new RegExp(`name="${name}"\\r\\n\\r\\n([^\\r]*)`).exec(text)?.[1];
        uploads.push({ contentType: req.headers['content-type'], product: field('messaging_product'), type: field('type'), hasPng: body.includes(PNG), filename: /filename="([^"]+)"/.exec(text)?.[1] });
        return json(200, { id: `10138596002854${uploads.length}` });
      }
      const msg = JSON.parse(body.toString() || '{}');
      messages.push({ url: req.url, body: msg });
      return json(200, { messaging_product: 'whatsapp', contacts: [{ input: CONTACT, wa_id: CONTACT }], messages: [{ id: `wamid.ATTE2E${messages.length}` }] });
    });
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const owner = await metaChannel('attach', PHONE_NUMBER_ID, { workspaceName: 'Attachments', channelName: 'Attach line' });
  assert.equal(owner.accessToken, TOKEN);
  await postMetaWebhook(owner.webhookPath, metaInbound(PHONE_NUMBER_ID, { id: `wamid.IN-ATT-${Date.now()}`, from: CONTACT, name: 'Mia Photo', text: 'Can you send a picture?' }));

  browser = await launchBrowser('attach', { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  const { page } = browser;
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
  await logIn(page, owner, '/inbox');
  await page.getByTestId('conversation-list').getByText('Mia Photo').click();
  await page.getByTestId('timeline').getByText('Can you send a picture?').waitFor();

  // Over the cap: refused in the chip before anything is uploaded.
  await page.locator('input[name=attachment]').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.concat([PNG, Buffer.alloc(4 * 1024 * 1024)]) });
  await page.getByTestId('composer').getByText(/up to 4 MB/).waitFor();
  await page.getByRole('button', { name: 'Remove huge.png' }).click();
  t.diagnostic('✔ a file over 4 MB is refused with a plain message');

  await page.locator('input[name=attachment]').setInputFiles({ name: 'jacket.png', mimeType: 'image/png', buffer: PNG });
  const chip = page.getByTestId('attachment-chip');
  await chip.getByText('jacket.png').waitFor();
  await chip.getByText(/KB$/).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390, 'no horizontal overflow on a phone');
  await page.locator('textarea[name=reply]').fill('Here it is in blue');
  await page.getByRole('button', { name: 'Send reply' }).click();
  await page.getByTestId('timeline').getByText('Here it is in blue').waitFor();
  const thumb = page.getByTestId('timeline-thumb');
  await thumb.waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=timeline-thumb]')?.naturalWidth === 1);
  await page.getByTestId('timeline').getByText(/· sent/).waitFor({ timeout: 30_000 });
  assert.equal(await chip.count(), 0, 'the chip is gone after sending');
  t.diagnostic('✔ the image shows as a thumbnail in the timeline and is sent');

  assert.equal(uploads.length, 1);
  assert.match(uploads[0].contentType, /^multipart\/form-data; boundary=/);
  assert.deepEqual([uploads[0].product, uploads[0].type, uploads[0].filename, uploads[0].hasPng], ['whatsapp', 'image/png', 'jacket.png', true]);
  assert.equal(messages.length, 1);
  assert.deepEqual([messages[0].url, messages[0].body.type, messages[0].body.to, messages[0].body.image], [`/v23.0/${PHONE_NUMBER_ID}/messages`, 'image', CONTACT, { id: '101385960028541', caption: 'Here it is in blue' }]);
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390);
  assert.deepEqual(errors, []);
  t.diagnostic('✔ Meta received the multipart upload, then the message by media id');
});
