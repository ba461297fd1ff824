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

import { apiClient, decryptPush, makeSubscriptionKeys, startGatebell, startPushService, startSite, until } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const pkgDir = join(root, 'wasm/pkg');
const binary = process.env.GATEBELL_BIN
  ?? join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'debug/gatebell');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let gatebell, site, pushService, browser, context, page, cdp;
let registrationId;

const { api, login } = apiClient(() => gatebell.url);

const notificationsWithTag = (tag) => page.evaluate(async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => a.action),
  }));
}, tag);

/** Delivers `data` through the DevTools protocol; returns ms until the notification shows. */
async function deliver(data, tag, isShown, ms = 10_000) {
  const started = performance.now();
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: site.url, registrationId, data });
  const shown = await until('the notification', async () => {
    const found = (await notificationsWithTag(tag)).find(isShown);
    return found;
  }, ms);
  return { shown, ms: performance.now() - started };
}

/** `deliver`, once more if Chromium dropped the notification (seen in CI right after a tap). */
const deliverAgainIfDropped = (data, tag) =>
  deliver(data, tag, () => true, 4_000).catch(() => deliver(data, tag, () => true));

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
  // tap's handler is let finish first, and the push is delivered once more if Chromium
  // dropped it: right after a tap, Chromium was seen (CI, 1 run in ~10) to leave a
  // showNotification unshown with no error in the worker.
  await new Promise((r) => setTimeout(r, 500));
  const warm = await deliverAgainIfDropped(text, tag);
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

test('with routes and onNavigate, a tap routes the open window itself, on the app’s own path', async () => {
  // One window: the test page, with a PushClient that routes through the app (history API).
  for (const other of context.pages()) if (other !== page) await other.close();
  await page.bringToFront();
  await page.evaluate(async () => {
    window.loadMarker = Math.random();
    window.routed = [];
    window.routedClient = await window.PushClient.load({
      apiBase: '',
      routes: { visit: '/app/visit?id={visitId}', inbox: '/inbox' },
      onNavigate: (path, route) => {
        window.routed.push({ path, route });
        history.pushState(null, '', path);
      },
    });
  });
  const marker = await page.evaluate(() => window.loadMarker);
  // The routes reach the worker through IndexedDB; let that write land.
  await new Promise((r) => setTimeout(r, 300));
  const payload = {
    gatebell: 1, type: 'visitor_arrived', visitId: 'v-routed', notificationId: 'n-routed',
    title: 'Visitor checked in', body: 'Meera is at the gate', tag: 'visit-v-routed', actions: [],
  };
  await deliverAgainIfDropped(JSON.stringify(payload), payload.tag);
  await click(payload.tag, '');
  const routed = await until('the page’s onNavigate', () => page.evaluate(() => window.routed[0]));
  assert.deepEqual(routed, { path: '/app/visit?id=v-routed', route: { route: 'visit', visitId: 'v-routed' } });
  assert.equal(page.url(), `${site.url}/app/visit?id=v-routed`);
  assert.equal(await page.evaluate(() => window.loadMarker), marker, 'the window was not reloaded');

  // Bad routes are refused up front, with the package's error.
  const refused = await page.evaluate(() => {
    try {
      new window.PushClient({ apiBase: '', routes: { visit: '//evil.example/{visitId}' } });
      return null;
    } catch (e) {
      return { code: e.code, message: e.message };
    }
  });
  assert.equal(refused?.code, 'invalid_argument');
  assert.match(refused.message, /routes\.visit/);

  // A page that declines (onNavigate returns false) gets a full navigation to the path.
  await page.evaluate(async () => {
    window.routedClient = await window.PushClient.load({
      apiBase: '', routes: { visit: '/app/visit?id={visitId}', inbox: '/inbox' }, onNavigate: () => false,
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  const second = { ...payload, visitId: 'v-loaded', tag: 'visit-v-loaded' };
  await deliverAgainIfDropped(JSON.stringify(second), second.tag);
  await click(second.tag, '');
  await until('the window navigated', () => page.url() === `${site.url}/app/visit?id=v-loaded`);
  // Back to the defaults for the tests that follow.
  await page.goto(`${site.url}/`);
  await page.waitForFunction(() => window.testReady === true);
  await page.evaluate(async () => { await window.PushClient.load({ apiBase: '' }); });
  await new Promise((r) => setTimeout(r, 300));
});

test('pushsubscriptionchange in the worker registers the renewed subscription, with no page involved', async () => {
  const renewedKeys = makeSubscriptionKeys();
  const renewed = { endpoint: `${pushService.url}/push/renewed`, expirationTime: null, keys: renewedKeys.keys };
  // The browser renewed the subscription (/push/x → /push/renewed) and tells the worker.
  await (await worker()).evaluate(({ renewed, old }) => {
    const event = new ExtendableEvent('pushsubscriptionchange');
    Object.defineProperty(event, 'newSubscription', { value: { ...renewed, toJSON: () => renewed } });
    Object.defineProperty(event, 'oldSubscription', { value: { endpoint: old } });
    // Untrusted, so sw.js's waitUntil throws after the handler started; the server shows the effect.
    try { self.dispatchEvent(event); } catch { /* see above */ }
  }, { renewed, old: `${pushService.url}/push/x` });

  // The next walk-in is pushed to the renewed endpoint only.
  const resident = await login('asha@demo.gatebell');
  const guard = await login('guard@demo.gatebell');
  await until('the renewed subscription registered', async () => {
    pushService.received.length = 0;
    await api('/api/v1/visits/walkin', {
      token: guard.token, method: 'POST', body: { visitorName: 'Renewed', hostId: resident.user.id, purpose: 'Test' },
    });
    const pushed = await pushService.next(5_000).catch(() => null);
    return pushed?.path === '/push/renewed' && pushed;
  }, 20_000, 200);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(pushService.received.map((r) => r.path), [], 'the old endpoint was removed');
});
