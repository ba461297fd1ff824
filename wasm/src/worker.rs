//! Service-worker handlers: show a push as a notification, and act on a tap or a button.
//!
//! `sw.js` wires them: `event.waitUntil(ready.then(() => handlePush(event)))`.

#[cfg(doc)]
use gatebell_core::client::PersistedState;
use gatebell_core::protocol::{
    ACTION_APPROVE, ACTION_REJECT, NotificationType, Platform, PushAction, PushAnswers,
    PushPayload, RegisterDeviceRequest, UnregisterDeviceRequest, paths,
};
use gatebell_core::routing::{self, Route};
use js_sys::Promise;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ClientQueryOptions, ClientType, Notification, NotificationEvent, PushEvent,
    ServiceWorkerGlobalScope, ServiceWorkerRegistration, WindowClient,
};

use crate::error::GatebellError;
use crate::http;
use crate::store::{
    ClickRouting, KEY_API_BASE, KEY_ROUTES, KEY_SESSION, KEY_STATE, SessionRecord, Store,
};

/// Title and body of a push whose payload could not be read. Browsers require every push to
/// show something, and a tap on it opens the inbox.
pub const FALLBACK_TITLE: &str = "Gatebell";
pub const FALLBACK_BODY: &str = "You have a new notification.";

/// The options of `showNotification`.
#[derive(Debug, Serialize)]
pub struct NotificationOptions<'a> {
    pub body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'a str>,
    /// The payload itself, so a tap can be routed with the same types.
    pub data: &'a PushPayload,
    pub actions: Vec<&'a PushAction>,
}

/// Parses the text of a push (JSON of [`PushPayload`]).
pub fn parse_payload(text: &str) -> Result<PushPayload, GatebellError> {
    let value =
        js_sys::JSON::parse(text).map_err(|e| GatebellError::from_js("invalid_payload", &e))?;
    crate::from_js(value).map_err(|e| GatebellError::new("invalid_payload", e.to_string()))
}

/// The payload shown for a push that could not be read.
pub fn fallback_payload() -> PushPayload {
    PushPayload::new(
        NotificationType::Other("unknown".into()),
        None,
        None,
        FALLBACK_TITLE.into(),
        FALLBACK_BODY.into(),
    )
}

/// How a payload is shown: only a walk-in awaiting a decision gets Approve / Reject.
pub fn notification_options<'a>(
    payload: &'a PushPayload,
    body: &'a str,
) -> NotificationOptions<'a> {
    let actions = if payload.kind == NotificationType::WalkinPending {
        payload
            .actions
            .iter()
            .filter(|a| a.action == ACTION_APPROVE || a.action == ACTION_REJECT)
            .collect()
    } else {
        Vec::new()
    };
    NotificationOptions {
        body,
        tag: payload.tag.as_deref(),
        data: payload,
        actions,
    }
}

fn worker_scope() -> Result<ServiceWorkerGlobalScope, GatebellError> {
    js_sys::global()
        .dyn_into()
        .map_err(|_| GatebellError::new("unsupported", "not running in a service worker"))
}

async fn show(
    registration: &ServiceWorkerRegistration,
    title: &str,
    options: &NotificationOptions<'_>,
) -> Result<(), GatebellError> {
    let options = crate::to_js(options)?;
    let shown = registration
        .show_notification_with_options(title, options.unchecked_ref())
        .map_err(|e| GatebellError::from_js("notification", &e))?;
    JsFuture::from(shown)
        .await
        .map_err(|e| GatebellError::from_js("notification", &e))?;
    Ok(())
}

/// The `push` handler: shows the payload as a notification (or a generic one when the
/// payload is unreadable, since a push must always show something).
#[wasm_bindgen(js_name = handlePush, unchecked_return_type = "Promise<void>")]
pub fn handle_push(
    // Typed `Event` for pages' type checks (the DOM lib has no `PushEvent`); `worker.d.ts`
    // gives workers the precise type.
    #[wasm_bindgen(unchecked_param_type = "Event")] event: PushEvent,
) -> Promise {
    crate::promise(Box::pin(async move {
        let scope = worker_scope()?;
        let text = event.data().map(|d| d.text()).unwrap_or_default();
        let payload = parse_payload(&text).unwrap_or_else(|_| fallback_payload());
        let options = notification_options(&payload, &payload.body);
        show(&scope.registration(), &payload.title, &options).await?;
        Ok(JsValue::UNDEFINED)
    }))
}

