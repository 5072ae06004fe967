// Browser test of the Contacts and Broadcasts screens against the real API and a loopback Meta fake:
// add two contacts by hand (one then opted out), build a broadcast from the synced approved template
// with its variable taken from the contact's name, preview the count, send it, and follow it to
// `completed` with per-recipient results; the fake receives exactly one message, to the opted-in contact.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself while it runs.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
const WABA = '102290129340398';
// Distinct from the other browser tests' numbers: a sender belongs to one channel platform-wide.
const PHONE_NUMBER_ID = '106540352242955';

const listed = [{ id: '3001', name: 'spring_sale', language: 'en_US', status: 'APPROVED', category: 'MARKETING', parameter_format: 'POSITIONAL', components: [{ type: 'BODY', text: 'Hi {{1}}, the spring sale starts now' }] }];
const sent = [];
let fake;
let close;

after(async () => {
  if (close) await close();
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

function answer(req, data) {
  const url = new URL(req.url, 'http://fake');
  if (req.method === 'GET' && url.pathname === `/v23.0/${WABA}/message_templates`) return [200, { data: listed, paging: { cursors: { before: '0', after: '1' } } }];
  if (req.method === 'POST' && url.pathname === `/v23.0/${PHONE_NUMBER_ID}/messages`) {
    const body = JSON.parse(data);
    sent.push(body);
    return [200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.BCAST${sent.length}` }] }];
  }
  return [404, { error: { message: 'Unknown path', type: 'OAuthException', code: 100 } }];
}

test('contacts and a broadcast to them, followed to completed', { timeout: 180_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  fake = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const [status, body] = answer(req, data);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const email = `broadcasts+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Shop' } })).id;
  const cred = await api(`/v1/workspaces/${ws}/credentials`, { token, method: 'POST', body: { name: 'Meta', provider: 'meta', access_token: 'EAAGe2ebroadcasttoken0123456789', app_secret: '0123456789abcdef0123456789abcdef', phone_number_id: PHONE_NUMBER_ID, waba_id: WABA } });
  const chan = await api(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: 'Sales', credential_id: cred.id } });
  await api(`/v1/workspaces/${ws}/channels/${chan.id}/templates/sync`, { token, method: 'POST', body: {} });

  let page;
  ({ page, close } = await launchBrowser('broadcasts'));
  await page.goto(`${BASE_URL}/login?next=/whatsapp/contacts`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();

  await page.getByTestId('empty-state').getByText('No contacts yet').waitFor();
  const form = page.getByTestId('contact-form');
  for (const [phone, name] of [['(415) 555-0142', 'Ada Lovelace'], ['+44 7911 123456', 'Stop Please']]) {
    await form.locator('input[name=phone]').fill(phone);
    await form.locator('input[name=name]').fill(name);
    await form.locator('input[name=tags]').fill('customers');
    await form.getByRole('button', { name: 'Add contact' }).click();
    await form.getByRole('status').getByText(/added\.$/).waitFor();
  }
  await form.locator('input[name=phone]').fill('555-12');
  await form.getByRole('button', { name: 'Add contact' }).click();
  await form.getByRole('alert').getByText(/phone/).waitFor();
  const table = page.getByTestId('contacts-table');
  await table.getByRole('row', { name: /\+14155550142/ }).getByText('Ada Lovelace').waitFor();
  t.diagnostic('✔ contacts are added by hand (national number normalised), a bad number is refused with the reason');

  await table.getByRole('row', { name: /\+447911123456/ }).getByRole('button', { name: 'Edit' }).click();
  const editor = page.getByTestId('contact-editor');
  await editor.getByRole('button', { name: 'Opt out' }).click();
  await editor.getByTestId('consent-history').getByText(/Opted out — set in the dashboard/).waitFor();
  await editor.getByRole('button', { name: 'Close' }).click();
  await table.getByRole('row', { name: /\+447911123456/ }).getByText('Opted out').waitFor();
  t.diagnostic('✔ an opt-out is recorded with its history and shown in the list');

  await page.goto(`${BASE_URL}/whatsapp/broadcasts`);
  await page.getByTestId('empty-state').getByText('No broadcasts yet').waitFor();
  const create = page.getByTestId('broadcast-form');
  await create.locator('input[name=name]').fill('Spring sale');
  await create.getByTestId('template-body').getByText('Hi {{1}}, the spring sale starts now').waitFor();
  await create.locator('select[name="source-body.{{1}}"]').selectOption('name');
  await create.locator('input[name="default-body.{{1}}"]').fill('there');
  await create.locator('input[name=tag]').fill('customers');
  await create.getByRole('button', { name: 'Preview' }).click();
  await create.getByRole('status').getByText('2 contacts match; 1 of them opted out and will be skipped.').waitFor();
  await create.getByTestId('broadcast-preview').getByText(/Ada Lovelace/).first().waitFor();
  await create.getByRole('button', { name: 'Send now' }).click();
  await create.getByRole('status').getByText('Spring sale is sending.').waitFor();

  const detail = page.getByTestId('broadcast-detail');
  await detail.getByTestId('broadcast-status').getByText('completed').waitFor({ timeout: 60_000 });
  await detail.getByTestId('broadcast-counters').getByText(/2 recipients · 1 sent · .* · 0 failed · 1 skipped/).waitFor();
  const recipients = detail.getByTestId('recipients-table');
  await recipients.getByRole('row', { name: /\+14155550142/ }).getByText('sent').waitFor();
  await recipients.getByRole('row', { name: /\+447911123456/ }).getByText(/opted_out/).waitFor();
  await page.getByTestId('broadcasts-table').getByRole('row', { name: /Spring sale/ }).getByText('completed').waitFor();
  assert.equal(sent.length, 1, 'one message, to the opted-in contact only');
  assert.equal(sent[0].to, '14155550142');
  assert.equal(sent[0].template.name, 'spring_sale');
  assert.deepEqual(sent[0].template.components, [{ type: 'body', parameters: [{ type: 'text', text: 'Ada Lovelace' }] }]);
  t.diagnostic('✔ the broadcast is previewed, sent, followed to completed, and the provider got one rendered template');
});
