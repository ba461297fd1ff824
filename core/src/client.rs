//! The push client's brain: keeps this device's push token registered with the server for
//! whoever is signed in, and removed for whoever signed out.
//!
//! It is a sans-IO state machine in the style of redbadger/crux: a shell (the wasm package,
//! the mobile bindings) feeds [`Event`]s to [`PushClient::handle`] and performs the
//! [`Effect`]s it returns, in order. Time and randomness arrive inside events, so every rule
//! is a plain unit test.
//!
//! # Contract for shells
//!
//! - Perform effects in the order given. [`Effect::Persist`] comes before the
//!   [`Effect::Http`] of the same batch so that the request id and the rate-limit counter are
//!   stored before the request can reach the server.
//! - Answer every [`Effect::Http`] with exactly one [`Event::HttpResponse`] carrying its id;
//!   the transport must time out on its own and report [`HttpOutcome::NetworkError`]. Only one
//!   request is in flight at a time, so a request that is never answered stalls the client
//!   until the app restarts.
//! - Keep one timer: [`Effect::WakeAt`] replaces the previous one; when it fires send
//!   [`Event::TimerFired`]. A timer that fires early or late is harmless.
//! - Send [`Event::AppStarted`] after [`PushClient::restore`]: it re-emits the wake time and
//!   the status, and runs the 7-day re-registration check.
//! - Run one client per device and origin: two instances sharing one stored state (a page
//!   and its service worker, two tabs) would each send requests. On the web the page owns
//!   the client; the service worker only shows and routes notifications.
//! - [`PersistedState`] holds bearer tokens: store it like a credential (Keychain, Keystore,
//!   IndexedDB of the origin). Treat it as opaque JSON; its fields may grow.
//! - On sign-out send [`Event::SigningOut`] *before* revoking the session on the server, and
//!   revoke it only once [`Status::pending_unregisters`] is 0 (or after a short timeout):
//!   the unregister must use a session that still works.
//! - When the user turns notifications off, send [`Event::NotificationsDisabled`] (then drop
//!   the platform token: unsubscribe, delete the FCM token); the choice is persisted and
//!   later tokens are ignored until [`Event::NotificationsEnabled`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::{
    ERROR_DEVICE_NOT_FOUND, Platform, RegisterDeviceRequest, UnregisterDeviceRequest, WebPushKeys,
    WebPushSubscription,
};

/// The device endpoint: `POST` registers (upsert by token), `DELETE` removes.
pub const REGISTER_DEVICE_PATH: &str = "/api/v1/notifications/register-device";

const SECOND_MS: i64 = 1_000;
const HOUR_MS: i64 = 60 * 60 * SECOND_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------------
// Public types

/// Tunables; [`Config::default`] holds the production values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// Re-register when the last success is this old (7 days): servers prune idle devices.
    pub reregister_after_ms: i64,
    /// First retry delay after a network error or 5xx (1 s).
    pub backoff_base_ms: i64,
    /// Longest retry delay (1 h).
    pub backoff_cap_ms: i64,
    /// At most this many register requests per [`Config::rate_window_ms`] (10).
    pub max_registers_per_window: u32,
    /// The rate-limit window (1 h).
    pub rate_window_ms: i64,
    /// Unregisters kept for retry at most (32); the oldest is dropped beyond that so that
    /// persisted state stays bounded.
    pub max_pending_unregisters: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            reregister_after_ms: 7 * DAY_MS,
            backoff_base_ms: SECOND_MS,
            backoff_cap_ms: HOUR_MS,
            max_registers_per_window: 10,
            rate_window_ms: HOUR_MS,
            max_pending_unregisters: 32,
        }
    }
}