/// The `pushsubscriptionchange` handler: the browser renewed (or dropped) the subscription,
/// perhaps with no page open. Registers the new one for the signed-in user (the stored session)
/// and removes the old one, so pushes follow it at once; the page's client catches up at its
/// next start ([`crate::client::PushClient::load`]). Resolves to the new endpoint, or `null`
/// when there is nobody signed in or notifications are turned off.
#[wasm_bindgen(js_name = handleSubscriptionChange, unchecked_return_type = "Promise<string | null>")]
pub fn handle_subscription_change(
    #[wasm_bindgen(unchecked_param_type = "Event")] event: JsValue,
) -> Promise {
    crate::promise(Box::pin(async move {
        let scope = worker_scope()?;
        let store = Store::open().await?;
        let Some(session) = store.get_value::<SessionRecord>(KEY_SESSION).await? else {
            return Ok(JsValue::NULL);
        };
        if notifications_disabled(&store).await? {
            return Ok(JsValue::NULL);
        }
        let given = js_sys::Reflect::get(&event, &"newSubscription".into())
            .ok()
            .filter(|s| s.is_object());
        let subscription = match given {
            Some(s) => crate::subscribe::subscription_from_js(&s)?,
            None => {
                crate::subscribe::resubscribe_in_worker(&scope.registration(), &session.api_base)
                    .await?
            }
        };
        let endpoint = subscription.endpoint.clone();
        let register = RegisterDeviceRequest {
            token: endpoint.clone(),
            platform: Platform::Web,
            subscription: Some(subscription),
            keys: None,
        };
        post(&session, paths::REGISTER_DEVICE, &register).await?;
        let old = js_sys::Reflect::get(&event, &"oldSubscription".into())
            .ok()
            .and_then(|s| js_sys::Reflect::get(&s, &"endpoint".into()).ok())
            .and_then(|e| e.as_string())
            .filter(|e| *e != endpoint);
        if let Some(token) = old {
            // Best effort: a push to a dead endpoint prunes the device anyway.
            let _ = post(
                &session,
                paths::UNREGISTER_DEVICE,
                &UnregisterDeviceRequest { token },
            )
            .await;
        }
        Ok(JsValue::from_str(&endpoint))
    }))
}

/// POSTs `body` as JSON with the stored session; an error answer is an error.
async fn post<T: Serialize>(
    session: &SessionRecord,
    path: &str,
    body: &T,
) -> Result<(), GatebellError> {
    let json = crate::to_json(body)?;
    let url = http::url(&session.api_base, path);
    let answer = http::send(&url, "POST", Some(&session.session_token), Some(&json)).await?;
    if answer.ok() {
        Ok(())
    } else {
        Err(http::answer_error(&answer))
    }
}

/// The `notificationclick` handler: a tap opens the visit (focusing an open window), and
/// Approve / Reject call the API from the worker and replace the notification with the
/// outcome. Resolves to the route taken: `{ route: "visit" | "approve" | "reject" | "inbox",
/// visitId? }`.
#[wasm_bindgen(js_name = handleNotificationClick, unchecked_return_type = "Promise<Route>")]
pub fn handle_notification_click(
    #[wasm_bindgen(unchecked_param_type = "Event")] event: NotificationEvent,
) -> Promise {
    crate::promise(Box::pin(async move {
        let scope = worker_scope()?;
        let notification = event.notification();
        let payload: Option<PushPayload> = crate::from_js(notification.data()).ok();
        // web-sys does not bind `NotificationEvent.action`; "" is a tap on the body.
        let action = js_sys::Reflect::get(&event, &"action".into())
            .ok()
            .and_then(|a| a.as_string())
            .unwrap_or_default();
        let route = payload
            .as_ref()
            .map_or(Route::Inbox, |p| routing::route(p, Some(&action)));
        match (&route, &payload) {
            (Route::Approve { .. } | Route::Reject { .. }, Some(payload)) => {
                decide(&scope, &notification, payload, &route).await?;
            }
            _ => {
                notification.close();
                open(&scope, &route).await?;
            }
        }
        Ok(crate::to_js(&route)?)
    }))
}

