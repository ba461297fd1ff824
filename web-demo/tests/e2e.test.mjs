// The whole demo end to end in headless Chromium, against a real `gatebell serve` that serves
// the Next.js export (web-demo/out) on the API's origin:
//   a resident signs in and turns on "Notify me when a visitor arrives"; a guard registers a
//   walk-in; the server's Web Push request reaches a fake push service, which decrypts it and
//   hands it to the resident's service worker; the notification's Approve decides the visit;
//   the guard's list and the resident's inbox update live (Server-Sent Events), no reloads.
//
// Needs web-demo/out (npm run build), the server binary (GATEBELL_BIN, default
// target/debug/gatebell), /usr/bin/chromium and npm playwright-core. Run by web-demo/test.sh.
// Screenshots go to test-artifacts/; GATEBELL_UPDATE_DOCS=1 also refreshes docs/demo.png.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { decryptPush, makeSubscriptionKeys, startGatebell, startPushService } from '../../wasm/tests/browser/servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const outDir = join(root, 'web-demo/out');
const artifacts = join(root, 'test-artifacts');
const binary = process.env.GATEBELL_BIN
  ?? join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'debug/gatebell');
const PASSWORD = 'gatebell-demo';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1000, height: 760 };

let gatebell, pushService, browser;
let resident, guard; // { context, page, errors }
let cdp, registrationId, swActivated;
// The resident's worker versions DevTools reported, by id: { registrationId, status, runningStatus }.
const swVersions = new Map();
const subscriber = makeSubscriptionKeys();
const swLog = [];

