//! FCM HTTP v1: `POST /v1/projects/{project}/messages:send`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::oauth::{FakeOAuth, OAuthState};
use crate::server::Server;
use crate::{Deliveries, TimedOut, lock};

/// FCM's limit on a message's payload.
const MAX_PAYLOAD: usize = 4096;
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// How FCM answers a scripted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcmFailure {
    /// 404 `NOT_FOUND`, errorCode `UNREGISTERED`: the app was uninstalled; every request.
    Unregistered,
    /// 400 `INVALID_ARGUMENT` about the registration token; every request.
    InvalidToken,
    /// 403 `PERMISSION_DENIED`, errorCode `SENDER_ID_MISMATCH`; every request.
    SenderIdMismatch,
    /// 503 `UNAVAILABLE` (with `Retry-After` if set) for the next `times` requests, then success.
    Unavailable {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: Option<u64>,
        /// How many requests fail before the token works again.
        times: usize,
    },
    /// 429 `RESOURCE_EXHAUSTED`, errorCode `QUOTA_EXCEEDED`, for the next `times` requests.
    QuotaExceeded {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: Option<u64>,
        /// How many requests fail before the token works again.
        times: usize,
    },
    /// 500 `INTERNAL` for the next `times` requests.
    Internal {
        /// How many requests fail before the token works again.
        times: usize,
    },
}

/// One request the fake received, whatever it answered.
#[derive(Debug, Clone)]
pub struct FcmReceived {
    /// When the request arrived.
    pub at: Instant,
    /// `message.token`, or empty when the body had none.
    pub token: String,
    /// The `message` object as sent (`Value::Null` when the body was not JSON).
    pub message: Value,
    /// The status the fake answered.
    pub status: u16,
    /// The error message it answered with, if any.
    pub error: Option<String>,
    /// HTTP version of the request (the server should use HTTP/2).
    pub version: Version,
}

/// A fake FCM HTTP v1 endpoint for one project, accepting tokens from a [`FakeOAuth`]; cheap to
/// clone, stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeFcm {
    state: Arc<FcmState>,
    server: Arc<Server>,
}

struct FcmState {
    project_id: String,
    oauth: Arc<OAuthState>,
    scripts: Mutex<HashMap<String, FcmFailure>>,
    received: Mutex<Vec<FcmReceived>>,
    delivered: Deliveries,
    next_id: AtomicUsize,
    delay_micros: AtomicU64,
    /// Bodies are kept only while true, so a long load test need not hold every message.
    record_messages: AtomicBool,
}

