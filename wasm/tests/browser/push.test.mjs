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

import { apiClient, makeSubscriptionKeys, startGatebell, startPushService, startSite, until } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const pkgDir = join(root, 'wasm/pkg');
const binary = process.env.GATEBELL_BIN
  ?? join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'debug/gatebell');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let gatebell, site, pushService, browser, context, page, cdp;
let registrationId;
// The worker versions DevTools reported, by id: { registrationId, status, runningStatus }.
const versions = new Map();

const { api, login } = apiClient(() => gatebell.url);

const notificationsWithTag = (tag) => page.evaluate(async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => a.action),
  }));
}, tag);

/**
 * Delivers `data` through the DevTools protocol to a worker seen stopped; resolves with the
 * notification shown once the worker's push handler has finished. A handler that finished
 * without showing it, or failed, fails the test with what the worker recorded.
 */
async function deliver(data, tag) {
  await stopWorker();
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: site.url, registrationId, data });
  const record = await until('the push handler finished', () => workerRecord().then(
    (r) => r && r.pushed.includes(data) && r.settled >= r.started && r.started > 0 && r,
  ), 30_000).catch(async (e) => {
    console.log('the worker’s record:', JSON.stringify(await workerRecord()), 'versions:', JSON.stringify([...versions.values()]));
    throw e;
  });
  const [shown] = await notificationsWithTag(tag);
  assert.ok(shown, `no notification tagged ${tag} after the handler finished: ${JSON.stringify(record)}`);
  assert.deepEqual(record.failed, []);
  return shown;
}

/** What the running worker recorded (pages/handlers-settled.js), or null while none runs. */
async function workerRecord() {
  const running = context.serviceWorkers().at(-1);
  if (!running) return null;
  return running.evaluate(() => ({
    pushed: self.pushed, started: self.started.push ?? 0, settled: self.settled.push ?? 0, failed: self.failed,
  })).catch(() => null);
}

/** Stops the worker and waits until DevTools reports it stopped, so the next push meets a cold worker. */
async function stopWorker() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await until('the worker stopped', () => [...versions.values()]
    .filter((v) => v.registrationId === registrationId)
    .every((v) => v.runningStatus === 'stopped'));
}

/** Waits until the page's PushClient stored these routes, which the worker reads at a tap. */
const routesStored = (expected) => until('the routes stored for the worker', () => page.evaluate(async (expected) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open('gatebell');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const value = await new Promise((resolve, reject) => {
    const get = db.transaction('kv').objectStore('kv').get('clickRoutes');
    get.onsuccess = () => resolve(get.result);
    get.onerror = () => reject(get.error);
  });
  db.close();
  return value?.paths?.visit === expected.paths.visit && value.paths.inbox === expected.paths.inbox
    && value.clientSide === expected.clientSide;
}, expected));

/** The current service worker, for code that must run inside it. */
async function worker() {
  return until('the service worker', () => context.serviceWorkers().at(-1));
}

/**
 * Dispatches `notificationclick` inside the worker for the notification with `tag`, and
 * resolves when the handler's work is done (with the route it took). A script-made event may
 * not `waitUntil`; this one hands the work to the test instead.
 */
async function click(tag, action) {
  return (await worker()).evaluate(async ({ tag, action }) => {
    const [notification] = await self.registration.getNotifications({ tag });
    if (!notification) throw new Error(`no notification tagged ${tag}`);
    const event = new NotificationEvent('notificationclick', { notification, action });
    let work = null;
    Object.defineProperty(event, 'waitUntil', { value: (promise) => { work = promise; } });
    self.dispatchEvent(event);
    return work;
  }, { tag, action });
}

