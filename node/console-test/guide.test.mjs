// The guide (shared/seed/load-balancer-guide.md) walked through the Fulcrum
// console in headless Chromium: sign in, create what a Load Balancer needs,
// then Create Load Balancer, Associate EIP, Create Virtual Server Group and
// Add Listener through the console's own buttons and forms, checking after
// each step that "Creation Succeeded" shows and that the list and the details
// show the result without a reload. Every wait is on a condition.
//
// Environment:
//   FULCRUM_CONSOLE_URL   the console (default http://127.0.0.1:7480/)
//   FULCRUM_TOKEN         a token of an operator or admin (empty: no authentication)
//   FULCRUM_VIEWER_TOKEN  optional: a viewer's token, to check the read-only console
//   FULCRUM_BACKENDS      the two instances' backends (default 127.0.0.1:18081,127.0.0.2:18082)
//   FULCRUM_LISTENER_PORT the listener's port (default 18080)
//   FULCRUM_NETWORK_CIDR, FULCRUM_SUBNET_CIDR  optional: else derived from the backends
//   FULCRUM_ARTIFACTS     where screenshots go (default ./artifacts)
//   CHROMIUM_PATH         the browser (default /usr/bin/chromium)
//   FULCRUM_CONSOLE_IGNORE_TLS_ERRORS  1: accept the console's certificate
//                         whoever signed it (a test cluster's own CA)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.FULCRUM_CONSOLE_URL || 'http://127.0.0.1:7480/';
const TOKEN = process.env.FULCRUM_TOKEN || '';
const VIEWER_TOKEN = process.env.FULCRUM_VIEWER_TOKEN || '';
const BACKENDS = (process.env.FULCRUM_BACKENDS || '127.0.0.1:18081,127.0.0.2:18082').split(',').map((b) => {
  const [address, port] = b.trim().split(':');
  return { address, port: Number(port) };
});
const LISTENER_PORT = Number(process.env.FULCRUM_LISTENER_PORT || 18080);
const ARTIFACTS = path.resolve(process.env.FULCRUM_ARTIFACTS || './artifacts');
/** A generous bound on each wait: a real cluster commits through Raft. */
const WAIT_MS = Number(process.env.FULCRUM_WAIT_MS || 20000);
const SUFFIX = Date.now().toString(36).slice(-6);
const NAMES = {
  network: `guide-net-${SUFFIX}`, subnet: `guide-subnet-${SUFFIX}`, instances: [`be-a-${SUFFIX}`, `be-b-${SUFFIX}`],
  eip: `guide-eip-${SUFFIX}`, lb: `guide-lb-${SUFFIX}`, group: `web-${SUFFIX}`, listener: `http-${SUFFIX}`,
};
const { network: NETWORK_CIDR, subnet: SUBNET_CIDR } = cidrs(BACKENDS.map((b) => b.address));

let browser;
let shots = 0;

before(async () => {
  assert.equal(BACKENDS.length >= 2 && BACKENDS.every((b) => b.address && b.port), true, 'FULCRUM_BACKENDS needs two address:port');
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
});
after(async () => {
  await browser?.close();
});

