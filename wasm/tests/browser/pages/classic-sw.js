// An app's own classic service worker with another push provider, and Gatebell added with
// importScripts as README says.
importScripts('/handlers-settled.js'); // the tests' record of settled handlers
importScripts('/gatebell-classic.js');

self.appPushes = [];
self.appClicks = [];

self.addEventListener('push', (event) => {
  if (self.gatebell.handlePush(event)) return;
  const payload = event.data.json();
  self.appPushes.push(payload);
  event.waitUntil(self.registration.showNotification(payload.notification.title, { tag: 'app-offer', body: payload.notification.body, data: payload }));
});

self.addEventListener('notificationclick', (event) => {
  if (self.gatebell.handleNotificationClick(event)) return;
  self.appClicks.push(event.notification.tag);
  event.notification.close();
});

self.addEventListener('pushsubscriptionchange', (event) => self.gatebell.handleSubscriptionChange(event));

// Test control, for browsers whose driver cannot run code inside a worker (Firefox over
// WebDriver BiDi): the page asks for a click on a shown notification and hears whether the
// click was dispatched. A synthetic event is untrusted, so waitUntil may throw after the handler
// started; the test watches the handler's effects.
self.addEventListener('message', (event) => {
  const { type, tag, action } = event.data ?? {};
  // How many events of each type the handlers have finished (handlers-settled.js).
  if (type === 'test:settled') return event.ports[0]?.postMessage({ ...self.settled });
  if (type !== 'test:click') return;
  const reply = (answer) => event.ports[0]?.postMessage(answer);
  event.waitUntil(self.registration.getNotifications({ tag }).then(([notification]) => {
    if (!notification) return reply({ error: `no notification tagged ${tag}` });
    let thrown = null;
    try {
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification, action }));
    } catch (e) {
      thrown = String(e);
    }
    reply({ dispatched: true, thrown });
  }).catch((e) => reply({ error: String(e) })));
});
