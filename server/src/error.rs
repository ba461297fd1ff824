//! The API's one error type. Every failure a client can cause becomes a 4xx with a JSON
//! message; only our own faults are 5xx, and those are logged and their details hidden.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatebell_core::protocol::{ErrorBody, ErrorDetail};
use serde::de::DeserializeOwned;

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

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(code, _) => (StatusCode::NOT_FOUND, code),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::TooManyRequests(..) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::TooManyWrongCodes(..) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_wrong_codes")
            }
            ApiError::TooManyOpenInvitations(_) => {
                (StatusCode::CONFLICT, "too_many_open_invitations")
            }
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        match e {
            sqlx::Error::PoolTimedOut => ApiError::Unavailable("database is busy".into()),
            e => ApiError::Internal(e.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::TooManyRequests(_, secs)
        | ApiError::TooManyWrongCodes(_, secs)
        | ApiError::Busy(secs) = self
        {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

impl From<crate::domain::throttle::Refused> for ApiError {
    fn from(r: crate::domain::throttle::Refused) -> ApiError {
        use crate::domain::throttle::Refused;
        // Whole seconds, rounded up: a client retrying on time must not be refused again.
        let secs = |d: std::time::Duration| d.as_millis().div_ceil(1000) as u64;
        match r {
            Refused::RateLimited(wait) => ApiError::TooManyRequests(
                "too many sign-in attempts; wait before trying again".into(),
                secs(wait),
            ),
            Refused::Busy(wait) => ApiError::Busy(secs(wait)),
            Refused::Limited(what, wait) => ApiError::TooManyRequests(
                format!("too many {what}; wait before trying again"),
                secs(wait),
            ),
        }
    }
}

/// Whether JSON text holds a `\u0000` escape (an odd run of backslashes before `u0000`).
/// PostgreSQL refuses NUL in text, so such input is refused up front, on both backends alike.
fn json_has_nul(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(i, w)| {
        w[0] == b'\\'
            && w[1] == b'u'
            && &w[2..] == b"0000"
            && body[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    }) || body.contains(&0)
}

/// Whether a URI part holds a percent-encoded NUL.
fn uri_has_nul(part: &str) -> bool {
    part.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation(r.body_text()),
            _ => ApiError::BadRequest(r.body_text()),
        }
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s, so bad bodies get our JSON error shape.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(r.body_text())
            }
        })?;
        if json_has_nul(&bytes) {
            return Err(ApiError::validation("text must not contain NUL characters"));
        }
        let axum::Json(v) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(v))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with [`ApiError`] rejections.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if uri_has_nul(parts.uri.path()) {
            return Err(ApiError::BadRequest("the path must not contain NUL".into()));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r: PathRejection| ApiError::BadRequest(r.body_text()))
    }
}

/// `axum::extract::Query` with [`ApiError`] rejections.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(uri_has_nul) {
            return Err(ApiError::BadRequest(
                "the query must not contain NUL".into(),
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| ApiError::BadRequest(r.body_text()))
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Checks a required text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::validation(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::validation(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(ApiError::validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(v.to_owned())
}

/// Whether `c` is a bidirectional control (embeddings, overrides, isolates, marks) or an
/// invisible format character: text a person reads must show what it says, so a name cannot
/// reorder what follows it on screen ("Trojan Source") or hide characters that make two names
/// look equal. The list is Unicode's format controls (general category Cf).
fn is_hidden_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}' | '\u{0890}'..='\u{0891}'
        | '\u{08E2}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}'       // embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'       // isolates, deprecated format characters
        | '\u{FEFF}'                    // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}' // tags
    )
}

/// Checks text a person reads as a name or a purpose (visitor names, purposes, account names,
/// notification titles and bodies): [`required_text`]'s rules, no bidirectional controls or
/// invisible characters, and normalised to Unicode NFC so that one name is stored one way.
pub fn human_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.chars().any(is_hidden_or_bidi) {
        return Err(ApiError::validation(format!(
            "{field} must not contain invisible or text-direction control characters"
        )));
    }
    let normalised: String = unicode_normalization::UnicodeNormalization::nfc(value).collect();
    required_text(field, &normalised, max)
}

/// [`human_text`] for an optional field; blank becomes `None`.
pub fn optional_human_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => human_text(field, v, max).map(Some),
    }
}

/// Checks an optional text field; blank becomes `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// A phone number in E.164: `+`, a non-zero digit, then 7 to 14 more digits.
pub fn e164(p: Option<&str>) -> ApiResult<Option<String>> {
    let Some(p) = p.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let digits = p.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(ApiError::validation(
            "phone must be in E.164 form: + and 8 to 15 digits, such as +919876543210",
        ));
    }
    Ok(Some(p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            e164(Some("+919876543210")).unwrap().as_deref(),
            Some("+919876543210")
        );
        assert_eq!(e164(None).unwrap(), None);
        assert_eq!(e164(Some("  ")).unwrap(), None);
        for bad in [
            "919876543210",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+91 98765 43210",
        ] {
            assert!(e164(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_text_is_nfc() {
        // "é" as e + combining acute becomes the one precomposed character.
        let got = human_text("name", " Re\u{301}nee ", 100).unwrap();
        assert_eq!(got, "R\u{e9}nee");
        assert_eq!(got.chars().count(), 5);
        // Already NFC text, other scripts included, is kept as it is.
        for ok in [
            "Asha Rao",
            "Ṛṣi Dāsa",
            "محمد",
            "王小明",
            "Zoë O'Brien-Smith",
        ] {
            assert_eq!(human_text("name", ok, 100).unwrap(), ok);
        }
    }

    #[test]
    fn human_text_refuses_bidi_controls_and_invisible_characters() {
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{E0041}',
        ] {
            let name = format!("Asha{c}Rao");
            let err = human_text("visitorName", &name, 100).unwrap_err();
            assert!(matches!(err, ApiError::Validation(_)), "U+{:04X}", c as u32);
            assert!(err.to_string().starts_with("visitorName"), "{err}");
            assert!(optional_human_text("purpose", Some(&name), 100).is_err());
        }
    }

    #[test]
    fn human_text_keeps_the_other_rules() {
        assert!(human_text("name", "  ", 10).is_err());
        assert!(human_text("name", "a\u{7}b", 10).is_err());
        assert!(human_text("name", &"x".repeat(11), 10).is_err());
        // The length counts characters after normalisation: 10 decomposed "é" are 10 characters.
        assert!(human_text("name", &"e\u{301}".repeat(10), 10).is_ok());
        assert_eq!(
            optional_human_text("purpose", Some("  "), 10).unwrap(),
            None
        );
        assert_eq!(optional_human_text("purpose", None, 10).unwrap(), None);
    }
}