/// Something that happened; every event carries the current time in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The app (or service worker) started, or came to the foreground.
    AppStarted { now_ms: i64 },
    /// A user signed in; `session_token` is the bearer token of `/auth/login`.
    SignedIn {
        now_ms: i64,
        session_token: String,
        user_id: String,
    },
    /// The platform issued a push token: the first one, a refreshed one, or the same again.
    /// For the web, `token` is the subscription's endpoint and `subscription` is required.
    TokenIssued {
        now_ms: i64,
        token: String,
        platform: Platform,
        #[serde(default)]
        subscription: Option<WebPushSubscription>,
        /// Android and iOS: the app's key pair for encrypted payloads (see
        /// [`RegisterDeviceRequest::keys`]); `None` keeps clear-text payloads.
        #[serde(default)]
        keys: Option<WebPushKeys>,
    },
    /// The user is signing out; the session must still be valid (see the module docs).
    SigningOut { now_ms: i64 },
    /// The answer to an [`Effect::Http`]. `random` is uniform in `[0, 1)` and sets the
    /// jitter of a retry.
    HttpResponse {
        now_ms: i64,
        request_id: u64,
        outcome: HttpOutcome,
        random: f64,
    },
    /// The timer of the last [`Effect::WakeAt`] fired.
    TimerFired { now_ms: i64 },
    /// Another call told the shell the server does not know this device
    /// (`device_not_found`): register again.
    DeviceUnknown { now_ms: i64 },
    /// The user turned notifications off on this device: the token is unregistered (and the
    /// shell unsubscribes it), and tokens issued later are ignored, across restarts, until
    /// [`Event::NotificationsEnabled`].
    NotificationsDisabled { now_ms: i64 },
    /// The user turned notifications back on; send the platform's token next.
    NotificationsEnabled { now_ms: i64 },
}

impl Event {
    /// When the event happened (epoch ms).
    pub fn now_ms(&self) -> i64 {
        match self {
            Event::AppStarted { now_ms }
            | Event::SignedIn { now_ms, .. }
            | Event::TokenIssued { now_ms, .. }
            | Event::SigningOut { now_ms }
            | Event::HttpResponse { now_ms, .. }
            | Event::TimerFired { now_ms }
            | Event::DeviceUnknown { now_ms }
            | Event::NotificationsDisabled { now_ms }
            | Event::NotificationsEnabled { now_ms } => *now_ms,
        }
    }
}

/// How an HTTP request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum HttpOutcome {
    /// The server answered; `body` is the raw response text (an error body carries the code).
    Response { status: u16, body: String },
    /// No answer: DNS, TLS, connection reset, timeout, offline.
    NetworkError { message: String },
}

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Effect {
    /// Store this state, replacing the previous one (boxed: it is the largest effect).
    Persist { state: Box<PersistedState> },
    /// Send this request and answer with [`Event::HttpResponse`].
    Http { request: HttpRequest },
    /// Send [`Event::TimerFired`] at this time (epoch ms); replaces the previous timer.
    WakeAt { at_ms: i64 },
    /// The server refused the session (401): the user must sign in again.
    SessionEnded,
    /// What the UI shows changed.
    StatusChanged { status: Status },
}

/// An HTTP method the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Delete,
}

impl HttpMethod {
    /// `POST` or `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// A request for the shell to send: `Authorization: Bearer {bearer_token}`,
/// `Content-Type: application/json`, the body serialised with serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// Echo it in [`Event::HttpResponse::request_id`].
    pub id: u64,
    pub method: HttpMethod,
    /// Relative to the API origin, such as [`REGISTER_DEVICE_PATH`].
    pub path: String,
    pub bearer_token: String,
    pub body: RequestBody,
}

/// A request body; serialises to the protocol type's JSON without a wrapper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestBody {
    Register(RegisterDeviceRequest),
    Unregister(UnregisterDeviceRequest),
}

/// Which server call an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    Register,
    Unregister,
}

/// The last failure, for UIs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    pub operation: Operation,
    /// The HTTP status; `None` for a network error.
    pub status: Option<u16>,
    /// The error body's code (`validation`, …) when there was one.
    pub code: Option<String>,
    /// The network error's message, or a short description of the answer.
    pub message: String,
    pub at_ms: i64,
    /// Whether the client will try again by itself.
    pub will_retry: bool,
}

/// What a UI shows about push registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub signed_in: bool,
    pub user_id: Option<String>,
    /// The current push token, if the platform issued one.
    pub token: Option<String>,
    /// The server has the current token for the signed-in user (as far as the client knows).
    pub registered: bool,
    /// Epoch ms of the last successful registration of the current token and user.
    pub last_registered_at_ms: Option<i64>,
    /// Tokens of signed-out sessions or refreshed tokens still to be removed from the server.
    pub pending_unregisters: u32,
    pub last_error: Option<LastError>,
    /// The user turned notifications off on this device ([`Event::NotificationsDisabled`]).
    pub notifications_disabled: bool,
}

