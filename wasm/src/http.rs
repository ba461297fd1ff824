//! HTTP over `fetch`, with a timeout (the core expects the transport to time out by itself).

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{GatebellError, js_message};
use crate::scope;

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

/// Sends a request; `body` is JSON text. A failure to get any answer (offline, DNS, CORS,
/// timeout) is a `network` error.
pub async fn send(
    url: &str,
    method: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> Result<Answer, GatebellError> {
    let network = |e: JsValue| GatebellError::new("network", js_message(&e));
    let headers = web_sys::Headers::new().map_err(network)?;
    headers.set("Accept", "application/json").map_err(network)?;
    if let Some(token) = bearer {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(network)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        headers
            .set("Content-Type", "application/json")
            .map_err(network)?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);

    let abort = web_sys::AbortController::new().map_err(network)?;
    init.set_signal(Some(&abort.signal()));
    let on_timeout = Closure::<dyn FnMut()>::new(move || abort.abort());
    let timer = scope::start_timer(on_timeout.as_ref().unchecked_ref(), TIMEOUT_MS);

    let result = async {
        let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(network)?;
        let response: web_sys::Response = JsFuture::from(scope::fetch_request(&request))
            .await
            .map_err(network)?
            .dyn_into()
            .map_err(network)?;
        let text = JsFuture::from(response.text().map_err(network)?)
            .await
            .map_err(network)?;
        Ok(Answer {
            status: response.status(),
            body: text.as_string().unwrap_or_default(),
        })
    }
    .await;
    scope::clear_timeout(&timer);
    drop(on_timeout);
    result
}

/// The `{ "error": { "code", "message" } }` of an error answer as a [`GatebellError`], or a
/// generic one naming the status when the body is not that shape.
pub fn answer_error(answer: &Answer) -> GatebellError {
    let parsed = js_sys::JSON::parse(&answer.body)
        .ok()
        .and_then(|v| crate::js::from_value::<gatebell_core::protocol::ErrorBody>(v).ok());
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
    crate::js::from_value(value).map_err(|e| GatebellError::new("invalid_response", e.to_string()))
}
