// Browser test of "forgot password" and invites by email. Against a server without a mail relay (the
// default) the screens say plainly that no email is sent. When the server was started with
// WEBTRIGGER_SMTP_URL=smtp://127.0.0.1:$SMTP_FAKE_PORT (and WEBTRIGGER_MAIL_FROM, WEBTRIGGER_PUBLIC_URL=BASE_URL),
// this test runs that relay itself, and the emailed reset link is opened and used in the browser.
//
//   BASE_URL=… EXPECT_API=1 [SMTP_FAKE_PORT=…] npm run test:e2e

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';

import { BASE_URL, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
const SMTP_PORT = Number(process.env.SMTP_FAKE_PORT ?? 0);
const PASSWORD = 'correct horse battery';
let browser;
let relay;

after(async () => {
  if (browser) await browser.close();
  relay?.close();
});

/** A loopback SMTP relay: accepts every message and resolves `next()` with each DATA section. */
function smtpRelay(port) {
  const waiting = [];
  const received = [];
  const server = createServer((socket) => {
    let buffer = '';
    let inData = false;
    let data = '';
    socket.write('220 fake-relay\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let i;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            (waiting.shift() ?? ((m) => received.push(m)))(data);
            data = '';
            socket.write('250 queued\r\n');
          } else data += `${line}\n`;
        } else if (/^DATA/i.test(line)) {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  server.listen(port, '127.0.0.1');
  return { close: () => server.close(), next: () => (received.length ? Promise.resolve(received.shift()) : new Promise((r) => waiting.push(r))) };
}

test('forgot password and invites: plain words without a relay, a working emailed link with one', { timeout: 120_000, skip }, async (t) => {
  if (SMTP_PORT) relay = smtpRelay(SMTP_PORT);
  const email = `reset+${Date.now()}@example.com`;
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password: PASSWORD } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Reset bakery' } })).id;

  browser = await launchBrowser('reset');
  const { page } = browser;
  await page.goto(`${BASE_URL}/login`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor();
  await page.locator('input[name=email]').fill(email);
  await page.getByRole('button', { name: 'Email me a reset link' }).click();
  const requested = await page.getByTestId('reset-requested').innerText();

  if (!SMTP_PORT) {
    assert.match(requested, /does not send email/);
    t.diagnostic('✔ without a relay the forgot-password screen says no email can be sent');
    await page.goto(`${BASE_URL}/login?next=/settings/members`);
    await page.locator('input[name=email]').fill(email);
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('invite-form').locator('input[name=invite-email]').fill(`bob+${Date.now()}@example.com`);
    await page.getByRole('button', { name: 'Create invite link' }).click();
    assert.match(await page.getByTestId('invite-delivery').innerText(), /does not send email, so share this link with them yourself/);
    t.diagnostic('✔ without a relay the invite says to share the link by hand');
    return;
  }

  assert.match(requested, /reset link is on its way/);
  const mail = await relay.next();
  const body = mail.replace(/=\n/g, '').replace(/=3D/g, '=');
  const link = body.match(/https?:\/\/\S+\/reset-password#token=\S+/)?.[0];
  assert.ok(link?.startsWith(BASE_URL), `the mail links to this dashboard: ${body}`);
  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();
  await page.locator('input[name=new-password]').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByTestId('reset-done').waitFor();
  t.diagnostic('✔ the emailed link opened the reset screen and set a new password');

  await page.goto(`${BASE_URL}/login`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('account').getByText(email).waitFor();
  t.diagnostic('✔ logged in with the new password');

  const { access_token: fresh } = await api('/v1/auth/login', { method: 'POST', body: { email, password: 'a brand new passphrase' } });
  const invite = await api(`/v1/workspaces/${ws}/invites`, { token: fresh, method: 'POST', body: { email: `bob+${Date.now()}@example.com`, role: 'agent' } });
  assert.equal(invite.emailed, true);
  assert.match((await relay.next()).replace(/=\n/g, ''), /accept-invite#token/);
  t.diagnostic('✔ with a relay the invite is emailed');
});
