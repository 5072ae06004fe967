// Browser test of the Triggers and Event webhooks screens against the real API: a trigger is built in
// the editor with a live preview (a bad template is refused at save), a Standard Webhooks-signed call
// fires it, the same webhook-id again is a duplicate, an unsigned call is logged as rejected, Replay runs
// it again, and the page's own curl example works as printed. Then an event endpoint is added (a private
// URL is refused), "Send test event" reaches a loopback receiver with a valid signature, and the attempt
// is listed.
//
//   BASE_URL=… EXPECT_API=1 EVENT_SINK_PORT=<port> npm run test:e2e
// The server must run with WEBTRIGGER_OUTBOUND_ALLOW_HOSTS=127.0.0.1:<port> (test-all.sh does); this test
// listens on that port itself.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, api } from './support.mjs';

const SINK_PORT = Number(process.env.EVENT_SINK_PORT ?? 0);
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !SINK_PORT ? 'needs the API and EVENT_SINK_PORT (see the header)' : false;
const password = 'correct horse battery';
let email;
let token;
let workspace;
let context;
let page;
let dir;
let sink;
const received = [];

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  sink = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      received.push({ url: req.url, headers: req.headers, body: data });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => sink.listen(SINK_PORT, '127.0.0.1', resolve));
  email = `triggers+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  workspace = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Shop' } })).id;
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-triggers-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => d.accept());
  await page.goto(`${BASE_URL}/login?next=/triggers`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (sink) await new Promise((resolve) => sink.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body` under the base64-decoded `whsec_` key. */
function sign(secret, id, ts, body) {
  return createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64')).update(`${id}.${ts}.${body}`).digest('base64');
}

async function call(url, secret, id, body) {
  const ts = String(Math.floor(Date.now() / 1000));
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts, ...(secret ? { 'webhook-signature': `v1,${sign(secret, id, ts, body)}` } : {}) };
  const r = await fetch(url, { method: 'POST', headers, body });
  return { status: r.status, json: await r.json() };
}

