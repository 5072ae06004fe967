// Browser test of the Import, Segments and compose-audience screens against the real API: import a
// small CSV (one bad row reported by its line), build a segment in the rule builder with a live estimate
// (a refused rule shown at that rule), use it in compose and send (targeted = the estimate), export the
// subscribers, and delete the segment.
//
//   BASE_URL=… EXPECT_API=1 PUSH_FAKE_HOST=127.0.0.1:<port> npm run test:e2e
// PUSH_FAKE_HOST must be a host the server was started with `--allow-push-host` for (test-all.sh does).

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const FAKE = process.env.PUSH_FAKE_HOST ?? '';
const skip = process.env.EXPECT_API !== '1' || !BASE_URL || !FAKE ? 'needs the API and PUSH_FAKE_HOST (see the header)' : false;
let browser;

after(async () => {
  if (browser) await browser.close();
});

const key = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' }).subarray(-65).toString('base64url');

test('import subscribers, build a segment, send to it', { timeout: 180_000, skip }, async (t) => {
  assert.ok(existsSync(CHROMIUM));
  const email = `segments+${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } });
  const ws = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Segments' } })).id;
  await api(`/v1/workspaces/${ws}/sites`, { token, method: 'POST', body: { name: 'Segment shop', allowed_origins: ['https://segments.example.com'], contact: 'mailto:ops@example.com' } });
  browser = await launchBrowser('segments');
  const { page } = browser;
  await page.goto(`${BASE_URL}/login?next=/web-push/import`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();

  // Import: three good rows and one with a broken key, reported by its file line.
  await page.getByTestId('import-help').waitFor();
  const run = randomBytes(4).toString('hex');
  const auth = () => randomBytes(16).toString('base64url');
  const csv = [
    'endpoint,p256dh,auth,tags,external_id,attributes,time_zone',
    `http://${FAKE}/push/seg-${run}-1,${key()},${auth()},vip newsletter,user-1,"{""plan"":""pro""}",Europe/Berlin`,
    `http://${FAKE}/push/seg-${run}-2,${key()},${auth()},vip,,"{""plan"":""free""}",Europe/Paris`,
    `http://${FAKE}/push/seg-${run}-3,${key()},${auth()},newsletter,,,America/New_York`,
    `http://${FAKE}/push/seg-${run}-4,not-a-key,${auth()},vip,,,`,
  ].join('\n');
  await page.locator('input[name=import-file]').setInputFiles({ name: 'subscribers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByTestId('import-result').getByText('Import finished').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('import-counts').innerText(), '4 of 4 rows · 3 created · 0 updated · 1 failed');
  const errorRows = await page.getByTestId('import-errors').locator('tbody tr').allInnerTexts();
  assert.equal(errorRows.length, 1);
  assert.match(errorRows[0], /^5\t/, `the bad row is reported as line 5: ${errorRows[0]}`);
  t.diagnostic('✔ CSV imported: 3 created, the bad row reported as line 5');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download all subscribers (CSV)' }).click()]);
  const exported = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.ok(exported[0].startsWith('id,endpoint,p256dh,auth,tags'), exported[0]);
  assert.equal(exported.length, 4, 'header and the three imported subscribers');
  t.diagnostic('✔ the export downloads the three subscribers as CSV');

  // Segments: empty state, then the rule builder with its live estimate.
  await page.getByRole('link', { name: 'Segments' }).click();
  await page.getByTestId('empty-state').getByText('No segments yet').waitFor();
  await page.getByRole('button', { name: 'Create a segment' }).click();
  const editor = page.getByTestId('segment-editor');
  await editor.locator('input[name=segment-name]').fill('VIP on pro');
  await editor.locator('input[name=rule-0-0-value]').fill('vip');
  await editor.getByTestId('estimate').getByText('2 of 3 subscribers match').waitFor();
  await editor.getByRole('button', { name: 'Add condition' }).click();
  await editor.locator('select[name=rule-0-1-field]').selectOption('subscribed');
  await editor.locator('input[name=rule-0-1-value]').fill('0');
  const second = editor.getByTestId('rule-condition').nth(1);
  await second.getByRole('alert').getByText(/rules\.groups\[0\]\.conditions\[1\]\.value: must be a whole number of days/).waitFor();
  t.diagnostic('✔ a refused rule is shown at that rule');
  await editor.locator('select[name=rule-0-1-field]').selectOption('attribute');
  await editor.locator('input[name=rule-0-1-key]').fill('plan');
  await editor.locator('input[name=rule-0-1-value]').fill('pro');
  await editor.getByTestId('estimate').getByText('1 of 3 subscribers match').waitFor();
  assert.equal(await second.getByRole('alert').count(), 0, 'the problem is gone once the rule is valid');
  t.diagnostic('✔ the live estimate follows the rules (2 → 1 of 3)');
  // An OR group widens it: anyone in New York.
  await editor.getByRole('button', { name: /Add a group/ }).click();
  await editor.locator('select[name=rule-1-0-field]').selectOption('time_zone');
  await editor.locator('input[name=rule-1-0-value]').fill('America/New_York');
  await editor.locator('select[name=rule-match]').selectOption('any');
  await editor.getByTestId('estimate').getByText('2 of 3 subscribers match').waitFor();
  await editor.getByRole('button', { name: 'Save segment' }).click();
  const row = page.getByTestId('segments-table').locator('tr', { hasText: 'VIP on pro' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Estimate' }).click();
  await row.getByTestId('segment-estimate').getByText('2 of 3').waitFor();
  t.diagnostic('✔ saved with an OR group; its estimate in the list is 2 of 3');

  // Compose to the segment: the estimate is shown before sending, and the send targets that many.
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.locator('input[name=audience][value=segment]').check();
  await page.locator('select[name=segment]').selectOption({ label: 'VIP on pro' });
  await page.getByTestId('audience').getByTestId('estimate').getByText('2 of 3 subscribers match').waitFor();
  await page.locator('input[name=title]').fill(`Segment sale ${run}`);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByText('Queued for delivery.').waitFor();
  await page.waitForFunction((title) => {
    const row = [...document.querySelectorAll('[data-testid="notifications-table"] tbody tr')].find((r) => r.textContent.includes(title));
    return row && row.querySelectorAll('td')[3].textContent === '2';
  }, `Segment sale ${run}`, { timeout: 30_000 });
  t.diagnostic('✔ sent to the segment: 2 targeted, as estimated');
  await page.locator('input[name=audience][value=rules]').check();
  await page.locator('input[name=compose-rule-0-0-value]').fill('newsletter');
  await page.getByTestId('audience').getByTestId('estimate').getByText('2 of 3 subscribers match').waitFor();
  t.diagnostic('✔ custom rules in compose have their live estimate');

  await page.getByRole('link', { name: 'Segments' }).click();
  const again = page.getByTestId('segments-table').locator('tr', { hasText: 'VIP on pro' });
  await again.getByRole('button', { name: 'Delete' }).click();
  await again.getByRole('button', { name: 'Confirm delete' }).click();
  await page.getByTestId('empty-state').getByText('No segments yet').waitFor();
  t.diagnostic('✔ deleted; the empty state is back');

  // A file past the server's 1 MiB body limit goes up in parts cut at line ends; lines count across parts.
  await page.getByRole('link', { name: 'Import', exact: true }).click();
  const padding = Array.from({ length: 150 }, () => ' '.repeat(8000));
  const large = [
    'endpoint,p256dh,auth,tags,external_id,attributes,time_zone',
    `http://${FAKE}/push/seg-${run}-5,${key()},${auth()},bulk,,,Europe/Berlin`,
    ...padding,
    `http://${FAKE}/push/seg-${run}-6,${key()},${auth()},bulk,,,Europe/Berlin`,
    `http://${FAKE}/push/seg-${run}-7,short,${auth()},bulk,,,`,
  ].join('\n');
  assert.ok(large.length > 1024 * 1024, 'the file is past the body limit');
  await page.locator('input[name=import-file]').setInputFiles({ name: 'large.csv', mimeType: 'text/csv', buffer: Buffer.from(large) });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByTestId('import-result').getByText('Import finished').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('import-parts').innerText(), '2 parts uploaded');
  assert.equal(await page.getByTestId('import-counts').innerText(), '3 of 3 rows · 2 created · 0 updated · 1 failed');
  const largeErrors = await page.getByTestId('import-errors').locator('tbody tr').allInnerTexts();
  assert.deepEqual(largeErrors.map((r) => r.split('\t')[0]), ['154'], `the bad row is line 154 of the whole file: ${largeErrors}`);
  t.diagnostic('✔ a 1.2 MB file went up in 2 parts; its bad row is reported by its line in the whole file');
});