before(async () => {
  assert.ok(existsSync(join(pkgDir, 'gatebell_push_bg.wasm')), 'run cargo xtask wasm first');
  assert.ok(existsSync(binary), `${binary} is missing: cargo build -p gatebell-server`);
  gatebell = await startGatebell(binary);
  pushService = await startPushService();
  pushService.expectVapidKey((await api('/api/v1/notifications/vapid-public-key')).publicKey);
  site = await startSite({ pkgDir, pagesDir: join(here, 'pages'), apiUrl: gatebell.url });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: site.url });
  page = await context.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  cdp = await context.newCDPSession(page);
  const activated = new Promise((resolve) => {
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

test('a walk-in reaches the service worker, routes to the visit and is approved from the notification', async () => {
  // The resident signs in on the page; the package registers the subscription.
  const resident = await login('asha@demo.gatebell');
  const subscriber = makeSubscriptionKeys();
  const subscription = { endpoint: pushService.subscribe('x', subscriber), expirationTime: null, keys: subscriber.keys };
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
  const text = pushed.text;
  const payload = JSON.parse(text);
  assert.equal(payload.type, 'walkin_pending');
  assert.equal(payload.visitId, visit.id);
  assert.equal(payload.tag, `visit-${visit.id}`);
  assert.ok(payload.notificationId, 'the payload names its notification');
  assert.deepEqual(payload.actions.map((a) => a.action), ['approve', 'reject']);

  // The push service's delivery, replayed into Chromium: the worker starts cold.
  await stopWorker();
  const tag = payload.tag;
  const cold = await deliver(text, tag);
  assert.equal(cold.title, payload.title);
  assert.equal(cold.body, payload.body);
  assert.equal(cold.tag, tag);
  assert.deepEqual(cold.data, payload);
  assert.deepEqual(cold.actions, ['approve', 'reject']);

  // A tap navigates an open window of the app to the visit.
  const app = await context.newPage();
  await app.goto(`${site.url}/app.html`);
  assert.deepEqual(await click(tag, ''), { route: 'visit', visitId: visit.id });
  const visitUrl = `${site.url}/visits/${visit.id}`;
  await until('a window at the visit', () => context.pages().some((p) => p.url() === visitUrl));
  assert.equal((await notificationsWithTag(tag)).length, 0, 'a tap closes the notification');

  // The push again (the tap's handler has finished), then Approve from the notification,
  // without a window.
  await deliver(text, tag);
  const pagesBefore = context.pages().length;
  assert.deepEqual(await click(tag, 'approve'), { route: 'approve', visitId: visit.id });
  assert.equal((await api(`/api/v1/visits/${visit.id}`, { token: resident.token })).status, 'APPROVED');
  const [replaced] = await notificationsWithTag(tag);
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
  await routesStored({ paths: { visit: '/app/visit?id={visitId}', inbox: '/inbox' }, clientSide: true });
  const payload = {
    gatebell: 1, type: 'visitor_arrived', visitId: 'v-routed', notificationId: 'n-routed',
    title: 'Visitor checked in', body: 'Meera is at the gate', tag: 'visit-v-routed', actions: [],
  };
  await deliver(JSON.stringify(payload), payload.tag);
  await click(payload.tag, '');
  const routed = await page.evaluate(() => window.routed[0]);
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
  await routesStored({ paths: { visit: '/app/visit?id={visitId}', inbox: '/inbox' }, clientSide: true });
  const second = { ...payload, visitId: 'v-loaded', tag: 'visit-v-loaded' };
  await deliver(JSON.stringify(second), second.tag);
  await click(second.tag, '');
  await until('the window navigated', () => page.url() === `${site.url}/app/visit?id=v-loaded`);
  // Back to the defaults for the tests that follow.
  await page.goto(`${site.url}/`);
  await page.waitForFunction(() => window.testReady === true);
  await page.evaluate(async () => { await window.PushClient.load({ apiBase: '' }); });
  await routesStored({ paths: { visit: '/visits/{visitId}', inbox: '/' }, clientSide: false });
});

test('pushsubscriptionchange in the worker registers the renewed subscription, with no page involved', async () => {
  const renewedKeys = makeSubscriptionKeys();
  const renewed = { endpoint: pushService.subscribe('renewed', renewedKeys), expirationTime: null, keys: renewedKeys.keys };
  // The browser renewed the subscription (/push/x → /push/renewed) and tells the worker; the
  // handler's work (register the new one, unregister the old) is awaited.
  const endpoint = await (await worker()).evaluate(({ renewed, old }) => {
    const event = new ExtendableEvent('pushsubscriptionchange');
    Object.defineProperty(event, 'newSubscription', { value: { ...renewed, toJSON: () => renewed } });
    Object.defineProperty(event, 'oldSubscription', { value: { endpoint: old } });
    let work = null;
    Object.defineProperty(event, 'waitUntil', { value: (promise) => { work = promise; } });
    self.dispatchEvent(event);
    return work;
  }, { renewed, old: `${pushService.url}/push/x` });
  assert.equal(endpoint, renewed.endpoint);

  // The next walk-in is pushed to the renewed endpoint.
  const resident = await login('asha@demo.gatebell');
  const guard = await login('guard@demo.gatebell');
  pushService.received.length = 0;
  await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Renewed', hostId: resident.user.id, purpose: 'Test' },
  });
  const pushed = await pushService.next(15_000);
  assert.equal(pushed.path, '/push/renewed');
  assert.deepEqual(pushService.refused, [], 'the push service refused nothing');
});