test('a trigger built in the editor previews live, fires once per webhook-id, logs and replays', { timeout: 120_000, skip }, async (t) => {
  await page.getByText('No triggers yet.').waitFor();
  await page.getByRole('button', { name: 'New trigger' }).click();
  const form = page.getByTestId('trigger-form');
  await form.locator('input[name=trigger-name]').fill('Paid orders');
  const preview = page.getByTestId('trigger-preview');

  await form.locator('input[name=advanced-json]').check();
  await form.locator('textarea[name=actions]').fill('[{"type":"members","title":"Order {{ order.id }}","body":"{{ order.missing_field }}"}]');
  await preview.getByText(/template error in actions\[0\]\.body/).waitFor();
  t.diagnostic('✔ a template naming a field the sample lacks shows as an error in the preview');
  await form.locator('textarea[name=actions]').fill('[{"type":"members","title":"Order {{ order.id "}]');
  await preview.getByText(/template error in actions\[0\]\.title/).waitFor();
  await form.getByRole('button', { name: 'Create trigger' }).click();
  await form.getByRole('alert').getByText(/actions\[0\]\.title/).waitFor();
  assert.equal(await page.getByTestId('triggers-table').count(), 0, 'nothing was saved');
  t.diagnostic('✔ a syntax error is refused at save with the field named');

  await form.locator('textarea[name=actions]').fill('[{"type":"members","title":"Order {{ order.id }} {{ status }}","body":"Total {{ order.total }}"}]');
  await preview.getByText('"title": "Order A-1001 paid"').waitFor();
  await form.locator('input[name=filter]').fill('status == "refunded"');
  await preview.getByText('The filter skips this event.').waitFor();
  await form.locator('input[name=filter]').fill('status == "paid"');
  await preview.getByText('This event fires the trigger.').waitFor();
  t.diagnostic('✔ the live preview renders the sample and follows the filter');

  await form.getByRole('button', { name: 'Create trigger' }).click();
  const secret = await page.getByTestId('trigger-secret').textContent();
  const url = await page.getByTestId('trigger-url').textContent();
  assert.match(secret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
  assert.match(url, new RegExp(`^${BASE_URL}/t/trg_`));
  await page.getByTestId('triggers-table').getByText('Paid orders').waitFor();

  const body = JSON.stringify({ order: { id: 'B-7', total: 12 }, status: 'paid' });
  const first = await call(url, secret, 'msg_e2e_1', body);
  assert.equal(first.status, 202, JSON.stringify(first.json));
  assert.equal(first.json.data.status, 'fired');
  const again = await call(url, secret, 'msg_e2e_1', body);
  assert.equal(again.status, 200);
  assert.deepEqual([again.json.data.duplicate, again.json.data.invocation_id], [true, first.json.data.invocation_id]);
  const forged = await call(url, null, 'msg_e2e_2', body);
  assert.equal(forged.status, 401);
  assert.equal(forged.json.error.code, 'invalid_signature');
  t.diagnostic('✔ signed call → 202 fired; same webhook-id → 200 duplicate; unsigned → 401');

  const log = page.getByTestId('invocation-log');
  await log.locator('tr[data-status=rejected]').waitFor();
  assert.equal(await log.locator('tr[data-status=fired]').count(), 1, 'the duplicate did not run again');
  await log.locator('tr[data-status=fired]').getByRole('button', { name: 'Replay' }).click();
  await log.getByText(`replay of ${first.json.data.invocation_id}`).waitFor();
  assert.equal(await log.locator('tr[data-status=fired]').count(), 2);
  t.diagnostic('✔ the log refreshed by itself with the fired and the rejected call; Replay ran it again');

  // The example is printed after the secret was revealed, so it runs as is.
  const example = await page.getByTestId('curl-example').textContent();
  const out = execFileSync('bash', ['-euo', 'pipefail', '-c', example], { encoding: 'utf8', timeout: 20_000 });
  const answer = JSON.parse(out);
  assert.ok(answer.success, out);
  assert.equal(answer.data.status, 'fired');
  await log.locator('tr[data-status=fired]').nth(2).waitFor();
  t.diagnostic('✔ the page’s curl example (openssl-signed) fires the trigger as printed');
});

// The editor's default actions (a WhatsApp message to {{ order.customer.phone }} and a team push) with
// the Shopify and the generic HMAC modes: the page's curl example, run exactly as shown, fires the trigger.
for (const mode of ['shopify', 'hmac']) {
  test(`the ${mode} mode's curl example fires the editor's default actions as printed`, { timeout: 120_000, skip }, async (t) => {
    if (mode === 'shopify') {
      const cred = await api(`/v1/workspaces/${workspace}/credentials`, { token, method: 'POST', body: { name: 'Meta', provider: 'meta', access_token: 'EAAGtesttoken1234567890', app_secret: '0123456789abcdef0123456789abcdef', phone_number_id: String(Date.now()), waba_id: '102290129340398' } });
      await api(`/v1/workspaces/${workspace}/channels`, { token, method: 'POST', body: { name: 'Orders', credential_id: cred.id } });
      await page.reload();
    }
    await page.getByRole('button', { name: 'New trigger' }).click();
    const form = page.getByTestId('trigger-form');
    await form.locator('input[name=trigger-name]').fill(`${mode} orders`);
    await form.locator('select[name=auth]').selectOption(mode);
    if (mode === 'shopify') await form.locator('input[name=provider-secret]').fill('shpss_0123456789abcdef');
    else {
      await form.locator('input[name=hmac-header]').fill('X-Acme-Signature');
      await form.locator('select[name=hmac-encoding]').selectOption('base64');
    }
    await form.getByRole('button', { name: 'Add WhatsApp action' }).click();
    await form.getByRole('button', { name: 'Add team devices action' }).click();
    await page.getByTestId('trigger-preview').getByText('This event fires the trigger.').waitFor();
    await form.getByRole('button', { name: 'Create trigger' }).click();
    await page.getByTestId('trigger-secret').waitFor();
    const example = await page.getByTestId('curl-example').textContent();
    assert.ok(example.includes(mode === 'shopify' ? 'x-shopify-hmac-sha256' : 'X-Acme-Signature: sha256=$SIG'), example);
    const out = execFileSync('bash', ['-euo', 'pipefail', '-c', example], { encoding: 'utf8', timeout: 20_000 });
    const answer = JSON.parse(out);
    assert.ok(answer.success, out);
    const url = await page.getByTestId('trigger-url').textContent();
    const trg = url.split('/t/')[1];
    const { invocations } = await api(`/v1/workspaces/${workspace}/triggers/${trg}/invocations`, { token });
    const inv = invocations.find((i) => i.id === answer.data.invocation_id);
    // Both actions rendered (the old example lacked order.customer: a template error before any action ran).
    assert.equal(inv.outcomes.length, 2, JSON.stringify(inv));
    assert.ok(inv.outcomes[1].ok, JSON.stringify(inv.outcomes));
    // The WhatsApp text is either queued or refused by the 24-hour rule (this number never wrote in), never a template error.
    assert.ok(inv.outcomes[0].ok || /24|window/i.test(inv.outcomes[0].detail), JSON.stringify(inv.outcomes));
    assert.ok(!/template error|undefined/.test(JSON.stringify(inv)), JSON.stringify(inv));
    const body = '{"order":{"id":"A-1"},"status":"paid"}';
    const forged = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', [mode === 'shopify' ? 'x-shopify-hmac-sha256' : 'x-acme-signature']: createHmac('sha256', 'wrong-secret-0123456789').update(body).digest('base64') }, body });
    assert.equal(forged.status, 401);
    t.diagnostic(`✔ ${mode}: the printed curl example fires both default actions; a wrong secret is refused`);
  });
}

/** Saved actions without the `null`s and empty lists the API fills in. */
const tidy = (actions) => actions.map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length))));

