// An app's own service worker with another push provider, and Gatebell added as README says.
import './handlers-settled.js'; // the tests' record of settled handlers
import { handleNotificationClick, handlePush, preload } from './worker.js';

preload();
self.appPushes = [];
self.appClicks = [];

self.addEventListener('push', (event) => {
  if (handlePush(event)) return;
  // The other provider's push: the app shows it its own way.
  const payload = event.data.json();
  self.appPushes.push(payload);
  event.waitUntil(self.registration.showNotification(payload.notification.title, { tag: 'app-offer', body: payload.notification.body, data: payload }));
});

self.addEventListener('notificationclick', (event) => {
  if (handleNotificationClick(event)) return;
  self.appClicks.push(event.notification.tag);
  event.notification.close();
});