impl FakeFcm {
    /// Starts FCM for `project_id` on 127.0.0.1 at a random port; bearer tokens must come from `oauth`.
    pub async fn start(oauth: &FakeOAuth, project_id: &str) -> FakeFcm {
        let state = Arc::new(FcmState {
            project_id: project_id.to_owned(),
            oauth: oauth.state.clone(),
            scripts: Mutex::default(),
            received: Mutex::default(),
            delivered: Deliveries::default(),
            next_id: AtomicUsize::new(1),
            delay_micros: AtomicU64::new(0),
            record_messages: AtomicBool::new(true),
        });
        let router = Router::new()
            .route("/v1/projects/{project}/messages:send", post(send))
            .with_state(state.clone());
        let listener = Server::bind().await;
        FakeFcm {
            state,
            server: Arc::new(Server::serve(listener, router)),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `--fcm-endpoint`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The project this fake serves.
    pub fn project_id(&self) -> &str {
        &self.state.project_id
    }

    /// Makes requests for `token` fail as `failure` says (replacing any earlier script).
    pub fn fail_token_with(&self, token: &str, failure: FcmFailure) {
        lock(&self.state.scripts).insert(token.to_owned(), failure);
    }

    /// Removes the script for `token`: it is delivered again.
    pub fn clear_failure(&self, token: &str) {
        lock(&self.state.scripts).remove(token);
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<FcmReceived> {
        lock(&self.state.received).clone()
    }

    /// The successful (200) requests for `token`.
    pub fn delivered_for(&self, token: &str) -> Vec<FcmReceived> {
        lock(&self.state.received)
            .iter()
            .filter(|r| r.status == 200 && r.token == token)
            .cloned()
            .collect()
    }

    /// How many requests succeeded so far.
    pub fn delivered_count(&self) -> usize {
        self.state.delivered.get()
    }

    /// Waits until at least `n` requests in total have succeeded, or `timeout` passes.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<(), TimedOut> {
        self.state.delivered.wait_for(n, timeout).await
    }

    /// Delays every answer by `delay`, to mimic a real round trip in benchmarks.
    pub fn set_response_delay(&self, delay: Duration) {
        self.state
            .delay_micros
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    /// Whether to keep message bodies in [`FcmReceived::message`] (default true); off for load tests.
    pub fn set_record_messages(&self, on: bool) {
        self.state.record_messages.store(on, Ordering::Relaxed);
    }

    /// How many TCP connections the fake has accepted (HTTP/2 clients should reuse a few).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
    error: Option<String>,
}

impl Answer {
    fn error(status: StatusCode, grpc: &str, message: String, details: Vec<Value>) -> Answer {
        let mut error = json!({ "code": status.as_u16(), "message": message, "status": grpc });
        if !details.is_empty() {
            error["details"] = Value::Array(details);
        }
        Answer {
            status,
            body: json!({ "error": error }),
            retry_after: None,
            error: Some(message),
        }
    }

    fn fcm_error(status: StatusCode, grpc: &str, code: &str, message: &str) -> Answer {
        Answer::error(
            status,
            grpc,
            message.to_owned(),
            vec![json!({ "@type": FCM_ERROR, "errorCode": code })],
        )
    }

    /// Payload errors carry a `BadRequest` field violation and no `FcmError`, as Google's do,
    /// so a client can tell them from an invalid token.
    fn bad_request(field: &str, description: String) -> Answer {
        Answer::error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            description.clone(),
            vec![json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{ "field": field, "description": description }],
            })],
        )
    }

    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn send(
    State(state): State<Arc<FcmState>>,
    Path(project): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let delay = state.delay_micros.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    let mut parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let token = parsed
        .as_ref()
        .and_then(|v| v.get("message")?.get("token")?.as_str())
        .unwrap_or("")
        .to_owned();
    let answer = state.answer(&project, &headers, parsed.as_ref(), &token);
    let message = parsed
        .as_mut()
        .and_then(|v| v.get_mut("message"))
        .map(Value::take)
        .unwrap_or(Value::Null);
    if answer.status == StatusCode::OK {
        // Record before counting, so a waiter woken by the count sees the record.
        state.record(at, token, message, &answer, version);
        state.delivered.record();
    } else {
        state.record(at, token, message, &answer, version);
    }
    answer.into_response()
}

impl FcmState {
    fn record(
        &self,
        at: Instant,
        token: String,
        message: Value,
        answer: &Answer,
        version: Version,
    ) {
        let message = if self.record_messages.load(Ordering::Relaxed) {
            message
        } else {
            Value::Null
        };
        lock(&self.received).push(FcmReceived {
            at,
            token,
            message,
            status: answer.status.as_u16(),
            error: answer.error.clone(),
            version,
        });
    }

