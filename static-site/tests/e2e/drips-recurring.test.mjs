// Browser test of the Drips and Recurring screens against the real API: the empty states, a welcome drip
// created through the form (a refusal shown, then steps with their stats table), paused and resumed; a
// weekly schedule created with its live next-runs preview, then its next runs and pause; both screens on a
// phone in dark mode without sideways scrolling.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
let browser;

after(async () => {
  if (browser) await browser.close();
});

test('a drip and a recurring schedule created in the dashboard', { timeout: 120_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const email = `drips+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Drips' } })).id;
  const site = (await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Drip shop', allowed_origins: ['https://drips.example.com'], contact: 'mailto:ops@example.com' } })).id;
  browser = await launchBrowser('drips');
  const { page } = browser;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${BASE_URL}/login?next=/web-push/drips`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();

  // Drips: empty state, then the form.
  await page.getByTestId('drips-empty').waitFor();
  t.diagnostic('✔ drips: empty state');
  await page.getByTestId('drips-empty').getByRole('button', { name: 'Create a drip' }).click();
  const form = page.getByTestId('drip-form');
  await form.locator('input[name=drip-name]').fill('Welcome series');
  await form.locator('input[name=step-0-title]').fill('Welcome!');
  await form.locator('input[name=step-1-title]').fill('A day later');
  await form.locator('input[name=step-1-url]').fill('javascript:alert(1)');
  await form.getByRole('button', { name: 'Create drip' }).click();
  await form.getByRole('alert').getByText(/steps\[1\]\.url/).waitFor();
  t.diagnostic('✔ drips: a bad step is refused, naming the field');
  await form.locator('input[name=step-1-url]').fill('https://drips.example.com/tips');
  await form.getByRole('button', { name: 'Add a step' }).click();
  await form.locator('input[name=step-2-amount]').fill('3');
  await form.locator('input[name=step-2-title]').fill('Three days in');
  await form.getByRole('button', { name: 'Create drip' }).click();
  const card = page.getByTestId('drip-card');
  await card.getByText('Welcome series').waitFor();
  const rows = await card.getByTestId('drip-steps').locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 3, rows.join('\n'));
  assert.match(rows[0], /at once\s+Welcome!\s+0/);
  assert.match(rows[1], /after 1 day\s+A day later/);
  assert.match(rows[2], /after 3 days\s+Three days in/);
  const saved = (await api(`/v1/workspaces/${ws}/sites/${site}/drips`, { token })).drips[0];
  assert.deepEqual(saved.steps.map((s) => s.delay_minutes), [0, 1440, 4320]);
  t.diagnostic('✔ drips: created with three steps and their stats table');
  await card.getByRole('button', { name: 'Pause' }).click();
  await card.locator('.badge', { hasText: 'paused' }).waitFor();
  await card.getByRole('button', { name: 'Resume' }).click();
  await card.locator('.badge', { hasText: 'active' }).waitFor();
  t.diagnostic('✔ drips: paused and resumed');

  // Recurring: empty state, then a weekly schedule with the live preview.
  await page.goto(`${BASE_URL}/web-push/recurring`);
  await page.getByTestId('recurring-empty').waitFor();
  await page.getByTestId('recurring-empty').getByRole('button', { name: 'Create a schedule' }).click();
  const sform = page.getByTestId('schedule-form');
  await sform.locator('input[name=schedule-name]').fill('Friday deals');
  await sform.locator('select[name=rule-kind]').selectOption('weekly');
  await sform.locator('input[name=day-mon]').uncheck();
  await sform.locator('input[name=day-fri]').check();
  await sform.locator('input[name=time]').fill('10:30');
  await sform.locator('input[name=timezone]').fill('Mars/Olympus');
  await sform.getByTestId('runs-preview').getByText(/timezone:/).waitFor();
  t.diagnostic('✔ recurring: the preview shows a bad time zone at once');
  await sform.locator('input[name=timezone]').fill('Europe/Berlin');
  await sform.getByTestId('runs-preview').getByText(/Next runs: \d{4}-\d\d-\d\d/).waitFor();
  const preview = await sform.getByTestId('runs-preview').innerText();
  const dates = [...preview.matchAll(/(\d{4}-\d\d-\d\d)/g)].map((m) => m[1]);
  assert.equal(dates.length, 3, preview);
  for (const d of dates) assert.equal(new Date(`${d}T12:00:00Z`).getUTCDay(), 5, `${d} is a Friday`);
  await sform.locator('input[name=schedule-title]').fill('Deals of the week');
  await sform.getByRole('button', { name: 'Create schedule' }).click();
  const scard = page.getByTestId('schedule-card');
  await scard.getByText('Friday deals').waitFor();
  await scard.getByText(/Every Fri at 10:30 \(Europe\/Berlin\)/).waitFor();
  await scard.getByTestId('schedule-next').getByText(new RegExp(`Next run ${dates[0]}`)).waitFor();
  await scard.getByRole('button', { name: 'Next runs' }).click();
  await scard.getByTestId('next-runs').locator('li').nth(4).waitFor();
  assert.equal(await scard.getByTestId('next-runs').locator('li').count(), 5);
  await scard.getByRole('button', { name: 'Past runs' }).click();
  await scard.getByText('No run yet.').waitFor();
  const schedules = (await api(`/v1/workspaces/${ws}/sites/${site}/recurring`, { token })).schedules;
  assert.deepEqual([schedules[0].rule, schedules[0].time, schedules[0].timezone], [{ kind: 'weekly', days: ['fri'] }, '10:30', 'Europe/Berlin']);
  t.diagnostic('✔ recurring: created; next runs and past runs listed');
  await scard.getByRole('button', { name: 'Pause' }).click();
  await scard.locator('.badge', { hasText: 'paused' }).waitFor();
  await scard.getByText(/\(when resumed\)/).waitFor();
  t.diagnostic('✔ recurring: paused');

  // On a phone in dark mode, neither screen scrolls sideways.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/web-push/drips', '/web-push/recurring']) {
    await page.goto(`${BASE_URL}${path}`);
    await page.getByTestId(path.endsWith('drips') ? 'drip-card' : 'schedule-card').waitFor();
    const [scroll, inner, background] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth, getComputedStyle(document.documentElement).backgroundColor]);
    assert.ok(scroll <= inner, `${path} is ${scroll} px wide at ${inner}`);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 200, `${path} has a dark background in dark mode: ${background}`);
  }
  t.diagnostic('✔ both screens fit a phone in dark mode');
});