/**
 * From a fresh store (the package's IndexedDB deleted): Asha signs in on the test page with a
 * subscription at `/push/<name>`. Resolves with her sign-in.
 */
async function signedInFresh(name) {
  // The test page (a tap may have taken it to the visit).
  if (page.url() !== `${site.url}/`) {
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => window.testReady === true);
  }
  const resident = await login('asha@demo.gatebell');
  const subscriber = makeSubscriptionKeys();
  const subscription = { endpoint: pushService.subscribe(name, subscriber), expirationTime: null, keys: subscriber.keys };
  const status = await page.evaluate(async ({ token, userId, subscription }) => {
    await new Promise((resolve, reject) => {
      const deleting = indexedDB.deleteDatabase('gatebell');
      deleting.onsuccess = resolve;
      deleting.onerror = () => reject(deleting.error);
    });
    window.client = await window.PushClient.load({ apiBase: '' });
    await window.client.signIn(token, userId);
    return window.client.registerSubscription(subscription);
  }, { token: resident.token, userId: resident.user.id, subscription });
  assert.equal(status.registered, true, JSON.stringify(status));
  return resident;
}

/**
 * Asha signed in afresh (signedInFresh), the guard registers a walk-in for her, and the push
 * the server sent is delivered to the worker. Resolves with what the later steps need.
 */
async function walkinShown(name, visitorName) {
  const resident = await signedInFresh(name);
  const guard = await login('guard@demo.gatebell');
  pushService.received.length = 0;
  const visit = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName, hostId: resident.user.id, purpose: 'Delivery' },
  });
  // Earlier tests' devices of Asha's get the walk-in too; this test reads its own.
  let pushed;
  do pushed = await pushService.next(15_000); while (pushed.path !== `/push/${name}`);
  const payload = JSON.parse(pushed.text);
  assert.equal(payload.visitId, visit.id);
  assert.ok(payload.actionToken, 'a walk-in push carries an action token');
  const shown = await deliver(pushed.text, payload.tag);
  assert.deepEqual(shown.actions, ['approve', 'reject']);
  return { resident, guard, visit, payload };
}