    fn answer(
        &self,
        project: &str,
        headers: &HeaderMap,
        body: Option<&Value>,
        token: &str,
    ) -> Answer {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(access) = bearer.and_then(|t| self.oauth.access_token(t)) else {
            return Answer::error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, \
                 login cookie or other valid authentication credential."
                    .into(),
                vec![],
            );
        };
        if access.project_id != project {
            return Answer::error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                format!(
                    "Permission 'cloudmessaging.messages.create' denied on resource \
                     '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
                ),
                vec![],
            );
        }
        if project != self.project_id {
            return Answer::error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Requested entity was not found.".into(),
                vec![],
            );
        }
        let Some(body) = body else {
            return Answer::bad_request("", "Invalid JSON payload received.".into());
        };
        if let Err(answer) = validate(body) {
            return answer;
        }
        if let Some(answer) = self.scripted(token) {
            return answer;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Answer {
            status: StatusCode::OK,
            body: json!({ "name": format!("projects/{project}/messages/0:{id}%fake") }),
            retry_after: None,
            error: None,
        }
    }

    fn scripted(&self, token: &str) -> Option<Answer> {
        let mut scripts = lock(&self.scripts);
        let failure = scripts.get_mut(token)?;
        let (answer, times) = match failure {
            FcmFailure::Unregistered => (
                Answer::fcm_error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "UNREGISTERED",
                    "Requested entity was not found.",
                ),
                None,
            ),
            FcmFailure::InvalidToken => (
                Answer::fcm_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token",
                ),
                None,
            ),
            FcmFailure::SenderIdMismatch => (
                Answer::fcm_error(
                    StatusCode::FORBIDDEN,
                    "PERMISSION_DENIED",
                    "SENDER_ID_MISMATCH",
                    "SenderId mismatch",
                ),
                None,
            ),
            FcmFailure::Unavailable {
                retry_after_secs,
                times,
            } => {
                let mut a = Answer::fcm_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "UNAVAILABLE",
                    "The service is currently unavailable.",
                );
                a.retry_after = *retry_after_secs;
                (a, Some(times))
            }
            FcmFailure::QuotaExceeded {
                retry_after_secs,
                times,
            } => {
                let mut a = Answer::fcm_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RESOURCE_EXHAUSTED",
                    "QUOTA_EXCEEDED",
                    "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.",
                );
                a.retry_after = *retry_after_secs;
                (a, Some(times))
            }
            FcmFailure::Internal { times } => (
                Answer::fcm_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "INTERNAL",
                    "Internal error encountered.",
                ),
                Some(times),
            ),
        };
        match times {
            None => Some(answer),
            Some(0) => {
                scripts.remove(token);
                None
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    scripts.remove(token);
                }
                Some(answer)
            }
        }
    }
}

