//! Service-worker handlers: show a push as a notification, and act on a tap or a button.
//!
//! `sw.js` wires them: `event.waitUntil(ready.then(() => handlePush(event)))`.

use gatebell_core::protocol::{
    ACTION_APPROVE, ACTION_REJECT, NotificationType, PushAction, PushPayload,
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
use crate::store::{KEY_SESSION, SessionRecord, Store};

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
pub fn handle_push(event: PushEvent) -> Promise {
    crate::promise(Box::pin(async move {
        let scope = worker_scope()?;
        let text = event.data().map(|d| d.text()).unwrap_or_default();
        let payload = parse_payload(&text).unwrap_or_else(|_| fallback_payload());
        let options = notification_options(&payload, &payload.body);
        show(&scope.registration(), &payload.title, &options).await?;
        Ok(JsValue::UNDEFINED)
    }))
}

/// The `notificationclick` handler: a tap opens the visit (focusing an open window), and
/// Approve / Reject call the API from the worker and replace the notification with the
/// outcome. Resolves to the route taken: `{ route: "visit" | "approve" | "reject" | "inbox",
/// visitId? }`.
#[wasm_bindgen(js_name = handleNotificationClick, unchecked_return_type = "Promise<Route>")]
pub fn handle_notification_click(event: NotificationEvent) -> Promise {
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
                open(&scope, &route.path()).await?;
            }
        }
        Ok(crate::to_js(&route)?)
    }))
}

/// Focuses a window of the app and navigates it to `path`, or opens a new one.
async fn open(scope: &ServiceWorkerGlobalScope, path: &str) -> Result<(), GatebellError> {
    let url = web_sys::Url::new_with_base(path, &scope.registration().scope())
        .map_err(|e| GatebellError::from_js("navigation", &e))?
        .href();
    let clients = scope.clients();
    let query = ClientQueryOptions::new();
    query.set_type(ClientType::Window);
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
/// (same tag). A failure keeps the buttons so the resident can try again.
async fn decide(
    scope: &ServiceWorkerGlobalScope,
    notification: &Notification,
    payload: &PushPayload,
    route: &Route,
) -> Result<(), GatebellError> {
    let outcome = answer_walkin(route, payload.action_token.as_deref()).await;
    let body = match &outcome {
        Ok(text) | Err(text) => text.as_str(),
    };
    let mut options = notification_options(payload, body);
    if outcome.is_ok() {
        options.actions.clear();
    }
    show(&scope.registration(), &notification.title(), &options).await
}

/// The part of the answer's [`gatebell_core::protocol::Visit`] the outcome shows; reading
/// only it keeps a whole `Visit` deserialiser out of the wasm.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecidedVisit {
    visitor_name: String,
}

/// Sends an Approve / Reject: with the push's action token when it carried one (no session
/// needed, so it works after a backend's short-lived JWT has expired), else with the stored
/// session. Returns the text to show: the outcome (`Approved — Ravi may enter`, `Rejected`) or
/// why it failed.
pub async fn answer_walkin(route: &Route, action_token: Option<&str>) -> Result<String, String> {
    let verb = match route {
        Route::Approve { .. } => "approve",
        _ => "reject",
    };
    let Some(path) = route.api_call() else {
        return Err(format!("Could not {verb}: the visit is unknown"));
    };
    let session = match Store::open().await {
        Ok(store) => store.get_value::<SessionRecord>(KEY_SESSION).await,
        Err(e) => Err(e),
    };
    let session = match session {
        Ok(Some(session)) => session,
        Ok(None) => return Err(format!("Sign in to Gatebell to {verb}")),
        Err(e) => return Err(format!("Could not {verb}: {}", e.message)),
    };
    let call = action_token.and_then(|t| route.decision_call(t));
    let sent = match &call {
        Some(call) => {
            let body = crate::to_js(&call.body)
                .ok()
                .and_then(|v| js_sys::JSON::stringify(&v).ok())
                .and_then(|s| s.as_string());
            let url = http::url(&session.api_base, &call.path);
            http::send(&url, "POST", None, body.as_deref()).await
        }
        None => {
            let url = http::url(&session.api_base, &path);
            http::send(&url, "POST", Some(&session.session_token), None).await
        }
    };
    let answer = sent.map_err(|_| format!("Could not {verb}: no connection"))?;
    if !answer.ok() {
        let error = http::answer_error(&answer);
        return Err(match answer.status {
            401 => format!("Sign in to Gatebell again to {verb}"),
            // A used or expired token: the app (with a fresh sign-in) can still decide.
            403 if call.is_some() => format!("Open Gatebell to {verb}: {}", error.message),
            _ => format!("Could not {verb}: {}", error.message),
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