#[wasm_bindgen(module = "/js/navigate.js")]
extern "C" {
    /// Posts the path to a window and resolves whether its page routed there itself.
    #[wasm_bindgen(js_name = askToNavigate)]
    fn ask_to_navigate(
        window: &WindowClient,
        path: &str,
        route: &JsValue,
        timeout_ms: u32,
    ) -> Promise;
}

/// How long an open window's page has to say it routed a tap itself.
const NAVIGATE_ANSWER_MS: u32 = 500;

/// The routes the latest PushClient configured (defaults when none, or a stored copy that no
/// longer checks out).
async fn click_routing() -> ClickRouting {
    let stored = match Store::open().await {
        Ok(store) => store
            .get_value::<ClickRouting>(KEY_ROUTES)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    stored
        .filter(|r| r.paths.check().is_ok())
        .unwrap_or_default()
}

/// Takes a window of the app to the route's page: the focused (or first) window's page routes
/// there itself when it asked to (`onNavigate`), else the window is navigated (a load); with
/// no window, one is opened.
async fn open(scope: &ServiceWorkerGlobalScope, route: &Route) -> Result<(), GatebellError> {
    let routing = click_routing().await;
    let path = routing.paths.path(route);
    let url = web_sys::Url::new_with_base(&path, &scope.registration().scope())
        .map_err(|e| GatebellError::from_js("navigation", &e))?
        .href();
    let clients = scope.clients();
    let query = ClientQueryOptions::new();
    query.set_type(ClientType::Window);
    // A worker at a scope of its own (beside another sender's) controls no page of the app;
    // its windows still get the route posted, or a new window.
    query.set_include_uncontrolled(true);
    let windows = JsFuture::from(clients.match_all_with_options(&query))
        .await
        .map_err(|e| GatebellError::from_js("navigation", &e))?;
    let mut windows: Vec<WindowClient> = js_sys::Array::from(&windows)
        .iter()
        .filter_map(|c| c.dyn_into().ok())
        .collect();
    // The window the user looks at comes first.
    if let Some(focused) = windows.iter().position(|w| w.focused()) {
        windows.swap(0, focused);
    }
    if let (true, Some(window)) = (routing.client_side, windows.first()) {
        // Focusing needs the click's user activation; the routing does not.
        if let Ok(focus) = window.focus() {
            let _ = JsFuture::from(focus).await;
        }
        let route = crate::to_js(route)?;
        let asked = ask_to_navigate(window, &path, &route, NAVIGATE_ANSWER_MS);
        if JsFuture::from(asked).await.ok().and_then(|v| v.as_bool()) == Some(true) {
            return Ok(());
        }
    }
    for window in windows {
        let Ok(navigated) = window.navigate(&url) else {
            continue;
        };
        if JsFuture::from(navigated).await.is_ok() {
            // Focusing needs the click's user activation; without it the navigation stands.
            if let Ok(focus) = window.focus() {
                let _ = JsFuture::from(focus).await;
            }
            return Ok(());
        }
    }
    JsFuture::from(clients.open_window(&url))
        .await
        .map_err(|e| GatebellError::from_js("navigation", &e))?;
    Ok(())
}

/// Approves or rejects from the worker, then shows the outcome in place of the notification
/// (same tag, no buttons). A failure says why in the same place, and a tap on it opens the
/// visit (the payload's route without an action), where the app can decide.
async fn decide(
    scope: &ServiceWorkerGlobalScope,
    notification: &Notification,
    payload: &PushPayload,
    route: &Route,
) -> Result<(), GatebellError> {
    let outcome = answer_walkin(
        route,
        payload.action_token.as_deref(),
        payload.answers.as_ref(),
    )
    .await;
    let body = match &outcome {
        Ok(text) | Err(text) => text.as_str(),
    };
    let mut options = notification_options(payload, body);
    options.actions.clear();
    show(&scope.registration(), &notification.title(), &options).await
}

/// The part of the answer's [`gatebell_core::protocol::Visit`] the outcome shows; reading
/// only it keeps a whole `Visit` deserialiser out of the wasm.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecidedVisit {
    visitor_name: String,
}