test('enableNotifications() in a click awaits nothing on the network before subscribing: PushClient.load() fetched the key ahead (Safari subscribes only inside the gesture)', async () => {
  // A fresh page: nothing of the package is loaded or cached yet.
  await page.reload();
  await page.waitForFunction(() => window.testReady === true);
  const resident = await login('asha@demo.gatebell');
  const subscriber = makeSubscriptionKeys();
  const endpoint = pushService.subscribe('gesture', subscriber);
  const order = await page.evaluate(async ({ token, userId, endpoint, keys }) => {
    await new Promise((resolve, reject) => {
      const deleting = indexedDB.deleteDatabase('gatebell');
      deleting.onsuccess = resolve;
      deleting.onerror = () => reject(deleting.error);
    });
    const first = await window.PushClient.load({ apiBase: '' });
    await first.signIn(token, userId);
    first.free();
    // What happens, in order, from the next page start on: requests, and the subscribe call
    // (the browser's push service is stubbed; the rest is real).
    const order = [];
    const realFetch = window.fetch;
    window.fetch = (request, init) => {
      order.push(`fetch ${new URL(request.url ?? request, location.href).pathname}`);
      return realFetch(request, init);
    };
    const { subscribe, getSubscription } = PushManager.prototype;
    PushManager.prototype.getSubscription = async () => null;
    PushManager.prototype.subscribe = async (options) => {
      order.push('subscribe');
      return { endpoint, options, toJSON: () => ({ endpoint, expirationTime: null, keys }), unsubscribe: async () => true };
    };
    try {
      const client = await window.PushClient.load({ apiBase: '' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      order.push('click');
      const status = await client.enableNotifications();
      order.push(`registered ${status.registered}`);
      await client.signOut();
      client.free();
    } finally {
      Object.assign(PushManager.prototype, { subscribe, getSubscription });
      window.fetch = realFetch;
    }
    return order;
  }, { token: resident.token, userId: resident.user.id, endpoint, keys: subscriber.keys });
  const click = order.indexOf('click');
  assert.ok(order.slice(0, click).includes('fetch /api/v1/notifications/vapid-public-key'), order.join(', '));
  assert.equal(order[click + 1], 'subscribe', `nothing between the click and subscribe: ${order.join(', ')}`);
  assert.ok(order.includes('registered true'), order.join(', '));
});

test('Approve with the push’s action token works with no stored session (signed out)', async () => {
  const { resident, visit, payload } = await walkinShown('signed-out', 'Token Only');
  // Signing out forgets the session the worker could use; the notification stays.
  const status = await page.evaluate(() => window.client.signOut());
  assert.equal(status.signedIn, false);
  assert.deepEqual(await click(payload.tag, 'approve'), { route: 'approve', visitId: visit.id });
  assert.equal((await api(`/api/v1/visits/${visit.id}`, { token: resident.token })).status, 'APPROVED');
  const [outcome] = await notificationsWithTag(payload.tag);
  assert.equal(outcome.body, 'Approved — Token Only may enter');
  assert.deepEqual(outcome.actions, []);
});

test('a decision refused with 409 replaces the notification with why, and a tap on it opens the visit', async () => {
  const { resident, visit, payload } = await walkinShown('decided', 'Late Answer');
  // Decided elsewhere first (the resident's other device).
  await api(`/api/v1/visits/${visit.id}/approve`, { token: resident.token, method: 'POST' });
  assert.deepEqual(await click(payload.tag, 'reject'), { route: 'reject', visitId: visit.id });
  const [outcome] = await notificationsWithTag(payload.tag);
  assert.equal(outcome.title, payload.title);
  assert.equal(outcome.body, 'Could not reject: this visit was decided already: it is APPROVED by Asha Rao');
  assert.deepEqual(outcome.actions, [], 'no buttons that cannot work');
  // A tap on it opens the visit, where the app shows how it was decided.
  assert.deepEqual(await click(payload.tag, ''), { route: 'visit', visitId: visit.id });
  const visitUrl = `${site.url}/visits/${visit.id}`;
  await until('a window at the visit', () => context.pages().some((p) => p.url() === visitUrl));
});

test('after disableNotifications(), Approve with the action token is refused in the browser', async () => {
  const { resident, visit, payload } = await walkinShown('disabled', 'Too Late');
  const status = await page.evaluate(() => window.client.disableNotifications());
  assert.equal(status.notificationsDisabled, true);
  assert.deepEqual(await click(payload.tag, 'approve'), { route: 'approve', visitId: visit.id });
  assert.equal((await api(`/api/v1/visits/${visit.id}`, { token: resident.token })).status, 'PENDING');
  const [outcome] = await notificationsWithTag(payload.tag);
  assert.equal(outcome.body, 'Notifications are off in this browser: open Gatebell to approve');
});

test('notifications turned off in one tab stay off when another tab saves next', async () => {
  await signedInFresh('tab-a');
  const other = await context.newPage();
  await other.goto(`${site.url}/`);
  await other.waitForFunction(() => window.testReady === true);
  const off = await other.evaluate(async () => (await window.PushClient.load({ apiBase: '' })).disableNotifications());
  assert.equal(off.notificationsDisabled, true);
  assert.equal(off.registered, false);
  // The first tab's client, loaded before, saves next: the browser handed it a renewed subscription.
  const renewedKeys = makeSubscriptionKeys();
  const renewed = { endpoint: pushService.subscribe('tab-a-renewed', renewedKeys), expirationTime: null, keys: renewedKeys.keys };
  const first = await page.evaluate((renewed) => window.client.registerSubscription(renewed), renewed);
  assert.equal(first.notificationsDisabled, true, JSON.stringify(first));
  assert.equal(first.registered, false);
  // What is stored says off too, for any tab that starts now.
  const third = await other.evaluate(async () => (await window.PushClient.load({ apiBase: '' })).status());
  assert.equal(third.notificationsDisabled, true, JSON.stringify(third));
  await other.close();
});