/// Checks the request body as FCM's JSON mapping of its protobuf does: unknown fields and
/// wrongly typed values are rejected, and `data` maps hold strings only.
fn validate(body: &Value) -> Result<(), Answer> {
    let top = body
        .as_object()
        .ok_or_else(|| Answer::bad_request("", "Invalid JSON payload received.".into()))?;
    known_fields(top, "", &["message", "validate_only", "validateOnly"])?;
    if let Some(v) = top.get("validate_only").or_else(|| top.get("validateOnly"))
        && !v.is_boolean()
    {
        return Err(type_error("validate_only", "TYPE_BOOL", v));
    }
    let message = match top.get("message") {
        Some(Value::Object(m)) => m,
        Some(v) => return Err(type_error("message", "TYPE_MESSAGE", v)),
        None => {
            return Err(Answer::bad_request(
                "message",
                "Request contains an invalid argument: message is required.".into(),
            ));
        }
    };
    known_fields(
        message,
        "message",
        &[
            "name",
            "data",
            "notification",
            "android",
            "webpush",
            "apns",
            "fcm_options",
            "fcmOptions",
            "token",
            "topic",
            "condition",
        ],
    )?;
    // This fake serves device tokens only, which is all Gatebell sends.
    match message.get("token") {
        Some(Value::String(t)) if !t.is_empty() => {}
        Some(Value::String(_)) | None => {
            return Err(Answer::bad_request(
                "message.token",
                "Request contains an invalid argument: message.token must be a non-empty registration token.".into(),
            ));
        }
        Some(v) => return Err(type_error("message.token", "TYPE_STRING", v)),
    }
    if message.contains_key("topic") || message.contains_key("condition") {
        return Err(Answer::bad_request(
            "message",
            "Request contains an invalid argument: exactly one of token, topic or condition is allowed.".into(),
        ));
    }
    if let Some(o) = message
        .get("fcm_options")
        .or_else(|| message.get("fcmOptions"))
    {
        known_fields(
            object(o, "message.fcm_options")?,
            "message.fcm_options",
            &["analytics_label"],
        )?;
    }
    if let Some(n) = message.get("notification") {
        let n = object(n, "message.notification")?;
        known_fields(n, "message.notification", &["title", "body", "image"])?;
        if let Some((k, v)) = n.iter().find(|(_, v)| !v.is_string()) {
            return Err(type_error(
                &format!("message.notification.{k}"),
                "TYPE_STRING",
                v,
            ));
        }
    }
    if let Some(data) = message.get("data") {
        string_map(data, "message.data")?;
        for key in object(data, "message.data")?.keys() {
            let reserved = ["from", "notification", "message_type"].contains(&key.as_str())
                || key.starts_with("google")
                || key.starts_with("gcm");
            if reserved {
                return Err(Answer::bad_request(
                    "message.data",
                    format!("Invalid data payload key: {key}"),
                ));
            }
        }
    }
    if let Some(android) = message.get("android") {
        validate_android(android)?;
    }
    if let Some(apns) = message.get("apns") {
        let apns = object(apns, "message.apns")?;
        known_fields(
            apns,
            "message.apns",
            &[
                "headers",
                "payload",
                "fcm_options",
                "fcmOptions",
                "live_activity_token",
            ],
        )?;
        if let Some(h) = apns.get("headers") {
            string_map(h, "message.apns.headers")?;
        }
        if let Some(p) = apns.get("payload") {
            validate_aps(object(p, "message.apns.payload")?)?;
        }
        if let Some(o) = apns.get("fcm_options").or_else(|| apns.get("fcmOptions")) {
            known_fields(
                object(o, "message.apns.fcm_options")?,
                "message.apns.fcm_options",
                &["analytics_label", "image"],
            )?;
        }
    }
    if let Some(webpush) = message.get("webpush") {
        let webpush = object(webpush, "message.webpush")?;
        known_fields(
            webpush,
            "message.webpush",
            &[
                "headers",
                "data",
                "notification",
                "fcm_options",
                "fcmOptions",
            ],
        )?;
        for field in ["headers", "data"] {
            if let Some(v) = webpush.get(field) {
                string_map(v, &format!("message.webpush.{field}"))?;
            }
        }
        if let Some(o) = webpush
            .get("fcm_options")
            .or_else(|| webpush.get("fcmOptions"))
        {
            known_fields(
                object(o, "message.webpush.fcm_options")?,
                "message.webpush.fcm_options",
                &["link", "analytics_label"],
            )?;
        }
    }
    // The payload limit is about what reaches the device, not the addressing: count the
    // message as serialised, less its `"token":"…",` member (counted, not allocated).
    let token_member = message.get("token").map_or(0, |t| json_len(t) + 9);
    let size = json_len(&top["message"]).saturating_sub(token_member);
    if size > MAX_PAYLOAD {
        return Err(Answer::bad_request(
            "message",
            format!("Message is too big: {size} bytes, the limit is {MAX_PAYLOAD}."),
        ));
    }
    Ok(())
}

