//! What the host app implements: its HTTP stack, its secure storage, and a listener.

use std::collections::HashMap;

use gatebell_core::client as core;

use crate::error::GatebellError;
use crate::status::Status;

/// A request to send. `path` is relative to the API origin (`/api/v1/…`): the transport adds
/// its base URL. `headers` hold `Authorization: Bearer …`, `Content-Type` and `Accept`; the
/// bearer token is the one the client chose (it may belong to a user who already signed out),
/// so the transport must not replace it with the app's current one.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `POST` or `DELETE`.
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// JSON text.
    pub body: String,
}

/// The server's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    /// The raw response text (an error body carries the error code).
    pub body: String,
}

/// The app's HTTP stack. Any HTTP status is an answer (return it); only "no answer" is an
/// error: throw `GatebellError.Network`. The transport must time out by itself (15 s is
/// reasonable): a request that never settles stalls the client until the app restarts.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends `request` and returns the answer.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, GatebellError>;
}

/// The app's secure storage (Keychain, Keystore, encrypted preferences): the client's state
/// holds bearer tokens. Values are opaque JSON text.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait KeyValueStore: Send + Sync {
    /// The value stored under `key`, if any.
    async fn get(&self, key: String) -> Result<Option<String>, GatebellError>;
    /// Stores `value` under `key`, replacing any previous value.
    async fn set(&self, key: String, value: String) -> Result<(), GatebellError>;
}

/// Something the app may want to react to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ClientUpdate {
    /// What a UI shows changed.
    StatusChanged { status: Status },
    /// Call `PushClient.timer_fired()` at this time (epoch ms); replaces the previous timer.
    WakeAt { at_ms: i64 },
    /// The server refused the session (401): the user must sign in again.
    SessionEnded,
}

/// Told about updates as they happen, on the thread that drives the client's calls. It must
/// return quickly and not throw.
#[uniffi::export(with_foreign)]
pub trait PushClientListener: Send + Sync {
    /// One update; see [`ClientUpdate`].
    fn on_update(&self, update: ClientUpdate);
}

impl From<core::HttpRequest> for HttpRequest {
    fn from(request: core::HttpRequest) -> HttpRequest {
        let body = serde_json::to_string(&request.body)
            .unwrap_or_else(|_| unreachable!("request bodies are plain strings and enums"));
        let headers = HashMap::from([
            (
                "Authorization".to_owned(),
                format!("Bearer {}", request.bearer_token),
            ),
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ]);
        HttpRequest {
            method: request.method.as_str().to_owned(),
            path: request.path,
            headers,
            body,
        }
    }
}
