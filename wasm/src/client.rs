//! The `PushClient` class for pages: runs the core's state machine and performs its effects
//! with `fetch`, IndexedDB and one `setTimeout` timer.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gatebell_core::client::{self as core, Config, Effect, Event, HttpOutcome, HttpRequest};
use gatebell_core::protocol::{Platform, WebPushSubscription};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::error::GatebellError;
use crate::http;
use crate::scope;
use crate::store::{KEY_SESSION, KEY_STATE, SessionRecord, Store};
use crate::subscribe;

/// Keeps this browser's push subscription registered with the Gatebell server for whoever is
/// signed in. Run one per page (see the core's contract); the service worker only reads the
/// stored session.
#[wasm_bindgen]
pub struct PushClient {
    inner: Rc<Inner>,
}

/// Shared between the class, its promises and its timer.
struct Inner {
    api_base: String,
    on_status_change: Option<Function>,
    on_session_ended: Option<Function>,
    /// `None` until the stored state has been read (on the first call).
    core: RefCell<Option<core::PushClient>>,
    store: RefCell<Option<Rc<Store>>>,
    queue: RefCell<VecDeque<Event>>,
    /// A call is draining the queue; others wait for it to finish.
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

/// A function-valued option, if present.
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
    /// `new PushClient({ apiBase, onStatusChange?, onSessionEnded? })`. `apiBase` is the
    /// server's origin (`""` for the page's own). Stored state is read on the first call;
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
        let api_base = js_sys::Reflect::get(&options, &"apiBase".into())
            .ok()
            .and_then(|v| v.as_string())
            .ok_or_else(|| GatebellError::new("invalid_argument", "apiBase must be a string"))?;
        Ok(PushClient {
            inner: Rc::new(Inner {
                api_base,
                on_status_change: function_option(&options, "onStatusChange"),
                on_session_ended: function_option(&options, "onSessionEnded"),
                core: RefCell::new(None),
                store: RefCell::new(None),
                queue: RefCell::default(),
                draining: Cell::new(false),
                idle_waiters: RefCell::default(),
                timer: RefCell::new(None),
            }),
        })
    }

    /// Creates a client and restores its stored state (retrying anything left undone).
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "PushClientOptions")] options: JsValue,
    ) -> Result<PushClient, GatebellError> {
        let client = PushClient::new(options)?;
        dispatch(&client.inner, None).await?;
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
            store(&inner).await?.put_value(KEY_SESSION, &record).await?;
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
    /// registration (default: `navigator.serviceWorker.ready`).
    #[wasm_bindgen(js_name = enableNotifications, unchecked_return_type = "Promise<Status>")]
    pub fn enable_notifications(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "EnableNotificationsOptions")]
        options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        status_promise(self.inner.clone(), async move {
            let subscription = subscribe::subscribe(&inner.api_base, &options).await?;
            token_issued(&inner, subscription).await
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
    };
    dispatch(inner, Some(event)).await
}

impl Inner {
    fn status(&self) -> core::Status {
        match &*self.core.borrow() {
            Some(core) => core.status(),
            None => core::PushClient::new(Config::default()).status(),
        }
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
/// another one is draining waits for that one to finish.
async fn dispatch(inner: &Rc<Inner>, event: Option<Event>) -> Result<(), GatebellError> {
    inner.queue.borrow_mut().extend(event);
    if inner.draining.get() {
        let idle = Promise::new(&mut |resolve, _| inner.idle_waiters.borrow_mut().push(resolve));
        let _ = JsFuture::from(idle).await;
        return Ok(());
    }
    inner.draining.set(true);
    let result = drain(inner).await;
    inner.draining.set(false);
    for resolve in inner.idle_waiters.take() {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    }
    result
}

async fn drain(inner: &Rc<Inner>) -> Result<(), GatebellError> {
    let store = store(inner).await?;
    if inner.core.borrow().is_none() {
        let state = store.get_value(KEY_STATE).await?.unwrap_or_default();
        *inner.core.borrow_mut() = Some(core::PushClient::restore(Config::default(), state));
        let started = Event::AppStarted {
            now_ms: scope::now_ms(),
        };
        inner.queue.borrow_mut().push_front(started);
    }
    // A storage failure is reported after the queue is drained: stopping midway would leave
    // a request unanswered, which stalls the core.
    let mut failure = None;
    loop {
        let Some(event) = inner.queue.borrow_mut().pop_front() else {
            break;
        };
        let effects = match &mut *inner.core.borrow_mut() {
            Some(core) => core.handle(event),
            None => Vec::new(),
        };
        for effect in effects {
            if let Err(e) = perform(inner, &store, effect).await {
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn perform(inner: &Rc<Inner>, store: &Store, effect: Effect) -> Result<(), GatebellError> {
    match effect {
        Effect::Persist { state } => store.put_value(KEY_STATE, &*state).await?,
        Effect::Http { request } => {
            let outcome = send(&inner.api_base, &request).await;
            inner.queue.borrow_mut().push_back(Event::HttpResponse {
                now_ms: scope::now_ms(),
                request_id: request.id,
                outcome,
                random: js_sys::Math::random(),
            });
        }
        Effect::WakeAt { at_ms } => set_timer(inner, at_ms),
        Effect::SessionEnded => {
            store.delete(KEY_SESSION).await?;
            if let Some(callback) = &inner.on_session_ended {
                let _ = callback.call0(&JsValue::UNDEFINED);
            }
        }
        Effect::StatusChanged { status } => {
            if let Some(callback) = &inner.on_status_change {
                let _ = callback.call1(&JsValue::UNDEFINED, &crate::to_js(&status)?);
            }
        }
    }
    Ok(())
}

/// Sends one of the core's requests; every failure becomes an outcome the core understands.
async fn send(api_base: &str, request: &HttpRequest) -> HttpOutcome {
    let body = match crate::to_js(&request.body).map(|v| js_sys::JSON::stringify(&v)) {
        Ok(Ok(text)) => String::from(text),
        _ => {
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
