//! The body of every error answer, and the codes a client acts on.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The body of every error answer: `{ "error": { "code", "message" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorDetail {
    /// Stable, snake_case: `unauthorized`, `validation`, `conflict`, `device_not_found`, …
    pub code: String,
    pub message: String,
}

/// Error code the server uses when a device token is not registered (the client re-registers).
pub const ERROR_DEVICE_NOT_FOUND: &str = "device_not_found";
