//! A browser push service (RFC 8030) that checks VAPID (RFC 8292) and decrypts every payload
//! (RFC 8291) with the keys of the subscription it made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gatebell_core::protocol::{WebPushKeys, WebPushSubscription};
use p256::SecretKey;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::Generate;
use serde_json::Value;

use crate::ece::{DecryptError, decrypt_aes128gcm};
use crate::server::{self, Server};
use crate::{Deliveries, TimedOut, b64, jwt, lock, read, unix_now, write};

/// RFC 8030 §7.2: a push service must accept at least 4096 bytes of body.
const MAX_BODY: usize = 4096;
/// RFC 8292 §2: a VAPID token must not be valid for more than 24 hours.
const MAX_VAPID_LIFETIME: i64 = 24 * 60 * 60;

/// A subscription as a browser would create it, with the private half kept for decryption.
#[derive(Debug, Clone)]
pub struct TestSubscription {
    /// The last path segment of the endpoint, used to script and look up this subscription.
    pub id: String,
    /// What `PushSubscription.toJSON()` gives the page: endpoint and base64url keys.
    pub subscription: WebPushSubscription,
    /// The browser's P-256 private key.
    pub private_key: [u8; 32],
    /// The browser's uncompressed P-256 public key (`keys.p256dh`, decoded).
    pub public_key: [u8; 65],
    /// The 16-byte authentication secret (`keys.auth`, decoded).
    pub auth_secret: [u8; 16],
}

impl TestSubscription {
    /// The push endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.subscription.endpoint
    }

    /// Decrypts a body sent to this subscription, as the browser would.
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, DecryptError> {
        decrypt_aes128gcm(body, &self.private_key, &self.auth_secret)
    }
}

/// How the push service answers a scripted subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebPushFailure {
    /// 410 Gone: the subscription expired or was unsubscribed; every request.
    Gone,
    /// 404 Not Found; every request.
    NotFound,
    /// 503 (with `Retry-After` if set) for the next `times` requests, then success.
    Unavailable {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: Option<u64>,
        /// How many requests fail before the subscription works again.
        times: usize,
    },
    /// 429 Too Many Requests (with `Retry-After` if set) for the next `times` requests.
    TooMany {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: Option<u64>,
        /// How many requests fail before the subscription works again.
        times: usize,
    },
}

/// One request the fake received, whatever it answered.
#[derive(Debug, Clone)]
pub struct WebPushReceived {
    /// When the request arrived.
    pub at: Instant,
    /// The endpoint's id (see [`TestSubscription::id`]).
    pub subscription_id: String,
    /// The status the fake answered.
    pub status: u16,
    /// The decrypted payload (empty if it did not decrypt or there was none).
    pub plaintext: Vec<u8>,
    /// The `TTL` header, if it parsed.
    pub ttl: Option<u64>,
    /// The `Urgency` header, if any.
    pub urgency: Option<String>,
    /// The `Topic` header, if any.
    pub topic: Option<String>,
    /// The VAPID JWT's `aud` claim, if the token parsed: shows whether the sender put the port in.
    pub vapid_aud: Option<String>,
    /// The VAPID public key (`k=`), base64url, if present.
    pub vapid_key: Option<String>,
    /// Why the request was refused, if it was.
    pub error: Option<String>,
    /// HTTP version of the request.
    pub version: Version,
}

impl WebPushReceived {
    /// The plaintext parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.plaintext).ok()
    }
}

/// A fake push service whose subscriptions come from [`FakeWebPush::new_subscription`]; cheap to
/// clone, stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeWebPush {
    state: Arc<PushState>,
    server: Arc<Server>,
}

/// A VAPID header that passed: its `exp`, `aud` and key.
#[derive(Clone)]
struct PassedVapid {
    exp: i64,
    aud: Option<String>,
    key: String,
}

struct PushState {
    /// `http://127.0.0.1:PORT`, the origin every endpoint shares and the VAPID `aud` to expect.
    origin: String,
    subscriptions: RwLock<HashMap<String, Arc<TestSubscription>>>,
    scripts: Mutex<HashMap<String, WebPushFailure>>,
    expected_key: RwLock<Option<Vec<u8>>>,
    strict_aud: AtomicBool,
    received: Mutex<Vec<WebPushReceived>>,
    delivered: Deliveries,
    delay_micros: AtomicU64,
    /// Load mode ([`FakeWebPush::set_load_mode`]): decrypt one payload in this many (1: all).
    decrypt_every: AtomicU64,
    requests: AtomicU64,
    /// Load mode: Authorization headers that passed every VAPID check.
    vapid_passed: Mutex<HashMap<String, PassedVapid>>,
}

