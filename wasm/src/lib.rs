//! Gatebell's web shell, built into the npm package `@gatebell/push` by `cargo xtask wasm`.
//!
//! - [`client::PushClient`] (JS `PushClient`) runs the core's registration state machine in a
//!   page: HTTP with `fetch`, state in IndexedDB, one `setTimeout` timer.
//! - [`worker::handle_push`] and [`worker::handle_notification_click`] (JS `handlePush`,
//!   `handleNotificationClick`) are the service worker's handlers. `js/worker.js` wraps them
//!   for any worker: it takes only events whose payload carries the `gatebell` marker and leaves
//!   other providers' pushes to the app; `js/sw.js`, the drop-in worker, wires it.
//!
//! The crate builds into two modules (`cargo xtask wasm`): with the feature `page` alone it is
//! `gatebell_push.js` / `gatebell_push_bg.wasm` (the `PushClient`), with `worker` alone
//! `gatebell_push_worker.js` / `gatebell_push_worker_bg.wasm` (the handlers), so that neither
//! context loads the other's code. Both features are on by default, for tests and clippy.
//!
//! Every failure reaches JavaScript as an `Error` named `GatebellError` with a `code`; nothing
//! here unwraps, so no call ends in a wasm panic.

#[cfg(feature = "page")]
pub mod client;
pub mod de;
pub mod error;
pub mod http;
pub mod scope;
pub mod ser;
pub mod store;
pub mod subscribe;
#[cfg(feature = "worker")]
pub mod worker;

#[cfg(feature = "page")]
pub use client::PushClient;
pub use error::GatebellError;

// lol_alloc's free-list allocator in place of std's dlmalloc: 3.3 KB less gzipped wasm in each
// module (docs/PERFORMANCE.md). It merges freed neighbours and grows memory by pages, as
// dlmalloc does; it is slower, which these few small allocations per event never notice.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: `AssumeSingleThreaded` is sound where only one thread runs, and this crate targets
// wasm32-unknown-unknown built without the `atomics` feature: there are no threads.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

/// Converts a Rust value to a plain JS object the way `JSON.parse` would build it (absent
/// options become `null`, maps become objects), with [`ser`].
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, GatebellError> {
    ser::to_value(value).map_err(|e| GatebellError::new("internal", e.to_string()))
}

/// A Rust value as JSON text (a request body), with [`ser`].
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, GatebellError> {
    ser::to_json(value).map_err(|e| GatebellError::new("internal", e.to_string()))
}

/// Reads a plain JS value (as `JSON.parse` builds it) into a Rust value with [`de`]
/// (serde-wasm-bindgen's rules, without its float-formatting error messages); the serde
/// attributes apply.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, de::Error> {
    de::from_value(value)
}

/// Runs `work` as a JS promise. Boxed, so that `future_to_promise` and its executor glue are
/// instantiated once in the wasm rather than once per exported function.
#[inline(never)]
pub fn promise(
    work: std::pin::Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>,
) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(work)
}

// The wire types, the client's `Status` and the tap `Route`, generated from the Rust types
// (`cargo xtask types`), so the package's declarations cannot drift from the core.
#[wasm_bindgen(typescript_custom_section)]
const PROTOCOL_TS: &'static str = include_str!("../../core/ts/protocol.ts");

#[cfg(feature = "page")]
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Thrown (or rejected with) by every function of this package. */
export interface GatebellError extends Error {
  name: "GatebellError";
  /** Stable snake_case: `network`, `storage`, `permission_denied`, `unsupported`,
   * `invalid_argument`, `invalid_response`, `notification`, `foreign_subscription`, or the
   * server's error code. */
  code: string;
  /** The HTTP status when the server refused. */
  status?: number;
}

/**
 * Options of `new PushClient(…)`. Every `PushClient` call resolves with the `Status` once the
 * requests it caused have been answered. A request that got no answer (offline, DNS, CORS,
 * timeout) does not reject: it is in `status.lastError` (`status: null`, `willRetry: true`)
 * and retried on the client's timer, as in the mobile bindings. Calls reject with a
 * `GatebellError` only for bad arguments, storage failures and permission / subscription
 * problems.
 */
export interface PushClientOptions {
  /** The API origin, such as `https://gate.example`; `""` for the page's own origin. */
  apiBase: string;
  onStatusChange?: (status: Status) => void;
  /** The server refused the session (401): sign in again. */
  onSessionEnded?: () => void;
  /**
   * A Gatebell push arrived while a window of the site is focused: the payload (the same
   * `PushPayload` the notification would show). Return `false` to keep the system
   * notification from being shown; it is shown otherwise (and when no focused window answers
   * within half a second).
   */
  onMessage?: (payload: PushPayload) => boolean | void;
  /**
   * The app's paths a tap opens. `visit` holds `{visitId}` once (Approve / Reject taps that
   * need the app add `action=approve|reject` to its query); both stay on the app's origin.
   * Default: `{ visit: "/visits/{visitId}", inbox: "/" }`. The latest PushClient's routes are
   * the worker's.
   */
  routes?: { visit?: string; inbox?: string };
  /**
   * A tap found a window of the app open: route to `path` without a page load (Next's
   * `router.push(path)`). Return `false` to let the worker navigate the window instead (a
   * load), as it does when no page answers within half a second.
   */
  onNavigate?: (path: string, route: Route) => boolean | void;
  /**
   * The registration of Gatebell's worker, when it is not the page's own (a worker at a scope
   * of its own beside Firebase's or OneSignal's). `load()` checks its subscription, and
   * `enableNotifications()` / `disableNotifications()` use it unless given another.
   */
  registration?: ServiceWorkerRegistration;
}

export interface EnableNotificationsOptions {
  /** Default: the client's `registration`, else `navigator.serviceWorker.ready`. */
  registration?: ServiceWorkerRegistration;
  /**
   * The registration already holds another push sender's subscription (another VAPID key):
   * `true` replaces it (that sender stops receiving). Default `false`: the call fails with
   * `foreign_subscription` and touches nothing.
   */
  replaceForeignSubscription?: boolean;
}

"#;
