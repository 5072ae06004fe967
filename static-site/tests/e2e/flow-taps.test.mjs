// Browser test of list steps and taps in the Bot flows simulator, and of the workspace time zone that
// business hours are read in: the simulator shows a list's rows as options, tapping one answers with
// its id (the title it shows does not matter), and Settings → Workspace saves an IANA zone and says so
// when a name is not one.
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
const errors = [];

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  const email = `flow-taps+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  ws = await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Taps' } });
  dir = mkdtempSync(join(tmpdir(), 'webtrigger-flow-taps-'));
  context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 390, height: 844 } });
  context.setDefaultTimeout(15_000);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${BASE_URL}/login?next=/flows`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('No flows yet.').waitFor();
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a list step in the simulator: rows are options, a tap answers with its id', { timeout: 120_000, skip }, async () => {
  await api(`/v1/workspaces/${ws.id}/flows`, { token, method: 'POST', body: { name: 'Day picker', triggers: [{ type: 'button_reply', id: 'pick_day' }], steps: [
    { id: 'day', type: 'list', text: 'Which day?', button: 'Days', rows: [{ id: 'mon', title: 'Monday' }, { id: 'tue', title: 'Tuesday' }], into: 'day', next: 'route' },
    { id: 'route', type: 'branch', rules: [{ when: [{ op: 'eq', var: 'reply_id', value: 'tue' }], next: 'tuesday' }], default: 'other' },
    { id: 'tuesday', type: 'send_text', text: 'Tuesday it is ({{day}})' },
    { id: 'other', type: 'send_text', text: 'Another day: {{day}}' },
  ] } });
  await page.goto(`${BASE_URL}/flows`);
  const table = page.getByTestId('flows-table');
  await table.getByText('button_reply “pick_day”').waitFor();
  await table.getByRole('button', { name: 'Open' }).click();
  const sim = page.getByTestId('simulator');
  await sim.getByRole('button', { name: 'Start' }).click();
  await sim.locator('[data-from=bot]').filter({ hasText: 'Which day?' }).waitFor();
  const options = sim.getByTestId('sim-options');
  assert.deepEqual(await options.getByRole('button').allTextContents(), ['Monday', 'Tuesday']);
  await options.getByRole('button', { name: 'Tuesday' }).click();
  await sim.getByText('Tuesday it is (tue)').waitFor();
  await sim.getByText('The flow ended.').waitFor();
  assert.equal(await sim.getByTestId('sim-options').count(), 0, 'no options once the flow ended');
  // Typed text still works: by position, with no tapped id the branch takes its default.
  await sim.getByRole('button', { name: 'Start' }).click();
  await sim.locator('input[name=sim-text]').fill('1');
  await sim.getByRole('button', { name: 'Send' }).click();
  await sim.getByText('Another day: mon').waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390, 'no horizontal overflow on a phone');
});

test('the workspace time zone: a bad name is refused in plain words, a good one is saved', { timeout: 60_000, skip }, async () => {
  await page.goto(`${BASE_URL}/settings/workspace`);
  const zone = page.locator('input[name=time_zone]');
  await zone.fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'is not a time zone' }).waitFor();
  await zone.fill('Europe/Berlin');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  const saved = await api(`/v1/workspaces/${ws.id}`, { token });
  assert.equal(saved.time_zone, 'Europe/Berlin');
  await page.reload();
  assert.equal(await page.locator('input[name=time_zone]').inputValue(), 'Europe/Berlin');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390);
  assert.deepEqual(errors.filter((e) => !e.includes('422')), [], 'no console errors');
});
