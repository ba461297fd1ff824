//! The API's one error type. Every failure a client can cause becomes a 4xx with a JSON
//! message; only our own faults are 5xx, and those are logged and their details hidden. The
//! answer itself is made in [`crate::http::error`].

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{1}")]
    NotFound(&'static str, String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the service is not available: {0}")]
    Unavailable(String),
    /// 429: too many attempts; the client may retry after this many seconds.
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// 429: too many wrong check-in codes in the window; check-ins resume after this many
    /// seconds.
    #[error("{0}")]
    TooManyWrongCodes(String, u64),
    /// 409: the resident has as many open invitations as allowed.
    #[error("{0}")]
    TooManyOpenInvitations(String),
    /// 503: every slot for this kind of work is busy; retry after this many seconds.
    #[error("the server is busy; try again shortly")]
    Busy(u64),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 with a message.
    pub fn validation(msg: impl Into<String>) -> ApiError {
        ApiError::Validation(msg.into())
    }

    /// A 404 with the generic `not_found` code.
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError::NotFound("not_found", msg.into())
    }

    /// A 403.
    pub fn forbidden(msg: impl Into<String>) -> ApiError {
        ApiError::Forbidden(msg.into())
    }

    /// The HTTP status and the error code of the JSON body.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            ApiError::BadRequest(_) => (400, "bad_request"),
            ApiError::Validation(_) => (422, "validation"),
            ApiError::Unauthorized(_) => (401, "unauthorized"),
            ApiError::Forbidden(_) => (403, "forbidden"),
            ApiError::NotFound(code, _) => (404, code),
            ApiError::Conflict(_) => (409, "conflict"),
            ApiError::Gone(_) => (410, "gone"),
            ApiError::PayloadTooLarge => (413, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (415, "unsupported_media_type"),
            ApiError::MethodNotAllowed(_) => (405, "method_not_allowed"),
            ApiError::Unavailable(_) => (503, "unavailable"),
            ApiError::TooManyRequests(..) => (429, "rate_limited"),
            ApiError::TooManyWrongCodes(..) => (429, "too_many_wrong_codes"),
            ApiError::TooManyOpenInvitations(_) => (409, "too_many_open_invitations"),
            ApiError::Busy(_) => (503, "busy"),
            ApiError::Internal(_) => (500, "internal"),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
