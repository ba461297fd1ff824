//! The `PushClient` class for pages: the core's [`Runner`] with `fetch`, IndexedDB and one
//! `setTimeout` timer as its [`Shell`].

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gatebell_core::client::runner::{Runner, Shell};
use gatebell_core::client::{self as core, Config, Event, HttpOutcome, HttpRequest};
use gatebell_core::protocol::{Platform, WebPushSubscription};
use gatebell_core::routing::RoutePaths;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::error::GatebellError;
use crate::http;
use crate::scope;
use crate::store::{
    self, ClickRouting, KEY_API_BASE, KEY_ROUTES, KEY_SESSION, KEY_STATE, SessionRecord, Store,
};
use crate::subscribe;

/// Keeps this browser's push subscription registered with the Gatebell server for whoever is
/// signed in. Run one per page (see the core's contract); the service worker only reads the
/// stored session.
#[wasm_bindgen]
pub struct PushClient {
    inner: Rc<Inner>,
    /// Stops this client's `onMessage` / `onNavigate` listeners (`js/foreground.js`); called
    /// when the client is freed.
    stop_listening: Vec<Function>,
}

/// `client.free()` (or the client being collected) removes its page listeners: the last one
/// to go removes the page's `message` listener and releases the page's foreground lock, so the
/// worker no longer holds pushes back to ask it (`js/foreground.js`).
impl Drop for PushClient {
    fn drop(&mut self) {
        for stop in self.stop_listening.drain(..) {
            let _ = stop.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Shared between the class, its promises and its timer.
struct Inner {
    api_base: String,
    /// `options.registration`: the service worker registration Gatebell subscribes with.
    registration: Option<web_sys::ServiceWorkerRegistration>,
    on_status_change: Option<Function>,
    on_session_ended: Option<Function>,
    /// Replaced by a fresh one (which reads the store again) when another tab changed the
    /// stored state since this one last read or wrote it.
    runner: RefCell<Rc<Runner>>,
    /// The state as this tab last read or wrote it; `None` before the first read.
    /// As JSON text (`crate::to_json`): comparing texts needs no `PartialEq` and no copy of
    /// the state in the wasm.
    seen: RefCell<Option<String>>,
    store: RefCell<Option<Rc<Store>>>,
    /// A call is running the core; others queue their event and wait for it to finish.
    draining: Cell<bool>,
    idle_waiters: RefCell<Vec<Function>>,
    timer: RefCell<Option<Timer>>,
}

/// The one pending `setTimeout`, with the closure it calls.
struct Timer {
    handle: JsValue,
    _on_fire: Closure<dyn FnMut()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.get_mut().take() {
            scope::clear_timeout(&timer.handle);
        }
    }
}

#[wasm_bindgen(module = "/js/foreground.js")]
extern "C" {
    /// Answers the worker's questions about pushes arriving while a window is focused;
    /// returns the function that stops it.
    #[wasm_bindgen(js_name = listenForPushes)]
    fn listen_for_pushes(on_message: &Function) -> Function;

    /// Routes the worker's taps through the app's router; returns the function that stops it.
    #[wasm_bindgen(js_name = listenForNavigation)]
    fn listen_for_navigation(on_navigate: &Function) -> Function;
}

/// An optional string field of an options object: absent (or `undefined`) is `None`, any
/// other non-string an error naming it.
fn string_field(object: &JsValue, name: &str, path: &str) -> Result<Option<String>, GatebellError> {
    let value = js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| GatebellError::new("invalid_argument", format!("{path} must be a string")))
}

/// The `routes` option: `{ visit?, inbox? }` templates (see [`RoutePaths`]).
fn routes_option(options: &JsValue) -> Result<RoutePaths, GatebellError> {
    let routes = js_sys::Reflect::get(options, &"routes".into()).unwrap_or(JsValue::UNDEFINED);
    if routes.is_undefined() {
        return Ok(RoutePaths::default());
    }
    if !routes.is_object() {
        return Err(GatebellError::new(
            "invalid_argument",
            "routes must be an object: { visit, inbox }",
        ));
    }
    RoutePaths::new(
        string_field(&routes, "visit", "routes.visit")?,
        string_field(&routes, "inbox", "routes.inbox")?,
    )
    .map_err(|e| GatebellError::new("invalid_argument", e.to_string()))
}

fn function_option(options: &JsValue, name: &str) -> Option<Function> {
    js_sys::Reflect::get(options, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

/// Runs `work` as a JS promise resolving to the client's status.
fn status_promise(
    inner: Rc<Inner>,
    work: impl Future<Output = Result<(), GatebellError>> + 'static,
) -> Promise {
    status_promise_dyn(inner, Box::pin(work))
}

/// Not generic, so that the wasm holds one copy of it.
#[inline(never)]
fn status_promise_dyn(
    inner: Rc<Inner>,
    work: std::pin::Pin<Box<dyn Future<Output = Result<(), GatebellError>>>>,
) -> Promise {
    crate::promise(Box::pin(async move {
        work.await?;
        Ok(crate::to_js(&inner.status())?)
    }))
}

#[wasm_bindgen]
impl PushClient {
    /// `new PushClient({ apiBase, onStatusChange?, onSessionEnded?, onMessage?, routes?,
    /// onNavigate? })`. `apiBase` is the server's origin (`""` for the page's own).
    /// `onMessage(payload)` hears each Gatebell push that arrives while a window of the site is
    /// focused; returning `false` keeps the system notification from being shown. `routes`
    /// (`{ visit: "/visits/{visitId}", inbox: "/" }` by default) are the paths a tap opens;
    /// `onNavigate(path, route)` lets an open window route there itself (a router's `push`)
    /// instead of the worker reloading it. Stored state is read on the first call;
    /// `PushClient.load` does that at once.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "PushClientOptions")] options: JsValue,
    ) -> Result<PushClient, GatebellError> {
        if !options.is_object() {
            return Err(GatebellError::new(
                "invalid_argument",
                "PushClient needs an options object: { apiBase }",
            ));
        }
        let routing = ClickRouting {
            paths: routes_option(&options)?,
            client_side: function_option(&options, "onNavigate").is_some(),
        };
        let api_base = js_sys::Reflect::get(&options, &"apiBase".into())
            .ok()
            .and_then(|v| v.as_string())
            .ok_or_else(|| GatebellError::new("invalid_argument", "apiBase must be a string"))?;
        let registration = subscribe::registration_option(&options)?;
        // The worker reads these at the next tap; the latest page's configuration wins.
        store::put_soon(KEY_ROUTES, &crate::to_js(&routing)?);
        let mut stop_listening = Vec::new();
        if let Some(on_navigate) = function_option(&options, "onNavigate") {
            stop_listening.push(listen_for_navigation(&on_navigate));
        }
        if let Some(on_message) = function_option(&options, "onMessage") {
            stop_listening.push(listen_for_pushes(&on_message));
        }
        Ok(PushClient {
            inner: Rc::new(Inner {
                api_base,
                registration,
                on_status_change: function_option(&options, "onStatusChange"),
                on_session_ended: function_option(&options, "onSessionEnded"),
                runner: RefCell::new(Rc::new(Runner::new(Config::default()))),
                seen: RefCell::new(None),
                store: RefCell::new(None),
                draining: Cell::new(false),
                idle_waiters: RefCell::default(),
                timer: RefCell::new(None),
            }),
            stop_listening,
        })
    }

    /// Creates a client and restores its stored state (retrying anything left undone). Then,
    /// unless notifications are off, it compares the browser's push subscription with the one
    /// registered: a renewed subscription is registered, and one made with a VAPID key the
    /// server has since rotated (or one the browser dropped) is made anew, without a prompt.
    /// Signed in and not registered, it fetches the server's VAPID key ahead, so that a later
    /// `enableNotifications()` in a click awaits nothing on the network before subscribing
    /// (Safari subscribes only inside the user's gesture).
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "PushClientOptions")] options: JsValue,
    ) -> Result<PushClient, GatebellError> {
        let client = PushClient::new(options)?;
        dispatch(&client.inner, None).await?;
        let status = client.inner.status();
        if status.signed_in && !status.notifications_disabled {
            // A failure here (offline, no push service) must not cost the page its client;
            // the check runs again at the next start.
            let changed = subscribe::changed_subscription(
                &client.inner.api_base,
                status.token.as_deref(),
                client.inner.registration.as_ref(),
            )
            .await;
            if let Ok(Some(subscription)) = changed {
                token_issued(&client.inner, subscription).await?;
            }
        }
        let status = client.inner.status();
        if status.signed_in && !status.notifications_disabled && !status.registered {
            // `enableNotifications` is what such a page offers next: the key is fetched now,
            // out of the click it will run in.
            subscribe::prepare(&client.inner.api_base);
        }
        Ok(client)
    }

    /// Registration status: `{ signedIn, userId, token, registered, lastRegisteredAtMs,
    /// pendingUnregisters, lastError }`.
    #[wasm_bindgen(unchecked_return_type = "Status")]
    pub fn status(&self) -> Result<JsValue, GatebellError> {
        crate::to_js(&self.inner.status())
    }

    /// A user signed in with this bearer token (from `POST /api/v1/auth/login`): registers
    /// the subscription for them, and stores the session for the service worker.
    #[wasm_bindgen(js_name = signIn, unchecked_return_type = "Promise<Status>")]
    pub fn sign_in(
        &self,
        #[wasm_bindgen(js_name = sessionToken)] session_token: String,
        #[wasm_bindgen(js_name = userId)] user_id: String,
    ) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            if session_token.is_empty() || user_id.is_empty() {
                return Err(GatebellError::new(
                    "invalid_argument",
                    "signIn needs a session token and a user id",
                ));
            }
            let record = SessionRecord {
                api_base: inner.api_base.clone(),
                session_token: session_token.clone(),
                user_id: user_id.clone(),
            };
            let store = store(&inner).await?;
            store.put_value(KEY_API_BASE, &inner.api_base).await?;
            store.put_value(KEY_SESSION, &record).await?;
            let event = Event::SignedIn {
                now_ms: scope::now_ms(),
                session_token,
                user_id,
            };
            dispatch(&inner, Some(event)).await
        })
    }

    /// The user is signing out: removes this device from their account and forgets the
    /// session. Resolves when the unregister has settled; revoke the session
    /// (`POST /api/v1/auth/logout`) after that, so the unregister is still authorised.
    #[wasm_bindgen(js_name = signOut, unchecked_return_type = "Promise<Status>")]
    pub fn sign_out(&self) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            store(&inner).await?.delete(KEY_SESSION).await?;
            let event = Event::SigningOut {
                now_ms: scope::now_ms(),
            };
            dispatch(&inner, Some(event)).await
        })
    }

    /// Registers a Web Push subscription made elsewhere: a `PushSubscription` or its
    /// `toJSON()`. Resolves when the server has answered.
    #[wasm_bindgen(js_name = registerSubscription, unchecked_return_type = "Promise<Status>")]
    pub fn register_subscription(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PushSubscription | PushSubscriptionJSON")]
        subscription: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            let subscription = subscribe::subscription_from_js(&subscription)?;
            token_issued(&inner, subscription).await
        })
    }

    /// Asks for notification permission, subscribes with the server's VAPID key and
    /// registers the subscription. `options.registration` is the service worker's
    /// registration (default: the client's `registration`, else
    /// `navigator.serviceWorker.ready`). A subscription of another push sender on that
    /// registration is left alone: the call fails with `foreign_subscription` unless
    /// `options.replaceForeignSubscription` is true.
    #[wasm_bindgen(js_name = enableNotifications, unchecked_return_type = "Promise<Status>")]
    pub fn enable_notifications(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "EnableNotificationsOptions")]
        options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            let ours = inner.status().token;
            let subscription = subscribe::subscribe(
                &inner.api_base,
                &options,
                inner.registration.as_ref(),
                ours.as_deref(),
            )
            .await?;
            store(&inner)
                .await?
                .put_value(KEY_API_BASE, &inner.api_base)
                .await?;
            let enabled = Event::NotificationsEnabled {
                now_ms: scope::now_ms(),
            };
            dispatch(&inner, Some(enabled)).await?;
            token_issued(&inner, subscription).await
        })
    }

    /// Turns notifications off in this browser: unregisters the subscription on the server
    /// (retried like a sign-out's), unsubscribes it at the push service, and remembers the
    /// choice, so a reload, the weekly refresh and a later `registerSubscription` register
    /// nothing until `enableNotifications()`. The session stays. `options.registration` as
    /// for `enableNotifications`.
    #[wasm_bindgen(js_name = disableNotifications, unchecked_return_type = "Promise<Status>")]
    pub fn disable_notifications(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "EnableNotificationsOptions")]
        options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            // Read before the core forgets it: only this endpoint is Gatebell's to unsubscribe.
            let ours = inner.status().token;
            let disabled = Event::NotificationsDisabled {
                now_ms: scope::now_ms(),
            };
            dispatch(&inner, Some(disabled)).await?;
            subscribe::unsubscribe(&options, inner.registration.as_ref(), ours.as_deref()).await
        })
    }
}

