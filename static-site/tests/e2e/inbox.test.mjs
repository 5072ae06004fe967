// Browser test of the shared inbox against the real API: a signed Meta webhook makes the conversation
// appear in the inbox screen without a reload, the member replies, and the reply reaches a loopback fake
// of Meta's Graph API; a second inbound message shows up while the page stays open.
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
// Distinct from the WhatsApp screen test's number: a sender belongs to one channel platform-wide.
const PHONE_NUMBER_ID = '106540352242977';
let browser;
let fake;

after(async () => {
  if (browser) await browser.close();
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

const inbound = (id, text) => metaInbound(PHONE_NUMBER_ID, { id, from: '16505551234', name: 'Sheena Nelson', text });

test('an inbound webhook appears in the inbox and the reply reaches the provider', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const sent = [];
  fake = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      sent.push({ url: req.url, auth: req.headers.authorization, body: JSON.parse(data || '{}') });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ input: '16505551234', wa_id: '16505551234' }], messages: [{ id: `wamid.E2E${sent.length}` }] }));
    });
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const owner = await metaChannel('inbox', PHONE_NUMBER_ID, { workspaceName: 'Support', channelName: 'Support line' });
  browser = await launchBrowser('inbox');
  const { page } = browser;
  await logIn(page, owner, '/inbox');
  await page.getByText('No conversations here yet.').waitFor();

  await postMetaWebhook(owner.webhookPath, inbound('wamid.IN-E2E-1', 'Does it come in another color?'));
  const item = page.getByTestId('conversation-list').getByText('Sheena Nelson');
  await item.waitFor();
  t.diagnostic('✔ the conversation appeared without a reload');
  await item.click();
  await page.getByTestId('timeline').getByText('Does it come in another color?').waitFor();

  await page.locator('textarea[name=reply]').fill('Yes, in blue.');
  await page.getByRole('button', { name: 'Send reply' }).click();
  await page.getByTestId('timeline').getByText('Yes, in blue.').waitFor();
  for (let i = 0; i < 100 && !sent.length; i++) await page.waitForTimeout(100);
  assert.equal(sent.length, 1, 'the reply reached the provider fake');
  assert.equal(sent[0].url, `/v23.0/${PHONE_NUMBER_ID}/messages`);
  assert.deepEqual([sent[0].body.to, sent[0].body.text.body, sent[0].auth], ['16505551234', 'Yes, in blue.', `Bearer ${owner.accessToken}`]);
  await page.getByTestId('timeline').getByText(/· sent/).waitFor();
  t.diagnostic('✔ the reply went out through Meta’s API and shows as sent');

  await postMetaWebhook(owner.webhookPath, inbound('wamid.IN-E2E-2', 'Great, ordering now!'));
  await page.getByTestId('timeline').getByText('Great, ordering now!').waitFor();
  t.diagnostic('✔ the next inbound message appeared in the open conversation');

  await page.getByRole('button', { name: 'Assign to me' }).click();
  await page.getByText('Status: open · assigned to you').waitFor();
  await page.getByRole('button', { name: 'Resolve' }).click();
  await page.getByText(/^Status: resolved/).waitFor();
  t.diagnostic('✔ assigned and resolved');
});
