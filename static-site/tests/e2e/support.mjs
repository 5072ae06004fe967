// What every browser test shares: the server under test, the Chromium binary and its flags (exactly
// those of /work/shared/reference/browser-e2e.md), and a JSON client for setting up state through the API.
// Not a test file itself (node --test picks up only *.test.mjs).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.BASE_URL ?? '').trim().replace(/\/+$/, '');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Calls the API and returns `data`; fails the test on any error envelope. */
export async function api(path, { token, method = 'GET', body } = {}) {
  const res = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok && json.success, `${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json.data;
}

/** A headless Chromium with a fresh profile and its first page; `close()` ends it and removes the profile. */
export async function launchBrowser(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `webtrigger-${prefix}-`));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return { context, page, close };
}

/**
 * Makes `worker` (a Playwright service worker) record every `showNotification(title, options)` it is asked
 * for in `self.shownForTest`. Headless Chromium's notification centre sometimes drops a shown notification
 * at once (getNotifications() is empty although showNotification resolved), so tests assert on the request.
 */
export async function recordShownNotifications(worker) {
  await worker.evaluate(() => {
    self.shownForTest = [];
    const show = self.registration.showNotification.bind(self.registration);
    self.registration.showNotification = (title, options) => {
      self.shownForTest.push({ title, options });
      return show(title, options);
    };
  });
}
