// End to end in headless Firefox ESR with a real push path: Firefox subscribes through a local
// push service speaking Mozilla's push WebSocket protocol (dom.push.serverURL), `gatebell serve`
// encrypts the walk-in (RFC 8291) and POSTs it there with VAPID, and Firefox itself decrypts it
// and hands it to the app's classic service worker (Gatebell added with importScripts), which
// shows it. Another provider's push is left to the app; a tap opens the visit; a subscription
// the push service lost is renewed by the worker's pushsubscriptionchange; onMessage, onNavigate
// and disableNotifications work as in Chromium; another sender's subscription made first is
// never replaced unless the app asks. Prints the walk-in → notification time.
//
// Needs: wasm/pkg (cargo xtask wasm), the server binary (GATEBELL_BIN), /usr/bin/firefox-esr
// (Debian's firefox-esr; FIREFOX overrides), npm puppeteer-core (WebDriver BiDi) and ws.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

import { apiClient, encryptPush, signVapid, startGatebell, startMozillaPushService, startSite, until } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const pkgDir = join(root, 'wasm/pkg');
const binary = process.env.GATEBELL_BIN
  ?? join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'debug/gatebell');
const firefox = process.env.FIREFOX ?? '/usr/bin/firefox-esr';

let gatebell, site, pushService, browser, page;
/** The endpoint Firefox's first subscription got. */
let firstEndpoint;

const { api, login } = apiClient(() => gatebell.url);

const notificationsWithTag = (tag) => page.evaluate(async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, actions: (n.actions ?? []).map((a) => a.action),
  }));
}, tag);

/** Asks the worker (classic-sw.js's test hook) to click the notification tagged `tag`. */
async function click(tag, action) {
  const answer = await page.evaluate(async (tag, action) => {
    const channel = new MessageChannel();
    const answered = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data); });
    (await navigator.serviceWorker.ready).active.postMessage({ type: 'test:click', tag, action }, [channel.port2]);
    return answered;
  }, tag, action);
  assert.equal(answer.dispatched, true, JSON.stringify(answer));
  return answer;
}

/** How many events of `type` the worker's handlers have finished (classic-sw.js's test hook). */
const settled = (type) => page.evaluate(async (type) => {
  const channel = new MessageChannel();
  const answered = new Promise((resolve) => { channel.port1.onmessage = (e) => resolve(e.data); });
  (await navigator.serviceWorker.ready).active.postMessage({ type: 'test:settled' }, [channel.port2]);
  return (await answered)[type] ?? 0;
}, type);

/** Waits until the package's IndexedDB holds `check(value)` under `key` (a page's PushClient wrote it). */
const stored = (what, key, check) => until(what, async () => check(await page.evaluate(async (key) => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open('gatebell');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const value = await new Promise((resolve, reject) => {
    const get = db.transaction('kv').objectStore('kv').get(key);
    get.onsuccess = () => resolve(get.result);
    get.onerror = () => reject(get.error);
  });
  db.close();
  return value;
}, key)));

before(async () => {
  assert.ok(existsSync(join(pkgDir, 'gatebell-classic.js')), 'run cargo xtask wasm first');
  assert.ok(existsSync(binary), `${binary} is missing: cargo build -p gatebell-server`);
  assert.ok(existsSync(firefox), `${firefox} is missing: apt-get install firefox-esr`);
  gatebell = await startGatebell(binary);
  pushService = await startMozillaPushService();
  site = await startSite({ pkgDir, pagesDir: join(here, 'pages'), apiUrl: gatebell.url });
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: firefox,
    headless: true,
    extraPrefsFirefox: {
      'dom.push.enabled': true,
      'dom.push.connection.enabled': true,
      'dom.push.serverURL': `${pushService.wsUrl}/`,
      // ws:// rather than wss://: the push service is this test's, on 127.0.0.1.
      'dom.push.testing.allowInsecureServerURL': true,
      'dom.serviceWorkers.enabled': true,
      // Notifications allowed without a prompt (the driver cannot click one).
      'permissions.default.desktop-notification': 1,
      // Reconnect to the push service within half a second (default 5 s) after it drops.
      'dom.push.retryBaseInterval': 500,
      // Firefox's own notification windows: Firefox ESR 153 shows through the system's
      // notification daemon by default, and with none (a headless machine) every
      // showNotification fails with NS_ERROR_FAILURE (ESR 140 still fell back by itself).
      'alerts.useSystemBackend': false,
    },
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  await page.goto(`${site.url}/firefox.html`);
  await page.waitForFunction(() => window.testReady === true, { timeout: 30_000 });
  // Loaded again, the page is controlled by the worker, as an app's pages are after the first
  // visit (a worker can navigate only the windows it controls).
  await page.reload();
  await page.waitForFunction(() => window.testReady === true && navigator.serviceWorker.controller !== null);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  await pushService?.stop();
  await gatebell?.stop();
});