impl FakeWebPush {
    /// Starts the push service on 127.0.0.1 at a random port.
    pub async fn start() -> FakeWebPush {
        let listener = Server::bind().await;
        let state = Arc::new(PushState {
            origin: server::base_url(&listener.local_addr().expect("testkit: local_addr")),
            subscriptions: RwLock::default(),
            scripts: Mutex::default(),
            expected_key: RwLock::default(),
            strict_aud: AtomicBool::new(false),
            received: Mutex::default(),
            delivered: Deliveries::default(),
            delay_micros: AtomicU64::new(0),
            decrypt_every: AtomicU64::new(1),
            requests: AtomicU64::new(0),
            vapid_passed: Mutex::default(),
        });
        let router = Router::new()
            .route("/push/{id}", post(push))
            .with_state(state.clone());
        FakeWebPush {
            state,
            server: Arc::new(Server::serve(listener, router)),
        }
    }

    /// `http://127.0.0.1:PORT`, the origin of every endpoint.
    pub fn base_url(&self) -> String {
        self.state.origin.clone()
    }

    /// Creates a subscription the way a browser does: a new P-256 key pair and auth secret.
    pub fn new_subscription(&self) -> TestSubscription {
        let key = SecretKey::generate_from_rng(&mut rand::rng());
        let public_key: [u8; 65] = key.public_key().to_sec1_bytes()[..]
            .try_into()
            .expect("uncompressed P-256 point");
        let auth_secret: [u8; 16] = rand::random();
        let id = crate::random_id(16);
        let sub = TestSubscription {
            subscription: WebPushSubscription {
                endpoint: format!("{}/push/{id}", self.state.origin),
                expiration_time: None,
                keys: WebPushKeys {
                    p256dh: b64::encode(public_key),
                    auth: b64::encode(auth_secret),
                },
            },
            id: id.clone(),
            private_key: key.to_bytes().into(),
            public_key,
            auth_secret,
        };
        write(&self.state.subscriptions).insert(id, Arc::new(sub.clone()));
        sub
    }

    /// Requires every VAPID `k=` to be this base64url public key (else 403), as a subscription
    /// made with `applicationServerKey` does.
    pub fn expect_vapid_key(&self, public_key: &str) {
        *write(&self.state.expected_key) =
            Some(b64::decode(public_key).expect("testkit: VAPID key is not base64url"));
    }

    /// When strict, the VAPID `aud` must include the port (`http://127.0.0.1:PORT`); by default
    /// `http://127.0.0.1` is accepted too, since the web-push crates leave the port out.
    pub fn set_strict_aud(&self, strict: bool) {
        self.state.strict_aud.store(strict, Ordering::Relaxed);
    }

    /// Makes requests to subscription `id` fail as `failure` says (replacing any earlier script).
    pub fn fail_subscription_with(&self, id: &str, failure: WebPushFailure) {
        lock(&self.state.scripts).insert(id.to_owned(), failure);
    }

