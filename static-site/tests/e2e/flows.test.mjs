// Browser test of the Bot flows page against the real API: a flow is built in the step editor (a bad
// capture target shows its problem on the step until fixed), the local preview reads the draft, the
// simulator runs it on the real engine (an invalid answer is re-prompted, a valid one moves on), and
// publishing makes v1 live and lists it.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS, api } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
const password = 'correct horse battery';
let context;
let page;
let dir;
let token;
let ws;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  const email = `flows+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  ws = await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Bots' } });
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-flows-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${BASE_URL}/login?next=/flows`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('build a flow, see problems on the step, preview, simulate, publish', { timeout: 120_000, skip }, async () => {
  await page.getByText('No flows yet.').waitFor();
  await page.getByRole('button', { name: 'New flow' }).click();
  const form = page.getByTestId('flow-form');
  await form.locator('input[name=flow-name]').fill('Lead bot');
  await form.locator('input[name=keyword]').fill('quote');
  await form.locator('textarea[name="welcome.text"]').fill('Hi! Let us get you a quote.');

  // An ask step with a bad target: the server's check shows the problem on that step.
  await form.locator('select[name=add-step]').selectOption('ask');
  const ask = form.locator('li[data-step="ask_2"]');
  await ask.locator('input[name=step-id]').fill('ask_4');
  const askStep = form.locator('li[data-step="ask_4"]');
  await askStep.locator('textarea[name="ask_4.text"]').fill('What is your email?');
  await askStep.locator('input[name="ask_4.into"]').fill('has space');
  await askStep.locator('select[name="ask_4.kind"]').selectOption('email');
  await askStep.getByTestId('step-error').filter({ hasText: 'into' }).waitFor();
  await askStep.locator('input[name="ask_4.into"]').fill('email');
  await form.locator('select[name=add-step]').selectOption('send_text');
  const thanks = form.locator('li[data-step="send_text_3"]');
  await thanks.locator('input[name=step-id]').fill('thanks');
  await form.locator('textarea[name="thanks.text"]').fill('Thanks, we will write to {{email}}.');
  // Connections are picked from the steps there are.
  await form.locator('select[name="welcome.next"]').selectOption('ask_4');
  await askStep.locator('select[name="ask_4.next"]').selectOption('thanks');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=step-error]').length === 0);

  // The local preview reads the draft as written.
  const preview = page.getByTestId('flow-preview');
  await preview.getByText('What is your email?').waitFor();
  await preview.getByText('Thanks, we will write to {{email}}.').waitFor();

  await form.getByRole('button', { name: 'Create flow' }).click();
  await page.getByTestId('flows-table').getByText('Lead bot').waitFor();

  // The simulator runs the saved draft on the engine: re-prompt, then the captured answer renders.
  const sim = page.getByTestId('simulator');
  await sim.getByRole('button', { name: 'Start' }).click();
  await sim.locator('[data-from=bot]').filter({ hasText: 'What is your email?' }).waitFor();
  await sim.locator('input[name=sim-text]').fill('not an email');
  await sim.getByRole('button', { name: 'Send' }).click();
  await sim.locator('[data-from=bot]').filter({ hasText: 'What is your email?' }).nth(1).waitFor();
  await sim.locator('input[name=sim-text]').fill('ada@example.com');
  await sim.getByRole('button', { name: 'Send' }).click();
  await sim.getByText('Thanks, we will write to ada@example.com.').waitFor();
  await sim.getByText('The flow ended.').waitFor();

  // Publish: v1 is live, listed with who published it.
  const pub = page.getByTestId('publishing');
  await pub.getByRole('button', { name: 'Publish draft' }).click();
  await pub.getByTestId('live-version').filter({ hasText: 'v1' }).waitFor();
  const flows = await api(`/v1/workspaces/${ws.id}/flows`, { token });
  assert.equal(flows.length, 1);
  assert.equal(flows[0].live_version, 1);
  assert.equal(flows[0].live.steps.find((s) => s.id === 'ask_4').into, 'email');
  const versions = await api(`/v1/workspaces/${ws.id}/flows/${flows[0].id}/versions`, { token });
  assert.equal(versions[0].number, 1);
});
