//! The `PushClient` object: runs the core's state machine and performs its effects through
//! the host's transport, store and listener.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use gatebell_core::client::{self as core, Config, Effect, Event, HttpOutcome};

use crate::error::GatebellError;
use crate::host::{ClientUpdate, HttpTransport, KeyValueStore, PushClientListener};
use crate::status::{MobilePlatform, Status};

/// The key under which the client's state is stored.
pub const STATE_KEY: &str = "gatebell.push.state";

/// Keeps this device's push token registered with the Gatebell server for whoever is signed
/// in. Run one per app process. Every call returns once the requests it caused have been
/// answered, with the status after them.
#[derive(uniffi::Object)]
pub struct PushClient {
    transport: Arc<dyn HttpTransport>,
    store: Arc<dyn KeyValueStore>,
    listener: Arc<dyn PushClientListener>,
    /// `None` until the stored state has been read (on the first call).
    core: Mutex<Option<core::PushClient>>,
    wake_at: Mutex<Option<i64>>,
    /// Held by the call that is running the core; the others wait their turn, so only one
    /// request is ever in flight, as the core expects.
    turn: async_lock::Mutex<()>,
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
            transport,
            store,
            listener,
            core: Mutex::new(None),
            wake_at: Mutex::new(None),
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
    pub async fn token_issued(
        &self,
        token: String,
        platform: MobilePlatform,
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

    /// The timer of the last `WakeAt` fired (early or late is harmless).
    pub async fn timer_fired(&self) -> Result<Status, GatebellError> {
        self.dispatch(|now_ms| Some(Event::TimerFired { now_ms }))
            .await
    }

    /// The registration status now (before the first call: nothing stored yet is known).
    pub fn status(&self) -> Status {
        match &*lock(&self.core) {
            Some(core) => core.status().into(),
            None => core::PushClient::new(Config::default()).status().into(),
        }
    }

    /// When to call `timer_fired()` (epoch ms), as last announced by `WakeAt`.
    pub fn next_wake_at_ms(&self) -> Option<i64> {
        *lock(&self.wake_at)
    }
}

impl PushClient {
    /// Feeds one event (made once it is this call's turn, so its time is current) and runs
    /// the core until every request it caused has been answered.
    ///
    /// A failure of the store or the transport does not stop the loop: an unanswered request
    /// would stall the core. The first one is returned once the loop is done.
    async fn dispatch(
        &self,
        event: impl FnOnce(i64) -> Option<Event>,
    ) -> Result<Status, GatebellError> {
        let _turn = self.turn.lock().await;
        let mut queue = VecDeque::new();
        if lock(&self.core).is_none() {
            let state = self.load().await?;
            *lock(&self.core) = Some(core::PushClient::restore(Config::default(), state));
            queue.push_back(Event::AppStarted { now_ms: now_ms() });
        }
        queue.extend(event(now_ms()));
        let mut failure = None;
        while let Some(event) = queue.pop_front() {
            let effects = match &mut *lock(&self.core) {
                Some(core) => core.handle(event),
                None => Vec::new(),
            };
            for effect in effects {
                if let Err(e) = self.perform(effect, &mut queue).await {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or_else(|| Ok(self.status()), Err)
    }

    /// The stored state. Unreadable state starts afresh rather than failing every call for
    /// ever; the server tolerates a device registered twice.
    async fn load(&self) -> Result<core::PersistedState, GatebellError> {
        let stored = self.store.get(STATE_KEY.to_owned()).await?;
        Ok(stored
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    async fn perform(
        &self,
        effect: Effect,
        queue: &mut VecDeque<Event>,
    ) -> Result<(), GatebellError> {
        match effect {
            Effect::Persist { state } => {
                let json = serde_json::to_string(&*state).map_err(|e| GatebellError::Storage {
                    reason: e.to_string(),
                })?;
                self.store.set(STATE_KEY.to_owned(), json).await?;
            }
            Effect::Http { request } => {
                let id = request.id;
                let answer = self.transport.send(request.into()).await;
                let outcome = match &answer {
                    Ok(response) => HttpOutcome::Response {
                        status: response.status,
                        body: response.body.clone(),
                    },
                    Err(e) => HttpOutcome::NetworkError {
                        message: e.reason().to_owned(),
                    },
                };
                queue.push_back(Event::HttpResponse {
                    now_ms: now_ms(),
                    request_id: id,
                    outcome,
                    random: random(),
                });
                answer?;
            }
            Effect::WakeAt { at_ms } => {
                *lock(&self.wake_at) = Some(at_ms);
                self.listener.on_update(ClientUpdate::WakeAt { at_ms });
            }
            Effect::SessionEnded => self.listener.on_update(ClientUpdate::SessionEnded),
            Effect::StatusChanged { status } => {
                self.listener.on_update(ClientUpdate::StatusChanged {
                    status: status.into(),
                });
            }
        }
        Ok(())
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
    fn transport_error_is_returned_after_the_core_recorded_it() {
        let store = Arc::new(Memory::default());
        let listener = Arc::new(Recorder::default());
        let client = PushClient::new(Arc::new(Offline), store.clone(), listener.clone());
        pollster::block_on(client.sign_in("s".into(), "u".into())).unwrap();
        let result = pollster::block_on(client.token_issued("t".into(), MobilePlatform::Android));
        assert_eq!(
            result,
            Err(GatebellError::Network {
                reason: "offline".into()
            })
        );
        let status = client.status();
        let last_error = status.last_error.unwrap();
        assert!(last_error.will_retry);
        assert_eq!(last_error.reason, "offline");
        let wake = client.next_wake_at_ms().expect("a retry is scheduled");
        assert!(lock(&listener.0).contains(&ClientUpdate::WakeAt { at_ms: wake }));
        assert!(lock(&store.0).contains_key(STATE_KEY));
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
