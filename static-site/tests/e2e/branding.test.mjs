// Browser test of workspace branding: Settings → Workspace sets a light primary colour (yellow) and a PNG
// logo; the shell's accent (a rendered button) is then readable — at least 4.5:1 against the page and its
// own text — in light mode at 1280 px and in dark mode at 390 px, the logo shows in the sidebar/top bar,
// an SVG is refused on the screen, the sidebar's current-page item takes the brand colour (its hue, white
// text at 4.5:1, visible on the sidebar) in both schemes, and reset brings the product's colour and mark back.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (BASE_URL, EXPECT_API=1)' : false;
const password = 'correct horse battery';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
let browser;
let page;
let token;
let workspace;
const errors = [];

const channels = (css) => (css.startsWith('#') ? [1, 3, 5].map((i) => Number.parseInt(css.slice(i, i + 2), 16)) : css.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number));
const luminance = (css) => {
  const [r, g, b] = channels(css).map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

/** Hue in degrees of a computed `rgb(…)` colour. */
const hue = (css) => {
  const [r, g, b] = channels(css).map((v) => v / 255);
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
};
const DEFAULT_NAV_CURRENT = 'rgb(49, 46, 129)';

/** The sidebar's current-page item (Settings → Workspace here) and the sidebar behind it. */
const navState = () =>
  page.evaluate(() => {
    const item = document.querySelector('.sidebar .nav-link.current');
    const css = getComputedStyle(item);
    return { label: item.textContent.trim(), background: css.backgroundColor, text: css.color, sidebar: getComputedStyle(item.closest('.sidebar')).backgroundColor };
  });

/** The brand shows in the current item: its hue, readable text, and a highlight that stands out. */
function assertBrandedNav(nav, brand, scheme) {
  assert.notEqual(nav.background, DEFAULT_NAV_CURRENT, `${scheme}: the current item left the default indigo`);
  const off = Math.abs(hue(nav.background) - hue(brand));
  assert.ok(Math.min(off, 360 - off) < 12, `${scheme}: current item ${nav.background} has the hue of ${brand}`);
  assert.ok(contrast(nav.text, nav.background) >= 4.5, `${scheme}: item text ${nav.text} on ${nav.background}`);
  assert.ok(contrast(nav.background, nav.sidebar) >= 1.5, `${scheme}: item ${nav.background} stands out from the sidebar ${nav.sidebar}`);
}

/** The rendered "Save colour" button's colours, the card behind it and the accent variable. */
const accentState = () =>
  page.evaluate(() => {
    const button = [...document.querySelectorAll('[data-testid=branding-form] button')].find((b) => b.textContent.includes('Save colour'));
    const css = getComputedStyle(button);
    return {
      accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
      background: css.backgroundColor,
      text: css.color,
      card: getComputedStyle(button.closest('.card')).backgroundColor,
      width: document.documentElement.scrollWidth,
    };
  });

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  const email = `branding+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  workspace = (await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Branded E2E' } })).id;
  await api('/v1/me/default-workspace', { token, method: 'PUT', body: { workspace_id: workspace } });
  browser = await launchBrowser('branding');
  page = browser.page;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${BASE_URL}/login?next=/settings/workspace`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
});

after(async () => {
  if (browser) await browser.close();
});

test('a workspace colour and logo theme the dashboard in light and dark mode', { skip }, async () => {
  const form = page.getByTestId('branding-form');
  await form.waitFor();
  const before = await accentState();
  assert.equal(before.accent, '#4f46e5', 'the product accent until branding is set');
  assert.equal(await page.getByTestId('brand-logo').count(), 0);
  const navBefore = await navState();
  assert.equal(navBefore.background, DEFAULT_NAV_CURRENT, `the product's current-item colour until branding is set (${navBefore.label})`);

  await form.locator('input[name=primary_color]').fill('#facc15');
  await form.getByRole('button', { name: 'Save colour' }).click();
  await form.getByText('Colour saved.').waitFor();
  await page.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() !== '#4f46e5');
  const light = await accentState();
  assert.notEqual(light.accent, '#facc15', 'yellow on white is unreadable, so the light accent is darkened');
  assert.ok(contrast(light.background, light.card) >= 4.5, `light accent ${light.background} on ${light.card}: ${contrast(light.background, light.card)}`);
  assert.ok(contrast(light.background, light.text) >= 4.5, `light button text ${light.text} on ${light.background}`);
  assert.equal(light.width, 1280, 'no horizontal overflow at 1280 px');
  assertBrandedNav(await navState(), '#facc15', 'light');

  await form.locator('input[name=logo]').setInputFiles({ name: 'evil.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg onload="alert(1)"/>') });
  await form.getByText(/SVG is not accepted/).waitFor();
  await form.locator('input[name=logo]').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: PNG });
  await form.getByText('Logo saved.').waitFor();
  const logo = page.locator('.sidebar [data-testid=brand-logo]');
  await logo.waitFor();
  assert.match(await logo.getAttribute('src'), /^data:image\/png;base64,/);
  assert.equal(await logo.getAttribute('alt'), 'Branded E2E logo');
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth === 1), 'the logo image decodes');

  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction((lightAccent) => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() !== lightAccent, light.accent);
  const dark = await accentState();
  assert.equal(dark.accent, '#facc15', 'yellow already reads on the dark surface, so it stays');
  assert.ok(luminance(dark.card) < 0.05, `dark mode card ${dark.card}`);
  assert.ok(contrast(dark.background, dark.card) >= 4.5, `dark accent ${dark.background} on ${dark.card}`);
  assert.ok(contrast(dark.background, dark.text) >= 4.5, `dark button text ${dark.text} on ${dark.background}`);
  assert.equal(dark.width, 390, 'no horizontal overflow at 390 px');
  assertBrandedNav(await navState(), '#facc15', 'dark');
  const topLogo = page.locator('.topbar [data-testid=brand-logo]');
  assert.ok(await topLogo.isVisible(), 'the phone top bar shows the logo');

  const me = await api('/v1/me', { token });
  assert.deepEqual(me.workspaces.find((w) => w.id === workspace).branding.primary_color, '#facc15');

  await form.getByRole('button', { name: 'Reset colour' }).click();
  await form.getByText('Colour reset to the default.').waitFor();
  await page.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() === '#818cf8');
  assert.equal((await navState()).background, DEFAULT_NAV_CURRENT, 'reset brings the default current item back');
  await form.getByRole('button', { name: 'Remove logo' }).click();
  await form.getByText('Logo removed.').waitFor();
  await page.locator('[data-testid=brand-logo]').first().waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
});
