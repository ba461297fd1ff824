// Gatebell's drop-in service worker, for a site with no worker of its own. Serve it from the
// site root (/sw.js) beside worker.js, gatebell_push_worker.js, gatebell_push_worker_bg.wasm and
// snippets/, and register it as a module worker:
//   navigator.serviceWorker.register('/sw.js', { type: 'module' })
// A site that has a worker already imports worker.js into it instead (see README).
import { handleNotificationClick, handlePush, handleSubscriptionChange, preload } from './worker.js';

preload();

// This worker keeps no state of its own, so a new version may take over at once.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  if (handlePush(event)) return;
  // Nobody else handles pushes here, and a browser requires each to show something.
  event.waitUntil(self.registration.showNotification('Gatebell', { body: 'You have a new notification.' }));
});

self.addEventListener('notificationclick', (event) => {
  if (handleNotificationClick(event)) return;
  event.notification.close();
  event.waitUntil(self.clients.openWindow('/'));
});

// The browser renewed the subscription: register the new one at once.
self.addEventListener('pushsubscriptionchange', (event) => handleSubscriptionChange(event));
