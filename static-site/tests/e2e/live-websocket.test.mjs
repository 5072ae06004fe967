// Browser test of the dashboard's WebSocket transport for live updates, against the local binary's
// `/live` endpoint (the protocol of the AWS WebSocket API). This test starts its own server with
// WEBTRIGGER_LIVE_WS_URL=/live (the shared one follows SSE, which the inbox tests cover), so the dashboard
// learns the transport from GET /v1/health as it does on AWS. A signed Meta webhook makes the conversation
// appear without reload over the WebSocket; then the server side closes the socket, a webhook arrives
// during the gap (the reconnect's ticket is held until it was processed), and the catch-up
// (GET …/events?after=<cursor>) after reconnecting delivers it.
//
//   EXPECT_API=1 [WEBTRIGGER_BIN=../target/debug/webtrigger] npm run test:e2e   (after `npm run build`)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { CHROMIUM, launchBrowser } from './support.mjs';

const BIN = resolve(process.env.WEBTRIGGER_BIN ?? '../target/debug/webtrigger');
const skip = process.env.EXPECT_API !== '1' ? 'needs EXPECT_API=1 and the built binary (see the header)' : false;
const APP_SECRET = 'e2e0123456789abcdef0123456789ws1';
const PHONE_NUMBER_ID = '106540352249911';
const password = 'correct horse battery';
let server;
let base;
let dataDir;
let browser;

const freePort = () =>
  new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });

async function call(path, { token, method = 'GET', body } = {}) {
  const res = await fetch(`${base}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json();
  assert.ok(res.ok && json.success, `${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data;
}

function inbound(id, text) {
  return JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID }, contacts: [{ profile: { name: 'Wes Socket' }, wa_id: '16505559876' }],
    messages: [{ from: '16505559876', id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }] } }] }] });
}

/** A ULID-shaped cursor for `ms` (what the feed's event ids sort against). */
function cursorAt(ms) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) out = alphabet[t % 32] + out;
  return `${out}${'0'.repeat(16)}`;
}

