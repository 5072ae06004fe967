// Browser test of accounts and workspaces against the real API (`webtrigger serve`):
// sign up → create a workspace → invite a teammate → they sign up and accept → roles, an API key shown
// once, the audit log, and a reload that stays signed in through the refresh cookie.
//
//   BASE_URL=http://127.0.0.1:8080 EXPECT_API=1 npm run test:e2e
//
// Skipped unless EXPECT_API=1 (it needs the API). Screenshots: test-results/auth-*.png.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { BASE_URL, CHROMIUM, CHROMIUM_ARGS } from './support.mjs';

const EXPECT_API = process.env.EXPECT_API === '1';
const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results');
const STEP = 90_000;
const stamp = Date.now();
const ADA = `ada+${stamp}@example.com`;
const BOB = `bob+${stamp}@example.com`;
const PASSWORD = 'correct horse battery';

const dirs = [];
let browser;

async function launch() {
  const dir = mkdtempSync(join(tmpdir(), 'webtrigger-auth-'));
  dirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 860 }, timeout: 30_000 });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  return context;
}

async function signUp(page, email, password = PASSWORD) {
  await page.getByRole('heading', { level: 1, name: 'Create your account' }).waitFor();
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

const skip = !EXPECT_API || !BASE_URL ? 'needs the API: run against `webtrigger serve` with BASE_URL and EXPECT_API=1' : false;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let ada;
let inviteLink;

test('sign up shows server validation, then creates the account and a workspace', { timeout: STEP, skip }, async (t) => {
  ada = await launch();
  browser = ada;
  const page = ada.pages()[0] ?? (await ada.newPage());
  await page.goto(`${BASE_URL}/signup`);
  await signUp(page, ADA, 'short');
  const error = await page.getByTestId('form-error').innerText();
  assert.match(error, /password is too weak/i, 'the server validation message is shown');
  t.diagnostic('✔ weak password refused with the server message');

  await page.locator('input[name=password]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await page.getByTestId('account').getByText(ADA).waitFor();
  t.diagnostic('✔ signed up and signed in');

  await page.goto(`${BASE_URL}/settings/members`);
  await page.getByTestId('create-workspace').waitFor();
  await page.getByLabel('Workspace name').fill('Acme');
  await page.getByRole('button', { name: 'Create workspace' }).click();
  await page.getByTestId('members-table').getByText(ADA).waitFor();
  const switcher = page.getByTestId('workspace-switcher');
  assert.equal(await switcher.locator('option:checked').innerText(), 'Acme');
  t.diagnostic('✔ workspace created and selected in the switcher (reload restores the session too)');
  await page.reload();
  await page.getByTestId('members-table').getByText(ADA).waitFor();
});

test('invite a teammate: the link is shown and the invite listed', { timeout: STEP, skip }, async (t) => {
  const page = ada.pages()[0];
  await page.locator('input[name=invite-email]').fill(BOB);
  await page.getByTestId('invite-form').getByLabel('Role').selectOption('editor');
  await page.getByRole('button', { name: 'Create invite link' }).click();
  inviteLink = (await page.getByTestId('invite-link').locator('code').innerText()).trim();
  assert.match(inviteLink, /\/accept-invite#token=inv_/);
  await page.getByTestId('invites-table').getByText(BOB).waitFor();
  await page.screenshot({ path: join(RESULTS_DIR, 'auth-members.png'), fullPage: true });
  t.diagnostic(`✔ invite link shown and pending invite listed`);
});

test('the teammate signs up from the link and joins as editor', { timeout: STEP, skip }, async (t) => {
  const bob = await launch();
  const page = bob.pages()[0] ?? (await bob.newPage());
  await page.goto(inviteLink);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await signUp(page, BOB);
  await page.getByRole('button', { name: 'Accept invite' }).click();
  assert.match(await page.getByTestId('invite-result').innerText(), /joined the workspace as editor/);
  const switcher = page.getByTestId('workspace-switcher');
  await page.waitForFunction(() => document.querySelector('[data-testid="workspace-switcher"] option:checked')?.textContent === 'Acme');
  assert.equal(await switcher.locator('option:checked').innerText(), 'Acme');
  t.diagnostic('✔ accepted; the switcher shows Acme');
  await page.goto(`${BASE_URL}/settings/api-keys`);
  await page.getByText('Only owners and admins manage API keys.').waitFor();
  t.diagnostic('✔ an editor cannot manage API keys');
  await bob.close();

  const adaPage = ada.pages()[0];
  await adaPage.reload();
  const row = adaPage.getByTestId('members-table').locator('tr', { hasText: BOB });
  await row.waitFor();
  assert.equal(await row.getByRole('combobox').inputValue(), 'editor');
  t.diagnostic('✔ the owner sees the new member with role editor');
});

test('an API key is shown once; the audit log records the changes', { timeout: STEP, skip }, async (t) => {
  const page = ada.pages()[0];
  await page.goto(`${BASE_URL}/settings/api-keys`);
  await page.locator('input[name=key-name]').fill('ci');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('api-key-secret').locator('code').innerText()).trim();
  assert.match(secret, /^wt_[0-9a-z]{26}_/);
  const prefix = secret.slice(0, 12);
  await page.getByTestId('api-keys-table').getByText(`${prefix}…`).waitFor();
  await page.reload();
  await page.getByTestId('api-keys-table').getByText(`${prefix}…`).waitFor();
  assert.equal(await page.getByTestId('api-key-secret').count(), 0, 'the secret is gone after a reload');
  assert.ok(!(await page.content()).includes(secret.slice(14)), 'the secret is nowhere on the page');
  t.diagnostic('✔ API key secret shown once, prefix listed');

  const response = await fetch(`${BASE_URL}/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(response.status, 403, 'an API key is not a user session');

  await page.goto(`${BASE_URL}/settings/audit-log`);
  const audit = page.getByTestId('audit-table');
  await audit.getByText('api_key.create').waitFor();
  for (const action of ['invite.create', 'invite.accept', 'workspace.create']) await audit.getByText(action, { exact: true }).waitFor();
  await page.screenshot({ path: join(RESULTS_DIR, 'auth-audit.png'), fullPage: true });
  t.diagnostic('✔ audit log lists api_key.create, invite.create, invite.accept, workspace.create');
  const actors = await audit.locator('tbody tr td:nth-child(4)').allTextContents();
  assert.ok(actors.includes(ADA) && actors.includes(BOB), `actors are shown by email: ${actors}`);
  assert.ok(!actors.some((a) => a.startsWith('usr_')), `no raw user ids: ${actors}`);
  t.diagnostic('✔ the audit log names actors by email, not raw ids');
});
