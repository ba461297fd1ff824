//! A Twilio-compatible SMS API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
//!
//! It checks what Twilio checks and answers as Twilio does: HTTP Basic auth with the account
//! SID and auth token (401, code 20003), the SID in the path matching the one authenticated
//! (404, code 20404), a form-encoded body (`application/x-www-form-urlencoded`) with `To` in
//! E.164 (400, code 21211), `From` (400, code 21603) and a `Body` of 1 to 1600 characters
//! (400, codes 21602 and 21617). An accepted message is answered 201 with a Message resource
//! (`sid`, `status: queued`, …).
//!
//! Scripted as the real service fails: a number marked invalid is answered 400, code 21211, as
//! Twilio answers a well-formed number that is no phone's (its test credentials do so for
//! `+15005550001`); a rate limit answers 429, code 20429, with `Retry-After` when given; an
//! outage answers 503, code 20503.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;

use crate::server::Server;
use crate::{Deliveries, TimedOut, lock};

/// Twilio's limit on a message body.
const MAX_BODY_CHARS: usize = 1600;

/// One request the fake received, whatever it answered.
#[derive(Debug, Clone)]
pub struct SmsReceived {
    /// `To`, as sent.
    pub to: String,
    /// `From`, as sent.
    pub from: String,
    /// `Body`, as sent.
    pub body: String,
    /// The status the fake answered.
    pub status: u16,
    /// The Twilio error code it answered with, if any.
    pub error_code: Option<u32>,
    /// When it arrived.
    pub at: Instant,
}

/// A fake SMS API for one account; cheap to clone, stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeSms {
    state: Arc<SmsState>,
    server: Arc<Server>,
}

struct SmsState {
    account_sid: String,
    auth_token: String,
    received: Mutex<Vec<SmsReceived>>,
    delivered: Deliveries,
    /// Requests still to answer 503, as an outage would.
    outage: AtomicUsize,
    /// Requests still to answer 429, and the `Retry-After` (seconds) to send with them.
    rate_limited: Mutex<(usize, Option<u64>)>,
    /// `To` numbers answered 400, code 21211.
    invalid: Mutex<HashSet<String>>,
    next_id: AtomicUsize,
}

impl FakeSms {
    /// Starts the API for one account on 127.0.0.1 at a random port.
    pub async fn start(account_sid: &str, auth_token: &str) -> FakeSms {
        let state = Arc::new(SmsState {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            received: Mutex::default(),
            delivered: Deliveries::default(),
            outage: AtomicUsize::new(0),
            rate_limited: Mutex::default(),
            invalid: Mutex::default(),
            next_id: AtomicUsize::new(1),
        });
        let router = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(create))
            .with_state(state.clone());
        let listener = Server::bind().await;
        FakeSms {
            state,
            server: Arc::new(Server::serve(listener, router)),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `--sms-api-url`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Answers the next `n` well-formed, authenticated requests 503 (an outage).
    pub fn fail_next(&self, n: usize) {
        self.state.outage.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` well-formed, authenticated requests 429 (code 20429), with
    /// `Retry-After: retry_after_secs` when given.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: Option<u64>) {
        *lock(&self.state.rate_limited) = (n, retry_after_secs);
    }

    /// Answers every message to `to` 400, code 21211 (not a valid phone number).
    pub fn mark_invalid(&self, to: &str) {
        lock(&self.state.invalid).insert(to.to_owned());
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<SmsReceived> {
        lock(&self.state.received).clone()
    }

    /// The accepted (201) messages, in arrival order.
    pub fn delivered(&self) -> Vec<SmsReceived> {
        lock(&self.state.received)
            .iter()
            .filter(|r| r.status == 201)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` messages in total were accepted, or `timeout` passes.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<(), TimedOut> {
        self.state.delivered.wait_for(n, timeout).await
    }
}

/// Twilio's error resource.
fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// The user and password of a Basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `+`, then 8 to 15 digits, the first not 0.
fn is_e164(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

async fn create(
    State(state): State<Arc<SmsState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((user, password)) = basic_auth(&headers) else {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    };
    if user != state.account_sid || password != state.auth_token {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if sid != user {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    }
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: HashMap<String, String> = match serde_urlencoded_pairs(&body) {
        Some(f) if form_type => f,
        _ => {
            return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
        }
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let (to, from, text) = (get("To"), get("From"), get("Body"));
    let mut record = SmsReceived {
        to: to.clone(),
        from: from.clone(),
        body: text.clone(),
        status: 201,
        error_code: None,
        at: Instant::now(),
    };
    let refusal = if !is_e164(&to) || lock(&state.invalid).contains(&to) {
        Some((
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        ))
    } else if from.is_empty() {
        Some((21603, "A 'From' phone number is required.".to_owned()))
    } else if text.is_empty() {
        Some((21602, "Message body is required.".to_owned()))
    } else if text.chars().count() > MAX_BODY_CHARS {
        Some((
            21617,
            "The concatenated message body exceeds the 1600 character limit.".to_owned(),
        ))
    } else {
        None
    };
    if let Some((code, message)) = refusal {
        record.status = 400;
        record.error_code = Some(code);
        lock(&state.received).push(record);
        return error(StatusCode::BAD_REQUEST, code, &message);
    }
    let rate_limited = {
        let mut limit = lock(&state.rate_limited);
        limit.0.checked_sub(1).map(|left| {
            limit.0 = left;
            limit.1
        })
    };
    if let Some(retry_after) = rate_limited {
        record.status = 429;
        record.error_code = Some(20429);
        lock(&state.received).push(record);
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
        }
        return resp;
    }
    let outage = state
        .outage
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if outage {
        record.status = 503;
        record.error_code = Some(20503);
        lock(&state.received).push(record);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service unavailable",
        );
    }
    let n = state.next_id.fetch_add(1, Ordering::SeqCst);
    lock(&state.received).push(record);
    state.delivered.record();
    let resource = json!({
        "sid": format!("SM{n:032x}"),
        "account_sid": state.account_sid,
        "to": to,
        "from": from,
        "body": text,
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{}/Messages/SM{n:032x}.json", state.account_sid),
    });
    (StatusCode::CREATED, Json(resource)).into_response()
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
fn serde_urlencoded_pairs(body: &[u8]) -> Option<HashMap<String, String>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut out = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_plus_and_percent() {
        let f = serde_urlencoded_pairs(b"To=%2B919800000001&Body=Hi+there%21&From=").unwrap();
        assert_eq!(f["To"], "+919800000001");
        assert_eq!(f["Body"], "Hi there!");
        assert_eq!(f["From"], "");
        assert!(serde_urlencoded_pairs(b"To=%2").is_none());
    }

    #[test]
    fn e164_is_plus_and_8_to_15_digits() {
        assert!(is_e164("+919800000001"));
        assert!(!is_e164("919800000001"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+1234567"));
        assert!(!is_e164("+1234567890123456"));
    }
}
