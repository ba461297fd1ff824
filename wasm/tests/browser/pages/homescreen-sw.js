// The package's drop-in worker (/sw.js) as an iOS Home Screen app's worker sees the world: no
// window clients at all, its own page included. The user agent stays Chromium's, so a page's
// `false` still keeps the notification from being shown.
import './handlers-settled.js';
import './sw.js';

self.clients.matchAll = async () => [];
