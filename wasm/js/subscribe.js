// Getting a Web Push subscription for the wasm package (`src/subscribe.rs` binds it):
// permission, the registration, the server's VAPID key and `pushManager`. Browser plumbing is
// smaller as JS than as wasm bindings. Each function resolves with a subscription's `toJSON()`
// (or null) and rejects with an Error that carries the package's `code` (and `status` when the
// server refused), which the wasm turns into its GatebellError.

import { sendText } from './http.js';

const VAPID_KEY_PATH = '/api/v1/notifications/vapid-public-key';
const TIMEOUT_MS = 15000;

function fail(code, message, status) {
  const error = new Error(message);
  error.name = 'GatebellError';
  error.code = code;
  if (status !== undefined) error.status = status;
  return error;
}

const messageOf = (e) => (e && typeof e.message === 'string' ? e.message : typeof e === 'string' ? e : 'unknown JavaScript error');

/** Awaits `work()`; whatever it throws becomes an error with `code`. */
async function as(code, work) {
  try {
    return await work();
  } catch (e) {
    throw fail(code, messageOf(e));
  }
}

/** Decodes base64url (padding optional, `+` and `/` accepted too); null when it is not. */
export function base64urlDecode(text) {
  const clean = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_+/-]*$/.test(clean) || clean.length % 4 === 1) return null;
  const binary = atob(clean.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(clean.length / 4) * 4, '='));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // Leftover bits must be zero padding: re-encoding gives the same text back.
  const again = btoa(binary).replace(/=+$/, '');
  return again === clean.replace(/-/g, '+').replace(/_/g, '/') ? bytes : null;
}

/** The server's VAPID public key, as the 65 bytes of a P-256 point. */
async function vapidKey(apiBase) {
  const url = `${apiBase.replace(/\/+$/, '')}${VAPID_KEY_PATH}`;
  let answer;
  try {
    answer = await sendText(url, 'GET', undefined, undefined, TIMEOUT_MS);
  } catch (e) {
    throw fail('network', messageOf(e));
  }
  const { status } = answer;
  let body = null;
  try {
    body = JSON.parse(answer.body);
  } catch {
    // An answer that is not JSON: named by its status below.
  }
  if (status < 200 || status > 299) {
    const error = body && body.error;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') throw fail(error.code, error.message, status);
    throw fail('http', `HTTP ${status}`, status);
  }
  if (!body || typeof body.publicKey !== 'string') throw fail('invalid_response', 'the answer has no publicKey');
  const key = base64urlDecode(body.publicKey);
  if (!key || key.length !== 65) throw fail('invalid_response', 'the VAPID key is not a P-256 point');
  return key;
}

/** The server's VAPID key per API base: fetched ahead by `prepare`, refreshed by the start-up check. */
const keys = new Map();

/** The key's promise, from the cache unless `fresh`; a failed fetch is not kept. */
function keyFor(apiBase, fresh = false) {
  let key = fresh ? undefined : keys.get(apiBase);
  if (!key) {
    key = vapidKey(apiBase);
    keys.set(apiBase, key);
    key.catch(() => {
      if (keys.get(apiBase) === key) keys.delete(apiBase);
    });
  }
  return key;
}

/**
 * Fetches the server's key before any gesture. Safari lets a page subscribe only inside the
 * user's gesture (a click), and Firefox prompts only there: an await on the network between
 * the click and `pushManager.subscribe` can outlast it. With the key here already, what
 * `subscribe` awaits after the prompt is local.
 */
export function prepare(apiBase) {
  keyFor(apiBase).catch(() => {});
}

async function requestPermission() {
  if (typeof Notification === 'undefined') throw fail('unsupported', 'this browser has no notifications');
  const answer = await as('permission_denied', () => Notification.requestPermission());
  if (answer !== 'granted') throw fail('permission_denied', `notification permission is ${typeof answer === 'string' ? answer : 'not granted'}`);
}

/** The registration given in `options.registration`, else `fallback` (the client's), else the page's ready one. */
async function registrationFor(options, fallback) {
  const given = options && typeof options === 'object' ? options.registration : undefined;
  if (given !== undefined) {
    if (typeof ServiceWorkerRegistration === 'undefined' || !(given instanceof ServiceWorkerRegistration)) {
      throw fail('invalid_argument', 'registration must be a ServiceWorkerRegistration');
    }
    return given;
  }
  if (fallback) return fallback;
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) throw fail('unsupported', 'this browser has no service workers');
  return as('service_worker', () => navigator.serviceWorker.ready);
}

