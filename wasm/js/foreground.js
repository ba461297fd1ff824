// The page's side of foreground delivery. When a window of the site is focused, Gatebell's
// worker (worker.js) first asks it about each push: `onMessage(payload)` sees the payload, and
// returning `false` keeps the system notification from being shown (the page shows the visit
// itself); anything else, or no answer within half a second, shows it. Once a page has done
// this, the worker asks every focused window of the site: give each page's PushClient
// `onMessage` (it may return nothing), or a focused page without one delays notifications by
// that half second.
export function listenForPushes(onMessage) {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    const data = event.data;
    if (!data || data.type !== 'gatebell:push') return;
    let show = true;
    try {
      show = onMessage(data.payload) !== false;
    } catch (e) {
      console.error('Gatebell onMessage threw', e);
    }
    if (event.ports && event.ports[0]) event.ports[0].postMessage({ show });
  });
  // Messages wait in a queue until a page starts them (an `onmessage` setter would too).
  navigator.serviceWorker.startMessages();
}

// The page's side of a tap with a window open: the worker (src/worker.rs) posts the path the
// tap leads to, and `onNavigate(path, route)` moves the app there without a page load (a
// router's `push`). Returning `false`, throwing, or no page answering within half a second
// lets the worker navigate the window itself (a full load).
export function listenForNavigation(onNavigate) {
  if (typeof navigator === 'undefined' || !navigator.serviceWorker) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    const data = event.data;
    if (!data || data.type !== 'gatebell:navigate' || typeof data.path !== 'string') return;
    let handled = false;
    try {
      handled = onNavigate(data.path, data.route) !== false;
    } catch (e) {
      console.error('Gatebell onNavigate threw', e);
    }
    if (event.ports && event.ports[0]) event.ports[0].postMessage({ handled });
  });
  navigator.serviceWorker.startMessages();
}
