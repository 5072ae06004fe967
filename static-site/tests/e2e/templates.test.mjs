// Browser test of the Templates screen against the real API and a loopback Meta fake: sync a paged
// template listing, see status chips, preview a template with its variables filled in, submit a new
// template for review (the fake receives the example values), and create one with an image header: a
// wrong file is refused in plain words, a JPEG goes through Meta's Resumable Upload API (session, then
// the bytes with `Authorization: OAuth` and `file_offset: 0`) and its handle into `header_handle`.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself while it runs.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, META_APP_ID, META_WABA as WABA, launchBrowser, logIn, metaChannel } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
// Distinct from the other browser tests' numbers: a sender belongs to one channel platform-wide.
const PHONE_NUMBER_ID = '106540352242966';

const listed = [
  { id: '1001', name: 'order_ready', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Hi {{1}}, order {{2}} is ready.' }, { type: 'FOOTER', text: 'Corner Shop' }, { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Thanks' }] }] },
  { id: '1002', name: 'spring_sale', language: 'en_US', status: 'PENDING', category: 'MARKETING', parameter_format: 'POSITIONAL', components: [{ type: 'BODY', text: 'Sale!' }] },
  { id: '1003', name: 'welcome', language: 'en_US', status: 'REJECTED', category: 'MARKETING', parameter_format: 'NAMED', rejected_reason: 'PROMOTIONAL', components: [{ type: 'BODY', text: 'Welcome {{first_name}}' }] },
];
const received = [];
let fake;
let close;

after(async () => {
  if (close) await close();
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

const HANDLE = '4::aW1hZ2UvanBlZw==:ARa1ZDhwbLZM3EENeeg';
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1020)]);

function answer(req, data) {
  const url = new URL(req.url, 'http://fake');
  const json = url.pathname.endsWith('/message_templates') && data.length ? JSON.parse(data.toString()) : null;
  received.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body: json, bytes: data.length });
  if (req.method === 'POST' && url.pathname === `/v23.0/${META_APP_ID}/uploads`) return [200, { id: 'upload:MTphdHRhY2htZW50OjE=?sig=ARZqkGCA_uQMxC8nHKI' }];
  if (req.method === 'POST' && url.pathname === '/v23.0/upload:MTphdHRhY2htZW50OjE=') {
    if (!req.headers.authorization?.startsWith('OAuth ') || req.headers.file_offset !== '0') return [400, { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100 } }];
    return [200, { h: HANDLE }];
  }
  if (url.pathname !== `/v23.0/${WABA}/message_templates`) return [404, { error: { message: 'Unknown path', type: 'OAuthException', code: 100 } }];
  if (req.method === 'POST') return [200, { id: String(2001 + received.filter((r) => r.method === 'POST' && r.body).length), status: 'PENDING', category: 'UTILITY' }];
  // Two per page, with Graph's paging object.
  const start = Number(url.searchParams.get('after') ?? 0);
  const paging = { cursors: { before: String(start), after: String(start + 2) } };
  if (start + 2 < listed.length) paging.next = `https://graph.facebook.com/v23.0/${WABA}/message_templates?after=${start + 2}`;
  return [200, { data: listed.slice(start, start + 2), paging }];
}

