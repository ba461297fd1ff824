//! The one error type JavaScript sees: an `Error` named `GatebellError` with a `code`.

use wasm_bindgen::{JsCast, JsValue};

/// A failure of the package, converted at the boundary into a JS `Error` whose `name` is
/// `"GatebellError"` and which carries a stable snake_case `code` (and `status` for HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatebellError {
    pub code: String,
    pub message: String,
    /// The HTTP status when the server answered with an error.
    pub status: Option<u16>,
}

impl GatebellError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> GatebellError {
        GatebellError {
            code: code.to_owned(),
            message: message.into(),
            status: None,
        }
    }

    /// A value the package's own JS threw or rejected with: an `Error` with a `code` (and
    /// `status`) keeps them; anything else gets `code`.
    pub fn from_thrown(value: &JsValue, code: &str) -> GatebellError {
        let field = |name: &str| js_sys::Reflect::get(value, &name.into()).ok();
        let mut error = match field("code").and_then(|c| c.as_string()) {
            Some(own) => GatebellError::new(&own, js_message(value)),
            None => GatebellError::from_js(code, value),
        };
        error.status = field("status").and_then(|s| s.as_f64()).map(|s| s as u16);
        error
    }

    /// Wraps a value a JS API threw or rejected with, keeping its message.
    pub fn from_js(code: &str, value: &JsValue) -> GatebellError {
        GatebellError::new(code, js_message(value))
    }
}

impl std::fmt::Display for GatebellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<GatebellError> for JsValue {
    fn from(e: GatebellError) -> JsValue {
        let error = js_sys::Error::new(&e.message);
        error.set_name("GatebellError");
        // Reflect::set only fails on frozen objects; a fresh Error is not one.
        let _ = js_sys::Reflect::set(&error, &"code".into(), &e.code.into());
        if let Some(status) = e.status {
            let _ = js_sys::Reflect::set(&error, &"status".into(), &status.into());
        }
        error.into()
    }
}

impl From<crate::de::Error> for GatebellError {
    fn from(e: crate::de::Error) -> GatebellError {
        GatebellError::new("invalid_argument", e.to_string())
    }
}

/// The message of a thrown value: an `Error`'s (or `DOMException`'s) message, a string, or a
/// fixed text for anything else.
pub fn js_message(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return e.message().into();
    }
    if let Some(s) = value.as_string() {
        return s;
    }
    // DOMException is not an Error subclass in every engine, but it has `message`.
    js_sys::Reflect::get(value, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown JavaScript error".to_owned())
}
