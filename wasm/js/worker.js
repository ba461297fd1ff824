// Gatebell inside any service worker: the app's own (Workbox, Serwist, next-pwa or hand-written)
// or the package's drop-in sw.js. Each handler looks at the event synchronously, takes it only
// when it is Gatebell's (the payload carries `"gatebell": 1`), and then holds the event open
// with `waitUntil` while the wasm handler shows the notification or acts on the tap:
//
//   import { handlePush, handleNotificationClick, preload } from '@gatebell/push/worker.js';
//   preload();
//   self.addEventListener('push', (event) => { if (!handlePush(event)) myOwnPush(event); });
//   self.addEventListener('notificationclick', (event) => { if (!handleNotificationClick(event)) myOwnClick(event); });
//   self.addEventListener('pushsubscriptionchange', (event) => handleSubscriptionChange(event));
//
// Installing, skipWaiting, clients.claim and the scope stay the app's decisions.
import init, {
  handleNotificationClick as clickInWasm,
  handlePush as pushInWasm,
  handleSubscriptionChange as subscriptionChangeInWasm,
} from './gatebell_push_worker.js';

let ready = null;
let wasmUrl;

/**
 * Starts fetching and compiling the wasm (call at the worker's top level). `url` is where
 * gatebell_push_worker_bg.wasm (the worker's module, without the page's PushClient) is served,
 * by default beside this module; the first call's URL is kept for later loads.
 */
export function preload(url) {
  wasmUrl ??= url;
  ready ??= init(wasmUrl === undefined ? undefined : { module_or_path: wasmUrl }).catch((e) => {
    ready = null;
    throw e;
  });
  return ready;
}

/** Whether a push payload or notification data (already parsed) is Gatebell's. */
export function isGatebellPayload(value) {
  return value !== null && typeof value === 'object' && Number.isInteger(value.gatebell) && value.gatebell >= 1;
}

/** The push's JSON, or null when it has none or it is not JSON. */
function payloadOf(event) {
  try {
    return event.data ? event.data.json() : null;
  } catch {
    return null;
  }
}

/**
 * The `push` handler: shows a Gatebell push as a notification (Approve / Reject on a walk-in)
 * and returns true; returns false, touching nothing, for another provider's push.
 */
export function handlePush(event) {
  const payload = payloadOf(event);
  if (!isGatebellPayload(payload)) return false;
  event.waitUntil(
    preload().then(async () => {
      // Only while a page listens (PushClient `onMessage`) are focused windows asked: otherwise
      // nobody would answer, and the notification would wait half a second for nothing.
      const wanted = (await pagesListening()) ? await shownWhenFocused(payload) : true;
      if (wanted || showsEveryPush()) await pushInWasm(event);
    }),
  );
  return true;
}

/**
 * Whether every push must be shown: Safari (WebKit, macOS and iOS) revokes a push subscription
 * after three pushes that show no notification, so there `onMessage` only hears them. Any
 * WebKit user agent but Chromium's and Android's.
 */
function showsEveryPush() {
  const agent = self.navigator && self.navigator.userAgent;
  return typeof agent === 'string' && /AppleWebKit/.test(agent) && !/Chrome|Chromium|CriOS|Edg|OPR|Android/.test(agent);
}

/** Held (shared) by each page whose PushClient has `onMessage` (js/foreground.js). */
const FOREGROUND_LOCK = 'gatebell:foreground';

/** Whether a page of the site listens for pushes; true where Web Locks cannot tell. */
async function pagesListening() {
  const locks = self.navigator && self.navigator.locks;
  if (!locks) return true;
  try {
    const { held } = await locks.query();
    return held.some((lock) => lock.name === FOREGROUND_LOCK);
  } catch {
    return true;
  }
}

/** How long a focused window has to answer whether to show the notification. */
const FOCUSED_ANSWER_MS = 500;

/**
 * With a window of the site focused, posts the payload to it (PushClient's `onMessage`) and
 * resolves whether the system notification is still wanted: not when a window answers
 * `false`; yes with no focused window, or no answer in time.
 */
async function shownWhenFocused(payload) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  // An iOS Home Screen app's worker sees no windows at all, its own included: the pages that
  // listen are asked over a BroadcastChannel instead, and the one in front answers.
  if (windows.length === 0) return shownWhenAskedOverChannel(payload);
  const focused = windows.filter((w) => w.focused);
  const answers = focused.map((w) => new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(true), FOCUSED_ANSWER_MS);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(!(e.data && e.data.show === false));
    };
    w.postMessage({ type: 'gatebell:push', payload }, [channel.port2]);
  }));
  return (await Promise.all(answers)).every(Boolean);
}

/** The BroadcastChannel of pages that listen for pushes; named again in foreground.js. */
const FOREGROUND_CHANNEL = 'gatebell:foreground';

/**
 * Asks the listening pages over FOREGROUND_CHANNEL; resolves whether the system notification
 * is still wanted: not when the page in front answers `false`; yes on any other answer, or
 * none in time.
 */
async function shownWhenAskedOverChannel(payload) {
  if (typeof BroadcastChannel === 'undefined') return true;
  const channel = new BroadcastChannel(FOREGROUND_CHANNEL);
  const id = `${Date.now()}-${Math.random()}`;
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(true), FOCUSED_ANSWER_MS);
      channel.onmessage = (e) => {
        if (e.data && e.data.type === 'gatebell:answer' && e.data.id === id) {
          clearTimeout(timer);
          resolve(e.data.show !== false);
        }
      };
      channel.postMessage({ type: 'gatebell:push', id, payload });
    });
  } finally {
    channel.close();
  }
}

/**
 * The `notificationclick` handler: for a Gatebell notification, opens the visit (or decides
 * it from Approve / Reject) and returns true; returns false for anyone else's notification.
 */
export function handleNotificationClick(event) {
  if (!isGatebellPayload(event.notification && event.notification.data)) return false;
  event.waitUntil(preload().then(() => clickInWasm(event)));
  return true;
}

/**
 * The `pushsubscriptionchange` handler: registers the browser's new subscription for the
 * signed-in user and removes the old one, so pushes follow it even with no page open.
 */
export function handleSubscriptionChange(event) {
  event.waitUntil(preload().then(() => subscriptionChangeInWasm(event)));
  return true;
}
