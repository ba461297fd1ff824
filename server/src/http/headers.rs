//! Security headers on every response. The API answers JSON that must never be rendered or
//! framed; the demo site runs its own scripts and the wasm package (hence
//! `'wasm-unsafe-eval'`), and Next's static export inlines its bootstrap scripts (hence
//! `'unsafe-inline'` for scripts: a static export has no per-response nonce to offer).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// The policy for API answers: nothing may load, nothing may frame them.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The policy for the demo site's pages.
pub const SITE_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware adding the headers (a handler's own choice wins).
pub async fn secure(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let csp = if api { API_CSP } else { SITE_CSP };
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp));
    h.entry(X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    resp
}
