// Entry of the classic build, gatebell-classic.js: the worker handlers for service workers
// that are not modules (Workbox, Serwist and next-pwa generate classic ones; Firefox before
// 147 registers no module worker). Bundled into one script by `cargo xtask wasm` (esbuild,
// IIFE). In the app's worker:
//
//   self.GATEBELL_WASM_URL = '/gatebell_push_worker_bg.wasm'; // optional: default beside the worker
//   importScripts('/gatebell-classic.js');
//   self.addEventListener('push', (event) => { if (!self.gatebell.handlePush(event)) myOwnPush(event); });
//   self.addEventListener('notificationclick', (event) => { if (!self.gatebell.handleNotificationClick(event)) myOwnClick(event); });
//   self.addEventListener('pushsubscriptionchange', (event) => self.gatebell.handleSubscriptionChange(event));
import { handleNotificationClick, handlePush, handleSubscriptionChange, isGatebellPayload, preload } from './worker.js';

// A classic script has no module URL to find the .wasm by: it is resolved against the worker.
preload(new URL(self.GATEBELL_WASM_URL ?? 'gatebell_push_worker_bg.wasm', self.location.href).href);

self.gatebell = { handlePush, handleNotificationClick, handleSubscriptionChange, isGatebellPayload, preload };