/// Everything the client must remember across restarts; see the module docs on storage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistedState {
    /// Persisted so that ids after a restart never match a response to a request sent before.
    next_request_id: u64,
    session: Option<Session>,
    device: Option<DeviceToken>,
    registration: Option<Registration>,
    register_retry: Retry,
    /// A 4xx refused registering the current (user, token): wait until either changes.
    register_refused: bool,
    /// Times of recent register requests, for the rate limit.
    register_calls: Vec<i64>,
    pending_unregisters: Vec<PendingUnregister>,
    last_error: Option<LastError>,
    /// The user turned notifications off here: no token is kept or registered until they turn
    /// them on again.
    notifications_disabled: bool,
}

// ---------------------------------------------------------------------------------------------
// Private state

/// A bearer token: serialised as a plain string, hidden from `Debug` so logs do not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    token: Secret,
    user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceToken {
    token: String,
    platform: Platform,
    subscription: Option<WebPushSubscription>,
    #[serde(default)]
    keys: Option<WebPushKeys>,
}

/// The last successful registration: this device, for this user, at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registration {
    device: DeviceToken,
    user_id: String,
    at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Retry {
    failures: u32,
    next_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingUnregister {
    token: String,
    /// The session of the user the token belonged to, kept so a retry after sign-out still
    /// authenticates as that user.
    session_token: Secret,
    /// `next_request_id` when queued: a register of the same token sent later (higher id)
    /// moved the token to another owner, so this unregister is no longer wanted.
    queued_before_request: u64,
    retry: Retry,
}

/// What the request in flight was for; not persisted (its answer dies with the process).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Register {
        device: DeviceToken,
        session: Session,
    },
    Unregister {
        token: String,
        session_token: Secret,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    id: u64,
    op: Op,
}

/// How the client reads a server answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Success,
    DeviceNotFound,
    Unauthorized,
    /// Network error, 5xx, 408, 429 or anything unexpected: back off and retry.
    Transient,
    /// Any other 4xx: retrying the same request cannot help.
    Refused,
}

// ---------------------------------------------------------------------------------------------
// The state machine

/// The registration state machine; see the module docs.
#[derive(Debug, Clone)]
pub struct PushClient {
    config: Config,
    state: PersistedState,
    in_flight: Option<InFlight>,
    /// The state last handed out in a Persist effect (or restored from).
    persisted: PersistedState,
    shown_status: Option<Status>,
    shown_wake: Option<i64>,
}

impl PushClient {
    /// A client with nothing stored (first start).
    pub fn new(config: Config) -> PushClient {
        PushClient::restore(config, PersistedState::default())
    }

    /// A client continuing from stored state; send [`Event::AppStarted`] next.
    pub fn restore(config: Config, state: PersistedState) -> PushClient {
        PushClient {
            config,
            persisted: state.clone(),
            state,
            in_flight: None,
            shown_status: None,
            shown_wake: None,
        }
    }

    /// The state to persist (the same as the last [`Effect::Persist`]).
    pub fn state(&self) -> &PersistedState {
        &self.state
    }

    /// The configuration this client runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What a UI shows.
    pub fn status(&self) -> Status {
        let s = &self.state;
        let registration = self.current_registration();
        Status {
            signed_in: s.session.is_some(),
            user_id: s.session.as_ref().map(|x| x.user_id.clone()),
            token: s.device.as_ref().map(|d| d.token.clone()),
            registered: registration.is_some(),
            last_registered_at_ms: registration.map(|r| r.at_ms),
            pending_unregisters: s.pending_unregisters.len() as u32,
            last_error: s.last_error.clone(),
            notifications_disabled: s.notifications_disabled,
        }
    }