async fn token_issued(
    inner: &Rc<Inner>,
    subscription: WebPushSubscription,
) -> Result<(), GatebellError> {
    let event = Event::TokenIssued {
        now_ms: scope::now_ms(),
        token: subscription.endpoint.clone(),
        platform: Platform::Web,
        subscription: Some(subscription),
        keys: None,
    };
    dispatch(inner, Some(event)).await
}

impl Inner {
    fn status(&self) -> core::Status {
        self.runner.borrow().status()
    }
}

/// The store, opened on first use.
async fn store(inner: &Rc<Inner>) -> Result<Rc<Store>, GatebellError> {
    if let Some(store) = &*inner.store.borrow() {
        return Ok(store.clone());
    }
    let store = Rc::new(Store::open().await?);
    // Two calls may open it at once; the first one stored wins.
    Ok(inner.store.borrow_mut().get_or_insert(store).clone())
}

/// Queues `event` and runs the core until nothing is left to do: the returned future
/// settles once every request that the event caused has been answered. A call made while
/// another one is running waits for that one, which drains its event too.
async fn dispatch(inner: &Rc<Inner>, event: Option<Event>) -> Result<(), GatebellError> {
    if !inner.draining.get() {
        reread_if_changed(inner).await?;
    }
    let runner = inner.runner.borrow().clone();
    if let Some(event) = event {
        runner.enqueue(event);
    }
    if inner.draining.get() {
        let idle = Promise::new(&mut |resolve, _| inner.idle_waiters.borrow_mut().push(resolve));
        let _ = JsFuture::from(idle).await;
        return Ok(());
    }
    inner.draining.set(true);
    let result = runner.run(&Host(inner)).await;
    inner.draining.set(false);
    for resolve in inner.idle_waiters.take() {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    }
    result.map(drop)
}

