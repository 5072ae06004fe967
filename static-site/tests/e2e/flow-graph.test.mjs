// Browser test of the flow builder's drag editing against the real API: a step dragged by its handle
// to a new place is saved in that order; in the graph, a branch rule's port dragged onto a step
// connects it (drawn as an edge, saved as the rule's target); a problem from the server's check shows
// on its node; the hand-off step picks its team and agent from the workspace (with a "create a team
// first" empty state); the funnel and answers panels show their empty states; a branch's conditions are
// built in the form (a number test and business hours), saved as the exact JSON, and survive the JSON view.
//
//   BASE_URL=… EXPECT_API=1 npm run test:e2e

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { BASE_URL, CHROMIUM, api, launchBrowser } from './support.mjs';

const skip = process.env.EXPECT_API !== '1' || !BASE_URL ? 'needs the API (see the header)' : false;
const password = 'correct horse battery';
let browser;
let page;
let token;
let ws;
let flowId;
const errors = [];

const STEPS = [
  { id: 'start', type: 'send_text', text: 'Hi', next: 'route' },
  { id: 'route', type: 'branch', rules: [{ when: [{ op: 'eq', var: 'reply_id', value: 'big' }], next: 'small' }], default: 'small' },
  { id: 'big', type: 'send_text', text: 'Big it is' },
  { id: 'small', type: 'send_text', text: 'Small it is', next: 'human' },
  { id: 'human', type: 'handoff' },
];

