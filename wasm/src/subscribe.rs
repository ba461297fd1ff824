//! Getting a Web Push subscription: permission, the server's VAPID key, `pushManager.subscribe`.

use gatebell_core::protocol::{VapidPublicKey, WebPushSubscription};
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{PushManager, PushSubscription, ServiceWorkerRegistration};

use crate::error::GatebellError;
use crate::http;
use crate::scope;

/// Where the server publishes its VAPID public key.
pub const VAPID_KEY_PATH: &str = "/api/v1/notifications/vapid-public-key";

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
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    // Leftover bits must be zero padding of fewer than 6 bits.
    (count < 6 && bits & ((1 << count) - 1) == 0).then_some(out)
}

async fn await_js(promise: Result<Promise, JsValue>, code: &str) -> Result<JsValue, GatebellError> {
    let promise = promise.map_err(|e| GatebellError::from_js(code, &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| GatebellError::from_js(code, &e))
}

/// Asks for permission; fails with `permission_denied` unless granted.
async fn request_permission() -> Result<(), GatebellError> {
    if scope::global_property("Notification").is_none() {
        return Err(GatebellError::new(
            "unsupported",
            "this browser has no notifications",
        ));
    }
    let answer = await_js(
        web_sys::Notification::request_permission(),
        "permission_denied",
    )
    .await?;
    match answer.as_string().as_deref() {
        Some("granted") => Ok(()),
        other => Err(GatebellError::new(
            "permission_denied",
            format!(
                "notification permission is {}",
                other.unwrap_or("not granted")
            ),
        )),
    }
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

/// The registration given in `options.registration`, else the client's (`fallback`), else the
/// page's ready one.
async fn registration(
    options: &JsValue,
    fallback: Option<&ServiceWorkerRegistration>,
) -> Result<ServiceWorkerRegistration, GatebellError> {
    if let Some(given) = registration_option(options)?.or_else(|| fallback.cloned()) {
        return Ok(given);
    }
    let container = scope::global_property("navigator")
        .and_then(|n| Reflect::get(&n, &"serviceWorker".into()).ok())
        .filter(|c| !c.is_undefined())
        .ok_or_else(|| GatebellError::new("unsupported", "this browser has no service workers"))?
        .unchecked_into::<web_sys::ServiceWorkerContainer>();
    let ready = await_js(container.ready(), "service_worker").await?;
    Ok(ready.unchecked_into())
}

async fn vapid_key(api_base: &str) -> Result<Vec<u8>, GatebellError> {
    let answer = http::send(&http::url(api_base, VAPID_KEY_PATH), "GET", None, None).await?;
    if !answer.ok() {
        return Err(http::answer_error(&answer));
    }
    let key: VapidPublicKey = http::parse_json(&answer.body)?;
    base64url_decode(&key.public_key)
        .filter(|k| k.len() == 65)
        .ok_or_else(|| GatebellError::new("invalid_response", "the VAPID key is not a P-256 point"))
}

/// Whether a subscription was made with the server key `key`.
fn made_with(subscription: &PushSubscription, key: &[u8]) -> bool {
    subscription
        .options()
        .application_server_key()
        .ok()
        .flatten()
        .is_some_and(|k| Uint8Array::new(&k).to_vec() == key)
}

/// The registration's push subscription, if it has one.
async fn current_subscription(
    manager: &PushManager,
) -> Result<Option<PushSubscription>, GatebellError> {
    let existing = await_js(manager.get_subscription(), "push_subscribe").await?;
    Ok(existing.dyn_into::<PushSubscription>().ok())
}

/// Whether `options.replaceForeignSubscription` is `true`.
fn replace_foreign(options: &JsValue) -> bool {
    options.is_object()
        && Reflect::get(options, &"replaceForeignSubscription".into())
            .ok()
            .and_then(|v| v.as_bool())
            == Some(true)
}

/// Permission, VAPID key, subscription: everything `enableNotifications` needs before
/// registering. A subscription made with the server's key is reused. One made with another
/// key belongs to another push sender (a registration holds one subscription), and is left
/// alone with a `foreign_subscription` error, unless it is Gatebell's own (`ours`, the endpoint
/// registered, made with a key since rotated) or `options.replaceForeignSubscription` is true.
pub async fn subscribe(
    api_base: &str,
    options: &JsValue,
    fallback: Option<&ServiceWorkerRegistration>,
    ours: Option<&str>,
) -> Result<WebPushSubscription, GatebellError> {
    request_permission().await?;
    let registration = registration(options, fallback).await?;
    let key = vapid_key(api_base).await?;
    let manager = registration
        .push_manager()
        .map_err(|e| GatebellError::from_js("unsupported", &e))?;
    if let Some(existing) = current_subscription(&manager).await? {
        if made_with(&existing, &key) {
            return subscription_from_js(&existing);
        }
        if !(replace_foreign(options) || Some(existing.endpoint().as_str()) == ours) {
            return Err(GatebellError::new(
                "foreign_subscription",
                "this service worker registration holds another push sender's subscription \
                 (another applicationServerKey); give Gatebell a registration of its own \
                 (a worker at its own scope), or pass replaceForeignSubscription: true",
            ));
        }
        await_js(existing.unsubscribe(), "push_subscribe").await?;
    }
    let init = web_sys::PushSubscriptionOptionsInit::new();
    init.set_user_visible_only(true);
    init.set_application_server_key(&Uint8Array::from(key.as_slice()));
    let subscription = await_js(manager.subscribe_with_options(&init), "push_subscribe").await?;
    subscription_from_js(&subscription)
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
    let registration = registration(options, fallback).await?;
    let manager = registration
        .push_manager()
        .map_err(|e| GatebellError::from_js("unsupported", &e))?;
    let existing = await_js(manager.get_subscription(), "push_unsubscribe").await?;
    if let Some(existing) = existing.dyn_ref::<PushSubscription>()
        && Some(existing.endpoint().as_str()) == ours
    {
        await_js(existing.unsubscribe(), "push_unsubscribe").await?;
    }
    Ok(())
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
    let found;
    let registration = match given {
        Some(given) => given,
        None => {
            let Some(container) = scope::global_property("navigator")
                .and_then(|n| Reflect::get(&n, &"serviceWorker".into()).ok())
                .filter(|c| !c.is_undefined())
            else {
                return Ok(None);
            };
            let container: web_sys::ServiceWorkerContainer = container.unchecked_into();
            found = await_js(Ok(container.get_registration()), "service_worker").await?;
            let Some(registration) = found.dyn_ref::<ServiceWorkerRegistration>() else {
                return Ok(None);
            };
            registration
        }
    };
    let manager = registration
        .push_manager()
        .map_err(|e| GatebellError::from_js("unsupported", &e))?;
    let existing = await_js(manager.get_subscription(), "push_subscribe").await?;
    let existing = existing.dyn_ref::<PushSubscription>();
    if existing.is_none() && registered.is_none() {
        return Ok(None);
    }
    let key = vapid_key(api_base).await?;
    if let Some(current) = existing.filter(|s| made_with(s, &key)) {
        let current = subscription_from_js(current)?;
        return Ok((Some(current.endpoint.as_str()) != registered).then_some(current));
    }
    if let Some(existing) = existing {
        if Some(existing.endpoint().as_str()) != registered {
            // Another sender's: not ours to replace.
            return Ok(None);
        }
        if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
            return Ok(None);
        }
        // Ours, made with a key the server has since rotated.
        await_js(existing.unsubscribe(), "push_subscribe").await?;
    } else if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return Ok(None);
    }
    let init = web_sys::PushSubscriptionOptionsInit::new();
    init.set_user_visible_only(true);
    init.set_application_server_key(&Uint8Array::from(key.as_slice()));
    let subscription = await_js(manager.subscribe_with_options(&init), "push_subscribe").await?;
    subscription_from_js(&subscription).map(Some)
}

/// In the worker, for `pushsubscriptionchange` without a `newSubscription`: subscribes again
/// with the server's key.
pub async fn resubscribe_in_worker(
    registration: &ServiceWorkerRegistration,
    api_base: &str,
) -> Result<WebPushSubscription, GatebellError> {
    let key = vapid_key(api_base).await?;
    let manager = registration
        .push_manager()
        .map_err(|e| GatebellError::from_js("unsupported", &e))?;
    let init = web_sys::PushSubscriptionOptionsInit::new();
    init.set_user_visible_only(true);
    init.set_application_server_key(&Uint8Array::from(key.as_slice()));
    let subscription = await_js(manager.subscribe_with_options(&init), "push_subscribe").await?;
    subscription_from_js(&subscription)
}