async function deliver(path, body) {
  const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
  assert.equal(r.status, 200);
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BIN), `the webtrigger binary at ${BIN} (set WEBTRIGGER_BIN)`);
  assert.ok(existsSync('dist/index.html'), 'the dashboard build (npm run build)');
  assert.ok(existsSync(CHROMIUM));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'webtrigger-live-ws-'));
  server = spawn(BIN, ['serve', '--data-dir', dataDir, '--port', String(port), '--static-dir', 'dist'], { env: { ...process.env, WEBTRIGGER_LIVE_WS_URL: '/live', WEBTRIGGER_META_GRAPH_URL: 'http://127.0.0.1:9/v23.0', WEBTRIGGER_TWILIO_API_URL: 'http://127.0.0.1:9', WEBTRIGGER_WHAPI_API_URL: 'http://127.0.0.1:9' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const up = await fetch(`${base}/v1/health`).then((r) => r.ok, () => false);
    if (up) break;
    assert.ok(Date.now() < deadline && server.exitCode === null, 'the server started');
    await new Promise((r) => setTimeout(r, 250));
  }
  browser = await launchBrowser('live-ws');
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('over the WebSocket transport a webhook shows without reload, and a gap is caught up after reconnect', { timeout: 180_000, skip }, async (t) => {
  const health = await call('/v1/health');
  assert.equal(health.live_websocket_url, '/live');
  const email = `live-ws+${Date.now()}@example.com`;
  const { access_token: token } = await call('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await call('/v1/workspaces', { token, method: 'POST', body: { name: 'Live WS' } })).id;
  await call('/v1/me/default-workspace', { token, method: 'PUT', body: { workspace_id: ws } });
  const cred = await call(`/v1/workspaces/${ws}/credentials`, { token, method: 'POST', body: { name: 'Meta', provider: 'meta', access_token: 'EAAGe2eaccesstokenWS0123456789', app_secret: APP_SECRET, phone_number_id: PHONE_NUMBER_ID, waba_id: '102290129340398' } });
  const channel = await call(`/v1/workspaces/${ws}/channels`, { token, method: 'POST', body: { name: 'Live line', credential_id: cred.id } });

  const { page } = browser;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Every live socket goes through this proxy to the real server, so the test can close one server-side.
  const sockets = [];
  await page.routeWebSocket(/\/live\?/, (route) => {
    sockets.push({ url: route.url(), page: route, server: route.connectToServer() });
  });
  // The reconnect's ticket can be held, so the gap lasts until the test has sent what falls into it.
  let hold = null;
  let held = null;
  await page.route('**/events/ticket', async (route) => {
    if (hold) {
      held?.();
      await hold;
    }
    await route.continue();
  });
  const catchUps = [];
  const streams = [];
  page.on('response', (r) => {
    if (r.url().includes('/events?after=')) catchUps.push(r.json().catch(() => null));
    if (r.url().includes('/events/stream')) streams.push(r.url());
  });

  await page.goto(`${base}/login?next=/inbox`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('No conversations here yet.').waitFor();
  await page.locator('[data-live=connected][data-live-transport=websocket]').waitFor();
  assert.equal(sockets.length, 1);
  assert.match(sockets[0].url, new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/live\\?ws=${ws}&ticket=`));
  t.diagnostic('✔ the dashboard learned /live from health and is connected over a WebSocket');

  await deliver(channel.webhook_path, inbound('wamid.WS-E2E-1', 'Hello over the socket'));
  await page.getByTestId('conversation-list').getByText('Wes Socket').waitFor();
  t.diagnostic('✔ the conversation appeared without a reload');

  let release;
  hold = new Promise((r) => (release = r));
  const ticketAsked = new Promise((r) => (held = r));
  // The server goes away: its side of the connection closes, and the page gets the close frame.
  await sockets[0].server.close({ code: 1012, reason: 'restarting' });
  await sockets[0].page.close({ code: 1012, reason: 'restarting' });
  await page.getByTestId('live-banner').getByText(/reconnecting/).waitFor();
  await ticketAsked;
  await deliver(channel.webhook_path, inbound('wamid.WS-E2E-2', 'Sent during the gap'));
  // Processed (its event is in the workspace's log) before the client may reconnect.
  const since = cursorAt(Date.now() - 120_000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const log = await call(`/v1/workspaces/${ws}/events?after=${since}`, { token });
    if (JSON.stringify(log.events).includes('Sent during the gap')) break;
    assert.ok(Date.now() < deadline, 'the gap webhook was processed');
    await new Promise((r) => setTimeout(r, 200));
  }
  const before = catchUps.length;
  hold = null;
  release();
  await page.locator('[data-live=connected][data-live-transport=websocket]').waitFor();
  assert.equal(sockets.length, 2, 'one new socket after the close');
  for (let i = 0; i < 200 && catchUps.length === before; i++) await page.waitForTimeout(100);
  const caught = await catchUps[catchUps.length - 1];
  assert.ok(caught && !caught.data.reset, JSON.stringify(caught));
  const gapEvent = caught.data.events.find((e) => e.kind === 'message.new' && JSON.stringify(e.data).includes('Sent during the gap'));
  assert.ok(gapEvent, `the catch-up after reconnecting delivered the gap's message: ${JSON.stringify(caught)}`);
  await page.getByTestId('conversation-list').getByText('Wes Socket').click();
  await page.getByTestId('timeline').getByText('Sent during the gap').waitFor();
  t.diagnostic('✔ after the server closed the socket, the reconnect caught up the message sent during the gap');

  await deliver(channel.webhook_path, inbound('wamid.WS-E2E-3', 'Live again'));
  await page.getByTestId('timeline').getByText('Live again').waitFor();
  assert.equal(streams.length, 0, 'the SSE stream was never opened');
  assert.deepEqual(errors, []);
  t.diagnostic('✔ the new socket delivers live events again; SSE unused');
});