function managerOf(registration) {
  if (!registration.pushManager) throw fail('unsupported', 'this browser has no Web Push');
  return registration.pushManager;
}

/** Whether a subscription was made with the server key `key`. */
function madeWith(subscription, key) {
  const made = subscription.options && subscription.options.applicationServerKey;
  if (!made) return false;
  const bytes = new Uint8Array(made);
  return bytes.length === key.length && bytes.every((b, i) => b === key[i]);
}

const subscribeWith = (manager, key) =>
  as('push_subscribe', () => manager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));

/**
 * Permission, VAPID key, subscription: everything `enableNotifications` needs before
 * registering. A subscription made with the server's key is reused. One made with another key
 * belongs to another push sender (a registration holds one subscription), and is left alone
 * with a `foreign_subscription` error, unless it is Gatebell's own (`ours`, the endpoint
 * registered, made with a key since rotated) or `options.replaceForeignSubscription` is true.
 */
export async function subscribe(apiBase, options, fallback, ours) {
  // Asked for first, in the user's gesture; the key was fetched ahead (`prepare`) or is
  // fetched meanwhile.
  const pending = keyFor(apiBase);
  pending.catch(() => {});
  await requestPermission();
  const registration = await registrationFor(options, fallback);
  const key = await pending;
  const manager = managerOf(registration);
  const existing = await as('push_subscribe', () => manager.getSubscription());
  if (existing) {
    if (madeWith(existing, key)) return existing.toJSON();
    const replace = options && typeof options === 'object' && options.replaceForeignSubscription === true;
    if (!(replace || existing.endpoint === ours)) {
      throw fail('foreign_subscription', "this service worker registration holds another push sender's subscription "
        + '(another applicationServerKey); give Gatebell a registration of its own '
        + '(a worker at its own scope), or pass replaceForeignSubscription: true');
    }
    await as('push_subscribe', () => existing.unsubscribe());
  }
  return (await subscribeWith(manager, key)).toJSON();
}

/**
 * Unsubscribes the registration's push subscription when it is Gatebell's (its endpoint is
 * `ours`, the one registered). Another sender's subscription stays.
 */
export async function unsubscribe(options, fallback, ours) {
  const manager = managerOf(await registrationFor(options, fallback));
  const existing = await as('push_unsubscribe', () => manager.getSubscription());
  if (existing && existing.endpoint === ours) await as('push_unsubscribe', () => existing.unsubscribe());
}

/**
 * At start: the browser's subscription as it now is, when it differs from the one registered
 * (`registered`, its endpoint). A subscription the browser renewed is returned as it is; one
 * made with a server key that has since rotated, or one the browser dropped while it was
 * registered, is made anew (only if permission is still granted: nothing prompts here). A
 * subscription of another push sender (another key, not the endpoint registered) is never
 * touched. Null when nothing changed or there is no service worker yet. `given` is the
 * registration the app passed, else the page's.
 */
export async function changedSubscription(apiBase, registered, given) {
  let registration = given;
  if (!registration) {
    if (typeof navigator === 'undefined' || !navigator.serviceWorker) return null;
    registration = await as('service_worker', () => navigator.serviceWorker.getRegistration());
    if (!registration) return null;
  }
  const manager = managerOf(registration);
  const existing = await as('push_subscribe', () => manager.getSubscription());
  if (!existing && registered == null) return null;
  const key = await keyFor(apiBase, true);
  if (existing && madeWith(existing, key)) return existing.endpoint === registered ? null : existing.toJSON();
  // Another sender's: not ours to replace.
  if (existing && existing.endpoint !== registered) return null;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return null;
  // Ours, made with a key the server has since rotated (or dropped by the browser).
  if (existing) await as('push_subscribe', () => existing.unsubscribe());
  return (await subscribeWith(manager, key)).toJSON();
}

/** In the worker, for `pushsubscriptionchange` without a `newSubscription`: subscribes again with the server's key. */
export async function resubscribe(registration, apiBase) {
  const key = await keyFor(apiBase, true);
  return (await subscribeWith(managerOf(registration), key)).toJSON();
}
