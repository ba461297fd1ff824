//! The internal API for deployments beside an existing backend: `POST /internal/notify` is what
//! that backend calls where it would have sent a push itself; `PUT /internal/users/{id}/disabled`
//! and `DELETE /internal/users/{id}` manage accounts.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{InternalNotifyRequest, InternalNotifyResponse, SetDisabledRequest};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::end_sessions;
use crate::db::{self, now_ms};
use crate::error::{ApiError, ApiResult, Json, Path, human_text};
use crate::notifications::{NewNotification, notify_user};
use crate::state::AppState;

/// Longest TTL a caller may ask for (FCM's own limit is 28 days).
const MAX_TTL_SECONDS: u32 = 28 * 24 * 3600;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notify))
        .routes(routes!(set_disabled))
        .routes(routes!(delete_user))
}

/// A caller holding the service key.
pub struct Service;

impl FromRequestParts<AppState> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Service> {
        let Some(key) = &state.config.args.service_key else {
            return Err(ApiError::not_found(
                "the internal API is off (no --service-key)",
            ));
        };
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("send the service key as a Bearer token".into())
            })?;
        // Comparing digests keeps the comparison's time independent of where the keys differ.
        if Sha256::digest(given.trim().as_bytes()) != Sha256::digest(key.as_bytes()) {
            return Err(ApiError::Unauthorized("wrong service key".into()));
        }
        Ok(Service)
    }
}

#[utoipa::path(post, path = paths::INTERNAL_NOTIFY, tag = "internal", operation_id = "internalNotify",
    security(("service_key" = [])), request_body = InternalNotifyRequest,
    responses((status = 202, body = InternalNotifyResponse),
        (status = 401, description = "no or a wrong service key", body = gatebell_core::protocol::ErrorBody),
        (status = 404, description = "the internal API is off (the server has no --service-key)", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "a field is empty, too long or out of range, or names an unknown user or visit", body = gatebell_core::protocol::ErrorBody)))]
async fn notify(
    State(state): State<AppState>,
    _: Service,
    Json(req): Json<InternalNotifyRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<InternalNotifyResponse>)> {
    let kind = req.kind.as_str();
    if kind.is_empty()
        || kind.len() > 40
        || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(ApiError::validation(
            "type must be snake_case, at most 40 characters",
        ));
    }
    let title = human_text("title", &req.title, 100)?;
    let body = human_text("body", &req.body, 1000)?;
    let ttl = req
        .ttl_seconds
        .unwrap_or(state.config.args.checkin_ttl_secs);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::validation(format!(
            "ttlSeconds must be 1 to {MAX_TTL_SECONDS}"
        )));
    }
    let mut tx = state.db.begin().await?;
    if !db::accounts::user_exists_in_tx(&mut tx, &req.user_id).await? {
        return Err(ApiError::validation("userId is not a known user"));
    }
    if let Some(v) = &req.visit_id
        && !db::visits::exists_in_tx(&mut tx, v).await?
    {
        return Err(ApiError::validation("visitId is not a known visit"));
    }
    let done = notify_user(
        &mut tx,
        NewNotification {
            user_id: &req.user_id,
            kind: req.kind.clone(),
            title,
            body,
            visit_id: req.visit_id.as_deref(),
            ttl_ms: i64::from(ttl) * 1000,
        },
    )
    .await?;
    tx.commit().await?;
    state.after_notify(&req.user_id);
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(InternalNotifyResponse {
            notification_id: done.notification_id,
            devices: done.pushes,
        }),
    ))
}

#[utoipa::path(put, path = paths::INTERNAL_USER_DISABLED, tag = "internal", operation_id = "setUserDisabled", security(("service_key" = [])),
    params(("id" = String, Path, description = "the user's id")),
    request_body = SetDisabledRequest,
    responses((status = 204, description = "done; disabling ended the account's sessions and dropped their devices"),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 422, body = gatebell_core::protocol::ErrorBody)))]
async fn set_disabled(
    State(state): State<AppState>,
    _: Service,
    Path(id): Path<String>,
    Json(req): Json<SetDisabledRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let mut tx = state.db.begin().await?;
    let at = req.disabled.then(now_ms);
    if !db::accounts::set_disabled(&mut tx, &id, at).await? {
        return Err(ApiError::not_found("no such user"));
    }
    tx.commit().await?;
    if req.disabled {
        end_sessions(&state, db::accounts::Ending::AllOf(&id)).await?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = paths::INTERNAL_USER, tag = "internal", operation_id = "deleteUser", security(("service_key" = [])),
    params(("id" = String, Path, description = "the user's id")),
    responses((status = 204, description = "the account's personal data is gone; its visits remain, anonymised"),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    _: Service,
    Path(id): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let ended = {
        let mut tx = state.db.begin().await?;
        let now = now_ms();
        let ended =
            db::accounts::end_sessions(&mut tx, db::accounts::Ending::AllOf(&id), now).await?;
        if !db::accounts::anonymise(&mut tx, &id, now, crate::auth::DUMMY_HASH).await? {
            return Err(ApiError::not_found("no such user"));
        }
        tx.commit().await?;
        ended
    };
    state.after_sessions_ended(&ended);
    Ok(axum::http::StatusCode::NO_CONTENT)
}
