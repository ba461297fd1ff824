// The page's side of foreground delivery and of taps with a window open (`src/client.rs`
// binds it). One `message` listener on `navigator.serviceWorker` serves every PushClient of the
// page, and is removed when the last of them goes (`client.free()`).
//
// Pushes: when a window of the site is focused, Gatebell's worker (worker.js) first asks it
// about each push, but only while some page listens: each such page holds the shared Web Lock
// LOCK, which the worker looks for with `navigator.locks.query()`. The browser releases it
// when the page goes (closed, reloaded, crashed), and the page when its last listener goes.
// `onMessage(payload)` sees the payload, and `false` from any listener keeps the system
// notification from being shown (the page shows the visit itself); anything else, or no answer
// within half a second, shows it.
//
// An iOS Home Screen app's worker sees no windows (`clients.matchAll` is empty there), so it
// asks over the BroadcastChannel CHANNEL instead, and the page in front answers: one whose
// document has focus, or, installed to the Home Screen (`navigator.standalone`, display-mode
// standalone), one that is visible.
//
// Taps: the worker (src/worker.rs) posts the path a tap leads to, and `onNavigate(path, route)`
// moves the app there without a page load (a router's `push`). Returning `false`, throwing, or
// no page answering within half a second lets the worker navigate the window itself.

/** Held (shared) by every page with an `onMessage` listener; named again in worker.js. */
const LOCK = 'gatebell:foreground';
/** Where the worker asks when it sees no windows; named again in worker.js. */
const CHANNEL = 'gatebell:foreground';
const pushListeners = new Set();
const navigateListeners = new Set();
let listening = false;
/** Releases this page's hold on LOCK; null while it holds none. */
let release = null;
/** This page's end of CHANNEL while it listens for pushes. */
let channel = null;

function holdLock(on) {
  if (on && !release && typeof navigator !== 'undefined' && navigator.locks) {
    const held = new Promise((resolve) => { release = resolve; });
    navigator.locks.request(LOCK, { mode: 'shared' }, () => held)
      .catch((e) => console.error('Gatebell could not hold its foreground lock', e));
  } else if (!on && release) {
    release();
    release = null;
  }
}

/** Runs the push listeners; whether the system notification is still wanted. */
function hear(payload) {
  let show = true;
  for (const listener of [...pushListeners]) {
    try {
      if (listener(payload) === false) show = false;
    } catch (e) {
      console.error('Gatebell onMessage threw', e);
    }
  }
  return show;
}

/** Whether this page is the one in front: focused, or visible as a Home Screen app. */
function inFront() {
  if (typeof document === 'undefined') return false;
  if (document.hasFocus()) return true;
  const standalone = navigator.standalone === true
    || (typeof matchMedia === 'function' && matchMedia('(display-mode: standalone)').matches);
  return standalone && document.visibilityState === 'visible';
}

function onChannelMessage(event) {
  const data = event.data;
  if (!data || data.type !== 'gatebell:push' || pushListeners.size === 0 || !inFront()) return;
  channel.postMessage({ type: 'gatebell:answer', id: data.id, show: hear(data.payload) });
}

function listenOnChannel(on) {
  if (on && !channel && typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel(CHANNEL);
    channel.onmessage = onChannelMessage;
  } else if (!on && channel) {
    channel.close();
    channel = null;
  }
}

function onServiceWorkerMessage(event) {
  const data = event.data;
  const port = event.ports && event.ports[0];
  if (!data) return;
  if (data.type === 'gatebell:push' && pushListeners.size > 0) {
    const show = hear(data.payload);
    if (port) port.postMessage({ show });
  } else if (data.type === 'gatebell:navigate' && typeof data.path === 'string' && navigateListeners.size > 0) {
    let handled = false;
    for (const listener of [...navigateListeners]) {
      try {
        if (listener(data.path, data.route) !== false) handled = true;
      } catch (e) {
        console.error('Gatebell onNavigate threw', e);
      }
    }
    if (port) port.postMessage({ handled });
  }
}

/** Adds or removes the page's listeners to match the sets. */
function sync() {
  const wanted = pushListeners.size + navigateListeners.size > 0;
  if (wanted === listening || typeof navigator === 'undefined' || !navigator.serviceWorker) return;
  listening = wanted;
  if (wanted) {
    navigator.serviceWorker.addEventListener('message', onServiceWorkerMessage);
    // Messages wait in a queue until a page starts them (an `onmessage` setter would too).
    navigator.serviceWorker.startMessages();
  } else {
    navigator.serviceWorker.removeEventListener('message', onServiceWorkerMessage);
  }
}

/** Hears pushes while a window of the site is focused; returns the function that stops it. */
export function listenForPushes(onMessage) {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) return () => {};
  const listener = (payload) => onMessage(payload);
  pushListeners.add(listener);
  holdLock(true);
  listenOnChannel(true);
  sync();
  return () => {
    if (!pushListeners.delete(listener)) return;
    if (pushListeners.size === 0) {
      holdLock(false);
      listenOnChannel(false);
    }
    sync();
  };
}

/** Routes the worker's taps through the app's router; returns the function that stops it. */
export function listenForNavigation(onNavigate) {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) return () => {};
  const listener = (path, route) => onNavigate(path, route);
  navigateListeners.add(listener);
  sync();
  return () => {
    if (navigateListeners.delete(listener)) sync();
  };
}