    /// Removes the script for subscription `id`.
    pub fn clear_failure(&self, id: &str) {
        lock(&self.state.scripts).remove(id);
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<WebPushReceived> {
        lock(&self.state.received).clone()
    }

    /// The successful (201) requests for subscription `id`.
    pub fn delivered_for(&self, id: &str) -> Vec<WebPushReceived> {
        lock(&self.state.received)
            .iter()
            .filter(|r| r.status == 201 && r.subscription_id == id)
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

    /// Load mode, for throughput benchmarks where this fake shares the machine with the sender:
    /// with `decrypt_every` > 1 it decrypts one payload in that many (every body's `aes128gcm`
    /// header is still checked) and verifies a VAPID header's signature once, then only its
    /// expiry; 1 (the default) checks everything on every request.
    pub fn set_load_mode(&self, decrypt_every: u64) {
        self.state
            .decrypt_every
            .store(decrypt_every.max(1), Ordering::Relaxed);
        lock(&self.state.vapid_passed).clear();
    }

    /// How many TCP connections the fake has accepted.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

/// What one request produced, recorded whatever the outcome.
#[derive(Default)]
struct Outcome {
    plaintext: Vec<u8>,
    ttl: Option<u64>,
    urgency: Option<String>,
    topic: Option<String>,
    vapid_aud: Option<String>,
    vapid_key: Option<String>,
    /// The VAPID JWT's `exp`, once it checked out.
    vapid_exp: Option<i64>,
}

struct Refusal {
    status: StatusCode,
    reason: String,
    retry_after: Option<u64>,
}

fn refuse(status: StatusCode, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
        retry_after: None,
    }
}

async fn push(
    State(state): State<Arc<PushState>>,
    Path(id): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let delay = state.delay_micros.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    let mut outcome = Outcome::default();
    let result = state.handle(&id, &headers, &body, &mut outcome);
    let (status, error) = match &result {
        Ok(()) => (StatusCode::CREATED, None),
        Err(r) => (r.status, Some(r.reason.clone())),
    };
    lock(&state.received).push(WebPushReceived {
        at,
        subscription_id: id.clone(),
        status: status.as_u16(),
        plaintext: outcome.plaintext,
        ttl: outcome.ttl,
        urgency: outcome.urgency,
        topic: outcome.topic,
        vapid_aud: outcome.vapid_aud,
        vapid_key: outcome.vapid_key,
        error: error.clone(),
        version,
    });
    match result {
        Ok(()) => {
            state.delivered.record();
            let location = format!("{}/message/{}", state.origin, crate::random_id(12));
            let mut response = StatusCode::CREATED.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Err(r) => {
            let mut response = (r.status, r.reason).into_response();
            if let Some(secs) = r.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
    }
}

impl PushState {
    fn handle(
        &self,
        id: &str,
        headers: &HeaderMap,
        body: &[u8],
        out: &mut Outcome,
    ) -> Result<(), Refusal> {
        let Some(sub) = read(&self.subscriptions).get(id).cloned() else {
            return Err(refuse(StatusCode::NOT_FOUND, "no such subscription"));
        };
        self.check_vapid(headers, out)?;
        let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        out.ttl = text(header::HeaderName::from_static("ttl")).and_then(|t| t.trim().parse().ok());
        out.urgency = text(header::HeaderName::from_static("urgency")).map(str::to_owned);
        out.topic = text(header::HeaderName::from_static("topic")).map(str::to_owned);
        // RFC 8030 §5.2: a request without TTL is refused with 400.
        if out.ttl.is_none() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "TTL header missing or invalid",
            ));
        }
        if let Some(u) = &out.urgency
            && !["very-low", "low", "normal", "high"].contains(&u.as_str())
        {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("invalid Urgency {u:?}"),
            ));
        }
        if let Some(t) = &out.topic {
            let base64url = t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if t.is_empty() || t.len() > 32 || !base64url {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!("Topic {t:?} must be 1-32 base64url characters"),
                ));
            }
        }
        if body.len() > MAX_BODY {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body is {} bytes, the limit is {MAX_BODY}", body.len()),
            ));
        }
        // A push without payload needs no encryption (RFC 8030 §5).
        if !body.is_empty() {
            let encoding = text(header::CONTENT_ENCODING).unwrap_or("");
            if !encoding.eq_ignore_ascii_case("aes128gcm") {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!("Content-Encoding must be aes128gcm, got {encoding:?}"),
                ));
            }
            let every = self.decrypt_every.load(Ordering::Relaxed);
            let n = self.requests.fetch_add(1, Ordering::Relaxed);
            if every > 1 && !n.is_multiple_of(every) {
                check_record_header(body).map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?;
            } else {
                out.plaintext = sub.decrypt(body).map_err(|e| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        format!("payload does not decrypt: {e}"),
                    )
                })?;
            }
        }
        self.scripted(id).map_or(Ok(()), Err)
    }

    /// RFC 8292: `Authorization: vapid t=<JWT>, k=<key>`; 401 for a missing or invalid token,
    /// 403 for a key other than the pinned one.
    fn check_vapid(&self, headers: &HeaderMap, out: &mut Outcome) -> Result<(), Refusal> {
        let unauthorized = |why: String| refuse(StatusCode::UNAUTHORIZED, why);
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("Authorization header missing".into()))?;
        let load_mode = self.decrypt_every.load(Ordering::Relaxed) > 1;
        if load_mode
            && let Some(passed) = lock(&self.vapid_passed).get(auth).cloned()
            && passed.exp > unix_now()
        {
            out.vapid_aud = passed.aud;
            out.vapid_key = Some(passed.key);
            return Ok(());
        }
        self.verify_vapid(auth, out)?;
        if load_mode && let (Some(key), Some(exp)) = (out.vapid_key.clone(), out.vapid_exp) {
            let aud = out.vapid_aud.clone();
            lock(&self.vapid_passed).insert(auth.to_owned(), PassedVapid { exp, aud, key });
        }
        Ok(())
    }

    /// Every VAPID check on one Authorization header.
    fn verify_vapid(&self, auth: &str, out: &mut Outcome) -> Result<(), Refusal> {
        let unauthorized = |why: String| refuse(StatusCode::UNAUTHORIZED, why);
        let params = auth
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("vapid "))
            .map(|_| &auth[6..])
            .ok_or_else(|| unauthorized("Authorization scheme must be vapid".into()))?;
        let (mut t, mut k) = (None, None);
        for param in params.split(',') {
            match param.trim().split_once('=') {
                Some(("t", v)) => t = Some(v.trim()),
                Some(("k", v)) => k = Some(v.trim()),
                _ => {}
            }
        }
        let (Some(t), Some(k)) = (t, k) else {
            return Err(unauthorized("vapid credentials need t= and k=".into()));
        };
        out.vapid_key = Some(k.to_owned());
        let key_bytes = b64::decode(k).ok_or_else(|| unauthorized("k is not base64url".into()))?;
        let key = (key_bytes.len() == 65)
            .then(|| VerifyingKey::from_sec1_bytes(&key_bytes).ok())
            .flatten()
            .ok_or_else(|| unauthorized("k is not an uncompressed P-256 public key".into()))?;
        let jwt = jwt::parse(t).map_err(unauthorized)?;
        out.vapid_aud = jwt.str_claim("aud").map(str::to_owned);
        if jwt.alg() != Some("ES256") {
            return Err(unauthorized(format!(
                "JWT alg must be ES256, got {:?}",
                jwt.alg()
            )));
        }
        let signature = Signature::from_slice(&jwt.signature)
            .map_err(|_| unauthorized("ES256 signature must be 64 bytes r||s".into()))?;
        key.verify(jwt.signing_input.as_bytes(), &signature)
            .map_err(|_| unauthorized("JWT signature does not verify with k".into()))?;
        let aud = out.vapid_aud.as_deref().unwrap_or("");
        let host_only = self.origin.rsplit_once(':').map_or("", |(o, _)| o);
        let aud_ok =
            aud == self.origin || (!self.strict_aud.load(Ordering::Relaxed) && aud == host_only);
        if !aud_ok {
            return Err(unauthorized(format!(
                "JWT aud {aud:?} is not the endpoint origin {:?}",
                self.origin
            )));
        }
        let now = unix_now();
        let exp = jwt
            .time_claim("exp")
            .ok_or_else(|| unauthorized("JWT has no exp".into()))?;
        if exp <= now {
            return Err(unauthorized("JWT has expired".into()));
        }
        if exp > now + MAX_VAPID_LIFETIME {
            return Err(unauthorized(format!(
                "JWT exp is {}s ahead, more than 24 hours",
                exp - now
            )));
        }
        out.vapid_exp = Some(exp);
        match jwt.str_claim("sub") {
            Some(s) if s.starts_with("mailto:") || s.starts_with("https:") => {}
            other => {
                return Err(unauthorized(format!(
                    "JWT sub must be a mailto: or https: URL, got {other:?}"
                )));
            }
        }
        if let Some(expected) = &*read(&self.expected_key)
            && *expected != key_bytes
        {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "VAPID key is not the subscription's applicationServerKey",
            ));
        }
        Ok(())
    }

    fn scripted(&self, id: &str) -> Option<Refusal> {
        let mut scripts = lock(&self.scripts);
        let failure = scripts.get_mut(id)?;
        let (status, retry_after, times) = match failure {
            WebPushFailure::Gone => (StatusCode::GONE, None, None),
            WebPushFailure::NotFound => (StatusCode::NOT_FOUND, None, None),
            WebPushFailure::Unavailable {
                retry_after_secs,
                times,
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                *retry_after_secs,
                Some(times),
            ),
            WebPushFailure::TooMany {
                retry_after_secs,
                times,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                *retry_after_secs,
                Some(times),
            ),
        };
        let refusal = Refusal {
            status,
            reason: format!("scripted {}", status.as_u16()),
            retry_after,
        };
        match times {
            None => Some(refusal),
            Some(0) => {
                scripts.remove(id);
                None
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    scripts.remove(id);
                }
                Some(refusal)
            }
        }
    }
}

/// Load mode's check of a payload it does not decrypt: an RFC 8188 header naming an
/// uncompressed P-256 key, and one record of at least the tag's length.
fn check_record_header(body: &[u8]) -> Result<(), String> {
    let rs = body
        .get(16..20)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    match (rs, body.get(20), body.get(21)) {
        (Some(rs), Some(65), Some(4)) if body.len() >= 86 + 17 && body.len() - 86 <= rs => Ok(()),
        _ => Err("payload is not one aes128gcm record from a P-256 key".into()),
    }
}
