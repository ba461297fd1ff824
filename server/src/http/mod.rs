//! The HTTP layer, the only code that knows axum: the router's parts per resource, the
//! extractors (session, client address, JSON with our error shape), the listener, headers,
//! the OpenAPI description, the static site and the pages behind the links in texts.

pub mod accounts;
pub mod auth;
pub mod devices;
pub mod error;
pub mod headers;
pub mod health;
pub mod internal;
pub mod links;
pub mod listener;
pub mod notifications;
pub mod openapi;
pub mod site;
pub mod stream;
pub mod visits;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest time a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The API's routes and their OpenAPI description, from one declaration per handler.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(accounts::router())
        .merge(visits::router())
        .merge(notifications::router())
        .merge(devices::router())
        .merge(internal::router())
        .routes(routes!(stream::stream))
        .split_for_parts();
    openapi::add_shared_errors(&mut doc);
    (router, doc)
}

async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let mut api = api.method_not_allowed_fallback(|| async {
        ApiError::MethodNotAllowed("this endpoint does not take that method".into())
    });
    if let Some(cors) = cors(&state.config.args.http.cors_origins) {
        api = api.layer(cors);
    }
    Router::new()
        .merge(api)
        // Unknown paths under the API answer in JSON; everything else is the web demo.
        .route("/api/v1", any(no_such_endpoint))
        .route("/api/v1/{*rest}", any(no_such_endpoint))
        .merge(openapi::router(doc))
        .merge(health::router())
        .merge(links::router())
        .fallback(site::serve)
        .layer(axum::middleware::from_fn(headers::secure))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body trickled in byte by byte must not hold a request open.
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response_owned()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// CORS for the API, for browser apps on the listed origins (exact matches, checked by
/// [`Config::from_args`]); none when no origin is listed. Bearer tokens travel in
/// `Authorization`, so no credentials (cookies) are allowed.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderValue, Method, header};
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}

/// The span of a request: its method and route template (`/a/{token}`), never the path
/// itself, which can carry a secret (a one-tap link's token) — nor the query, where the event
/// stream takes its bearer token as `?access_token=` (EventSource cannot send headers). A
/// request no route matched (the static site, an unknown path) is logged as `fallback`.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("fallback", |p| p.as_str());
    tracing::debug_span!("request", method = %req.method(), route = %route)
}

impl ApiError {
    fn into_response_owned(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use gatebell_core::protocol::paths;

    /// Log lines, collected.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_logs_carry_neither_the_path_nor_the_query() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // No route matched this request (the router sets `MatchedPath` when one does; the
            // log scan test sees `/a/{token}` there), so it is logged as the fallback.
            let req = axum::http::Request::get("/a/s3cret-link-token?access_token=s3cret-token")
                .body(())
                .unwrap();
            let span = super::request_span(&req);
            let _entered = span.enter();
            tracing::info!("finished processing request");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("route=fallback"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains("access_token"), "{text}");
    }

    #[test]
    fn every_client_path_is_routed_and_described() {
        let (_, doc) = super::api();
        let described: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        let client_paths = [
            paths::LOGIN,
            paths::LOGOUT,
            paths::LOGOUT_ALL,
            paths::SESSIONS,
            paths::ME,
            paths::PREFERENCES,
            paths::RESIDENTS,
            paths::VISITS,
            paths::VISIT_CHECKIN,
            paths::VISIT_WALKIN,
            paths::VISIT,
            paths::VISIT_APPROVE,
            paths::VISIT_REJECT,
            paths::VISIT_DECISION,
            paths::MY_REQUESTS,
            paths::NOTIFICATIONS,
            paths::NOTIFICATION_READ,
            paths::NOTIFICATIONS_READ_ALL,
            paths::STREAM,
            paths::REGISTER_DEVICE,
            paths::UNREGISTER_DEVICE,
            paths::VAPID_PUBLIC_KEY,
            paths::INTERNAL_NOTIFY,
            paths::INTERNAL_USER_DISABLED,
            paths::INTERNAL_USER,
            paths::INTERNAL_WALKINS,
            paths::INTERNAL_CHECKINS,
        ];
        for p in client_paths {
            assert!(described.contains(&p), "{p} is not in the API description");
        }
        assert_eq!(described.len(), client_paths.len(), "{described:?}");
    }
}
