//! The OpenAPI 3 description of the API, served at `/api/v1/openapi.json`.
//!
//! Its paths come from the routers themselves: each handler's `#[utoipa::path]` (with its
//! path from `gatebell_core::protocol::paths`) is registered by `utoipa_axum::routes!`, which
//! adds the route and its description together, so the two cannot drift apart. The error
//! answers that follow from an operation's shape (a JSON body, a parameter, a session) are
//! added by [`add_shared_errors`], so no handler can forget one.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use gatebell_core::protocol::ErrorBody;
use gatebell_core::protocol::paths;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::state::AppState;

/// The description's frame (title, security schemes); the routers add the paths.
#[derive(OpenApi)]
#[openapi(
    info(title = "Gatebell", description = "Visitor-arrival notifications: accounts, visits, inbox, devices, push."),
    components(schemas(ErrorBody)),
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

/// Adds to every operation of `doc` the error answers its shape implies, unless it documents
/// them itself: a JSON body can be malformed (400), too large (413), not JSON (415) or of the
/// wrong shape (422); a path or query parameter can fail to parse (400); a session can be
/// missing or expired (401), and then the database can be too busy to check it (503).
pub fn add_shared_errors(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            for (status, why) in shared_errors(op) {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| error_response(why));
            }
        }
    }
}

fn shared_errors(op: &Operation) -> Vec<(u16, &'static str)> {
    let mut errors = Vec::new();
    // `access_token` is read by the session extractor, which answers 401, not 400.
    let parsed_params = op.parameters.iter().flatten().any(|p| {
        p.parameter_in == ParameterIn::Path
            || (p.parameter_in == ParameterIn::Query && p.name != "access_token")
    });
    if op.request_body.is_some() {
        errors.extend([
            (400, "the body is not well-formed JSON"),
            (413, "the body is larger than 64 KiB"),
            (
                415,
                "the body is not sent as `Content-Type: application/json`",
            ),
            (422, "the body has a missing, unknown or mistyped field"),
        ]);
    } else if parsed_params {
        errors.push((400, "a parameter does not parse"));
    }
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        errors.extend([
            (
                401,
                "no, a malformed, an unknown or an expired bearer token",
            ),
            (503, "the database is too busy; try again shortly"),
        ]);
    }
    errors
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
        .into()
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
