// Browser test of inbox attachments against the real API, on a phone in dark mode: the agent picks an
// image with the composer's paperclip, sees the chip with its upload finished, sends it with a caption;
// the image shows as a thumbnail in the timeline and the loopback Meta fake received the multipart
// media upload and then the message by media id. A file over the cap is refused before any upload.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, api } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
const APP_SECRET = 'e2eattach456789abcdef0123456789a';
// Its own sender and contact: the browser tests share one server, and a sender belongs to one channel.
const PHONE_NUMBER_ID = '106540352242911';
const CONTACT = '16505557788';
const TOKEN = 'EAAGe2eattachtoken0123456789';
// A real 1×1 PNG, so the thumbnail must decode.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
let context;
let dir;
let fake;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (fake) await new Promise((resolve) => fake.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
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

  const email = `attach+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Attachments' } })).id;
  const cred = await api(`/v1/workspaces/${ws}/credentials`, { token, method: 'POST', body: { name: 'Meta', provider: 'meta', access_token: TOKEN, app_secret: APP_SECRET, phone_number_id: PHONE_NUMBER_ID, waba_id: '102290129340398' } });
  const channel = await api(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: 'Attach line', credential_id: cred.id } });
  const inbound = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID }, contacts: [{ profile: { name: 'Mia Photo' }, wa_id: CONTACT }],
    messages: [{ from: CONTACT, id: `wamid.IN-ATT-${Date.now()}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'Can you send a picture?' } }] } }] }] });
  const hook = await fetch(`${BASE_URL}${channel.webhook_path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', APP_SECRET).update(inbound).digest('hex')}` }, body: inbound });
  assert.equal(hook.status, 200);

  dir = mkdtempSync(join(tmpdir(), 'webtrigger-attach-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
  await page.goto(`${BASE_URL}/login?next=/inbox`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
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
