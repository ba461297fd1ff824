//! The OpenAPI 3 description of the API, served at `/api/v1/openapi.json`.

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatebell", description = "Visitor-arrival notifications: accounts, visits, inbox, devices, push."),
    paths(
        crate::auth::login, crate::auth::logout, crate::auth::me,
        crate::accounts::residents,
        crate::visits::invite, crate::visits::list, crate::visits::checkin, crate::visits::walkin,
        crate::visits::get_one, crate::visits::approve, crate::visits::reject, crate::visits::my_requests,
        crate::notifications::list, crate::notifications::mark_read, crate::notifications::mark_all_read,
        crate::devices::register, crate::devices::unregister, crate::devices::vapid_public_key,
        crate::internal::notify, crate::events::stream,
    ),
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

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(|| async { axum::Json(ApiDoc::openapi()) }),
    )
}
