//! The core's status and platform, as records the bindings can carry.

use gatebell_core::client as core;
use gatebell_core::protocol::Platform;

/// Which push service issued the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum MobilePlatform {
    /// FCM on Android.
    Android,
    /// FCM (or APNs through FCM) on iOS.
    Ios,
}

impl From<MobilePlatform> for Platform {
    fn from(platform: MobilePlatform) -> Platform {
        match platform {
            MobilePlatform::Android => Platform::Android,
            MobilePlatform::Ios => Platform::Ios,
        }
    }
}

/// Which server call an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Operation {
    Register,
    Unregister,
}

/// The last failure, for UIs and logs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LastError {
    pub operation: Operation,
    /// The HTTP status; none for a network error.
    pub status: Option<u16>,
    /// The error body's code (`validation`, …) when there was one.
    pub code: Option<String>,
    /// The network error's text, or a short description of the answer.
    pub reason: String,
    pub at_ms: i64,
    /// Whether the client will try again by itself.
    pub will_retry: bool,
}

/// What a UI shows about push registration.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Status {
    pub signed_in: bool,
    pub user_id: Option<String>,
    /// The current push token, if the platform issued one.
    pub token: Option<String>,
    /// The server has the current token for the signed-in user (as far as the client knows).
    pub registered: bool,
    /// Epoch ms of the last successful registration of the current token and user.
    pub last_registered_at_ms: Option<i64>,
    /// Tokens still to be removed from the server (signed-out sessions, refreshed tokens).
    pub pending_unregisters: u32,
    pub last_error: Option<LastError>,
    /// The user turned notifications off on this device (`disable_notifications`); tokens
    /// are ignored until `enable_notifications`.
    pub notifications_disabled: bool,
}

impl From<core::Operation> for Operation {
    fn from(operation: core::Operation) -> Operation {
        match operation {
            core::Operation::Register => Operation::Register,
            core::Operation::Unregister => Operation::Unregister,
        }
    }
}

impl From<core::LastError> for LastError {
    fn from(e: core::LastError) -> LastError {
        LastError {
            operation: e.operation.into(),
            status: e.status,
            code: e.code,
            reason: e.message,
            at_ms: e.at_ms,
            will_retry: e.will_retry,
        }
    }
}

impl From<core::Status> for Status {
    fn from(s: core::Status) -> Status {
        Status {
            signed_in: s.signed_in,
            user_id: s.user_id,
            token: s.token,
            registered: s.registered,
            last_registered_at_ms: s.last_registered_at_ms,
            pending_unregisters: s.pending_unregisters,
            last_error: s.last_error.map(LastError::from),
            notifications_disabled: s.notifications_disabled,
        }
    }
}