async function until(what, check, ms = 10_000, every = 10) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A browser context with one page; collects the page's errors and console errors. */
async function openScreen(name, origin = gatebell.url) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.grantPermissions(['notifications'], { origin });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${name} page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${name} HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${name} console error: ${m.text()}`);
  });
  return { context, page, errors };
}

async function signInThroughUi({ page }, email, landing, origin = gatebell.url) {
  await page.goto(`${origin}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${origin}${landing}`);
}

/** A walk-in for Asha registered from a signed-in guard's page; resolves to the answer. */
const walkinFrom = (page, visitorName, purpose) => page.evaluate(async ({ visitorName, purpose }) => {
  const { token } = JSON.parse(localStorage.getItem('gatebell.session'));
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const [host] = await (await fetch('/api/v1/residents?q=asha', { headers })).json();
  const res = await fetch('/api/v1/visits/walkin', { method: 'POST', headers, body: JSON.stringify({ visitorName, hostId: host.id, purpose }) });
  return { status: res.status, text: await res.text() };
}, { visitorName, purpose });

/** Marks the window; `assertNoReload` proves the page was never reloaded since. */
const markWindow = (page) => page.evaluate(() => { window.__sameDocument = true; });
async function assertNoReload(page, what) {
  assert.equal(await page.evaluate(() => window.__sameDocument === true), true, `${what}: the page was reloaded`);
}

const notificationsWithTag = (page, tag) => page.evaluate(async (tag) => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications({ tag })).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, actions: n.actions.map((a) => a.action),
  }));
}, tag);

/**
 * Dispatches `notificationclick` inside the resident's worker, as a tap on `action` would, and
 * resolves when the handler's work is done. A script-made event may not `waitUntil`; this one
 * hands the work to the test instead.
 */
async function clickNotification(tag, action) {
  const worker = await until('the service worker', () => resident.context.serviceWorkers().at(-1));
  await worker.evaluate(async ({ tag, action }) => {
    const [notification] = await self.registration.getNotifications({ tag });
    if (!notification) throw new Error(`no notification tagged ${tag}`);
    const event = new NotificationEvent('notificationclick', { notification, action });
    let work = null;
    Object.defineProperty(event, 'waitUntil', { value: (promise) => { work = promise; } });
    self.dispatchEvent(event);
    await work;
  }, { tag, action });
}

/** Stops the resident's worker and waits until DevTools reports it stopped: the next push meets a cold worker. */
async function stopWorker() {
  await cdp.send('ServiceWorker.stopAllWorkers');
  await until('the worker stopped', () => [...swVersions.values()]
    .filter((v) => v.registrationId === registrationId)
    .every((v) => v.runningStatus === 'stopped'));
}

before(async () => {
  assert.ok(existsSync(join(outDir, 'index.html')), 'web-demo/out is missing: npm run build in web-demo');
  assert.ok(existsSync(join(outDir, 'gatebell_push_worker_bg.wasm')), 'the export lacks the wasm package: npm run build');
  assert.ok(existsSync(binary), `${binary} is missing: cargo build -p gatebell-server`);
  process.env.GATEBELL_STATIC_DIR = outDir; // startGatebell passes the environment on
  gatebell = await startGatebell(binary);
  pushService = await startPushService();
  pushService.expectVapidKey((await (await fetch(`${gatebell.url}/api/v1/notifications/vapid-public-key`)).json()).publicKey);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  resident = await openScreen('resident');
  guard = await openScreen('guard');

  // pushManager.subscribe never settles in this headless Chromium (no route to a push
  // service): the resident's browser gets a subscription made here, whose endpoint is the
  // fake push service and whose keys the test holds, so it can decrypt what the server sends.
  const subscription = { endpoint: pushService.subscribe('resident', subscriber), expirationTime: null, keys: subscriber.keys };
  // The endpoint a later test renews the subscription to (same keys).
  pushService.subscribe('resident-renewed', subscriber);
  await resident.context.addInitScript((json) => {
    if (!('PushManager' in self)) return;
    // Kept in localStorage, as a browser keeps a subscription across reloads; a test renews
    // it by storing another endpoint.
    const KEY = 'e2e.fakeSubscription';
    const load = () => { try { return JSON.parse(localStorage.getItem(KEY)); } catch { return null; } };
    // A PushSubscription to `instanceof` (the package checks), with its fields as own values.
    const make = (saved) => saved && Object.setPrototypeOf({
      ...json, endpoint: saved.endpoint, toJSON: () => ({ ...json, endpoint: saved.endpoint }), getKey: () => null,
      options: { userVisibleOnly: true, applicationServerKey: new Uint8Array(saved.key).buffer },
      unsubscribe: async () => { localStorage.removeItem(KEY); return true; },
    }, PushSubscription.prototype);
    PushManager.prototype.subscribe = async function (options) {
      const key = [...new Uint8Array(options.applicationServerKey.buffer ?? options.applicationServerKey)];
      localStorage.setItem(KEY, JSON.stringify({ endpoint: json.endpoint, key }));
      return make(load());
    };
    PushManager.prototype.getSubscription = async function () { return make(load()); };
  }, subscription);

  cdp = await resident.context.newCDPSession(resident.page);
  swActivated = new Promise((resolveActivated) => {
    const versions = swVersions;
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL === `${gatebell.url}/` && !r.isDeleted);
      if (ours) registrationId = ours.registrationId;
    });
    cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage }) => {
      // The synthetic notificationclick's waitUntil throws (see clickNotification).
      if (!errorMessage.errorMessage.includes('script constructed ExtendableEvent')) {
        resident.errors.push(`service worker error: ${errorMessage.errorMessage} (${errorMessage.sourceURL}:${errorMessage.lineNumber})`);
      }
    });
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
      for (const v of updated) { versions.set(v.versionId, v); swLog.push(`${Date.now() % 100000} v${v.versionId} ${v.status}/${v.runningStatus}`); }
      if ([...versions.values()].some((v) => v.status === 'activated' && v.registrationId === registrationId)) resolveActivated();
    });
  });
  await cdp.send('ServiceWorker.enable');
});

after(async () => {
  await browser?.close();
  await pushService?.stop();
  await gatebell?.stop();
});

test('a walk-in goes from the guard’s screen to the resident’s notification, and Approve comes back live', async () => {
  // The resident signs in and turns notifications on.
  await signInThroughUi(resident, 'asha@demo.gatebell', '/resident');
  const rp = resident.page;
  await rp.getByText('Nobody is waiting for you.').waitFor();
  await swActivated;
  const toggle = rp.getByRole('switch', { name: 'Notify me when a visitor arrives' });
  await until('the switch to be usable', () => toggle.isEnabled());
  assert.equal(await toggle.isChecked(), false);
  await toggle.click(); // the switch turns on once the package says so, not at the click
  await until('the switch on', async () => (await rp.getByTestId('registration').textContent()).startsWith('registered'));
  assert.equal(await rp.getByTestId('permission').textContent(), 'granted');
  assert.equal(await toggle.isChecked(), true);
  const status = await rp.evaluate(async () => (await window.gatebellDemo.pushClient()).status());
  assert.equal(status.registered, true, JSON.stringify(status));
  assert.equal(status.token, `${pushService.url}/push/resident`);
  await markWindow(rp);
  // The delivery below meets a cold worker (the realistic case): stopped, and seen stopped.
  await stopWorker();

  // The guard signs in and registers a walk-in for Asha.
  await signInThroughUi(guard, 'guard@demo.gatebell', '/guard');
  const gp = guard.page;
  await gp.getByText(/No walk-ins in the last 24 hours|Today’s walk-ins/).first().waitFor();
  await until('the guard’s live updates', async () => (await gp.getByTestId('live').textContent()) === 'live');
  await markWindow(gp);
  await gp.getByLabel('Resident (name or unit)').fill('asha');
  await gp.getByRole('list', { name: 'Residents' }).getByRole('button', { name: /Asha Rao/ }).click();
  await gp.getByLabel('Visitor’s name').fill('Ravi Kumar');
  await gp.getByLabel('Purpose').fill('Delivery');
  await gp.getByRole('button', { name: 'Notify resident' }).click();

  // The server's real Web Push request reaches the push service; it decrypts the payload and
  // delivers it to the resident's browser, as a push service would.
  const pushed = await pushService.next(15_000);
  assert.equal(pushed.path, '/push/resident');
  assert.equal(pushed.headers['content-encoding'], 'aes128gcm');
  const text = decryptPush(pushed.body, subscriber);
  const payload = JSON.parse(text);
  assert.equal(payload.type, 'walkin_pending');
  assert.deepEqual(payload.actions.map((a) => a.action), ['approve', 'reject']);
  const visitId = payload.visitId;
  const tag = payload.tag;
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: gatebell.url, registrationId, data: text });
  swLog.push(`${Date.now() % 100000} delivered`);
  const [shown] = await until('the notification', async () => {
    const found = await notificationsWithTag(rp, tag);
    return found.length > 0 && found;
  }).catch(async (e) => {
    console.log(swLog.join('\n'), resident.errors, await notificationsWithTag(rp, undefined));
    throw e;
  });
  assert.equal(shown.title, 'Visitor at the gate');
  assert.equal(shown.body, 'Ravi Kumar is at the gate (Delivery). Approve or reject?');
  assert.deepEqual(shown.actions, ['approve', 'reject']);
  assert.equal(shown.data.visitId, visitId);

  // Both screens updated live: the guard's list, the resident's pending list and inbox.
  const guardRow = gp.locator(`li[data-visit-id="${visitId}"]`);
  await until('the guard’s row', async () => (await guardRow.getByTestId('status').textContent().catch(() => '')) === 'waiting');
  await rp.getByTestId('pending').getByText('Ravi Kumar').waitFor();
  await rp.getByTestId('inbox').locator('li.note.unread', { hasText: 'Ravi Kumar is at the gate' }).waitFor();
  mkdirSync(artifacts, { recursive: true });
  await rp.screenshot({ path: join(artifacts, 'resident-pending.png'), fullPage: true });

  // Approve, from the notification (the worker calls the API; no window opens).
  const pagesBefore = resident.context.pages().length;
  await clickNotification(tag, 'approve');
  await until('the guard’s list to show approved', async () =>
    (await guardRow.getByTestId('status').textContent()) === 'approved', 10_000);
  await assertNoReload(gp, 'guard');
  assert.equal(await guardRow.getByTestId('outcome').textContent(), 'Approved by Asha Rao', 'the list names who decided');

  // The resident's inbox shows the entry answered (read, with the outcome), the pending list
  // empties.
  await rp.getByTestId('inbox').locator('li.note.read', { hasText: 'Ravi Kumar: Approved by Asha Rao' }).waitFor();
  await rp.getByText('Nobody is waiting for you.').waitFor();
  assert.equal(await rp.getByTestId('unread').count(), 0);
  await assertNoReload(rp, 'resident');
  assert.equal(resident.context.pages().length, pagesBefore, 'Approve opens no window');
  const replaced = await until('the outcome notification', async () =>
    (await notificationsWithTag(rp, tag)).find((n) => n.body.startsWith('Approved')));
  assert.equal(replaced.body, 'Approved — Ravi Kumar may enter');
  // Decided by the push's action token, with no session to tell which device answered: the
  // server sends the outcome to every device of everyone asked, this browser included, under
  // the same tag.
  const outcome = JSON.parse(decryptPush((await pushService.next(15_000)).body, subscriber));
  assert.equal(outcome.type, 'walkin_resolved');
  assert.equal(outcome.tag, tag);
  assert.equal(outcome.body, 'Ravi Kumar: Approved by Asha Rao');

  mkdirSync(artifacts, { recursive: true });
  await rp.screenshot({ path: join(artifacts, 'resident.png'), fullPage: true });
  await gp.getByLabel('Visitor’s name').fill('');
  await gp.screenshot({ path: join(artifacts, 'guard.png'), fullPage: true });
  await sideBySide(join(artifacts, 'demo.png'));
  if (process.env.GATEBELL_UPDATE_DOCS === '1') copyFileSync(join(artifacts, 'demo.png'), join(root, 'docs/demo.png'));

  assert.deepEqual([...resident.errors, ...guard.errors], []);
});

test('a tap routes the open dashboard to the visit without a load; /visits/<id> hydrates and decides with ?action=', async () => {
  const gp = guard.page;
  const rp = resident.page;
  await gp.getByLabel('Resident (name or unit)').fill('A-101');
  await gp.getByRole('list', { name: 'Residents' }).getByRole('button', { name: /Asha Rao/ }).click();
  await gp.getByLabel('Visitor’s name').fill('Sunil');
  await gp.getByLabel('Purpose').fill('Plumber');
  await gp.getByRole('button', { name: 'Notify resident' }).click();
  const pushed = await pushService.next(15_000);
  const payload = JSON.parse(decryptPush(pushed.body, subscriber));
  // Delivered once, to a worker seen stopped (the previous test's tap was awaited to its end).
  await stopWorker();
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: gatebell.url, registrationId, data: JSON.stringify(payload) });
  swLog.push(`${Date.now() % 100000} delivered`);
  // Delivered once: a notification that never shows fails the test. A cold worker start on a
  // loaded machine may take longer than the default wait, so this one waits 30 s, and says
  // what the worker did when it fails.
  await until('the notification', async () => (await notificationsWithTag(rp, payload.tag)).length > 0, 30_000)
    .catch(async (e) => {
      console.log(swLog.join('\n'), resident.errors, await notificationsWithTag(rp, undefined));
      throw e;
    });

  // A tap on the body with the dashboard open: the page's PushClient routes it through Next's
  // router (onNavigate) to the demo's visit route, without loading a document.
  await markWindow(rp);
  await clickNotification(payload.tag, '');
  const tappedUrl = `${gatebell.url}/visits?id=${payload.visitId}`;
  await rp.waitForURL(tappedUrl);
  await rp.getByRole('heading', { name: 'Sunil' }).waitFor();
  assert.equal(await rp.getByTestId('status').textContent(), 'waiting');
  await assertNoReload(rp, 'a tap with the window open');

  // The path links in texts and emails use, loaded afresh: /visits/<id>.
  const visitUrl = `${gatebell.url}/visits/${payload.visitId}`;
  await rp.goto(visitUrl);
  await rp.getByRole('heading', { name: 'Sunil' }).waitFor();
  // The event stream opens from an effect after the router hydrated and the visit loaded: any
  // address the router would rewrite is rewritten by then.
  await until('the visit page live', async () => (await rp.getByTestId('live').textContent()) === 'live');
  assert.equal(rp.url(), visitUrl, 'the router keeps the address it was served at');

  // The Reject route: /visits/<id>?action=reject asks, then decides.
  await rp.goto(`${visitUrl}?action=reject`);
  await rp.getByTestId('question').waitFor();
  assert.equal(await rp.getByTestId('question').textContent(), 'Turn Sunil away?');
  assert.equal(await rp.getByRole('button', { name: 'Approve' }).count(), 0);
  await markWindow(rp);
  await rp.getByRole('button', { name: 'Yes, reject' }).click();
  await until('rejected', async () => (await rp.getByTestId('status').textContent()) === 'rejected');
  assert.equal(new URL(rp.url()).search, '', 'the action leaves the address');
  const guardRow = gp.locator(`li[data-visit-id="${payload.visitId}"]`);
  await until('the guard’s list to show rejected', async () =>
    (await guardRow.getByTestId('status').textContent()) === 'rejected');

  // Next's client router took over the page served at a path it was not built for:
  // its links navigate without loading a new document.
  await rp.getByRole('link', { name: '← Back' }).click();
  await rp.waitForURL(`${gatebell.url}/resident`);
  await rp.getByTestId('inbox').waitFor();
  await assertNoReload(rp, 'visit page → dashboard');
  // …and Back returns to the visit, id and all.
  await rp.goBack();
  await rp.waitForURL(visitUrl);
  await rp.getByRole('heading', { name: 'Sunil' }).waitFor();
  assert.equal(await rp.getByTestId('status').textContent(), 'rejected');

  // An unknown path gets the export's 404 page.
  const res = await rp.goto(`${gatebell.url}/no-such-page`);
  assert.equal(res.status(), 404);
  await rp.getByRole('heading', { name: 'Not found' }).waitFor();

  assert.deepEqual([...resident.errors, ...guard.errors].filter((e) => !e.includes('/no-such-page') && !/404 \(Not Found\)$/.test(e)), []);
});

/** Both screens side by side in one picture (for docs/demo.png). */
async function sideBySide(path) {
  const img = (f) => `data:image/png;base64,${readFileSync(join(artifacts, f)).toString('base64')}`;
  const page = await browser.newPage({ viewport: { width: 2 * VIEWPORT.width + 60, height: 400 } });
  await page.setContent(`<body style="margin:0;background:#cfd6de;display:flex;gap:20px;padding:20px;align-items:flex-start;font:14px system-ui">
    <figure style="margin:0"><figcaption style="margin-bottom:6px">Resident (Asha): a walk-in is at the gate, pushed to her browser</figcaption><img src="${img('resident-pending.png')}" width="${VIEWPORT.width}"></figure>
    <figure style="margin:0"><figcaption style="margin-bottom:6px">Guard (Gita): Asha approved from the notification; the list updated live</figcaption><img src="${img('guard.png')}" width="${VIEWPORT.width}"></figure></body>`);
  await page.screenshot({ path, fullPage: true });
  await page.close();
}

test('an invited visitor gets an OTP and a QR code; the guard checks them in; the resident hears of it', async () => {
  const gp = guard.page;
  const rp = resident.page;
  await rp.goto(`${gatebell.url}/resident`);
  const invite = rp.getByRole('region', { name: 'Invite a visitor' });
  await invite.getByLabel('Visitor’s name').fill('Meera Iyer');
  await invite.getByLabel('Purpose').fill('Dinner');
  await invite.getByRole('button', { name: 'Invite' }).click();
  const otp = (await rp.getByTestId('otp').textContent()).trim();
  assert.match(otp, /^\d{6}$/);
  const qr = rp.getByRole('img', { name: 'QR code for Meera Iyer' });
  await qr.locator('svg').waitFor();
  assert.ok((await qr.getAttribute('data-qr')).length >= 16, 'the QR code holds the qr token');
  await rp.screenshot({ path: join(artifacts, 'resident-invite.png'), fullPage: true });

  await gp.getByLabel('OTP').fill(otp);
  await gp.getByRole('button', { name: 'Check in' }).click();
  await gp.getByText('Meera Iyer checked in for Asha Rao (A-101)').waitFor();

  const pushed = await pushService.next(15_000);
  const payload = JSON.parse(decryptPush(pushed.body, subscriber));
  assert.equal(payload.type, 'visitor_arrived');
  await rp.getByTestId('inbox').locator('li.note.unread', { hasText: 'Meera Iyer' }).waitFor();
  assert.deepEqual([...resident.errors, ...guard.errors].filter((e) => !e.includes('/no-such-page') && !/404 \(Not Found\)$/.test(e)), []);
});

test('a resident chooses who in the flat is asked at the gate', async () => {
  const rp = resident.page;
  await rp.goto(`${gatebell.url}/resident`);
  const household = rp.getByRole('region', { name: 'When a visitor comes for you' });
  const everyone = household.getByLabel(/Everyone in A-101/);
  const onlyHost = household.getByLabel(/Only the resident/);
  await until('the setting loaded', () => everyone.isChecked());
  const stored = () => rp.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('gatebell.session'));
    const res = await fetch('/api/v1/me/preferences', { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()).household;
  });
  // The radios show what the server keeps: a click asks, the answer checks.
  await onlyHost.click();
  await until('the server to keep “host”', async () => (await stored()) === 'host');
  await until('the radio to follow', () => onlyHost.isChecked());
  // Back to the default, so the flat is asked as a whole again.
  await everyone.click();
  await until('the server to keep “household”', async () => (await stored()) === 'household');
  await until('the radio to follow', () => everyone.isChecked());
});

test('turning notifications off unregisters, unsubscribes and stays off after a reload', async () => {
  const rp = resident.page;
  await rp.goto(`${gatebell.url}/resident`);
  const toggle = rp.getByRole('switch', { name: 'Notify me when a visitor arrives' });
  await until('the switch on', () => toggle.isChecked());
  await toggle.click();
  await until('the switch off', async () => !(await toggle.isChecked()));
  const status = () => rp.evaluate(async () => (await window.gatebellDemo.pushClient()).status());
  const off = await status();
  assert.equal(off.registered, false, JSON.stringify(off));
  assert.equal(off.notificationsDisabled, true);
  assert.equal(off.pendingUnregisters, 0, 'the server took the unregister');
  const subscribed = () => rp.evaluate(async () => !!(await (await navigator.serviceWorker.ready).pushManager.getSubscription()));
  assert.equal(await subscribed(), false, 'unsubscribed in the browser');

  // A reload keeps it off: the stored state says so, and nothing registers again.
  await rp.reload();
  await rp.getByText(/Nobody is waiting for you|At the gate now/).first().waitFor();
  await until('the switch to be usable', () => toggle.isEnabled());
  assert.equal(await toggle.isChecked(), false);
  const after = await status();
  assert.equal(after.notificationsDisabled, true, JSON.stringify(after));
  assert.equal(after.registered, false);

  // The server has no device for this browser any more: a walk-in pushes nothing to it.
  pushService.received.length = 0;
  const gp = guard.page;
  const made = await walkinFrom(gp, 'Nobody Pushed', 'test');
  assert.equal(made.status, 201, made.text);
  await rp.getByTestId('pending').locator('li', { hasText: 'Nobody Pushed' }).waitFor();
  // Every push the walk-in queued has been sent or closed: one to this browser would be in.
  await gatebell.outboxSettled();
  assert.equal(pushService.received.length, 0, 'no push after opting out');

  // On again: registered once more.
  await toggle.click();
  await until('the switch on', () => toggle.isChecked());
  assert.equal((await status()).notificationsDisabled, false);
});

test('a subscription the browser renewed is registered at the next start, and pushes follow it', async () => {
  const rp = resident.page;
  await rp.goto(`${gatebell.url}/resident`);
  const toggle = rp.getByRole('switch', { name: 'Notify me when a visitor arrives' });
  await until('the switch on', () => toggle.isChecked());
  const status = () => rp.evaluate(async () => (await window.gatebellDemo.pushClient()).status());
  assert.equal((await status()).token, `${pushService.url}/push/resident`);
  // The browser renews the subscription while no page is open (a new endpoint, same keys).
  const renewed = `${pushService.url}/push/resident-renewed`;
  await rp.evaluate((endpoint) => {
    const saved = JSON.parse(localStorage.getItem('e2e.fakeSubscription'));
    localStorage.setItem('e2e.fakeSubscription', JSON.stringify({ ...saved, endpoint }));
  }, renewed);
  await rp.reload();
  await until('the renewed subscription registered', async () => {
    const s = await status();
    return s.token === renewed && s.registered && s.pendingUnregisters === 0;
  });
  // The server now pushes to the new endpoint only.
  pushService.received.length = 0;
  const made = await walkinFrom(guard.page, 'Renewed Push', 'test');
  assert.equal(made.status, 201, made.text);
  const pushed = await pushService.next(15_000);
  assert.equal(pushed.path, '/push/resident-renewed');
  assert.equal(JSON.parse(decryptPush(pushed.body, subscriber)).type, 'walkin_pending');
  await gatebell.outboxSettled();
  assert.deepEqual(pushService.received.map((r) => r.path), [], 'nothing went to the old endpoint');
});

test('the demo is installable: a manifest with icons, and iOS users outside the Home Screen are told to add it', async () => {
  const res = await fetch(`${gatebell.url}/manifest.webmanifest`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /manifest\+json/);
  const manifest = await res.json();
  assert.equal(manifest.display, 'standalone');
  assert.equal(manifest.start_url, '/');
  for (const size of ['192x192', '512x512']) {
    const icon = manifest.icons.find((i) => i.sizes === size);
    const png = await fetch(`${gatebell.url}${icon.src}`);
    assert.equal(png.headers.get('content-type'), 'image/png', icon.src);
  }
  const rp = resident.page;
  await rp.goto(`${gatebell.url}/resident`);
  assert.equal(await rp.locator('link[rel="manifest"]').getAttribute('href'), '/manifest.webmanifest');
  assert.equal(await rp.locator('link[rel="apple-touch-icon"]').getAttribute('href'), '/apple-touch-icon.png');
  await rp.getByRole('switch', { name: 'Notify me when a visitor arrives' }).waitFor();
  assert.equal(await rp.getByTestId('ios-install').count(), 0, 'not on iOS: no hint');

  // An iPhone's Safari tab (not the Home Screen app) gets the hint.
  const iphone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  });
  try {
    const page = await iphone.newPage();
    await signInThroughUi({ page }, 'arjun@demo.gatebell', '/resident');
    await page.getByTestId('ios-install').waitFor();
    assert.match(await page.getByTestId('ios-install').textContent(), /Add to Home Screen/);
  } finally {
    await iphone.close();
  }
});

/**
 * A Twilio-compatible SMS API: checks Basic auth (AccountSid:AuthToken), the account in the
 * path, a form body with `To` in E.164, `From` and `Body`, as Twilio does; records what it took.
 */
async function startSmsApi(sid, authToken) {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const answer = (status, json) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(json)); };
      const auth = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (auth !== `${sid}:${authToken}`) return answer(401, { code: 20003, message: 'Authenticate', status: 401 });
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${sid}/Messages.json`) return answer(404, { code: 20404, status: 404 });
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return answer(400, { code: 21602, status: 400 });
      const form = new URLSearchParams(body);
      const [to, from, text] = ['To', 'From', 'Body'].map((k) => form.get(k) ?? '');
      if (!/^\+[1-9][0-9]{7,14}$/.test(to)) return answer(400, { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 });
      if (!from || !text) return answer(400, { code: from ? 21602 : 21603, status: 400 });
      received.push({ to, from, body: text });
      answer(201, { sid: `SM${String(received.length).padStart(32, '0')}`, status: 'queued', to, from, body: text });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, received, close: () => new Promise((r) => server.close(r)) };
}