    /// Feeds one event; returns what the shell must do, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let now = event.now_ms();
        let mut session_ended = false;
        match event {
            Event::AppStarted { .. } => {
                // The shell may have lost its timer and its UI: tell it both again.
                self.shown_wake = None;
                self.shown_status = None;
            }
            Event::SignedIn {
                session_token,
                user_id,
                ..
            } => self.sign_in(Session {
                token: Secret(session_token),
                user_id,
            }),
            Event::TokenIssued {
                token,
                platform,
                subscription,
                keys,
                ..
            } => self.token_issued(DeviceToken {
                token,
                platform,
                subscription,
                keys,
            }),
            Event::SigningOut { .. } => self.sign_out(),
            Event::HttpResponse {
                request_id,
                outcome,
                random,
                ..
            } => {
                let Some(flight) = self.in_flight.take_if(|f| f.id == request_id) else {
                    // Stale: answered already, or sent before a restart.
                    return Vec::new();
                };
                session_ended = self.on_response(now, random, flight.id, flight.op, &outcome);
            }
            // That timer is spent: name the next one even if it is the same time again.
            Event::TimerFired { .. } => self.shown_wake = None,
            Event::DeviceUnknown { .. } => {
                if self.state.registration.take().is_some() {
                    self.reset_register_retry();
                }
            }
            Event::NotificationsDisabled { .. } => self.disable_notifications(),
            Event::NotificationsEnabled { .. } => self.state.notifications_disabled = false,
        }
        let request = self.next_request(now);
        self.effects(now, request, session_ended)
    }

    // --- events ------------------------------------------------------------------------------

    fn sign_in(&mut self, session: Session) {
        match &self.state.session {
            Some(old) if *old == session => return,
            // Another user on the same device: remove the token from the previous user as a
            // sign-out would, in case registering it for the new user fails.
            Some(old) if old.user_id != session.user_id => self.sign_out(),
            // Same user, new session token: the registration belongs to the user, keep it.
            _ => {}
        }
        self.state.session = Some(session);
        self.reset_register_retry();
    }

    fn token_issued(&mut self, device: DeviceToken) {
        // Turned off: a token the platform still hands out (a subscription the browser kept,
        // a refresh) must not register the device again.
        if self.state.notifications_disabled || self.state.device.as_ref() == Some(&device) {
            return;
        }
        if let Some(old) = self.state.device.take()
            && old.token != device.token
            && let Some(session) = &self.state.session
        {
            let session_token = session.token.clone();
            self.queue_unregister(old.token, session_token);
        }
        if let Some(session) = &self.state.session {
            // The token came back (t1 → t2 → t1): its queued removal is no longer wanted. If
            // that removal is in flight, the registration below is sent after it.
            let session_token = session.token.clone();
            self.state
                .pending_unregisters
                .retain(|u| u.token != device.token || u.session_token != session_token);
        }
        // A registration of an earlier token says nothing about this one, even if the
        // platform hands that earlier token out again later.
        self.state.registration = None;
        self.state.device = Some(device);
        self.reset_register_retry();
    }

    fn disable_notifications(&mut self) {
        self.state.notifications_disabled = true;
        // As a sign-out does for the token, but the session stays.
        if let Some(device) = self.state.device.take()
            && let Some(session) = &self.state.session
        {
            let session_token = session.token.clone();
            self.queue_unregister(device.token, session_token);
        }
        self.state.registration = None;
        self.reset_register_retry();
    }

    fn sign_out(&mut self) {
        let Some(session) = self.state.session.take() else {
            return;
        };
        // Queued even if no register ever succeeded: one may have reached the server without
        // its answer reaching us, and an unknown device costs only a 404.
        if let Some(device) = &self.state.device {
            let token = device.token.clone();
            self.queue_unregister(token, session.token);
        }
        self.state.registration = None;
        self.reset_register_retry();
    }

    fn queue_unregister(&mut self, token: String, session_token: Secret) {
        let pending = &mut self.state.pending_unregisters;
        if pending
            .iter()
            .any(|u| u.token == token && u.session_token == session_token)
        {
            return;
        }
        let max = self.config.max_pending_unregisters.max(1) as usize;
        if pending.len() >= max {
            pending.drain(..=pending.len() - max);
        }
        pending.push(PendingUnregister {
            token,
            session_token,
            queued_before_request: self.state.next_request_id,
            retry: Retry::default(),
        });
    }

    /// Returns whether the current session ended.
    fn on_response(
        &mut self,
        now: i64,
        random: f64,
        id: u64,
        op: Op,
        outcome: &HttpOutcome,
    ) -> bool {
        let verdict = verdict(op_kind(&op), outcome);
        match op {
            Op::Register { device, session } => {
                let current = self.state.session.as_ref() == Some(&session)
                    && self.state.device.as_ref() == Some(&device);
                if verdict == Verdict::Success {
                    // The server upserts by token, so the token now belongs to this user:
                    // older unregisters of it would delete the new owner's device.
                    self.state
                        .pending_unregisters
                        .retain(|u| u.token != device.token || u.queued_before_request > id);
                }
                if !current {
                    // Signed out or token changed meanwhile: the unregister queued then
                    // undoes a success, and the new context has its own retries.
                    return false;
                }
                match verdict {
                    Verdict::Success => {
                        self.state.registration = Some(Registration {
                            device,
                            user_id: session.user_id,
                            at_ms: now,
                        });
                        self.state.register_retry = Retry::default();
                        self.state.last_error = None;
                    }
                    Verdict::Unauthorized => {
                        self.report(now, Operation::Register, outcome, false);
                        self.end_session();
                        return true;
                    }
                    Verdict::DeviceNotFound | Verdict::Transient => {
                        if verdict == Verdict::DeviceNotFound {
                            self.state.registration = None;
                        }
                        // A failed 7-day refresh keeps the old registration: the server most
                        // likely still has it, and it stays due, so the retry still happens.
                        self.state.register_retry =
                            self.backoff(&self.state.register_retry, now, random);
                        self.report(now, Operation::Register, outcome, true);
                    }
                    Verdict::Refused => {
                        self.state.register_refused = true;
                        self.report(now, Operation::Register, outcome, false);
                    }
                }
                false
            }
            Op::Unregister {
                token,
                session_token,
            } => {
                let index = self
                    .state
                    .pending_unregisters
                    .iter()
                    .position(|u| u.token == token && u.session_token == session_token);
                match verdict {
                    // device_not_found: already gone, which is what we wanted.
                    Verdict::Success | Verdict::DeviceNotFound => {
                        if let Some(i) = index {
                            self.state.pending_unregisters.remove(i);
                        }
                        false
                    }
                    // The session was revoked or expired. Every later attempt with it fails
                    // the same way and no other credential may act for that user, so the
                    // unregister is dropped; the server is expected to drop a user's devices
                    // when it ends their session.
                    Verdict::Unauthorized => {
                        self.state
                            .pending_unregisters
                            .retain(|u| u.session_token != session_token);
                        self.report(now, Operation::Unregister, outcome, false);
                        let current = self
                            .state
                            .session
                            .as_ref()
                            .is_some_and(|s| s.token == session_token);
                        if current {
                            self.end_session();
                        }
                        current
                    }
                    Verdict::Transient => {
                        if let Some(i) = index {
                            let retry =
                                self.backoff(&self.state.pending_unregisters[i].retry, now, random);
                            self.state.pending_unregisters[i].retry = retry;
                        }
                        self.report(now, Operation::Unregister, outcome, true);
                        false
                    }
                    Verdict::Refused => {
                        if let Some(i) = index {
                            self.state.pending_unregisters.remove(i);
                        }
                        self.report(now, Operation::Unregister, outcome, false);
                        false
                    }
                }
            }
        }
    }

    /// The server refused the current session: forget it without trying to unregister.
    fn end_session(&mut self) {
        if let Some(session) = self.state.session.take() {
            self.state
                .pending_unregisters
                .retain(|u| u.session_token != session.token);
        }
        self.state.registration = None;
        self.reset_register_retry();
    }

    fn reset_register_retry(&mut self) {
        self.state.register_retry = Retry::default();
        self.state.register_refused = false;
    }

    fn report(&mut self, now: i64, operation: Operation, outcome: &HttpOutcome, will_retry: bool) {
        let (status, code, message) = match outcome {
            HttpOutcome::Response { status, body } => {
                let code = error_code(body).map(str::to_owned);
                let message = match &code {
                    Some(code) => format!("HTTP {status}: {code}"),
                    None => format!("HTTP {status}"),
                };
                (Some(*status), code, message)
            }
            HttpOutcome::NetworkError { message } => (None, None, message.clone()),
        };
        self.state.last_error = Some(LastError {
            operation,
            status,
            code,
            message,
            at_ms: now,
            will_retry,
        });
    }

    /// The next retry after one more failure ([`crate::backoff::delay_ms`]).
    fn backoff(&self, retry: &Retry, now: i64, random: f64) -> Retry {
        let failures = retry.failures.saturating_add(1);
        let delay = crate::backoff::delay_ms(
            i64::from(failures),
            self.config.backoff_base_ms,
            self.config.backoff_cap_ms,
            random,
        );
        Retry {
            failures,
            next_at_ms: now.saturating_add(delay),
        }
    }

    // --- deciding what to send ---------------------------------------------------------------

    /// The registration of the current device for the current user, if the server has it.
    fn current_registration(&self) -> Option<&Registration> {
        let s = &self.state;
        let reg = s.registration.as_ref()?;
        let session = s.session.as_ref()?;
        (Some(&reg.device) == s.device.as_ref() && reg.user_id == session.user_id).then_some(reg)
    }

    /// When the current registration goes stale; `None` if there is none.
    fn registration_refresh_at(&self, now: i64) -> Option<i64> {
        let reg = self.current_registration()?;
        // A success "in the future" means the clock went back: refresh rather than wait.
        if reg.at_ms > now {
            return Some(now);
        }
        Some(reg.at_ms.saturating_add(self.config.reregister_after_ms))
    }

    /// When a register may be sent (backoff, rate limit); `None` if none is needed.
    fn register_ready_at(&self, now: i64) -> Option<i64> {
        let s = &self.state;
        if s.session.is_none() || s.device.is_none() || s.register_refused {
            return None;
        }
        if let Some(refresh_at) = self.registration_refresh_at(now)
            && refresh_at > now
        {
            return None;
        }
        Some(s.register_retry.next_at_ms.max(self.rate_limit_until(now)))
    }

    /// Until when the register rate limit blocks.
    fn rate_limit_until(&self, now: i64) -> i64 {
        let max = self.config.max_registers_per_window as usize;
        let mut recent: Vec<i64> = self.recent_register_calls(now).collect();
        if recent.len() < max {
            return i64::MIN;
        }
        // Insertion sort: the list is short (pruned to one window), and unlike `sort_unstable`
        // it adds almost no code to the wasm build.
        for i in 1..recent.len() {
            let mut j = i;
            while j > 0 && recent[j - 1] > recent[j] {
                recent.swap(j - 1, j);
                j -= 1;
            }
        }
        // Blocked until enough of the recent calls leave the window.
        recent
            .get(recent.len() - max)
            .map_or(i64::MAX, |t| t.saturating_add(self.config.rate_window_ms))
    }

    fn recent_register_calls(&self, now: i64) -> impl Iterator<Item = i64> + '_ {
        let window_start = now.saturating_sub(self.config.rate_window_ms);
        // Calls "in the future" (clock went back) are ignored rather than lock us out.
        self.state
            .register_calls
            .iter()
            .copied()
            .filter(move |t| *t > window_start && *t <= now)
    }

    /// Picks the next request, if nothing is in flight. Registering comes first: it is what
    /// the signed-in user is waiting for, and its success may make queued unregisters moot.
    fn next_request(&mut self, now: i64) -> Option<HttpRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        let op = if self.register_ready_at(now).is_some_and(|t| t <= now) {
            let s = &self.state;
            Op::Register {
                device: s.device.clone()?,
                session: s.session.clone()?,
            }
        } else {
            let u = self
                .state
                .pending_unregisters
                .iter()
                .find(|u| u.retry.next_at_ms <= now)?;
            Op::Unregister {
                token: u.token.clone(),
                session_token: u.session_token.clone(),
            }
        };
        if matches!(op, Op::Register { .. }) {
            let recent: Vec<i64> = self.recent_register_calls(now).collect();
            self.state.register_calls = recent;
            self.state.register_calls.push(now);
        }
        let id = self.state.next_request_id;
        self.state.next_request_id += 1;
        let request = op.request(id);
        self.in_flight = Some(InFlight { id, op });
        Some(request)
    }

    /// The next time something becomes due, when nothing is in flight.
    fn next_wake(&self, now: i64) -> Option<i64> {
        if self.in_flight.is_some() {
            return None;
        }
        let register = self
            .register_ready_at(now)
            .or_else(|| self.registration_refresh_at(now));
        let unregister = self
            .state
            .pending_unregisters
            .iter()
            .map(|u| u.retry.next_at_ms)
            .min();
        [register, unregister]
            .into_iter()
            .flatten()
            .filter(|t| *t > now && *t < i64::MAX)
            .min()
    }

    fn effects(
        &mut self,
        now: i64,
        request: Option<HttpRequest>,
        session_ended: bool,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.state != self.persisted {
            self.persisted = self.state.clone();
            effects.push(Effect::Persist {
                state: Box::new(self.state.clone()),
            });
        }
        if let Some(request) = request {
            effects.push(Effect::Http { request });
        }
        if let Some(at_ms) = self.next_wake(now)
            && self.shown_wake != Some(at_ms)
        {
            self.shown_wake = Some(at_ms);
            effects.push(Effect::WakeAt { at_ms });
        }
        if session_ended {
            effects.push(Effect::SessionEnded);
        }
        let status = self.status();
        if self.shown_status.as_ref() != Some(&status) {
            self.shown_status = Some(status.clone());
            effects.push(Effect::StatusChanged { status });
        }
        effects
    }
}