test('sync, preview and submit WhatsApp templates', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  fake = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const [status, body] = answer(req, Buffer.concat(chunks));
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const account = await metaChannel('templates', PHONE_NUMBER_ID, { channelName: 'Orders' });

  let page;
  ({ page, close } = await launchBrowser('templates'));
  await logIn(page, account, '/whatsapp/templates');

  await page.getByTestId('sync-templates').click();
  await page.getByRole('status').getByText('Synced: 3 added, 0 updated, 0 removed.').waitFor();
  const listings = received.filter((r) => r.method === 'GET');
  assert.deepEqual(listings.map((r) => r.query.after ?? null), [null, '2'], 'the second page is read with paging.cursors.after');
  const table = page.getByTestId('templates-table');
  await table.getByRole('row', { name: /order_ready/ }).getByText('APPROVED').waitFor();
  await table.getByRole('row', { name: /spring_sale/ }).getByText('PENDING').waitFor();
  await table.getByRole('row', { name: /welcome/ }).getByText('REJECTED').waitFor();
  t.diagnostic('✔ a paged Meta listing is synced and shown with status chips');

  await table.getByRole('row', { name: /order_ready/ }).getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByTestId('template-preview');
  await preview.locator('input[name="var-1"]').fill('Ada');
  await preview.locator('input[name="var-2"]').fill('A-42');
  await preview.getByTestId('preview-bubble').getByText('Hi Ada, order A-42 is ready.').waitFor();
  await preview.getByText('Corner Shop').waitFor();
  t.diagnostic('✔ the preview fills the variables in');

  const form = page.getByTestId('template-form');
  await form.locator('input[name=name]').fill('pickup_ready');
  await form.locator('textarea[name=body]').fill('Hi {{1}}, pick up at {{2}}');
  await form.locator('input[name="example-1"]').fill('Ada');
  await form.locator('input[name="example-2"]').fill('5pm');
  await form.getByRole('button', { name: 'Submit for review' }).click();
  await form.getByRole('status').getByText('pickup_ready was submitted for review (PENDING).').waitFor();
  const submitted = received.find((r) => r.method === 'POST' && r.body);
  assert.deepEqual(submitted.body.components, [{ type: 'BODY', text: 'Hi {{1}}, pick up at {{2}}', example: { body_text: [['Ada', '5pm']] } }]);
  await table.getByRole('row', { name: /pickup_ready/ }).getByText('PENDING').waitFor();
  t.diagnostic('✔ a new template is submitted with its examples and listed as PENDING');

  await form.locator('input[name=name]').fill('pickup_photo');
  await form.locator('select[name=header]').selectOption('image');
  await form.locator('textarea[name=body]').fill('Your order is ready, {{1}}.');
  await form.locator('input[name="example-1"]').fill('Ada');
  await form.locator('input[name=header-file]').setInputFiles({ name: 'shop.gif', mimeType: 'image/gif', buffer: Buffer.from('GIF89a-not-allowed') });
  await form.getByRole('button', { name: 'Submit for review' }).click();
  await form.getByRole('alert').getByText(/The sample file was not accepted: .*JPEG or PNG/).waitFor();
  assert.ok(!received.some((r) => r.path.includes('upload')), 'a refused file never reaches Meta');
  t.diagnostic('✔ a wrong sample file is refused with the reason, before anything reaches Meta');

  await form.locator('input[name=header-file]').setInputFiles({ name: 'pickup.jpg', mimeType: 'image/jpeg', buffer: JPEG });
  await form.getByRole('button', { name: 'Submit for review' }).click();
  await form.getByRole('status').getByText('pickup_photo was submitted for review (PENDING).').waitFor();
  const [open, bytes] = received.filter((r) => r.path.includes('upload'));
  assert.deepEqual(open.query, { file_name: 'pickup.jpg', file_length: String(JPEG.length), file_type: 'image/jpeg' });
  assert.equal(open.headers.authorization, `Bearer ${account.accessToken}`);
  assert.equal(bytes.headers.authorization, `OAuth ${account.accessToken}`);
  assert.deepEqual([bytes.query.sig, bytes.headers.file_offset, bytes.bytes], ['ARZqkGCA_uQMxC8nHKI', '0', JPEG.length]);
  const photo = received.filter((r) => r.method === 'POST' && r.body).pop();
  assert.deepEqual(photo.body.components[0], { type: 'HEADER', format: 'IMAGE', example: { header_handle: [HANDLE] } });
  await table.getByRole('row', { name: /pickup_photo/ }).getByText('PENDING').waitFor();
  t.diagnostic('✔ an image header sample is uploaded through the Resumable Upload API and its handle submitted');
});