// Runs after the Shopify test, which gave the workspace a WhatsApp channel.
test('the step editor builds two actions that save as entered; test-send renders them and names a missing variable', { timeout: 120_000, skip }, async (t) => {
  await page.getByRole('button', { name: 'New trigger' }).click();
  const form = page.getByTestId('trigger-form');
  await form.locator('input[name=trigger-name]').fill('Step-built');
  await form.locator('select[name=auth]').selectOption('token');
  const steps = form.getByTestId('trigger-step');
  const types = () => steps.evaluateAll((els) => els.map((e) => e.dataset.type));
  await form.getByRole('button', { name: 'Add team devices action' }).click();
  await form.getByRole('button', { name: 'Add push action' }).click();
  await form.getByRole('button', { name: 'Add WhatsApp action' }).click();
  assert.deepEqual(await types(), ['members', 'push', 'whatsapp']);
  await form.getByRole('button', { name: 'Remove step 2' }).click();
  assert.deepEqual(await types(), ['members', 'whatsapp']);

  const first = steps.nth(0);
  await first.locator('input[name=step-title]').fill('Paid: ');
  await first.getByRole('button', { name: '{{ order.id }}', exact: true }).click();
  assert.equal(await first.locator('input[name=step-title]').inputValue(), 'Paid: {{ order.id }}', 'the variable hint inserts into the focused field');
  await first.locator('input[name=step-body]').fill('');
  await first.locator('input[name=step-url]').fill('/orders/{{ order.id }}');
  await steps.nth(1).locator('input[name=step-text]').fill('Order {{ order.id }} for {{ order.customer.name }}');
  await form.getByRole('button', { name: 'Move step 2 up' }).click();
  assert.deepEqual(await types(), ['whatsapp', 'members']);
  const channelId = await steps.nth(0).locator('select[name=step-channel_id]').inputValue();
  assert.match(channelId, /^chan_/);
  const expected = [
    { type: 'whatsapp', channel_id: channelId, to: '{{ order.customer.phone }}', text: 'Order {{ order.id }} for {{ order.customer.name }}' },
    { type: 'members', title: 'Paid: {{ order.id }}', url: '/orders/{{ order.id }}' },
  ];
  await form.locator('input[name=advanced-json]').check();
  assert.deepEqual(JSON.parse(await form.locator('textarea[name=actions]').inputValue()), expected, 'the JSON view shows exactly the steps');
  expected[1].title = 'Paid order {{ order.id }}';
  await form.locator('textarea[name=actions]').fill(JSON.stringify(expected, null, 2));
  await form.locator('input[name=advanced-json]').uncheck();
  assert.equal(await steps.nth(1).locator('input[name=step-title]').inputValue(), 'Paid order {{ order.id }}', 'a JSON edit shows in the step');
  t.diagnostic('✔ two steps built in cards (add, remove, reorder, a variable hint); the JSON view round-trips');

  await form.getByRole('button', { name: 'Create trigger' }).click();
  await page.getByTestId('trigger-secret').waitFor();
  const trg = (await page.getByTestId('trigger-url').textContent()).split('/t/')[1];
  const saved = await api(`/v1/workspaces/${workspace}/triggers/${trg}`, { token });
  assert.deepEqual(tidy(saved.actions), expected, 'the saved actions equal what was entered');
  await page.getByTestId('trigger-details').getByRole('button', { name: 'Edit', exact: true }).click();
  await page.locator('input[name=advanced-json]').check();
  assert.deepEqual(JSON.parse(await page.locator('textarea[name=actions]').inputValue()), expected, 'reopened, the editor shows them unchanged');
  t.diagnostic('✔ saved and reopened: the actions are what was entered');

  const sample = page.locator('textarea[name=sample]');
  await sample.fill(JSON.stringify({ order: { id: 'A-9' }, status: 'paid' }));
  await page.getByRole('button', { name: 'Check with sample' }).click();
  const report = page.getByTestId('test-report');
  await report.locator('li[data-ok=false]').getByText('template error in actions[0].to: undefined value order.customer.phone').waitFor();
  await report.locator('li[data-ok=true]').getByText('"title": "Paid order A-9"').waitFor();
  t.diagnostic('✔ test-send (dry run) shows step 2 rendered and names the missing variable of step 1');

  await sample.fill(JSON.stringify({ order: { id: 'A-10', customer: { name: 'Ada', phone: '+14155552671' } }, status: 'paid' }));
  await page.getByRole('button', { name: 'Send test' }).click();
  const sent = page.getByTestId('test-invocation');
  await sent.getByText(/Sent as test invocation/).waitFor();
  const invId = await sent.locator('code').textContent();
  const { invocations } = await api(`/v1/workspaces/${workspace}/triggers/${trg}/invocations`, { token });
  const inv = invocations.find((i) => i.id === invId);
  assert.equal(inv?.verification, 'test', JSON.stringify(invocations));
  assert.equal(inv.outcomes.length, 2);
  assert.ok(inv.outcomes[1].ok, JSON.stringify(inv.outcomes));
  assert.equal(invocations.length, 1, 'sent once; the dry run logged nothing');
  t.diagnostic('✔ Send test ran both steps once, logged as a test invocation');
  await page.getByRole('button', { name: 'Cancel' }).click();
});