fn validate_android(android: &Value) -> Result<(), Answer> {
    let android = object(android, "message.android")?;
    known_fields(
        android,
        "message.android",
        &[
            "collapse_key",
            "collapseKey",
            "priority",
            "ttl",
            "restricted_package_name",
            "restrictedPackageName",
            "data",
            "notification",
            "fcm_options",
            "fcmOptions",
            "direct_boot_ok",
            "directBootOk",
            "bandwidth_constrained_ok",
            "restricted_satellite_ok",
        ],
    )?;
    if let Some(p) = android.get("priority") {
        let ok = p
            .as_str()
            .is_some_and(|p| p.eq_ignore_ascii_case("normal") || p.eq_ignore_ascii_case("high"));
        if !ok {
            return Err(Answer::bad_request(
                "message.android.priority",
                format!(
                    "Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), {p}"
                ),
            ));
        }
    }
    if let Some(ttl) = android.get("ttl") {
        // A protobuf Duration in JSON: "3600s" or "3.5s".
        let ok = ttl
            .as_str()
            .and_then(|t| t.strip_suffix('s'))
            .is_some_and(|n| {
                let mut parts = n.splitn(2, '.');
                let whole = parts.next().unwrap_or("");
                let frac = parts.next().unwrap_or("0");
                !whole.is_empty()
                    && whole.bytes().all(|b| b.is_ascii_digit())
                    && frac.len() <= 9
                    && frac.bytes().all(|b| b.is_ascii_digit())
            });
        if !ok {
            return Err(Answer::bad_request(
                "message.android.ttl",
                format!(
                    "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), {ttl}"
                ),
            ));
        }
    }
    if let Some(data) = android.get("data") {
        string_map(data, "message.android.data")?;
    }
    if let Some(n) = android.get("notification") {
        let n = object(n, "message.android.notification")?;
        known_fields(n, "message.android.notification", ANDROID_NOTIFICATION)?;
        for field in [
            "title",
            "body",
            "icon",
            "color",
            "sound",
            "tag",
            "click_action",
            "channel_id",
            "image",
        ] {
            if let Some(v) = field_value(n, field)
                && !v.is_string()
            {
                return Err(type_error(
                    &format!("message.android.notification.{field}"),
                    "TYPE_STRING",
                    v,
                ));
            }
        }
        for field in [
            "sticky",
            "local_only",
            "default_sound",
            "default_vibrate_timings",
            "default_light_settings",
        ] {
            if let Some(v) = field_value(n, field)
                && !v.is_boolean()
            {
                return Err(type_error(
                    &format!("message.android.notification.{field}"),
                    "TYPE_BOOL",
                    v,
                ));
            }
        }
    }
    if let Some(o) = android
        .get("fcm_options")
        .or_else(|| android.get("fcmOptions"))
    {
        known_fields(
            object(o, "message.android.fcm_options")?,
            "message.android.fcm_options",
            &["analytics_label"],
        )?;
    }
    Ok(())
}

/// `AndroidNotification` of the FCM v1 API (snake_case; lowerCamelCase is accepted too).
const ANDROID_NOTIFICATION: &[&str] = &[
    "title",
    "body",
    "icon",
    "color",
    "sound",
    "tag",
    "click_action",
    "body_loc_key",
    "body_loc_args",
    "title_loc_key",
    "title_loc_args",
    "channel_id",
    "ticker",
    "sticky",
    "event_time",
    "local_only",
    "notification_priority",
    "default_sound",
    "default_vibrate_timings",
    "default_light_settings",
    "vibrate_timings",
    "visibility",
    "notification_count",
    "light_settings",
    "image",
    "bypass_proxy_notification",
    "proxy",
];

/// The keys Apple defines in the `aps` dictionary. FCM passes `apns.payload` through, so this
/// is APNs' contract rather than FCM's: a misspelt key (`categroy`) is silently ignored on a
/// phone, which the fake turns into the 400 a test can see.
const APS: &[&str] = &[
    "alert",
    "badge",
    "sound",
    "thread-id",
    "category",
    "content-available",
    "mutable-content",
    "target-content-id",
    "interruption-level",
    "relevance-score",
    "filter-criteria",
    "stale-date",
    "content-state",
    "timestamp",
    "event",
    "dismissal-date",
    "attributes-type",
    "attributes",
    "input-push-channel",
    "input-push-token",
];

/// The keys of `aps.alert` when it is a dictionary.
const APS_ALERT: &[&str] = &[
    "title",
    "subtitle",
    "body",
    "launch-image",
    "title-loc-key",
    "title-loc-args",
    "subtitle-loc-key",
    "subtitle-loc-args",
    "loc-key",
    "loc-args",
];

