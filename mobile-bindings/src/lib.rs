//! Gatebell's mobile shell: the push client core behind UniFFI, for Kotlin, Swift and a React
//! Native TurboModule.
//!
//! The crate is thin on purpose. Every rule (when to register, retry, unregister, where a tap
//! leads) lives in `gatebell-core`; this crate only performs the core's effects through
//! interfaces the host app implements ([`HttpTransport`], [`KeyValueStore`],
//! [`PushClientListener`]), reads the clock and a random number, and converts types at the
//! boundary.

mod client;
mod display;
mod encryption;
mod error;
mod host;
mod routing;
mod status;

pub use client::PushClient;
pub use display::{
    NotificationAction, NotificationContent, NotificationSetup, decision_notification,
    notification_content, notification_setup,
};
pub use encryption::{PushKeys, decrypt_push_data, generate_push_keys};
pub use error::GatebellError;
pub use host::{
    ClientUpdate, HttpRequest, HttpResponse, HttpTransport, KeyValueStore, PushClientListener,
};
pub use routing::{Route, route_api_path, route_deep_link, route_for};
pub use status::{LastError, MobilePlatform, Operation, Status};

uniffi::setup_scaffolding!();
