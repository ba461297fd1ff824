//! The one error type at the boundary.

/// A failure a call reports. Fields are named `reason`, not `message`: Kotlin exceptions
/// already have a `message` property and the generated code would not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum GatebellError {
    /// Thrown by the host's transport when it got no answer (offline, DNS, TLS, timeout).
    /// The client records it in `Status.last_error`, retries by itself, and the call resolves:
    /// calls never reject with it.
    #[error("network error: {reason}")]
    Network { reason: String },
    /// The key-value store could not read or write the client's state.
    #[error("storage error: {reason}")]
    Storage { reason: String },
    /// An argument was empty or malformed.
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },
    /// A host callback threw something other than a `GatebellError`.
    #[error("unexpected error: {reason}")]
    Unexpected { reason: String },
}

impl GatebellError {
    /// The human-readable part, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            GatebellError::Network { reason }
            | GatebellError::Storage { reason }
            | GatebellError::InvalidArgument { reason }
            | GatebellError::Unexpected { reason } => reason,
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for GatebellError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> GatebellError {
        GatebellError::Unexpected { reason: e.reason }
    }
}