test('Firefox receives the encrypted walk-in from its push service, decrypts it, and a tap opens the visit', async (t) => {
  const resident = await login('asha@demo.gatebell');
  // The package subscribes through Firefox's push service and registers the endpoint.
  const status = await page.evaluate(async (token, userId) => {
    window.client = await window.PushClient.load({ apiBase: '' });
    await window.client.signIn(token, userId);
    return window.client.enableNotifications();
  }, resident.token, resident.user.id);
  assert.equal(status.registered, true, JSON.stringify(status));
  assert.ok(status.token.startsWith(`${pushService.url}/wpush/`), `the endpoint is Firefox's push service: ${status.token}`);
  assert.equal(pushService.channels.size, 1, 'Firefox registered one channel');
  firstEndpoint = status.token;
  const subscription = await page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).pushManager.getSubscription()).toJSON());

  // The guard registers a walk-in; the server's push travels encrypted to Firefox.
  const guard = await login('guard@demo.gatebell');
  const started = performance.now();
  const visit = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Ravi Kumar', hostId: resident.user.id, purpose: 'Delivery' },
  });
  const tag = `visit-${visit.id}`;
  const [shown] = await until('the walk-in notification', async () => {
    const found = await notificationsWithTag(tag);
    return found.length ? found : null;
  });
  const ms = performance.now() - started;
  console.log(`walk-in→notification in Firefox (server encrypts, Firefox decrypts): ${ms.toFixed(0)} ms`);
  t.diagnostic(`walk-in→notification Firefox: ${ms.toFixed(0)} ms`);
  const post = pushService.posts.find((p) => p.status === 201);
  assert.ok(post, `the server's POST was accepted: ${JSON.stringify(pushService.posts)}`);
  assert.equal(shown.title, 'Visitor at the gate');
  assert.match(shown.body, /Ravi Kumar/);
  // The worker asked for Approve / Reject; Firefox draws no action buttons (README's browser
  // table), so a tap opens the visit there. The click below sends the action as Chromium would.
  assert.deepEqual(shown.data.actions.map((a) => a.action), ['approve', 'reject']);
  assert.equal(shown.data.visitId, visit.id);
  assert.equal(shown.data.gatebell, 1);
  assert.ok(pushService.acks.length >= 1, 'Firefox acknowledged the push');

  // Another provider's push, encrypted to the same subscription: the app's handler shows it.
  const foreign = { notification: { title: 'Offer', body: '10% off' } };
  pushService.push(status.token, encryptPush(JSON.stringify(foreign), subscription.keys));
  const [offer] = await until('the app’s own notification', async () => {
    const found = await notificationsWithTag('app-offer');
    return found.length ? found : null;
  });
  assert.equal(offer.title, 'Offer');
  assert.deepEqual(offer.actions, []);

  // A tap (Firefox has no action buttons, nor NotificationEvent.action) opens the visit: the
  // worker navigates the open window there and closes the notification.
  await click(tag, '');
  await until('the window at the visit', () => page.url() === `${site.url}/visits/${visit.id}`);
  assert.equal((await notificationsWithTag(tag)).length, 0, 'a tap closes the notification');
});

