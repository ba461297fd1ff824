// An app's own service worker using the packed tarball's handlers: type-checked with
// `tsc --strict` (lib esnext + webworker) by wasm/test.sh.
import { handleNotificationClick, handlePush, handleSubscriptionChange, isGatebellPayload, preload } from '@gatebell/push/worker.js';

declare const self: ServiceWorkerGlobalScope;
void preload();
self.addEventListener('push', (event: PushEvent) => {
  if (handlePush(event)) return;
  const ours: boolean = isGatebellPayload(event.data?.json());
  event.waitUntil(self.registration.showNotification(ours ? 'unexpected' : 'Another provider'));
});
self.addEventListener('notificationclick', (event: NotificationEvent) => {
  if (!handleNotificationClick(event)) event.notification.close();
});
self.addEventListener('pushsubscriptionchange', (event: Event) => {
  const handled: boolean = handleSubscriptionChange(event as ExtendableEvent);
  void handled;
});
