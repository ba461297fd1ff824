//! Local fakes of the services Gatebell talks to: Google's OAuth token endpoint
//! ([`FakeOAuth`]), FCM HTTP v1 ([`FakeFcm`]), a browser push service ([`FakeWebPush`]) and a
//! Twilio-compatible SMS API ([`FakeSms`]); [`tls::TestCa`] makes a certificate authority for
//! one test and serves HTTPS with it.
//!
//! Each fake listens on `127.0.0.1` at a random port, speaks HTTP/1.1 and HTTP/2 with prior
//! knowledge (h2c), checks what the real service checks (signatures, audiences, expiry, payload
//! shape), records every request and can be scripted to fail per token or subscription.
//! A fake stops when its last handle is dropped.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use gatebell_testkit::{FakeFcm, FakeOAuth, FakeWebPush, FcmFailure};
//!
//! let oauth = FakeOAuth::start().await;
//! let fcm = FakeFcm::start(&oauth, "demo-project").await;
//! let credentials = oauth.service_account_json("demo-project"); // for --fcm-credentials
//! let endpoint = fcm.base_url(); // for --fcm-endpoint
//! fcm.fail_token_with("uninstalled-app", FcmFailure::Unregistered);
//!
//! let push = FakeWebPush::start().await;
//! let browser = push.new_subscription(); // register browser.subscription with the server
//! // ... make the server send ...
//! push.wait_for(1, Duration::from_secs(5)).await.unwrap();
//! let shown = &push.delivered_for(&browser.id)[0];
//! assert_eq!(shown.json().unwrap()["type"], "walkin_pending");
//! # let _ = (credentials, endpoint);
//! # }
//! ```

#![warn(missing_docs)]

mod ece;
mod fcm;
mod jwt;
mod oauth;
pub mod sender;
mod server;
mod sms;
pub mod tls;
mod webpush;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use ece::{DecryptError, decrypt_aes128gcm, rfc8291_vector};
pub use fcm::{FakeFcm, FcmFailure, FcmReceived};
pub use oauth::{FakeOAuth, Outage};
pub use sms::{FakeSms, SmsReceived};
pub use webpush::{FakeWebPush, TestSubscription, WebPushFailure, WebPushReceived};

/// `wait_for` gave up: fewer than `wanted` successful deliveries arrived in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How many deliveries were awaited.
    pub wanted: usize,
    /// How many had arrived when the time ran out.
    pub got: usize,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out waiting for {} deliveries, got {}",
            self.wanted, self.got
        )
    }
}

impl std::error::Error for TimedOut {}

/// Counts successful deliveries and wakes waiters, without polling.
#[derive(Default)]
struct Deliveries {
    count: AtomicUsize,
    notify: tokio::sync::Notify,
}

impl Deliveries {
    fn record(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    async fn wait_for(&self, wanted: usize, timeout: Duration) -> Result<(), TimedOut> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before reading the count, so a delivery in between is not lost.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.get() >= wanted {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let got = self.get();
                return if got >= wanted {
                    Ok(())
                } else {
                    Err(TimedOut { wanted, got })
                };
            }
        }
    }
}

// A panicking test thread must not make every later assertion fail on a poisoned lock.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Base64url as JWTs and Web Push use it; decoding also accepts padding, since some clients
/// (gcp_auth) pad their JWT segments.
mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::{DecodePaddingMode, general_purpose::URL_SAFE_NO_PAD};

    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    pub fn encode(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        LENIENT.decode(text).ok()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    b64::encode(buf)
}
