// Gatebell's service worker. Serve it from the site root (/sw.js) beside gatebell_push.js and
// gatebell_push_bg.wasm, and register it as a module worker:
//   navigator.serviceWorker.register('/sw.js', { type: 'module' })
import init, { handleNotificationClick, handlePush } from './gatebell_push.js';

// Top-level await is not allowed in a service worker: start loading now, wait in each handler.
const ready = init();

// The worker keeps no state of its own, so a new version may take over at once.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  event.waitUntil(ready.then(() => handlePush(event)));
});

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(ready.then(() => handleNotificationClick(event)));
});