test('the push service refuses a POST without VAPID, as autopush does (the fake checks what it must)', async () => {
  const [endpoint] = [...pushService.channels.keys()].map((id) => `${pushService.url}/wpush/${id}`);
  const res = await fetch(endpoint, { method: 'POST', headers: { ttl: '60', 'content-encoding': 'aes128gcm' }, body: 'x' });
  assert.equal(res.status, 401);
});

test('when the push service loses the subscription, the worker’s pushsubscriptionchange subscribes again and moves the server to the new endpoint', async () => {
  const resident = await login('asha@demo.gatebell');
  pushService.forget();
  const renewed = await until('Firefox subscribed again', () => [...pushService.channels.keys()][0], 20_000)
    .catch((e) => { console.log(pushService.log); throw e; });
  const newEndpoint = `${pushService.url}/wpush/${renewed}`;
  assert.notEqual(newEndpoint, firstEndpoint);
  // The worker registered the new endpoint and removed the old one: the next walk-in goes to the
  // new one only (a push to the old would be answered 404 here).
  const posts = pushService.posts.length;
  const guard = await login('guard@demo.gatebell');
  const visit = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Anil', hostId: resident.user.id, purpose: 'Repairs' },
  });
  await until('the walk-in’s notification', async () => (await notificationsWithTag(`visit-${visit.id}`)).length > 0);
  await gatebell.outboxSettled();
  assert.deepEqual(pushService.posts.slice(posts).map((p) => [p.path, p.status]), [[new URL(newEndpoint).pathname, 201]]);
});

test('in Firefox, a tap with the app open routes through its router, onMessage hears a push on the focused page, and notifications turned off stay off after a reload', async () => {
  const resident = await login('asha@demo.gatebell');
  await page.goto(`${site.url}/firefox.html`);
  await page.waitForFunction(() => window.testReady === true && navigator.serviceWorker.controller !== null);
  await page.evaluate(async () => {
    window.loadMarker = Math.random();
    window.routed = [];
    window.client = await window.PushClient.load({
      apiBase: '',
      routes: { visit: '/app/visit?id={visitId}', inbox: '/inbox' },
      onNavigate: (path) => { window.routed.push(path); history.pushState(null, '', path); },
    });
  });
  const marker = await page.evaluate(() => window.loadMarker);
  await stored('the routes stored for the worker', 'clickRoutes', (r) => r?.clientSide === true && r.paths.visit === '/app/visit?id={visitId}');
  const guard = await login('guard@demo.gatebell');
  const visit = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Meera Iyer', hostId: resident.user.id, purpose: 'Courier' },
  });
  const tag = `visit-${visit.id}`;
  await until('the second walk-in’s notification', async () => (await notificationsWithTag(tag)).length > 0);
  await click(tag, '');
  await until('the page’s onNavigate', () => page.evaluate(() => window.routed.length > 0));
  assert.deepEqual(await page.evaluate(() => window.routed), [`/app/visit?id=${visit.id}`]);
  assert.equal(await page.evaluate(() => location.href), `${site.url}/app/visit?id=${visit.id}`);
  assert.equal(await page.evaluate(() => window.loadMarker), marker, 'the window was not reloaded');

  // With the page focused, onMessage hears the next push first and keeps it off the screen.
  await page.bringToFront(); // headless Firefox gives a page focus only when asked
  await page.evaluate(async () => {
    window.heard = [];
    window.client = await window.PushClient.load({
      apiBase: '', onMessage: (payload) => { window.heard.push(payload); return false; },
    });
  });
  // The page holds the lock that tells the worker a page listens (js/foreground.js).
  await until('the page’s foreground lock', () => page.evaluate(async () =>
    (await navigator.locks.query()).held.some((lock) => lock.name === 'gatebell:foreground')));
  const pushesBefore = await settled('push');
  const third = await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Farah', hostId: resident.user.id, purpose: 'Tuition' },
  });
  assert.equal(await page.evaluate(() => document.hasFocus()), true, 'the page has focus');
  const heard = await until('onMessage', () => page.evaluate(() => window.heard[0]));
  assert.equal(heard.visitId, third.id);
  assert.equal(heard.gatebell, 1);
  // Once the worker's push handler has finished, nothing was shown.
  await until('the push handled', async () => (await settled('push')) > pushesBefore);
  assert.deepEqual(await notificationsWithTag(`visit-${third.id}`), [], 'the page chose not to show it');

  // Off: unregistered at the server, unsubscribed at Firefox's push service, and still off
  // after a reload (no new subscription is made).
  const off = await page.evaluate(() => window.client.disableNotifications());
  assert.equal(off.notificationsDisabled, true);
  assert.equal(off.registered, false);
  await until('the channel unregistered at the push service', () => pushService.channels.size === 0);
  await page.goto(`${site.url}/firefox.html`);
  await page.waitForFunction(() => window.testReady === true);
  const reloaded = await page.evaluate(async () => (await window.PushClient.load({ apiBase: '' })).status());
  assert.equal(reloaded.notificationsDisabled, true);
  assert.equal(reloaded.registered, false);
  assert.equal(await page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).pushManager.getSubscription()) === null), true);
  assert.equal(pushService.channels.size, 0, 'no subscription was made again');
  // A walk-in now reaches nobody's push service.
  const posts = pushService.posts.length;
  await api('/api/v1/visits/walkin', {
    token: guard.token, method: 'POST', body: { visitorName: 'Kiran', hostId: resident.user.id, purpose: 'Visit' },
  });
  await gatebell.outboxSettled();
  assert.deepEqual(pushService.posts.slice(posts), [], 'the server sent the disabled browser nothing');
});

