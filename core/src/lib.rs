//! Gatebell's shared brain: the types that cross every wire ([`protocol`]), the client's
//! registration state machine ([`client`]) and notification-tap routing ([`routing`]).
//!
//! No I/O and no async runtime live here: the server, the wasm package and the mobile
//! bindings are thin shells around these modules.

pub mod backoff;
pub mod client;
pub mod protocol;
pub mod routing;
