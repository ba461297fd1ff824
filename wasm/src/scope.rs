//! The global-scope functions this package uses, bound so that the same code runs in a page,
//! a service worker and Node (`window` and `self` differ; the global functions do not).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Returns a number in browsers and a `Timeout` object in Node.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
}

/// Longest delay `setTimeout` honours; a longer one fires at once.
pub const MAX_TIMEOUT_MS: i64 = i32::MAX as i64;

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A property of the global object (`indexedDB`, `Notification`, …); `None` when absent.
pub fn global_property(name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Starts a timer; returns its handle for [`clear_timeout`]. In Node the timer is `unref`ed
/// so that a registration refresh days ahead does not keep the process alive.
pub fn start_timer(handler: &js_sys::Function, delay_ms: i64) -> JsValue {
    let handle = set_timeout(handler, delay_ms.clamp(0, MAX_TIMEOUT_MS) as i32);
    if let Ok(unref) = js_sys::Reflect::get(&handle, &"unref".into())
        && let Some(unref) = unref.dyn_ref::<js_sys::Function>()
    {
        let _ = unref.call0(&handle);
    }
    handle
}