test('an event endpoint gets a signed test event and lists the attempt; private URLs are refused', { timeout: 120_000, skip }, async (t) => {
  await page.goto(`${BASE_URL}/settings/event-webhooks`);
  const form = page.getByTestId('endpoint-form');
  await form.locator('input[name=endpoint-url]').fill('https://10.0.0.8/hooks');
  await form.getByRole('button', { name: 'Add endpoint' }).click();
  await page.getByRole('alert').getByText('private or internal address').waitFor();
  t.diagnostic('✔ a private address is refused with a clear message');

  await form.locator('input[name=endpoint-url]').fill(`http://127.0.0.1:${SINK_PORT}/events`);
  await form.locator('input[name=endpoint-description]').fill('Our CRM');
  await form.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = await page.getByTestId('endpoint-secret').textContent();
  assert.match(secret, /^whsec_/);
  const card = page.getByTestId('endpoint-card');
  await card.getByRole('button', { name: 'Send test event' }).click();
  for (let i = 0; i < 100 && !received.length; i++) await page.waitForTimeout(100);
  assert.equal(received.length, 1, 'the receiver got the test event');
  const { headers, body, url } = received[0];
  assert.equal(url, '/events');
  assert.equal(JSON.parse(body).type, 'webhook.test');
  const signatures = headers['webhook-signature'].split(' ');
  assert.ok(signatures.includes(`v1,${sign(secret, headers['webhook-id'], headers['webhook-timestamp'], body)}`), 'the signature verifies with the secret shown');
  await card.getByTestId('endpoint-attempts').locator('tr[data-ok=true]').getByText('204').waitFor();
  t.diagnostic('✔ signed webhook.test delivered once; the attempt shows 204');

  await card.getByRole('button', { name: 'Disable' }).click();
  await card.getByText('disabled', { exact: true }).waitFor();
  t.diagnostic('✔ disabled from the card');
});
