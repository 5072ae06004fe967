// Browser test of a bot flow's captured data against the real runtime: 21 contacts answer a published
// flow's question (started through the API, answered by signed Meta webhooks), and the dashboard pages
// the answers with the API's cursor (Next, Previous), exports them as CSV and shows the step's funnel.
//
//   BASE_URL=… EXPECT_API=1 PROVIDER_FAKE_PORT=<port> npm run test:e2e

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const FAKE_PORT = Number(process.env.PROVIDER_FAKE_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE_PORT ? 'needs the API and PROVIDER_FAKE_PORT (see the header)' : false;
const APP_SECRET = 'e2eflowdata0123456789abcdef01234';
// Distinct from the other browser tests' numbers: a sender belongs to one channel platform-wide.
const PHONE_NUMBER_ID = '106540352242999';
const CONTACTS = Array.from({ length: 21 }, (_, i) => `1650555${1200 + i}`);
let fake;
let browser;

after(async () => {
  if (browser) await browser.close();
  if (fake) await new Promise((resolve) => fake.close(resolve));
});

function inbound(id, from, text) {
  return JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID }, contacts: [{ profile: { name: `Contact ${from.slice(-2)}` }, wa_id: from }],
    messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }] } }] }] });
}

async function deliver(path, body) {
  const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
  const r = await fetch(`${BASE_URL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
  assert.equal(r.status, 200);
}

test('answers page with the cursor, export as CSV, and the funnel counts the step', { timeout: 180_000, skip }, async () => {
  assert.ok(existsSync(CHROMIUM));
  let sent = 0;
  fake = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.FLOWDATA${++sent}` }] })));
  });
  await new Promise((resolve) => fake.listen(FAKE_PORT, '127.0.0.1', resolve));

  const email = `flow-data+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Surveys' } })).id;
  const cred = await api(`/v1/workspaces/${ws}/credentials`, { token, method: 'POST', body: { name: 'Meta', provider: 'meta', access_token: 'EAAGe2eflowdatatoken0123456789', app_secret: APP_SECRET, phone_number_id: PHONE_NUMBER_ID, waba_id: '102290129340398' } });
  const channel = await api(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: 'Survey line', credential_id: cred.id } });
  const flow = await api(`/v1/workspaces/${ws}/flows`, { token, method: 'POST', body: { name: 'Colours', triggers: [{ type: 'api' }], steps: [{ id: 'q', type: 'ask', text: 'Your favourite colour?', into: 'colour' }] } });
  await api(`/v1/workspaces/${ws}/flows/${flow.id}/publish`, { token, method: 'POST', body: {} });
  for (const [i, c] of CONTACTS.entries()) {
    await api(`/v1/workspaces/${ws}/flows/${flow.id}/start`, { token, method: 'POST', body: { channel_id: channel.id, contact: `+${c}` } });
    await deliver(channel.webhook_path, inbound(`wamid.FLOWDATA-IN-${i}`, c, `colour ${i}`));
  }
  // Inbound processing is asynchronous: wait (generously) until every answer is stored.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const page = await api(`/v1/workspaces/${ws}/flows/${flow.id}/answers?limit=100`, { token });
    if (page.answers.length === CONTACTS.length) break;
    assert.ok(Date.now() < deadline, `only ${page.answers.length} answers stored`);
    await new Promise((r) => setTimeout(r, 250));
  }

  browser = await launchBrowser('flow-data');
  const { page } = browser;
  await page.goto(`${BASE_URL}/login?next=/flows`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('flows-table').getByRole('button', { name: 'Open' }).click();

  const answers = page.getByTestId('answers');
  const rows = answers.locator('[data-testid=answers-table] tbody tr');
  await answers.getByTestId('answers-page').filter({ hasText: 'Page 1' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=answers-table] tbody tr').length === 20);
  const first = await rows.allTextContents();
  await answers.getByRole('button', { name: 'Next' }).click();
  await answers.getByTestId('answers-page').filter({ hasText: 'Page 2' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=answers-table] tbody tr').length === 1);
  assert.ok(!first.includes(await rows.first().textContent()), 'page 2 holds an answer page 1 did not');
  assert.equal(await answers.getByRole('button', { name: 'Next' }).isDisabled(), true, 'no page after the last');
  await answers.getByRole('button', { name: 'Previous' }).click();
  await answers.getByTestId('answers-page').filter({ hasText: 'Page 1' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=answers-table] tbody tr').length === 20);
  assert.deepEqual(await rows.allTextContents(), first);

  const download = page.waitForEvent('download');
  await answers.getByRole('button', { name: 'Export CSV' }).click();
  const csv = readFileSync(await (await download).path(), 'utf8');
  assert.equal(csv.trim().split('\n').length, CONTACTS.length + 1, csv);
  assert.match(csv, /,q,colour,colour 20\n/);

  const funnel = page.getByTestId('funnel');
  const q = funnel.locator('tr[data-step=q]');
  await q.waitFor();
  assert.deepEqual((await q.locator('td').allTextContents()).slice(1, 4), ['21', '21', '0']);
});
