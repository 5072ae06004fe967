// Browser test of the flow builder's drag editing against the real API: a step dragged by its handle
// to a new place is saved in that order; in the graph, a branch rule's port dragged onto a step
// connects it (drawn as an edge, saved as the rule's target); a problem from the server's check shows
// on its node; the hand-off step picks its team and agent from the workspace (with a "create a team
// first" empty state); the funnel and answers panels show their empty states.
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
