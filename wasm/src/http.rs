//! HTTP over `fetch`, with a timeout (the core expects the transport to time out by itself).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{GatebellError, js_message};

/// Requests that take longer are aborted and reported as network errors.
pub const TIMEOUT_MS: i64 = 15_000;

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Joins an API base (`https://api.example`, `/`, or `""` for the page's origin) and a path
/// that starts with `/`.
pub fn url(api_base: &str, path: &str) -> String {
    format!("{}{path}", api_base.trim_end_matches('/'))
}

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// Resolves with `{ status, body }`; rejects when there was no answer in time.
    #[wasm_bindgen(js_name = sendText)]
    fn send_text(
        url: &str,
        method: &str,
        bearer: Option<&str>,
        body: Option<&str>,
        timeout_ms: f64,
    ) -> js_sys::Promise;
}

/// Sends a request; `body` is JSON text. A failure to get any answer (offline, DNS, CORS,
/// timeout) is a `network` error.
pub async fn send(
    url: &str,
    method: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> Result<Answer, GatebellError> {
    let promise = send_text(url, method, bearer, body, TIMEOUT_MS as f64);
    let answer = JsFuture::from(promise)
        .await
        .map_err(|e| GatebellError::new("network", js_message(&e)))?;
    let field = |name: &str| js_sys::Reflect::get(&answer, &name.into()).unwrap_or_default();
    Ok(Answer {
        status: field("status").as_f64().unwrap_or_default() as u16,
        body: field("body").as_string().unwrap_or_default(),
    })
}

/// The `{ "error": { "code", "message" } }` of an error answer as a [`GatebellError`], or a
/// generic one naming the status when the body is not that shape.
pub fn answer_error(answer: &Answer) -> GatebellError {
    let parsed = js_sys::JSON::parse(&answer.body)
        .ok()
        .and_then(|v| crate::from_js::<gatebell_core::protocol::ErrorBody>(v).ok());
    let mut error = match parsed {
        Some(body) => GatebellError::new(&body.error.code, body.error.message),
        None => GatebellError::new("http", format!("HTTP {}", answer.status)),
    };
    error.status = Some(answer.status);
    error
}

/// Parses a JSON answer into `T` without serde_json (which would grow the wasm).
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, GatebellError> {
    let value = js_sys::JSON::parse(text)
        .map_err(|e| GatebellError::new("invalid_response", js_message(&e)))?;
    crate::from_js(value).map_err(|e| GatebellError::new("invalid_response", e.to_string()))
}