test('a page load without a session answers 401 and shows the sign-in page', { skip: !TOKEN && 'the cluster has no authentication' }, async () => {
  const page = await newPage();
  const response = await page.goto(BASE);
  assert.equal(response?.status(), 401, 'the page answers 401 before sign-in');
  assert.match(response?.headers()['www-authenticate'] || '', /^Bearer/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.locator('#nav').isVisible(), false, 'the navigation is hidden before sign-in');
  await page.getByLabel('Access token').waitFor();
  await shot(page, 'sign-in');
  await page.getByLabel('Access token').fill(`not-${TOKEN}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#token-error', { hasText: '401' }).waitFor();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  // Signed in, the page loads (200) and a reload keeps the session; no
  // script can read the token, and signing out ends it.
  await signIn(page, TOKEN);
  assert.equal((await page.reload())?.status(), 200, 'the page answers 200 once signed in');
  await page.getByRole('heading', { name: 'Load Balancer', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
  assert.equal(await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage)), '{}{}', 'no token in storage');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal((await page.reload())?.status(), 401, 'signing out ends the session');
  await page.context().close();
});

test("the guide's four steps through the console", async () => {
  const page = await newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await signIn(page, TOKEN);
  await page.evaluate(() => { window.__notReloaded = true; });

  // What a Load Balancer needs: a network, a subnet, two instances and an EIP.
  await go(page, 'Networks');
  let dialog = await open(page, 'Create', 'Create Network');
  await dialog.getByLabel('Name', { exact: true }).fill(NAMES.network);
  await dialog.getByLabel('CIDR', { exact: true }).fill(NETWORK_CIDR);
  await submit(page, dialog);
  await row(page, NAMES.network).getByText(NETWORK_CIDR).waitFor();
  await shot(page, 'networks');

  await go(page, 'Subnets');
  dialog = await open(page, 'Create', 'Create Subnet');
  await dialog.getByLabel('Name', { exact: true }).fill(NAMES.subnet);
  await dialog.getByLabel('Network', { exact: true }).selectOption({ label: `${NAMES.network} (${NETWORK_CIDR})` });
  await dialog.getByLabel('CIDR', { exact: true }).fill(SUBNET_CIDR);
  await submit(page, dialog);
  await row(page, NAMES.subnet).getByText(SUBNET_CIDR).waitFor();
  await shot(page, 'subnets');

  await go(page, 'Instances');
  for (const [index, backend] of BACKENDS.slice(0, 2).entries()) {
    dialog = await open(page, 'Create', 'Create Instance');
    await dialog.getByLabel('Name', { exact: true }).fill(NAMES.instances[index]);
    await dialog.getByLabel('Subnet', { exact: true }).selectOption({ label: `${NAMES.subnet} (${SUBNET_CIDR}) in ${NAMES.network}` });
    await dialog.getByLabel('Address', { exact: true }).fill(backend.address);
    await submit(page, dialog);
    await row(page, NAMES.instances[index]).getByText(backend.address).waitFor();
  }
  await shot(page, 'instances');

  await go(page, 'EIPs');
  dialog = await open(page, 'Allocate EIP', 'Allocate EIP');
  await dialog.getByLabel('Name', { exact: true }).fill(NAMES.eip);
  await submit(page, dialog);
  const eipRow = row(page, NAMES.eip);
  await eipRow.getByText('Free').waitFor();
  const eipAddress = (await eipRow.locator('td[data-label="Address"] .mono').first().textContent()).trim();
  assert.match(eipAddress, /^\d+\.\d+\.\d+\.\d+$/);
  await shot(page, 'eips');

  // Step 1: Create Load Balancer (Network > Load Balancer > Create).
  await go(page, 'Load Balancer');
  dialog = await open(page, 'Create', 'Create Load Balancer');
  await dialog.getByLabel('Name', { exact: true }).fill(NAMES.lb);
  await dialog.getByLabel('Network', { exact: true }).selectOption({ label: `${NAMES.network} (${NETWORK_CIDR})` });
  await dialog.getByLabel('Subnet', { exact: true }).selectOption({ label: `${NAMES.subnet} (${SUBNET_CIDR})` });
  await shot(page, 'create-load-balancer');
  await submit(page, dialog);
  const lbRow = row(page, NAMES.lb);
  await lbRow.getByText(NAMES.network).waitFor();
  await lbRow.getByText(NAMES.subnet).waitFor();
  await shot(page, 'load-balancer-list');

  // Step 2: Associate EIP, from the list's operation bar.
  dialog = await open(page, 'Associate EIP', 'Associate EIP', lbRow);
  await dialog.getByLabel('EIP address', { exact: true }).selectOption({ label: `${eipAddress} (${NAMES.eip})` });
  await shot(page, 'associate-eip');
  await submit(page, dialog);
  await lbRow.locator('td[data-label="EIP"]', { hasText: eipAddress }).waitFor();
  await lbRow.getByRole('link', { name: NAMES.lb }).click();
  await page.getByRole('heading', { name: 'Load Balancer Details' }).waitFor();
  await page.locator('[data-item="eip"]', { hasText: eipAddress }).waitFor();
  await shot(page, 'load-balancer-details');

  // Step 3: Create Virtual Server Group, on the details' "Virtual Server Group" tab.
  await page.getByRole('link', { name: 'Virtual Server Group' }).click();
  dialog = await open(page, 'Create Virtual Server Group', 'Create Virtual Server Group');
  await dialog.getByLabel('Name', { exact: true }).fill(NAMES.group);
  const weights = [3, 1];
  for (const [index, name] of NAMES.instances.entries()) {
    await dialog.getByLabel(`Select ${name}`).check();
    await dialog.getByLabel(`Port of ${name}`).fill(String(BACKENDS[index].port));
    await dialog.getByLabel(`Weight of ${name}`).fill(String(weights[index]));
  }
  await shot(page, 'create-virtual-server-group');
  await submit(page, dialog);
  const group = page.locator(`section[data-group="${NAMES.group}"]`);
  for (const [index, backend] of BACKENDS.slice(0, 2).entries()) {
    const member = group.locator('tbody tr', { hasText: backend.address });
    await member.locator('td[data-label="Port"]', { hasText: String(backend.port) }).waitFor();
    await member.locator('td[data-label="Weight"]', { hasText: new RegExp(`^${weights[index]}$`) }).waitFor();
  }
  await group.locator('[data-status="PROVISIONING_STATUS_ACTIVE"]').first().waitFor();
  await shot(page, 'virtual-server-group');

  // Step 4: Add Listener, from the list's operation bar.
  await go(page, 'Load Balancer');
  dialog = await open(page, 'Add Listener', 'Add Listener', lbRow);
  await fillListener(dialog, NAMES.listener, LISTENER_PORT);
  await shot(page, 'add-listener');
  await submit(page, dialog);
  await lbRow.locator('td[data-label="Listeners"]', { hasText: `HTTP:${LISTENER_PORT}` }).waitFor();
  await lbRow.getByRole('link', { name: NAMES.lb }).click();
  await page.getByRole('heading', { name: 'Load Balancer Details' }).waitFor();
  const listener = page.locator('tbody tr', { hasText: NAMES.listener });
  await listener.locator('td[data-label="Port"]', { hasText: String(LISTENER_PORT) }).waitFor();
  await listener.locator('td[data-label="Protocol"]', { hasText: 'HTTP' }).waitFor();
  await listener.locator('td[data-label="Connection limit"]', { hasText: 'Unlimited' }).waitFor();
  await listener.locator('td[data-label="Virtual Server Group"]', { hasText: NAMES.group }).waitFor();
  await listener.locator('td[data-label="Access log"]', { hasText: 'On' }).waitFor();
  await listener.locator('td[data-label="Status"] [data-status="PROVISIONING_STATUS_ACTIVE"]').waitFor();
  await shot(page, 'listeners');

  // The same port again: the server's refusal shows under the Port field.
  await go(page, 'Load Balancer');
  const addListener = lbRow.getByRole('button', { name: 'Add Listener' });
  dialog = await open(page, 'Add Listener', 'Add Listener', lbRow);
  await fillListener(dialog, `dup-${SUFFIX}`, LISTENER_PORT);
  await dialog.getByRole('button', { name: 'OK', exact: true }).click();
  const port = dialog.getByLabel('Port', { exact: true });
  const errorId = (await port.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  const portError = dialog.locator(`[id="${errorId}"]`);
  await portError.waitFor();
  assert.match(await portError.textContent(), new RegExp(String(LISTENER_PORT)), 'the error names the port');
  assert.equal(await port.getAttribute('aria-invalid'), 'true');
  assert.equal(await dialog.locator('.form-error').isVisible(), false, 'the error is at the field, not at the top');
  await shot(page, 'duplicate-port');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await addListener.evaluate((button) => button === document.activeElement), true, 'Escape returns the focus to the button');

  // An EIP allocated elsewhere shows up on the open EIPs page: the event stream.
  await go(page, 'EIPs');
  await page.locator('#live[data-state="live"]').waitFor();
  const outside = `outside-${SUFFIX}`;
  const reply = await fetch(new URL('/v1/eips', BASE), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}) },
    body: JSON.stringify({ name: outside }),
  });
  assert.equal(reply.status, 200, await reply.text());
  await row(page, outside).waitFor();

  // The remaining pages.
  await go(page, 'Certificates');
  await shot(page, 'certificates');
  dialog = await open(page, 'Upload Certificate', 'Upload Certificate');
  await shot(page, 'upload-certificate');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await go(page, 'Events');
  await page.locator('tbody tr', { hasText: 'Listener created' }).first().waitFor();
  await shot(page, 'events');
  await go(page, 'Cluster status');
  await page.locator('[data-id]').first().waitFor();
  await shot(page, 'cluster-status');

  assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page never reloaded');
  assert.deepEqual(errors, [], 'no script error');
  await page.context().close();
});

test('a viewer sees the console read-only', { skip: !VIEWER_TOKEN && 'FULCRUM_VIEWER_TOKEN is not set' }, async () => {
  const page = await newPage();
  await signIn(page, VIEWER_TOKEN);
  // The session says the role: read-only from the first page, before any
  // write is tried.
  await page.locator('#readonly', { hasText: 'Read-only' }).waitFor();
  await go(page, 'Networks');
  await page.locator('#networks-create[disabled]').waitFor();
  // What the console already lists is there for a viewer too.
  await page.locator('main table').getByText(NAMES.network).waitFor();
  await go(page, 'Load Balancer');
  await page.locator('#lb-create[disabled]').waitFor();
  await shot(page, 'viewer-read-only');
  await page.context().close();
});

// ---- helpers ------------------------------------------------------------------

async function newPage() {
  // A test cluster's own CA is not in the browser's store: the harness says
  // so (the console is still served over HTTPS).
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    ignoreHTTPSErrors: process.env.FULCRUM_CONSOLE_IGNORE_TLS_ERRORS === '1',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  return page;
}

async function signIn(page, token) {
  if (!page.url().startsWith(BASE)) await page.goto(BASE);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Load Balancer', exact: true }).waitFor();
}

/** Follows a navigation link and waits for the page's heading. */
async function go(page, link) {
  await page.locator('#nav').getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: link, exact: true, level: 1 }).waitFor();
}

/** Clicks `button` (in `scope`) and answers the dialog titled `title`. */
async function open(page, button, title, scope = page.locator('main')) {
  await scope.getByRole('button', { name: button }).first().click();
  const dialog = page.getByRole('dialog', { name: title });
  await dialog.waitFor();
  return dialog;
}

/** Clicks OK and waits for "Creation Succeeded" (failing at once on a form error). */
async function submit(page, dialog) {
  const last = Number(await page.locator('#toasts').getAttribute('data-last') || 0);
  await dialog.getByRole('button', { name: 'OK', exact: true }).click();
  const toast = page.locator(`#toasts .toast[data-seq="${last + 1}"]`);
  const problem = dialog.locator('.form-error:visible, .field-error:visible');
  await toast.or(problem).first().waitFor();
  if (await problem.count()) assert.fail(`the form answered: ${(await problem.allTextContents()).join(' / ')}`);
  assert.match(await toast.textContent(), /Creation Succeeded/);
  await dialog.waitFor({ state: 'detached' });
}

async function fillListener(dialog, name, port) {
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  await dialog.getByLabel('Protocol', { exact: true }).selectOption({ label: 'HTTP' });
  await dialog.getByLabel('Connection restriction', { exact: true }).selectOption({ label: 'Unlimited' });
  await dialog.getByLabel('Port', { exact: true }).fill(String(port));
  await dialog.getByLabel('Virtual Server Group', { exact: true }).selectOption({ label: NAMES.group });
  await dialog.getByLabel('Access log', { exact: true }).selectOption({ label: 'On' });
}

/** The table row of the main page holding `text`. */
function row(page, text) {
  return page.locator('main tbody tr', { hasText: text });
}

async function shot(page, name) {
  shots += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** A network and a subnet holding every backend address (unless given). */
function cidrs(addresses) {
  if (process.env.FULCRUM_NETWORK_CIDR && process.env.FULCRUM_SUBNET_CIDR) {
    return { network: process.env.FULCRUM_NETWORK_CIDR, subnet: process.env.FULCRUM_SUBNET_CIDR };
  }
  const numbers = addresses.map((a) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0));
  let common = 32;
  while (common > 0 && numbers.some((n) => Math.floor(n / 2 ** (32 - common)) !== Math.floor(numbers[0] / 2 ** (32 - common)))) common -= 1;
  const text = (bits) => {
    const size = 2 ** (32 - bits);
    const start = numbers[0] - (numbers[0] % size);
    return `${[3, 2, 1, 0].map((i) => Math.floor(start / 256 ** i) % 256).join('.')}/${bits}`;
  };
  const subnet = Math.min(common, 24);
  return { network: text(Math.max(8, subnet - 8)), subnet: text(subnet) };
}