/// Checks `apns.payload`: any custom keys beside `aps` (that is where FCM puts `data`), but
/// `aps` itself holds Apple's keys only, with the types Apple gives them.
fn validate_aps(payload: &Map<String, Value>) -> Result<(), Answer> {
    let Some(aps) = payload.get("aps") else {
        return Ok(());
    };
    let aps = object(aps, "message.apns.payload.aps")?;
    exact_fields(aps, "message.apns.payload.aps", APS)?;
    if let Some(alert) = aps.get("alert") {
        match alert {
            Value::String(_) => {}
            Value::Object(a) => exact_fields(a, "message.apns.payload.aps.alert", APS_ALERT)?,
            v => {
                return Err(type_error(
                    "message.apns.payload.aps.alert",
                    "TYPE_MESSAGE",
                    v,
                ));
            }
        }
    }
    for field in [
        "category",
        "thread-id",
        "interruption-level",
        "target-content-id",
    ] {
        if let Some(v) = aps.get(field)
            && !v.is_string()
        {
            return Err(type_error(
                &format!("message.apns.payload.aps.{field}"),
                "TYPE_STRING",
                v,
            ));
        }
    }
    for field in ["content-available", "mutable-content"] {
        if let Some(v) = aps.get(field)
            && v.as_u64() != Some(1)
        {
            return Err(type_error(
                &format!("message.apns.payload.aps.{field}"),
                "the number 1",
                v,
            ));
        }
    }
    Ok(())
}

/// `map.get(snake)` or its lowerCamelCase spelling.
fn field_value<'a>(map: &'a Map<String, Value>, snake: &str) -> Option<&'a Value> {
    map.get(snake).or_else(|| map.get(&lower_camel(snake)))
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, Answer> {
    v.as_object()
        .ok_or_else(|| type_error(field, "TYPE_MESSAGE", v))
}

fn string_map(v: &Value, field: &str) -> Result<(), Answer> {
    strings(object(v, field)?, field)
}

/// A protobuf `map<string, string>`: Google names a bad entry by its index.
fn strings(map: &Map<String, Value>, field: &str) -> Result<(), Answer> {
    match map.values().enumerate().find(|(_, v)| !v.is_string()) {
        None => Ok(()),
        Some((i, v)) => Err(type_error(&format!("{field}[{i}].value"), "TYPE_STRING", v)),
    }
}

/// Fields of a protobuf message in JSON: each by its proto name (`allowed`, snake_case) or its
/// lowerCamelCase JSON name, as Google's parser accepts both.
fn known_fields(map: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), Answer> {
    let known = |k: &str| allowed.iter().any(|a| *a == k || lower_camel(a) == k);
    unknown_field(map, at, known)
}

/// Keys of a dictionary whose names are exact (APNs' `aps`).
fn exact_fields(map: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), Answer> {
    unknown_field(map, at, |k| allowed.contains(&k))
}

fn unknown_field(
    map: &Map<String, Value>,
    at: &str,
    known: impl Fn(&str) -> bool,
) -> Result<(), Answer> {
    match map.keys().find(|k| !known(k)) {
        None => Ok(()),
        Some(unknown) => {
            let at = if at.is_empty() {
                String::new()
            } else {
                format!(" at '{at}'")
            };
            Err(Answer::bad_request(
                at.trim_start_matches(" at '").trim_end_matches('\''),
                format!(
                    "Invalid JSON payload received. Unknown name \"{unknown}\"{at}: Cannot find field."
                ),
            ))
        }
    }
}

fn type_error(field: &str, expected: &str, got: &Value) -> Answer {
    Answer::bad_request(
        field,
        format!("Invalid JSON payload received. Invalid value at '{field}' ({expected}), {got}"),
    )
}

/// Length of `v` serialised as compact JSON.
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}