test('another sender’s subscription made first survives enableNotifications() and keeps receiving; replaceForeignSubscription takes it over', async () => {
  await page.goto(`${site.url}/firefox.html`);
  await page.waitForFunction(() => window.testReady === true && navigator.serviceWorker.controller !== null);
  // Another push sender (its own VAPID key) subscribed this registration first.
  const sender = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const vapid = () => signVapid(sender, { aud: pushService.url, exp: Math.floor(Date.now() / 1000) + 3600, sub: 'mailto:ops@other.example' });
  const foreign = await page.evaluate(async (key) => {
    const registration = await navigator.serviceWorker.ready;
    const old = await registration.pushManager.getSubscription();
    if (old) await old.unsubscribe();
    const bytes = Uint8Array.from(atob(key.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));
    return (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes })).toJSON();
  }, vapid().k);
  const endpoint = () => page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).pushManager.getSubscription())?.endpoint ?? null);

  // Gatebell refuses to replace it, and says why.
  const refused = await page.evaluate(async () => {
    const client = await window.PushClient.load({ apiBase: '' });
    try {
      await client.enableNotifications();
      return null;
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  });
  assert.equal(refused?.code, 'foreign_subscription', JSON.stringify(refused));
  assert.equal(await endpoint(), foreign.endpoint, 'the other sender’s subscription is untouched');

  // The other sender still reaches this browser: its push is the app's to show.
  const res = await fetch(foreign.endpoint, {
    method: 'POST',
    headers: { authorization: vapid().authorization, ttl: '60', 'content-encoding': 'aes128gcm' },
    body: encryptPush(JSON.stringify({ notification: { title: 'From the other sender', body: 'still subscribed' } }), foreign.keys),
  });
  assert.equal(res.status, 201);
  await until('the other sender’s notification', async () =>
    (await notificationsWithTag('app-offer')).some((n) => n.title === 'From the other sender'));

  // Asked to, Gatebell takes the registration over.
  const status = await page.evaluate(async () =>
    (await window.PushClient.load({ apiBase: '' })).enableNotifications({ replaceForeignSubscription: true }));
  assert.equal(status.registered, true, JSON.stringify(status));
  assert.notEqual(status.token, foreign.endpoint);
  assert.equal(await endpoint(), status.token);
});
