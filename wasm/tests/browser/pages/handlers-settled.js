// Test instrumentation for a service worker, loaded before Gatebell (`import` or
// `importScripts`): counts each extendable event's `waitUntil` work as it settles, so a test
// waits for "the push handler finished" rather than sleeping. `self.settled[type]` counts
// settled events of that type; `self.started[type]` the ones that called waitUntil;
// `self.failed` holds `type: error` for work that rejected; `self.pushed` each push event's text,
// as it was dispatched to this worker (before any handler ran).
self.started = {};
self.settled = {};
self.failed = [];
self.pushed = [];
self.addEventListener('push', (event) => { self.pushed.push(event.data ? event.data.text() : null); });
const original = ExtendableEvent.prototype.waitUntil;
ExtendableEvent.prototype.waitUntil = function waitUntil(promise) {
  const type = this.type;
  self.started[type] = (self.started[type] ?? 0) + 1;
  const count = () => { self.settled[type] = (self.settled[type] ?? 0) + 1; };
  Promise.resolve(promise).then(count, (e) => {
    self.failed.push(`${type}: ${e && (e.stack || e.message) || e}`);
    count();
  });
  return original.call(this, promise);
};
