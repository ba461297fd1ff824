//! The `PushClient` object: the core's [`Runner`] with the host's transport, store and
//! listener as its [`Shell`].

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use gatebell_core::client::runner::{Runner, Shell};
use gatebell_core::client::{self as core, Config, Event, HttpOutcome};
use gatebell_core::protocol::WebPushKeys;

use crate::encryption::PushKeys;
use crate::error::GatebellError;
use crate::host::{ClientUpdate, HttpTransport, KeyValueStore, PushClientListener};
use crate::status::{MobilePlatform, Status};

/// The key under which the client's state is stored.
pub const STATE_KEY: &str = "gatebell.push.state";

/// Keeps this device's push token registered with the Gatebell server for whoever is signed
/// in. Run one per app process. Every call returns once the requests it caused have been
/// answered, with the status after them; a request that got no answer is in that status
/// (`last_error`, retried on the timer), not an error of the call.
#[derive(uniffi::Object)]
pub struct PushClient {
    host: Host,
    runner: Runner,
    /// Held by the call that is running the core; the others wait their turn, so only one
    /// request is ever in flight, as the core expects.
    turn: async_lock::Mutex<()>,
}

/// The host app's callbacks, as the runner's [`Shell`].
struct Host {
    transport: Arc<dyn HttpTransport>,
    store: Arc<dyn KeyValueStore>,
    listener: Arc<dyn PushClientListener>,
    wake_at: Mutex<Option<i64>>,
}

#[uniffi::export]
impl PushClient {
    /// A client that sends with `transport`, keeps its state in `store` and tells `listener`
    /// about updates. Nothing is read until the first call; call `start()` at app launch.
    #[uniffi::constructor]
    pub fn new(
        transport: Arc<dyn HttpTransport>,
        store: Arc<dyn KeyValueStore>,
        listener: Arc<dyn PushClientListener>,
    ) -> Arc<PushClient> {
        Arc::new(PushClient {
            host: Host {
                transport,
                store,
                listener,
                wake_at: Mutex::new(None),
            },
            runner: Runner::new(Config::default()),
            turn: async_lock::Mutex::new(()),
        })
    }

    /// At launch and when the app comes to the foreground: reads the stored state and retries
    /// whatever is due (unregisters left over, the 7-day re-registration).
    pub async fn start(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::AppStarted { now_ms }))
            .await
    }

    /// A user signed in with this bearer token (from `POST /api/v1/auth/login`).
    pub async fn sign_in(
        &self,
        session_token: String,
        user_id: String,
    ) -> Result<Status, GatebellError> {
        if session_token.is_empty() || user_id.is_empty() {
            return Err(GatebellError::InvalidArgument {
                reason: "sign_in needs a session token and a user id".into(),
            });
        }
        self.dispatch(|now_ms| {
            Some(Event::SignedIn {
                now_ms,
                session_token,
                user_id,
            })
        })
        .await
    }

    /// The platform issued a push token: the first one (`getToken`), a refreshed one
    /// (`onTokenRefresh`), or the same again. A refreshed token replaces the old one.
    /// With `keys` (from `generatePushKeys`, stored by the app) the server encrypts every push
    /// to this device and FCM sees no visitor names; `decryptPushData` reads them. Without,
    /// pushes travel in clear text.
    pub async fn token_issued(
        &self,
        token: String,
        platform: MobilePlatform,
        keys: Option<PushKeys>,
    ) -> Result<Status, GatebellError> {
        if token.is_empty() {
            return Err(GatebellError::InvalidArgument {
                reason: "token_issued needs a token".into(),
            });
        }
        self.dispatch(|now_ms| {
            Some(Event::TokenIssued {
                now_ms,
                token,
                platform: platform.into(),
                subscription: None,
                keys: keys.map(|k| WebPushKeys {
                    p256dh: k.p256dh,
                    auth: k.auth,
                }),
            })
        })
        .await
    }

    /// The user is signing out: removes this device from their account. Revoke the session
    /// (`POST /api/v1/auth/logout`) only after this returns with `pending_unregisters == 0`
    /// (or after a short timeout), so the unregister is still authorised.
    pub async fn sign_out(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::SigningOut { now_ms }))
            .await
    }

    /// The user turned notifications off on this device: unregisters the current token (the
    /// session stays signed in), and ignores tokens issued later, across restarts, until
    /// `enable_notifications()`. Delete the platform token afterwards (`deleteToken`).
    pub async fn disable_notifications(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::NotificationsDisabled { now_ms }))
            .await
    }

    /// The user turned notifications back on: call `token_issued` with the platform's
    /// token next.
    pub async fn enable_notifications(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::NotificationsEnabled { now_ms }))
            .await
    }

    /// The timer of the last `WakeAt` fired (early or late is harmless).
    pub async fn timer_fired(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::TimerFired { now_ms }))
            .await
    }

    /// The registration status now (before the first call: nothing stored yet is known).
    pub fn status(&self) -> Status {
        self.runner.status().into()
    }

    /// When to call `timer_fired()` (epoch ms), as last announced by `WakeAt`.
    pub fn next_wake_at_ms(&self) -> Option<i64> {
        *lock(&self.host.wake_at)
    }
}