test('the household story: A-101 is asked in two browsers, the first answer wins, and a walk-in nobody answers is texted, then expires', async () => {
  // Its own server: walk-ins escalate after 1 s and expire after 8 s, texts go to the fake API.
  const SID = 'AC00000000000000000000000000000e2e';
  const sms = await startSmsApi(SID, 'e2e-sms-token');
  const env = {
    GATEBELL_ESCALATE_AFTER: '1', GATEBELL_WALKIN_EXPIRY: '8', GATEBELL_SMS_API_URL: sms.url,
    GATEBELL_SMS_ACCOUNT_SID: SID, GATEBELL_SMS_AUTH_TOKEN: 'e2e-sms-token', GATEBELL_SMS_FROM: '+15005550006',
  };
  Object.assign(process.env, env);
  let server;
  try {
    server = await startGatebell(binary);
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
  const screens = [];
  try {
    const asha = await openScreen('asha', server.url);
    const arjun = await openScreen('arjun', server.url);
    const g = await openScreen('guard-2', server.url);
    screens.push(asha, arjun, g);
    await signInThroughUi(asha, 'asha@demo.gatebell', '/resident', server.url);
    await signInThroughUi(arjun, 'arjun@demo.gatebell', '/resident', server.url);
    await signInThroughUi(g, 'guard@demo.gatebell', '/guard', server.url);

    // Arjun gives his phone for SMS in his settings.
    const reach = arjun.page.getByRole('region', { name: 'How Gatebell reaches you' });
    await until('the settings loaded', () => reach.getByLabel('SMS', { exact: true }).first().isChecked());
    await reach.getByLabel(/Phone for SMS/).fill('+919800000002');
    await reach.getByRole('button', { name: 'Save phone' }).click();
    await reach.getByText('Phone saved.').waitFor();

    const walkin = async (visitorName) => {
      const made = await walkinFrom(g.page, visitorName, 'parcel');
      assert.equal(made.status, 201, made.text);
      return JSON.parse(made.text).id;
    };

    // A walk-in for Asha asks both of A-101, live on both screens.
    const first = await walkin('Ravi Kumar');
    const pendingRow = (screen) => screen.page.getByTestId('pending').locator('li', { hasText: 'Ravi Kumar' });
    await pendingRow(asha).waitFor();
    await pendingRow(arjun).waitFor();
    // Asha answers first; Arjun's screen drops the question and shows who answered.
    await pendingRow(asha).getByRole('button', { name: 'Approve' }).click();
    await pendingRow(arjun).waitFor({ state: 'detached' });
    await arjun.page.getByTestId('inbox').locator('li', { hasText: 'Ravi Kumar: Approved by Asha Rao' }).waitFor();
    const guardRow = (id) => g.page.locator(`li[data-visit-id="${id}"]`);
    await until('the guard to see who approved', async () =>
      (await guardRow(first).getByTestId('outcome').textContent().catch(() => '')) === 'Approved by Asha Rao');

    // Nobody answers the next one: Arjun (who gave a phone) is texted, the guard sees it, and it expires.
    const second = await walkin('Sunil Das');
    await until('the guard to see the text went out', async () =>
      (await guardRow(second).getByTestId('outcome').textContent().catch(() => '')) === 'Waiting — SMS sent');
    assert.equal(sms.received.length, 1, JSON.stringify(sms.received));
    assert.equal(sms.received[0].to, '+919800000002');
    assert.match(sms.received[0].body, /"Sunil Das" \("parcel"\) is at the gate for A-101/);
    const link = /Approve:\n(\S+)/.exec(sms.received[0].body)[1];
    assert.ok(link.startsWith(`${server.url}/a/`), link);
    await until('the guard to see it expire', async () =>
      (await guardRow(second).getByTestId('outcome').textContent().catch(() => '')) === 'Expired — SMS sent', 20_000);
    // The text's link, opened in a browser with no session, says so.
    const linkPage = await g.context.newPage();
    const res = await linkPage.goto(link);
    assert.equal(res.status(), 409);
    await linkPage.getByText(/expired/).first().waitFor();
    await linkPage.close();
    await g.page.screenshot({ path: join(artifacts, 'household-guard.png') });
    assert.deepEqual(screens.flatMap((s) => s.errors).filter((e) => !e.includes('/a/')), []);
  } finally {
    for (const s of screens) await s.context.close();
    await server.stop();
    await sms.close();
  }
});

test('a guard switches the screens to Hindi: Hindi labels, a visitor typed in Devanagari shown as typed, kept after a reload, English again on request', async () => {
  const gp = guard.page;
  const errorsBefore = guard.errors.length;
  await gp.goto(`${gatebell.url}/guard`);
  await gp.getByRole('heading', { name: 'Register a walk-in' }).waitFor();
  const language = gp.getByTestId('language');
  assert.equal(await language.inputValue(), 'en', 'English by default');
  assert.equal(await gp.evaluate(() => document.documentElement.lang), 'en');

  await language.selectOption({ label: 'हिन्दी' });
  await gp.getByRole('heading', { name: 'गेट पर आगंतुक' }).waitFor();
  const hindi = async () => {
    assert.equal(await gp.evaluate(() => document.documentElement.lang), 'hi');
    for (const heading of ['गेट पर आगंतुक', 'आमंत्रित आगंतुक को अंदर लें', 'आज के आगंतुक']) {
      assert.equal(await gp.getByRole('heading', { name: heading }).count(), 1, heading);
    }
    for (const label of ['निवासी (नाम या फ़्लैट)', 'आगंतुक का नाम', 'काम', 'OTP']) {
      assert.equal(await gp.getByLabel(label, { exact: true }).count(), 1, label);
    }
    assert.equal(await gp.getByRole('button', { name: 'निवासी को सूचना भेजें' }).count(), 1);
    assert.equal(await gp.getByRole('button', { name: 'अंदर लें', exact: true }).count(), 1);
    assert.equal(await gp.getByRole('button', { name: 'साइन आउट' }).count(), 1);
    assert.equal(await gp.getByTestId('live').textContent(), 'लाइव');
    assert.match(await gp.locator('header').textContent(), /Gita Guard · गार्ड/, 'the name as it is, the role in Hindi');
    for (const english of ['Register a walk-in', 'Check in an invited visitor', 'Today’s walk-ins', 'Resident (name or unit)',
      'Visitor’s name', 'Purpose', 'Notify resident', 'Check in', 'Sign out']) {
      assert.equal(await gp.getByText(english, { exact: true }).count(), 0, `no “${english}” left`);
    }
    assert.equal(await gp.getByRole('button', { name: 'Notify resident' }).count(), 0);
  };
  await hindi();
  assert.equal(await gp.evaluate(() => localStorage.getItem('gatebell.language')), 'hi');
  // Signed in, the choice is the account's too: what the server writes to the guard follows.
  const serverLanguage = () => gp.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('gatebell.session'));
    const res = await fetch('/api/v1/me/preferences', { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()).language;
  });
  await until('the account’s language to be Hindi', async () => (await serverLanguage()) === 'hi');

  // A walk-in for a visitor whose name the guard types in Devanagari.
  await markWindow(gp);
  await gp.getByLabel('निवासी (नाम या फ़्लैट)').fill('asha');
  await gp.getByRole('list', { name: 'निवासी सूची' }).getByRole('button', { name: /Asha Rao/ }).click();
  await gp.getByTestId('host').getByText('Asha Rao').waitFor();
  await gp.getByLabel('आगंतुक का नाम').fill('रवि कुमार');
  await gp.getByLabel('काम', { exact: true }).fill('पार्सल');
  await gp.getByRole('button', { name: 'निवासी को सूचना भेजें' }).click();
  const confirmation = gp.getByRole('status');
  await confirmation.waitFor();
  assert.equal(await confirmation.textContent(), 'Asha Rao से रवि कुमार के बारे में पूछ लिया गया है।');
  const row = gp.getByTestId('walkins').locator('li', { hasText: 'रवि कुमार' });
  await until('the walk-in in the list', async () => (await row.getByTestId('status').textContent().catch(() => '')) === 'इंतज़ार में');
  assert.equal(await row.locator('strong').textContent(), 'रवि कुमार');
  assert.match(await row.textContent(), /पार्सल/);
  assert.match(await row.textContent(), /Asha Rao \(A-101\) के लिए/);
  await assertNoReload(gp, 'guard');
  await gp.screenshot({ path: join(artifacts, 'guard-hi.png'), fullPage: true });

  // A reload keeps Hindi (the static page is English until the stored choice is read).
  await gp.reload();
  await gp.getByRole('heading', { name: 'गेट पर आगंतुक' }).waitFor();
  await until('the guard’s live updates', async () => (await gp.getByTestId('live').textContent()) === 'लाइव');
  assert.equal(await language.inputValue(), 'hi');
  await hindi();
  assert.equal(await row.getByTestId('status').textContent(), 'इंतज़ार में');

  // English again.
  await language.selectOption({ label: 'English' });
  await gp.getByRole('heading', { name: 'Register a walk-in' }).waitFor();
  assert.equal(await gp.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await gp.evaluate(() => localStorage.getItem('gatebell.language')), 'en');
  await until('the account’s language to be English again', async () => (await serverLanguage()) === 'en');
  assert.equal(await gp.getByRole('button', { name: 'Notify resident' }).count(), 1);
  assert.equal(await gp.getByLabel('Visitor’s name').count(), 1);
  for (const hindiText of ['गेट पर आगंतुक', 'आज के आगंतुक', 'निवासी को सूचना भेजें', 'साइन आउट']) {
    assert.equal(await gp.getByText(hindiText, { exact: true }).count(), 0, `no “${hindiText}” left`);
  }
  assert.equal(await row.getByTestId('status').textContent(), 'waiting');
  assert.equal(await row.locator('strong').textContent(), 'रवि कुमार', 'the name stays as typed');
  assert.deepEqual(guard.errors.slice(errorsBefore), []);
});

