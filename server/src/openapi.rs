//! The OpenAPI 3 description of the API, served at `/api/v1/openapi.json`.
//!
//! Its paths come from the routers themselves: each handler's `#[utoipa::path]` (with its
//! path from `gatebell_core::protocol::paths`) is registered by `utoipa_axum::routes!`, which
//! adds the route and its description together, so the two cannot drift apart.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use gatebell_core::protocol::paths;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

/// The description's frame (title, security schemes); the routers add the paths.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatebell", description = "Visitor-arrival notifications: accounts, visits, inbox, devices, push."),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "service_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Serves `doc`.
pub fn router(doc: utoipa::openapi::OpenApi) -> Router<AppState> {
    let doc = Arc::new(doc);
    Router::new().route(
        paths::OPENAPI,
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    )
}