/// The one field of the stored [`PersistedState`] the worker needs. Reading only it keeps the
/// whole state's deserialiser (and a core client restored to ask its status) out of the
/// worker's module, 15 KB of wasm; the service-worker tests store the state the core itself
/// writes, so a renamed field fails them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct StoredSwitch {
    notifications_disabled: bool,
}

/// Whether the user turned notifications off in this browser (`disableNotifications()`), as
/// the page's client stored it in its [`PersistedState`].
async fn notifications_disabled(store: &Store) -> Result<bool, GatebellError> {
    Ok(store
        .get_value::<StoredSwitch>(KEY_STATE)
        .await?
        .is_some_and(|state| state.notifications_disabled))
}

/// Sends an Approve / Reject: with the push's action token when it carried one, else with the
/// stored session. The token needs no session, only the API base the page stored apart from
/// it, so it works after sign-out, after a 401 and after a backend's short-lived JWT expired;
/// it is refused once notifications were turned off here. Returns the text to show: the
/// outcome in the words the push carried (the recipient's language), else in English
/// (`Approved — Ravi may enter`, `Rejected`), or why it failed.
pub async fn answer_walkin(
    route: &Route,
    action_token: Option<&str>,
    answers: Option<&PushAnswers>,
) -> Result<String, String> {
    let verb = match route {
        Route::Approve { .. } => "approve",
        _ => "reject",
    };
    let Some(path) = route.api_call() else {
        return Err(format!("Could not {verb}: the visit is unknown"));
    };
    let failed = |e: GatebellError| format!("Could not {verb}: {}", e.message);
    let store = Store::open().await.map_err(failed)?;
    let session = store
        .get_value::<SessionRecord>(KEY_SESSION)
        .await
        .map_err(failed)?;
    let call = action_token.and_then(|t| route.decision_call(t));
    let sent = match (&call, &session) {
        (Some(call), _) => {
            if notifications_disabled(&store).await.map_err(failed)? {
                return Err(format!(
                    "Notifications are off in this browser: open Gatebell to {verb}"
                ));
            }
            let api_base = match store.get_value::<String>(KEY_API_BASE).await {
                Ok(Some(base)) => base,
                Ok(None) => match &session {
                    // Stored by a version that kept the base only in the session.
                    Some(session) => session.api_base.clone(),
                    None => return Err(format!("Open Gatebell to {verb}")),
                },
                Err(e) => return Err(failed(e)),
            };
            let body = crate::to_json(&call.body).ok();
            let url = http::url(&api_base, &call.path);
            http::send(&url, "POST", None, body.as_deref()).await
        }
        (None, Some(session)) => {
            let url = http::url(&session.api_base, &path);
            http::send(&url, "POST", Some(&session.session_token), None).await
        }
        (None, None) => return Err(format!("Sign in to Gatebell to {verb}")),
    };
    let answer = sent.map_err(|_| format!("No connection — open Gatebell to {verb}"))?;
    if !answer.ok() {
        let error = http::answer_error(&answer);
        return Err(match answer.status {
            401 => format!("Sign in to Gatebell again to {verb}"),
            // A used or expired token: the app (with a fresh sign-in) can still decide.
            403 if call.is_some() => format!("Open Gatebell to {verb}: {}", error.message),
            _ => format!("Could not {verb}: {}", error.message),
        });
    }
    if let Some(answers) = answers {
        return Ok(match route {
            Route::Approve { .. } => answers.approved.clone(),
            _ => answers.rejected.clone(),
        });
    }
    let visit: Option<DecidedVisit> = http::parse_json(&answer.body).ok();
    Ok(match (route, visit) {
        (Route::Approve { .. }, Some(visit)) => {
            format!("Approved — {} may enter", visit.visitor_name)
        }
        (Route::Approve { .. }, None) => "Approved".to_owned(),
        _ => "Rejected".to_owned(),
    })
}
