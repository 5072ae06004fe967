// Browser test of the Contacts and Broadcasts screens against the real API and a loopback Meta fake:
// add three contacts by hand (one then opted out, one a number Meta refuses), build a broadcast from the
// synced approved template with its variable taken from the contact's name, preview the count, send it,
// follow it to `completed` with per-recipient results (the fake accepts exactly one message, to the
// reachable opted-in contact), and download the failures CSV (provider code, formula-leading name defused).
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_META_GRAPH_URL=http://127.0.0.1:<port>/v23.0 (test-all.sh does);
// this test listens on that port itself while it runs.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, META_WABA as WABA, api, launchBrowser, logIn, metaChannel } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
// Distinct from the other browser tests' numbers: a sender belongs to one channel platform-wide.
const PHONE_NUMBER_ID = '106540352242955';

const listed = [{ id: '3001', name: 'spring_sale', language: 'en_US', status: 'APPROVED', category: 'MARKETING', parameter_format: 'POSITIONAL', components: [{ type: 'BODY', text: 'Hi {{1}}, the spring sale starts now' }] }];
const sent = [];
// Meta refuses this number as undeliverable (131026, a permanent error).
const UNREACHABLE = '14155550199';
const refused = [];
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
    if (body.to === UNREACHABLE) {
      refused.push(body);
      return [400, { error: { message: '(#131026) Message Undeliverable', type: 'OAuthException', code: 131026, error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' }, fbtrace_id: 'AXsgnV2Cm3ZMGF3dF_cfYIn' } }];
    }
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

  const account = await metaChannel('broadcasts', PHONE_NUMBER_ID, { channelName: 'Sales' });
  await api(`/v1/workspaces/${account.ws}/channels/${account.channel}/templates/sync`, { token: account.token, method: 'POST', body: {} });

  let page;
  ({ page, close } = await launchBrowser('broadcasts'));
  await logIn(page, account, '/whatsapp/contacts');

  await page.getByTestId('empty-state').getByText('No contacts yet').waitFor();
  const form = page.getByTestId('contact-form');
  for (const [phone, name] of [['(415) 555-0142', 'Ada Lovelace'], ['+44 7911 123456', 'Stop Please'], ['(415) 555-0199', '=HYPERLINK("http://x")']]) {
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
  await create.getByRole('status').getByText('3 contacts match; 1 of them opted out and will be skipped.').waitFor();
  await create.getByTestId('broadcast-preview').getByText(/Ada Lovelace/).first().waitFor();
  await create.getByRole('button', { name: 'Send now' }).click();
  await create.getByRole('status').getByText('Spring sale is sending.').waitFor();

  const detail = page.getByTestId('broadcast-detail');
  await detail.getByTestId('broadcast-status').getByText('completed').waitFor({ timeout: 60_000 });
  await detail.getByTestId('broadcast-counters').getByText(/3 recipients · 1 sent · .* · 1 failed · 1 skipped/).waitFor();
  const recipients = detail.getByTestId('recipients-table');
  await recipients.getByRole('row', { name: /\+14155550142/ }).getByText('sent').waitFor();
  await recipients.getByRole('row', { name: /\+447911123456/ }).getByText(/opted_out/).waitFor();
  await page.getByTestId('broadcasts-table').getByRole('row', { name: /Spring sale/ }).getByText('completed').waitFor();
  await recipients.getByRole('row', { name: /\+14155550199/ }).getByText(/131026/).waitFor();
  assert.equal(sent.length, 1, 'one message accepted, to the reachable opted-in contact only');
  assert.equal(refused.length, 1, 'the unreachable number was tried once (a permanent error is not retried)');
  assert.equal(sent[0].to, '14155550142');
  assert.equal(sent[0].template.name, 'spring_sale');
  assert.deepEqual(sent[0].template.components, [{ type: 'body', parameters: [{ type: 'text', text: 'Ada Lovelace' }] }]);
  t.diagnostic('✔ the broadcast is previewed, sent, followed to completed, and the provider got one rendered template');

  const [download] = await Promise.all([page.waitForEvent('download'), detail.getByTestId('download-failures').click()]);
  assert.equal(download.suggestedFilename(), 'Spring-sale-failures.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  assert.equal(csv, 'phone,name,status,class,code,message\n+14155550199,"\'=HYPERLINK(""http://x"")",failed,invalid_recipient,131026,(#131026) Message Undeliverable: Message Undeliverable.\n');
  await detail.getByRole('status').getByText('Downloaded 1 failed recipient as CSV.').waitFor();
  t.diagnostic('✔ the failures CSV downloads with the provider code, and a formula-leading name is defused');
});