impl PushClient {
    /// Feeds one event (made once it is this call's turn, so its time is current) and runs
    /// the core until every request it caused has been answered.
    async fn dispatch(
        &self,
        event: impl FnOnce(i64) -> Option<Event>,
    ) -> Result<Status, GatebellError> {
        let _turn = self.turn.lock().await;
        if let Some(event) = event(now_ms()) {
            self.runner.enqueue(event);
        }
        Ok(self.runner.run(&self.host).await?.into())
    }
}

impl Shell for Host {
    type Error = GatebellError;

    /// Unreadable state starts afresh rather than failing every call for ever; the server
    /// tolerates a device registered twice.
    async fn load(&self) -> Result<Option<core::PersistedState>, GatebellError> {
        let stored = self.store.get(STATE_KEY.to_owned()).await?;
        Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn persist(&self, state: &core::PersistedState) -> Result<(), GatebellError> {
        let json = serde_json::to_string(state).map_err(|e| GatebellError::Storage {
            reason: e.to_string(),
        })?;
        self.store.set(STATE_KEY.to_owned(), json).await
    }

    /// `GatebellError::Network` is "no answer"; anything else the transport throws is the
    /// host's bug, which the call reports.
    async fn http(&self, request: &core::HttpRequest) -> Result<HttpOutcome, GatebellError> {
        match self.transport.send(request.clone().into()).await {
            Ok(response) => Ok(HttpOutcome::Response {
                status: response.status,
                body: response.body,
            }),
            Err(GatebellError::Network { reason }) => {
                Ok(HttpOutcome::NetworkError { message: reason })
            }
            Err(e) => Err(e),
        }
    }

    async fn session_ended(&self) -> Result<(), GatebellError> {
        self.listener.on_update(ClientUpdate::SessionEnded);
        Ok(())
    }

    fn wake_at(&self, at_ms: i64) {
        *lock(&self.wake_at) = Some(at_ms);
        self.listener.on_update(ClientUpdate::WakeAt { at_ms });
    }

    fn status_changed(&self, status: &core::Status) {
        self.listener.on_update(ClientUpdate::StatusChanged {
            status: status.clone().into(),
        });
    }

    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn random(&self) -> f64 {
        random()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (each critical section
/// is a single assignment or `handle` call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Now, in epoch milliseconds.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A number uniform in `[0, 1)` for retry jitter. `RandomState` is seeded from the OS and
/// differs per call; jitter needs spread, not cryptographic strength.
fn random() -> f64 {
    let bits = RandomState::new().hash_one(now_ms());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::host::{HttpRequest, HttpResponse};

    struct Offline;

    #[async_trait::async_trait]
    impl HttpTransport for Offline {
        async fn send(&self, _: HttpRequest) -> Result<HttpResponse, GatebellError> {
            Err(GatebellError::Network {
                reason: "offline".into(),
            })
        }
    }

    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, String>>);

    #[async_trait::async_trait]
    impl KeyValueStore for Memory {
        async fn get(&self, key: String) -> Result<Option<String>, GatebellError> {
            Ok(lock(&self.0).get(&key).cloned())
        }
        async fn set(&self, key: String, value: String) -> Result<(), GatebellError> {
            lock(&self.0).insert(key, value);
            Ok(())
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<ClientUpdate>>);

    impl PushClientListener for Recorder {
        fn on_update(&self, update: ClientUpdate) {
            lock(&self.0).push(update);
        }
    }

    #[test]
    fn network_error_resolves_with_a_retrying_status() {
        let store = Arc::new(Memory::default());
        let listener = Arc::new(Recorder::default());
        let client = PushClient::new(Arc::new(Offline), store.clone(), listener.clone());
        pollster::block_on(client.sign_in("s".into(), "u".into())).unwrap();
        let status =
            pollster::block_on(client.token_issued("t".into(), MobilePlatform::Android, None))
                .expect("no answer is a status, not an error");
        assert!(!status.registered);
        let last_error = status.last_error.unwrap();
        assert!(last_error.will_retry);
        assert_eq!(last_error.reason, "offline");
        let wake = client.next_wake_at_ms().expect("a retry is scheduled");
        assert!(lock(&listener.0).contains(&ClientUpdate::WakeAt { at_ms: wake }));
        assert!(lock(&store.0).contains_key(STATE_KEY));
    }

    #[test]
    fn disabled_notifications_ignore_tokens_until_enabled() {
        let client = PushClient::new(
            Arc::new(Offline),
            Arc::new(Memory::default()),
            Arc::new(Recorder::default()),
        );
        pollster::block_on(client.sign_in("s".into(), "u".into())).unwrap();
        let status = pollster::block_on(client.disable_notifications()).unwrap();
        assert!(status.notifications_disabled);
        let status =
            pollster::block_on(client.token_issued("t".into(), MobilePlatform::Android, None))
                .unwrap();
        assert_eq!(status.last_error, None, "no registration was tried");
        let status = pollster::block_on(client.enable_notifications()).unwrap();
        assert!(!status.notifications_disabled);
        assert!(status.signed_in);
    }

    #[test]
    fn unreadable_state_starts_afresh() {
        let store = Arc::new(Memory::default());
        lock(&store.0).insert(STATE_KEY.into(), "not json".into());
        let client = PushClient::new(Arc::new(Offline), store, Arc::new(Recorder::default()));
        let status = pollster::block_on(client.start()).unwrap();
        assert!(!status.signed_in);
    }

    #[test]
    fn random_stays_in_the_unit_interval() {
        assert!((0..1000).map(|_| random()).all(|r| (0.0..1.0).contains(&r)));
    }
}