/// Every tab of the site runs its own client over one stored state: before a call runs the
/// core, the state is read again, and when another tab wrote it since (turned notifications
/// off, signed out, registered), this tab starts over from it rather than overwriting it at
/// its next save.
async fn reread_if_changed(inner: &Rc<Inner>) -> Result<(), GatebellError> {
    let Some(seen) = inner.seen.borrow().clone() else {
        return Ok(()); // nothing read yet: the first run reads it
    };
    let stored = store(inner).await?.get(KEY_STATE).await?;
    let stored: Option<core::PersistedState> = crate::from_js(stored).ok();
    let changed = match stored {
        Some(stored) => crate::to_json(&stored)? != seen,
        None => false,
    };
    if changed && !inner.draining.get() {
        *inner.runner.borrow_mut() = Rc::new(Runner::new(Config::default()));
        *inner.seen.borrow_mut() = None;
    }
    Ok(())
}

/// The page's platform, as the runner's [`Shell`].
struct Host<'a>(&'a Rc<Inner>);

impl Shell for Host<'_> {
    type Error = GatebellError;

    /// Unreadable state starts afresh rather than failing every call for ever; the server
    /// tolerates a device registered twice.
    async fn load(&self) -> Result<Option<core::PersistedState>, GatebellError> {
        let stored = store(self.0).await?.get(KEY_STATE).await?;
        let state: Option<core::PersistedState> = crate::from_js(stored).ok();
        let seen = match &state {
            Some(state) => crate::to_json(state)?,
            None => crate::to_json(&core::PersistedState::default())?,
        };
        *self.0.seen.borrow_mut() = Some(seen);
        Ok(state)
    }

    async fn persist(&self, state: &core::PersistedState) -> Result<(), GatebellError> {
        let text = crate::to_json(state)?;
        let value =
            js_sys::JSON::parse(&text).map_err(|e| GatebellError::from_js("internal", &e))?;
        store(self.0).await?.put(KEY_STATE, &value).await?;
        *self.0.seen.borrow_mut() = Some(text);
        Ok(())
    }

    async fn http(&self, request: &HttpRequest) -> Result<HttpOutcome, GatebellError> {
        Ok(send(&self.0.api_base, request).await)
    }

    async fn session_ended(&self) -> Result<(), GatebellError> {
        store(self.0).await?.delete(KEY_SESSION).await?;
        if let Some(callback) = &self.0.on_session_ended {
            let _ = callback.call0(&JsValue::UNDEFINED);
        }
        Ok(())
    }

    fn wake_at(&self, at_ms: i64) {
        set_timer(self.0, at_ms);
    }

    fn status_changed(&self, status: &core::Status) {
        if let Some(callback) = &self.0.on_status_change {
            // A status always converts; a callback that throws is the page's business.
            if let Ok(status) = crate::to_js(status) {
                let _ = callback.call1(&JsValue::UNDEFINED, &status);
            }
        }
    }

    fn now_ms(&self) -> i64 {
        scope::now_ms()
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

/// Sends one of the core's requests; every failure becomes an outcome the core understands.
async fn send(api_base: &str, request: &HttpRequest) -> HttpOutcome {
    let body = match crate::to_json(&request.body) {
        Ok(text) => text,
        Err(_) => {
            return HttpOutcome::NetworkError {
                message: "could not encode the request".into(),
            };
        }
    };
    let url = http::url(api_base, &request.path);
    match http::send(
        &url,
        request.method.as_str(),
        Some(&request.bearer_token),
        Some(&body),
    )
    .await
    {
        Ok(answer) => HttpOutcome::Response {
            status: answer.status,
            body: answer.body,
        },
        Err(e) => HttpOutcome::NetworkError { message: e.message },
    }
}

/// Replaces the one timer: when it fires, the core gets `TimerFired`.
fn set_timer(inner: &Rc<Inner>, at_ms: i64) {
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let on_fire = Closure::<dyn FnMut()>::new(move || {
        if let Some(inner) = weak.upgrade() {
            spawn_local(async move {
                let fired = Event::TimerFired {
                    now_ms: scope::now_ms(),
                };
                // Nobody awaits a timer: its failures show in the status's lastError.
                let _ = dispatch(&inner, Some(fired)).await;
            });
        }
    });
    let delay = at_ms.saturating_sub(scope::now_ms());
    let handle = scope::start_timer(on_fire.as_ref().unchecked_ref(), delay);
    let timer = Timer {
        handle,
        _on_fire: on_fire,
    };
    if let Some(old) = inner.timer.replace(Some(timer)) {
        scope::clear_timeout(&old.handle);
    }
}