before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM));
  const email = `flow-graph+${Date.now()}@example.com`;
  ({ access_token: token } = await api('/v1/auth/signup', { method: 'POST', body: { email, password } }));
  ws = await api('/v1/workspaces', { token, method: 'POST', body: { name: 'Graphs' } });
  flowId = (await api(`/v1/workspaces/${ws.id}/flows`, { token, method: 'POST', body: { name: 'Sizer', triggers: [{ type: 'keyword', value: 'size' }], steps: STEPS } })).id;
  browser = await launchBrowser('flow-graph');
  page = browser.page;
  await page.setViewportSize({ width: 1600, height: 2200 });
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${BASE_URL}/login?next=/flows`);
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('flows-table').getByRole('button', { name: 'Open' }).click();
});

after(async () => {
  if (browser) await browser.close();
});

/** Presses at the middle of `from`, moves in small steps to the middle of `to` (or its top edge), releases. */
async function drag(from, to, { top = false } = {}) {
  await from.scrollIntoViewIfNeeded();
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, top ? b.y + 4 : b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

const saved = () => api(`/v1/workspaces/${ws.id}/flows/${flowId}`, { token });

async function saveAndWait(check) {
  const form = page.getByTestId('flow-form');
  const put = page.waitForResponse((r) => r.url().endsWith(`/flows/${flowId}`) && r.request().method() === 'PUT');
  await form.getByRole('button', { name: 'Save draft', exact: true }).click();
  assert.equal((await put).status(), 200);
  const flow = await saved();
  check(flow.draft);
}

test('drag a step by its handle to a new place and save the new order', { timeout: 120_000, skip }, async () => {
  const steps = page.getByTestId('steps');
  await steps.locator('li[data-step=human]').waitFor();
  await drag(steps.locator('li[data-step=human] .step-handle'), steps.locator('li[data-step=route]'), { top: true });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=steps] > li')].map((li) => li.dataset.step).join() === 'start,human,route,big,small');
  await saveAndWait((d) => assert.deepEqual(d.steps.map((s) => s.id), ['start', 'human', 'route', 'big', 'small']));
  // The keyboard way: the handle's arrow keys move the step back down.
  await steps.locator('li[data-step=human] .step-handle').focus();
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=steps] > li')].map((li) => li.dataset.step).join() === 'start,route,human,big,small');
});

test('connect a branch rule to a step by dragging in the graph; a problem shows on its node', { timeout: 120_000, skip }, async () => {
  const form = page.getByTestId('flow-form');
  await form.getByRole('button', { name: 'Graph' }).click();
  const graph = page.getByTestId('flow-graph');
  await graph.locator('[data-edge="route.rules.0>small"]').waitFor({ state: 'attached' });
  await drag(graph.locator('[data-port="route.rules.0"]'), graph.locator('[data-node=big]'));
  await graph.locator('[data-edge="route.rules.0>big"]').waitFor({ state: 'attached' });
  assert.equal(await graph.locator('[data-edge="route.rules.0>small"]').count(), 0, 'the old connection is gone');
  await saveAndWait((d) => assert.equal(d.steps.find((s) => s.id === 'route').rules[0].next, 'big'));

  // Select a node, break its text in the form below: the server's check puts the problem on the node.
  await graph.locator('[data-node=big]').click();
  await form.locator('textarea[name="big.text"]').fill('   ');
  await graph.locator('[data-node=big] [data-testid=node-error]').filter({ hasText: 'text' }).waitFor();
  assert.match(await graph.locator('[data-node=big]').getAttribute('class'), /flow-node-invalid/);
  await form.locator('textarea[name="big.text"]').fill('Big it is');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=node-error]').length === 0);
  // The select under the graph is the same connection without a pointer.
  await graph.locator('[data-node=route]').click();
  await form.locator('select[name="route.default"]').selectOption('big');
  await graph.locator('[data-edge="route.default>big"]').waitFor({ state: 'attached' });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'the graph scrolls inside its box');
});

test('the hand-off step picks a team and an agent from the workspace', { timeout: 120_000, skip }, async () => {
  const form = page.getByTestId('flow-form');
  await form.getByRole('button', { name: 'Step list' }).click();
  const human = form.locator('li[data-step=human]');
  await human.getByTestId('no-teams').getByRole('link', { name: 'create a team first' }).waitFor();
  const team = await api(`/v1/workspaces/${ws.id}/teams`, { token, method: 'POST', body: { name: 'Sales desk', members: [] } });
  const [me] = await api(`/v1/workspaces/${ws.id}/agents`, { token });
  await page.reload();
  await page.getByTestId('flows-table').getByRole('button', { name: 'Open' }).click();
  await human.locator('select[name="human.team"]').selectOption({ label: 'Sales desk' });
  await human.locator('select[name="human.agent"]').selectOption({ label: me.email });
  assert.equal(await human.getByTestId('no-teams').count(), 0);
  await saveAndWait((d) => {
    const h = d.steps.find((s) => s.id === 'human');
    assert.deepEqual([h.team, h.agent], [team.id, me.user_id]);
  });
  // Nothing ran yet: the funnel and the answers say so.
  await page.getByTestId('funnel').getByText('No conversation has run a published version yet.').waitFor();
  await page.getByTestId('answers').getByText('Nothing captured yet.').waitFor();
  assert.deepEqual(errors.filter((e) => !e.includes('422')), [], 'no console errors');
});

test('branch conditions are built in the form, saved exactly, and round-trip through the JSON view', { timeout: 120_000, skip }, async () => {
  const form = page.getByTestId('flow-form');
  const route = form.locator('li[data-step=route]');
  const c = (j, field) => route.locator(`[name="route.rules.0.when.${j}.${field}"]`);
  await route.getByTestId('rules-form').waitFor();
  assert.deepEqual(await c(0, 'op').inputValue(), 'eq');
  assert.equal(await c(0, 'var').inputValue(), 'reply_id');
  assert.ok((await route.locator('datalist option').evaluateAll((os) => os.map((o) => o.value))).includes('reply_id'), 'variables are suggested');

  // The first condition becomes "age > 17" (the variable carries over when the kind changes).
  await c(0, 'op').selectOption('gt');
  assert.equal(await c(0, 'var').inputValue(), 'reply_id');
  await c(0, 'var').fill('age');
  await c(0, 'value').fill('seventeen');
  await route.getByText('Enter a number').waitFor();
  await c(0, 'value').fill('17');
  assert.equal(await route.getByText('Enter a number').count(), 0);
  // A second: business hours on Monday and Tuesday, 09:00–17:30 in Berlin (it starts as Mon–Fri).
  await route.getByRole('button', { name: 'Add condition' }).click();
  await c(1, 'op').selectOption('business_hours');
  for (const d of ['wed', 'thu', 'fri']) await c(1, `days.${d}`).uncheck();
  await c(1, 'from').fill('09:00');
  await c(1, 'to').fill('17:30');
  await c(1, 'time_zone').fill('Europe/Berlin');
  const when = [
    { op: 'gt', var: 'age', value: 17 },
    { op: 'business_hours', days: ['mon', 'tue'], from: '09:00', to: '17:30', time_zone: 'Europe/Berlin' },
  ];

  // A rule with no condition: the server's problem shows in that rule; removing the rule clears it.
  await route.getByRole('button', { name: 'Add rule' }).click();
  const second = route.locator('fieldset[data-rule="1"]');
  await second.getByRole('button', { name: 'Remove condition' }).click();
  await second.getByTestId('step-error').filter({ hasText: 'at least one condition' }).waitFor();
  await second.getByRole('button', { name: 'Remove rule' }).click();
  assert.equal(await route.locator('fieldset[data-rule]').count(), 1);
  await page.waitForFunction(() => document.querySelectorAll('li[data-step=route] [data-testid=step-error]').length === 0);

  // The JSON view shows the same rules; an edit there shows in the form; JSON the form cannot show stays JSON.
  await route.getByRole('button', { name: 'Edit as JSON' }).click();
  const json = route.locator('textarea[name="route.rules"]');
  assert.deepEqual(JSON.parse(await json.inputValue()), [{ when, next: 'big' }]);
  await json.fill(JSON.stringify([{ when: [{ op: 'someday', var: 'age' }], next: 'big' }]));
  await route.getByRole('button', { name: 'Edit as form' }).click();
  await route.getByRole('alert').filter({ hasText: 'unknown op `someday`' }).waitFor();
  await json.fill('[{"when": [');
  await route.getByRole('button', { name: 'Edit as form' }).click();
  await route.getByRole('alert').filter({ hasText: 'Fix the JSON first' }).waitFor();
  when[0].value = 18;
  await json.fill(JSON.stringify([{ when, next: 'big' }], null, 2));
  await route.getByRole('button', { name: 'Edit as form' }).click();
  await route.getByTestId('rules-form').waitFor();
  assert.equal(await c(0, 'value').inputValue(), '18');
  assert.deepEqual(await Promise.all(['mon', 'tue', 'wed', 'sun'].map((d) => c(1, `days.${d}`).isChecked())), [true, true, false, false]);
  assert.equal(await route.locator('select[name="route.rules.0"]').inputValue(), 'big', 'the rule keeps its target');

  await saveAndWait((d) => {
    const rules = d.steps.find((s) => s.id === 'route').rules;
    assert.deepEqual(rules, [{ when, next: 'big' }]);
  });
  // Back from the server the form shows the same conditions.
  await page.reload();
  await page.getByTestId('flows-table').getByRole('button', { name: 'Open' }).click();
  assert.equal(await c(0, 'var').inputValue(), 'age');
  assert.equal(await c(1, 'time_zone').inputValue(), 'Europe/Berlin');

  // On a phone in dark mode: no sideways scrolling, and the fields use the dark surface.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await route.scrollIntoViewIfNeeded();
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no horizontal overflow on a phone');
  assert.equal(await route.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, 'the rule form fits its step card');
  assert.equal(await c(1, 'from').evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(17, 24, 39)');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1600, height: 2200 });
  assert.deepEqual(errors.filter((e) => !e.includes('422')), [], 'no console errors');
});
