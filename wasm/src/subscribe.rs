//! Getting a Web Push subscription: permission, the server's VAPID key, `pushManager`. The
//! browser plumbing is JS (`js/subscribe.js`): much smaller than the same flows as wasm with
//! their bindings. What comes back is read here, with the core's types.

use gatebell_core::protocol::WebPushSubscription;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::ServiceWorkerRegistration;

use crate::error::GatebellError;

#[wasm_bindgen(module = "/js/subscribe.js")]
extern "C" {
    #[wasm_bindgen(js_name = base64urlDecode)]
    fn base64url_decode_js(text: &str) -> Option<Vec<u8>>;

    #[wasm_bindgen(js_name = subscribe)]
    fn subscribe_js(
        api_base: &str,
        options: &JsValue,
        fallback: Option<&ServiceWorkerRegistration>,
        ours: Option<&str>,
    ) -> Promise;

    #[wasm_bindgen(js_name = unsubscribe)]
    fn unsubscribe_js(
        options: &JsValue,
        fallback: Option<&ServiceWorkerRegistration>,
        ours: Option<&str>,
    ) -> Promise;

    #[wasm_bindgen(js_name = changedSubscription)]
    fn changed_subscription_js(
        api_base: &str,
        registered: Option<&str>,
        given: Option<&ServiceWorkerRegistration>,
    ) -> Promise;

    #[wasm_bindgen(js_name = prepare)]
    fn prepare_js(api_base: &str);

    #[wasm_bindgen(js_name = resubscribe)]
    fn resubscribe_js(registration: &ServiceWorkerRegistration, api_base: &str) -> Promise;
}

/// Fetches the server's VAPID key ahead of `enableNotifications`, so that what it awaits
/// between the user's click and `pushManager.subscribe` is local (Safari subscribes only inside
/// the gesture). Never fails: `subscribe` fetches again if this did not work.
pub fn prepare(api_base: &str) {
    prepare_js(api_base);
}

/// Reads a `PushSubscription` (by its `toJSON()`) or an object shaped like that JSON.
pub fn subscription_from_js(value: &JsValue) -> Result<WebPushSubscription, GatebellError> {
    let json = match Reflect::get(value, &"toJSON".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    {
        Some(to_json) => to_json
            .call0(value)
            .map_err(|e| GatebellError::from_js("invalid_argument", &e))?,
        None => value.clone(),
    };
    crate::from_js(json).map_err(|e| {
        GatebellError::new(
            "invalid_argument",
            format!("not a push subscription ({{endpoint, keys: {{p256dh, auth}}}}): {e}"),
        )
    })
}

/// Decodes base64url (padding optional), as VAPID keys are published.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    base64url_decode_js(text)
}

/// Settles a promise of `js/subscribe.js`; its rejection carries the package's `code`.
async fn settle(promise: Promise) -> Result<JsValue, GatebellError> {
    JsFuture::from(promise)
        .await
        .map_err(|e| GatebellError::from_thrown(&e, "push_subscribe"))
}

/// The `registration` of an options object (`EnableNotificationsOptions` or
/// `PushClientOptions`), if given.
pub fn registration_option(
    options: &JsValue,
) -> Result<Option<ServiceWorkerRegistration>, GatebellError> {
    if !options.is_object() {
        return Ok(None);
    }
    let given = Reflect::get(options, &"registration".into()).unwrap_or(JsValue::UNDEFINED);
    if given.is_undefined() {
        return Ok(None);
    }
    given.dyn_into().map(Some).map_err(|_| {
        GatebellError::new(
            "invalid_argument",
            "registration must be a ServiceWorkerRegistration",
        )
    })
}

/// Permission, VAPID key, subscription: everything `enableNotifications` needs before
/// registering. A subscription made with the server's key is reused. One made with another
/// key belongs to another push sender (a registration holds one subscription), and is left
/// alone with a `foreign_subscription` error, unless it is Gatebell's own (`ours`, the endpoint
/// registered, made with a key since rotated) or `options.replaceForeignSubscription` is true.
/// `options.registration`, else `fallback` (the client's), else the page's ready registration.
pub async fn subscribe(
    api_base: &str,
    options: &JsValue,
    fallback: Option<&ServiceWorkerRegistration>,
    ours: Option<&str>,
) -> Result<WebPushSubscription, GatebellError> {
    let json = settle(subscribe_js(api_base, options, fallback, ours)).await?;
    subscription_from_js(&json)
}

/// Unsubscribes the registration's push subscription when it is Gatebell's (its endpoint is
/// `ours`, the one registered), turning notifications off: the push service forgets the
/// endpoint, so nothing reaches this browser even if the server's unregister is still queued.
/// Another sender's subscription stays.
pub async fn unsubscribe(
    options: &JsValue,
    fallback: Option<&ServiceWorkerRegistration>,
    ours: Option<&str>,
) -> Result<(), GatebellError> {
    settle(unsubscribe_js(options, fallback, ours))
        .await
        .map(drop)
}

/// At start: the browser's subscription as it now is, when it differs from the one registered
/// (`registered`, its endpoint). A subscription the browser renewed is returned as it is; one
/// made with a server key that has since rotated, or one the browser dropped while it was
/// registered, is made anew (only if permission is still granted: nothing prompts here). A
/// subscription of another push sender (another key, not the endpoint registered) is never
/// touched. None when nothing changed or there is no service worker yet. `given` is the
/// registration the app passed (`PushClientOptions.registration`), else the page's.
pub async fn changed_subscription(
    api_base: &str,
    registered: Option<&str>,
    given: Option<&ServiceWorkerRegistration>,
) -> Result<Option<WebPushSubscription>, GatebellError> {
    let json = settle(changed_subscription_js(api_base, registered, given)).await?;
    if json.is_null() || json.is_undefined() {
        return Ok(None);
    }
    subscription_from_js(&json).map(Some)
}

/// In the worker, for `pushsubscriptionchange` without a `newSubscription`: subscribes again
/// with the server's key.
pub async fn resubscribe_in_worker(
    registration: &ServiceWorkerRegistration,
    api_base: &str,
) -> Result<WebPushSubscription, GatebellError> {
    let json = settle(resubscribe_js(registration, api_base)).await?;
    subscription_from_js(&json)
}
