// The wasm package (@gatebell/push), imported through Next's bundler: the page's code and its
// .wasm (an asset the bundler finds through the glue's `new URL(…, import.meta.url)`) are
// bundled; only the service worker's files are copied into public/. Imported lazily, so the
// wasm loads on the pages that use it and never during prerendering. One PushClient per page.
import type * as Pkg from '@gatebell/push';
import type { PushClient, Status } from '@gatebell/push';

type Module = typeof Pkg;

let modulePromise: Promise<Module> | null = null;
let clientPromise: Promise<PushClient> | null = null;
let registrationPromise: Promise<ServiceWorkerRegistration | null> | null = null;
let navigate: ((path: string) => void) | null = null;
const statusListeners = new Set<(s: Status) => void>();

/**
 * The demo's pages as the worker should open them for a tap. `/visits?id=` rather than
 * `/visits/<id>`: the static export has one visits page, and Next's router can move to it
 * without a load only at a path the export holds (the server still answers `/visits/<id>`).
 */
export const DEMO_ROUTES = { visit: '/visits?id={visitId}', inbox: '/resident' };

/** The router that a tap with a window open goes through; returns the unregistering function. */
export function setNavigator(f: (path: string) => void): () => void {
  navigate = f;
  return () => {
    if (navigate === f) navigate = null;
  };
}
const sessionEndedListeners = new Set<() => void>();

/** The package, initialised (its wasm fetched and instantiated). */
export function loadPackage(): Promise<Module> {
  if (!modulePromise) {
    modulePromise = (async () => {
      const m = await import('@gatebell/push');
      await m.default();
      return m;
    })();
    modulePromise.catch(() => {
      modulePromise = null;
    });
  }
  return modulePromise;
}

/** Whether this browser can receive Web Push at all. */
export function pushSupported(): boolean {
  return (
    typeof window !== 'undefined' &&
    'serviceWorker' in navigator &&
    'PushManager' in window &&
    'Notification' in window
  );
}

/** Registers /sw.js (a module worker, scope /); resolves to null where unsupported. */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!registrationPromise) {
    registrationPromise = (async () => {
      if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return null;
      await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
      return navigator.serviceWorker.ready;
    })();
    registrationPromise.catch(() => {
      registrationPromise = null;
    });
  }
  return registrationPromise;
}

/** This page's PushClient, with its stored state restored. */
export function getPushClient(): Promise<PushClient> {
  if (!clientPromise) {
    clientPromise = (async () => {
      const { PushClient } = await loadPackage();
      return PushClient.load({
        apiBase: '',
        onStatusChange: (s) => statusListeners.forEach((f) => f(s)),
        onSessionEnded: () => sessionEndedListeners.forEach((f) => f()),
        routes: DEMO_ROUTES,
        // No router mounted (a page without the header): the worker loads the path instead.
        onNavigate: (path) => {
          if (!navigate) return false;
          navigate(path);
        },
      });
    })();
    clientPromise.catch(() => {
      clientPromise = null;
    });
  }
  return clientPromise;
}

export function onStatusChange(f: (s: Status) => void): () => void {
  statusListeners.add(f);
  return () => statusListeners.delete(f);
}

export function onSessionEnded(f: () => void): () => void {
  sessionEndedListeners.add(f);
  return () => sessionEndedListeners.delete(f);
}

/** The package's error code (`permission_denied`, `unsupported`, …), if it is one of its errors. */
export function errorCode(e: unknown): string | null {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : null;
}

declare global {
  interface Window {
    /** For tests and the curious: this page's PushClient and service worker registration. */
    gatebellDemo?: { pushClient: () => Promise<PushClient>; registration: () => Promise<ServiceWorkerRegistration | null> };
  }
}

if (typeof window !== 'undefined') {
  window.gatebellDemo = { pushClient: getPushClient, registration: registerServiceWorker };
}