test('a browser that prefers Hindi opens the sign-in screen in Hindi, and English chosen there is kept', async () => {
  const context = await browser.newContext({ viewport: VIEWPORT, locale: 'hi-IN' });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${gatebell.url}/`);
    await page.getByRole('heading', { name: 'साइन इन' }).waitFor();
    const language = page.getByTestId('language');
    assert.equal(await language.inputValue(), 'hi');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'hi');
    assert.equal(await page.getByLabel('ईमेल').count(), 1);
    assert.equal(await page.getByLabel('पासवर्ड').count(), 1);
    assert.equal(await page.getByRole('button', { name: 'साइन इन करें' }).count(), 1);
    // Names, units and addresses are not translated; roles are.
    await page.getByText('Asha Rao — निवासी, A-101').waitFor();
    await page.getByText('guard@demo.gatebell').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('gatebell.language')), null, 'a default is not a choice');

    await language.selectOption('en');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    // The accounts list is fetched after mount, so it renders after the language was chosen
    // from storage or from the browser: in English here, not in Hindi.
    await page.getByText('Asha Rao — resident, A-101').waitFor();
    assert.equal(await language.inputValue(), 'en', 'the choice outweighs the browser’s language');
    assert.equal(await page.getByRole('heading', { name: 'साइन इन' }).count(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