impl Op {
    fn request(&self, id: u64) -> HttpRequest {
        match self {
            Op::Register { device, session } => HttpRequest {
                id,
                method: HttpMethod::Post,
                path: REGISTER_DEVICE_PATH.to_owned(),
                bearer_token: session.token.0.clone(),
                body: RequestBody::Register(RegisterDeviceRequest {
                    token: device.token.clone(),
                    platform: device.platform,
                    subscription: device.subscription.clone(),
                    keys: device.keys.clone(),
                }),
            },
            Op::Unregister {
                token,
                session_token,
            } => HttpRequest {
                id,
                method: HttpMethod::Delete,
                path: REGISTER_DEVICE_PATH.to_owned(),
                bearer_token: session_token.0.clone(),
                body: RequestBody::Unregister(UnregisterDeviceRequest {
                    token: token.clone(),
                }),
            },
        }
    }
}

fn op_kind(op: &Op) -> Operation {
    match op {
        Op::Register { .. } => Operation::Register,
        Op::Unregister { .. } => Operation::Unregister,
    }
}

fn verdict(operation: Operation, outcome: &HttpOutcome) -> Verdict {
    let HttpOutcome::Response { status, body } = outcome else {
        return Verdict::Transient;
    };
    match status {
        200..=299 => Verdict::Success,
        401 => Verdict::Unauthorized,
        404 if error_code(body) == Some(ERROR_DEVICE_NOT_FOUND) => Verdict::DeviceNotFound,
        // A bare 404 on DELETE (no error body, e.g. from a proxy) cannot be told apart from
        // "already gone"; retrying would not change it either.
        404 if operation == Operation::Unregister => Verdict::Refused,
        408 | 429 => Verdict::Transient,
        400..=499 => Verdict::Refused,
        // 5xx, and 1xx/3xx that a captive portal or a broken proxy may produce.
        _ => Verdict::Transient,
    }
}

/// The `code` of an error body `{"error":{"code":"…","message":"…"}}`.
///
/// A small scan instead of a JSON parser keeps serde_json out of the wasm build. It looks for
/// a `"code"` key followed by a snake_case string; inside a JSON string a quote is escaped, so
/// a message cannot fake the key.
pub fn error_code(body: &str) -> Option<&str> {
    const KEY: &str = "\"code\"";
    // Byte-wise and with `get` rather than indexing or `match_indices`: the same matches
    // (non-overlapping, left to right), without the code those pull into the wasm build.
    let bytes = body.as_bytes();
    let mut from = 0;
    while let Some(found) = bytes
        .get(from..)?
        .windows(KEY.len())
        .position(|w| w == KEY.as_bytes())
    {
        from += found + KEY.len();
        // `from` follows an ASCII quote, so it is a char boundary.
        if let Some(code) = code_after_key(body.get(from..)?) {
            return Some(code);
        }
    }
    None
}

/// The snake_case string value after a `"code"` key: `: "…"`.
fn code_after_key(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix(':')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let code = rest.get(..rest.bytes().position(|b| b == b'"')?)?;
    let snake = !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    snake.then_some(code)
}

pub mod runner;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
