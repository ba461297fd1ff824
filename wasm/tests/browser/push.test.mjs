// End to end in headless Chromium: a page registers a Web Push subscription with a real
// `gatebell serve`, the server pushes a walk-in to it, the service worker shows it, a tap
// routes to the visit, and Approve decides the visit from the worker.
//
// Needs: wasm/pkg (cargo xtask wasm), the server binary (GATEBELL_BIN, default
// target/debug/gatebell), /usr/bin/chromium and npm playwright-core. Run by wasm/test.sh.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { decryptPush, makeSubscriptionKeys, startGatebell, startPushService, startSite } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const pkgDir = join(root, 'wasm/pkg');
const binary = process.env.GATEBELL_BIN
  ?? join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'debug/gatebell');
const PASSWORD = 'gatebell-demo';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let gatebell, site, pushService, browser, context, page, cdp;
let registrationId;

async function api(path, { token, method = 'GET', body } = {}) {
  const res = await fetch(`${gatebell.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const login = (email) => api('/api/v1/auth/login', { method: 'POST', body: { email, password: PASSWORD } });

async function until(what, check, ms = 10_000, every = 10) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const notificationsWithTag = (tag) => page.evaluate(async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => a.action),
  }));
}, tag);

/** Delivers `data` through the DevTools protocol; returns ms until the notification shows. */
async function deliver(data, tag, isShown) {
  const started = performance.now();
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: site.url, registrationId, data });
  const shown = await until('the notification', async () => {
    const found = (await notificationsWithTag(tag)).find(isShown);
    return found;
  });
  return { shown, ms: performance.now() - started };
}

/** The current service worker, for code that must run inside it. */
async function worker() {
  return until('the service worker', () => context.serviceWorkers().at(-1));
}

/** Dispatches `notificationclick` inside the worker for the notification with `tag`. */
async function click(tag, action) {
  await (await worker()).evaluate(async ({ tag, action }) => {
    const [notification] = await self.registration.getNotifications({ tag });
    if (!notification) throw new Error(`no notification tagged ${tag}`);
    // A synthetic event is untrusted, so sw.js's waitUntil throws after the handler started;
    // the test watches the handler's effects instead.
    try {
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification, action }));
    } catch { /* see above */ }
  }, { tag, action });
}

before(async () => {
  assert.ok(existsSync(join(pkgDir, 'gatebell_push_bg.wasm')), 'run cargo xtask wasm first');
  assert.ok(existsSync(binary), `${binary} is missing: cargo build -p gatebell-server`);
  gatebell = await startGatebell(binary);
  pushService = await startPushService();
  site = await startSite({ pkgDir, pagesDir: join(here, 'pages'), apiUrl: gatebell.url });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: site.url });
  page = await context.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  cdp = await context.newCDPSession(page);
  const activated = new Promise((resolve) => {
    const versions = new Map();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === `${site.url}/` && !r.isDeleted);
      if (ours) registrationId = ours.registrationId;
    });
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
      for (const v of updated) versions.set(v.versionId, v);
      if ([...versions.values()].some((v) => v.status === 'activated' && v.registrationId === registrationId)) resolve();
    });
  });
  await cdp.send('ServiceWorker.enable');
  await page.goto(`${site.url}/`);
  await page.waitForFunction(() => window.testReady === true);
  await activated;
});

after(async () => {
  await browser?.close();
  await site?.stop();
  await pushService?.stop();
  await gatebell?.stop();
});

test('a walk-in reaches the service worker, routes to the visit and is approved from the notification', async (t) => {
  // The resident signs in on the page; the package registers the subscription.
  const resident = await login('asha@demo.gatebell');
  const subscriber = makeSubscriptionKeys();
  const subscription = { endpoint: `${pushService.url}/push/x`, expirationTime: null, keys: subscriber.keys };
  const status = await page.evaluate(async ({ token, userId, subscription }) => {
    window.client = await window.PushClient.load({ apiBase: '' });
    await window.client.signIn(token, userId);
    return window.client.registerSubscription(subscription);
  }, { token: resident.token, userId: resident.user.id, subscription });
  assert.equal(status.registered, true, JSON.stringify(status));
  assert.equal(status.token, subscription.endpoint);
  assert.equal(status.lastError, null);

  // The guard registers a walk-in for her; the server pushes it to the stored subscription.
  const guard = await login('guard@demo.gatebell');
  const residents = await api('/api/v1/residents', { token: guard.token });
  const host = (Array.isArray(residents) ? residents : residents.items).find((r) => r.id === resident.user.id);
  assert.ok(host, 'the resident is listed for the guard');
  const visit = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Ravi Kumar', hostId: host.id, purpose: 'Delivery' },
  });
  assert.equal(visit.status, 'PENDING');

  const pushed = await pushService.next(15_000);
  assert.equal(pushed.path, '/push/x');
  assert.equal(pushed.headers['content-encoding'], 'aes128gcm');
  const text = decryptPush(pushed.body, subscriber);
  const payload = JSON.parse(text);
  assert.equal(payload.type, 'walkin_pending');
  assert.equal(payload.visitId, visit.id);
  assert.equal(payload.tag, `visit-${visit.id}`);
  assert.ok(payload.notificationId, 'the payload names its notification');
  assert.deepEqual(payload.actions.map((a) => a.action), ['approve', 'reject']);

  // The push service's delivery, replayed into Chromium: the worker starts cold.
  await cdp.send('ServiceWorker.stopAllWorkers');
  const tag = payload.tag;
  const cold = await deliver(text, tag, () => true);
  assert.equal(cold.shown.title, payload.title);
  assert.equal(cold.shown.body, payload.body);
  assert.equal(cold.shown.tag, tag);
  assert.deepEqual(cold.shown.data, payload);
  assert.deepEqual(cold.shown.actions, ['approve', 'reject']);
  console.log(`push→notification: ${cold.ms.toFixed(0)} ms (worker cold start)`);
  t.diagnostic(`push→notification cold: ${cold.ms.toFixed(0)} ms`);

  // A tap navigates an open window of the app to the visit.
  const app = await context.newPage();
  await app.goto(`${site.url}/app.html`);
  await click(tag, '');
  const visitUrl = `${site.url}/visits/${visit.id}`;
  await until('a window at the visit', () => context.pages().some((p) => p.url() === visitUrl));
  assert.equal((await notificationsWithTag(tag)).length, 0, 'a tap closes the notification');

  // The push again (warm worker), then Approve from the notification, without a window. The
  // tap's handler is let finish first: a push landing while it still runs was seen to go
  // unshown now and then (a race to look into with the worker rewrite, issue 13).
  await new Promise((r) => setTimeout(r, 500));
  const warm = await deliver(text, tag, () => true);
  console.log(`push→notification: ${warm.ms.toFixed(0)} ms (worker running)`);
  t.diagnostic(`push→notification warm: ${warm.ms.toFixed(0)} ms`);
  const pagesBefore = context.pages().length;
  await click(tag, 'approve');
  await until('the visit approved', async () =>
    (await api(`/api/v1/visits/${visit.id}`, { token: resident.token })).status === 'APPROVED');
  const replaced = await until('the outcome notification', async () =>
    (await notificationsWithTag(tag)).find((n) => n.body.startsWith('Approved')));
  assert.equal(replaced.body, 'Approved — Ravi Kumar may enter');
  assert.equal(replaced.title, payload.title);
  assert.deepEqual(replaced.actions, [], 'no buttons once decided');
  assert.equal(context.pages().length, pagesBefore, 'Approve opens no window');
});
