//! The internal API for deployments beside an existing backend, behind the service key:
//!
//! - `PUT /internal/users/{id}` makes or updates one of the backend's users (named by the
//!   backend's id, the `sub` of its JWTs); `PUT …/disabled` and `DELETE` manage accounts;
//! - `POST /internal/walkins` and `/internal/checkins` hand over visitors the backend
//!   registered (idempotent on its visit id), notifying the host as Gatebell's own would;
//! - `POST /internal/notify` is what it calls where it would have sent a push itself.
//!
//! Wherever this API names a user, the backend's id is looked up first and a Gatebell id
//! second (so standalone accounts stay reachable).

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{
    InternalNotifyRequest, InternalNotifyResponse, InternalUser, InternalUserRequest,
    InternalVisitRequest, LiveEvent, NotificationType, Role, SetDisabledRequest, Visit,
};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::visits::NewWalkin;
use crate::db::{self, Tx, new_id, now_ms};
use crate::domain::checks::{e164, human_text, optional_human_text, optional_text, required_text};
use crate::domain::notifications::{NewNotification, notify_user};
use crate::error::{ApiError, ApiResult};
use crate::http::error::{Json, Path};
use crate::state::AppState;

/// Longest TTL a caller may ask for (FCM's own limit is 28 days).
const MAX_TTL_SECONDS: u32 = 28 * 24 * 3600;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notify))
        .routes(routes!(set_disabled))
        .routes(routes!(put_user, delete_user))
        .routes(routes!(walkin))
        .routes(routes!(checkin))
}

/// A caller holding the service key.
pub struct Service;

impl FromRequestParts<AppState> for Service {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Service> {
        let Some(key) = &state.config.args.access.service_key else {
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
        (status = 422, description = "a field is empty, too long or out of range, names an unknown user or visit, or the type is `walkin_pending` or `walkin_resolved` (Gatebell's own)", body = gatebell_core::protocol::ErrorBody)))]
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
    // A walk-in's question and outcome are Gatebell's own: one made here would look like a
    // real request at the gate (with Approve / Reject) and nobody asked could answer it.
    if matches!(
        req.kind,
        NotificationType::WalkinPending | NotificationType::WalkinResolved
    ) {
        return Err(ApiError::validation(format!(
            "type {kind} is Gatebell's own; register the walk-in with POST /internal/walkins"
        )));
    }
    let title = human_text("title", &req.title, 100)?;
    let body = human_text("body", &req.body, 1000)?;
    let ttl = req
        .ttl_seconds
        .unwrap_or(state.config.args.visits.checkin_ttl_secs);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::validation(format!(
            "ttlSeconds must be 1 to {MAX_TTL_SECONDS}"
        )));
    }
    let mut tx = state.db.begin().await?;
    let user_id = db::accounts::resolve_in_tx(&mut tx, &req.user_id)
        .await?
        .ok_or_else(|| ApiError::validation("userId is not a known user"))?;
    if let Some(v) = &req.visit_id
        && !db::visits::exists_in_tx(&mut tx, v).await?
    {
        return Err(ApiError::validation("visitId is not a known visit"));
    }
    let done = notify_user(
        &mut tx,
        NewNotification {
            user_id: &user_id,
            kind: req.kind.clone(),
            title,
            body,
            visit_id: req.visit_id.as_deref(),
            ttl_ms: i64::from(ttl) * 1000,
            action_token: None,
            words: None,
            push: true,
        },
    )
    .await?;
    tx.commit().await?;
    state.after_notify(&user_id);
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(InternalNotifyResponse {
            notification_id: done.notification_id,
            devices: done.pushes,
        }),
    ))
}

#[utoipa::path(put, path = paths::INTERNAL_USER_DISABLED, tag = "internal", operation_id = "setUserDisabled", security(("service_key" = [])),
    params(("id" = String, Path, description = "the user's id in the backend (the `sub` of its JWTs)")),
    request_body = SetDisabledRequest,
    responses((status = 204, description = "done; disabling ended the account's sessions, dropped their devices and voided their action tokens"),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "the id is Gatebell's own id of an account the backend does not manage", body = gatebell_core::protocol::ErrorBody),
        (status = 422, body = gatebell_core::protocol::ErrorBody)))]
async fn set_disabled(
    State(state): State<AppState>,
    _: Service,
    Path(id): Path<String>,
    Json(req): Json<SetDisabledRequest>,
) -> ApiResult<axum::http::StatusCode> {
    let mut tx = state.db.begin().await?;
    let id = user_named(&mut tx, &id).await?;
    let at = req.disabled.then(now_ms);
    if !db::accounts::set_disabled(&mut tx, &id, at).await? {
        return Err(ApiError::not_found("no such user"));
    }
    tx.commit().await?;
    if req.disabled {
        state.end_sessions(db::accounts::Ending::AllOf(&id)).await?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = paths::INTERNAL_USER, tag = "internal", operation_id = "deleteUser", security(("service_key" = [])),
    params(("id" = String, Path, description = "the user's id in the backend (the `sub` of its JWTs)")),
    responses((status = 204, description = "the account's sessions are revoked, its devices and queued pushes gone, its personal data erased; its visits remain, anonymised; its JWTs issued until now are refused"),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "the id is Gatebell's own id of an account the backend does not manage", body = gatebell_core::protocol::ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    _: Service,
    Path(key): Path<String>,
) -> ApiResult<axum::http::StatusCode> {
    let ended = {
        let mut tx = state.db.begin().await?;
        let id = user_named(&mut tx, &key).await?;
        let now = now_ms();
        // Its JWTs issued until now are refused from here on.
        db::accounts::set_tombstone(&mut tx, &key, Some(now)).await?;
        let ended =
            db::accounts::end_sessions(&mut tx, db::accounts::Ending::AllOf(&id), now).await?;
        if !db::accounts::anonymise(&mut tx, &id, now, crate::domain::sessions::NO_PASSWORD).await?
        {
            return Err(ApiError::not_found("no such user"));
        }
        tx.commit().await?;
        ended
    };
    state.after_sessions_ended(&ended);
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The Gatebell id of the user the backend names by its own id `key`. A Gatebell id of an
/// account the backend does not manage is a 409: the backend's ids and Gatebell's are apart,
/// so a call meant for one account can never reach another.
async fn user_named(tx: &mut Tx, key: &str) -> ApiResult<String> {
    if let Some(id) = db::accounts::by_external_id_in_tx(tx, key).await? {
        return Ok(id);
    }
    not_a_gatebell_id(tx, key).await?;
    Err(ApiError::not_found("no such user"))
}

/// 409 when `key` is the Gatebell id of an account (which has no such external id).
async fn not_a_gatebell_id(tx: &mut Tx, key: &str) -> ApiResult<()> {
    if db::accounts::user_exists_in_tx(tx, key).await? {
        return Err(ApiError::Conflict(
            "this is Gatebell's own id of an account the backend does not manage; \
             /internal/users/{id} takes the backend's id (the `sub` of its JWTs)"
                .into(),
        ));
    }
    Ok(())
}

/// An email address as given, lowercased; refused unless it looks like one.
fn email(e: Option<&str>) -> ApiResult<Option<String>> {
    let Some(e) = optional_text("email", e, 254)? else {
        return Ok(None);
    };
    let e = e.to_lowercase();
    match e.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !e.contains(' ') => {
            Ok(Some(e))
        }
        _ => Err(ApiError::validation("email is not an email address")),
    }
}

#[utoipa::path(put, path = paths::INTERNAL_USER, tag = "internal", operation_id = "putUser", security(("service_key" = [])),
    params(("id" = String, Path, description = "the user's id in the backend (the `sub` of its JWTs)")),
    request_body = InternalUserRequest,
    responses((status = 200, description = "updated", body = InternalUser),
        (status = 201, description = "created", body = InternalUser),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "another account has this email, or the id is Gatebell's own id of an account the backend does not manage", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "a field is empty, too long or malformed, or a resident has no unit", body = gatebell_core::protocol::ErrorBody)))]
async fn put_user(
    State(state): State<AppState>,
    _: Service,
    Path(external_id): Path<String>,
    Json(req): Json<InternalUserRequest>,
) -> ApiResult<(StatusCode, Json<InternalUser>)> {
    let external_id = required_text("id", &external_id, 255)?;
    let name = human_text("name", &req.name, 100)?;
    let email = email(req.email.as_deref())?;
    let phone = e164(req.phone.as_deref())?;
    let unit = optional_human_text("unit", req.unit.as_deref(), 32)?;
    let language = crate::domain::checks::language(req.language.as_deref())?;
    if req.role == Role::Resident && unit.is_none() {
        return Err(ApiError::validation("a resident needs a unit"));
    }
    // Two first PUTs at once may both insert: the loser's unique violation means the row is
    // there now, and the second try updates it.
    let mut tries = 0;
    let (created, user) = loop {
        tries += 1;
        let now = now_ms();
        let mut tx = state.db.begin().await?;
        if db::accounts::by_external_id_in_tx(&mut tx, &external_id)
            .await?
            .is_none()
        {
            not_a_gatebell_id(&mut tx, &external_id).await?;
        }
        if let Some(e) = &email
            && db::accounts::email_taken_by_other_in_tx(&mut tx, e, &external_id).await?
        {
            return Err(ApiError::Conflict("another account has this email".into()));
        }
        let saved = db::accounts::put_external_user(
            &mut tx,
            db::accounts::PutExternalUser {
                id_if_new: &new_id(),
                external_id: &external_id,
                name: &name,
                email: email.as_deref(),
                phone: phone.as_deref(),
                role: req.role,
                unit: unit.as_deref(),
                unusable_password_hash: crate::domain::sessions::NO_PASSWORD,
                now,
            },
        )
        .await;
        let (_, created) = match saved {
            Err(e) if tries < 2 && db::is_unique_violation(&e) => continue,
            Err(e) if db::is_unique_violation(&e) => {
                return Err(ApiError::Conflict("another account has this email".into()));
            }
            r => r?,
        };
        let user = db::accounts::internal_user_in_tx(&mut tx, &external_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a user vanished as it was saved"))?;
        let user = match &language {
            Some(language) => {
                db::accounts::set_language(&mut tx, &user.id, &language.tag()).await?;
                InternalUser {
                    language: language.tag(),
                    ..user
                }
            }
            None => user,
        };
        // Made again by the backend: its tokens work again.
        db::accounts::set_tombstone(&mut tx, &external_id, None).await?;
        tx.commit().await?;
        break (created, user);
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(user)))
}

/// What the backend hands over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handover {
    Walkin,
    Checkin,
}

/// Validates a handed-over visit, creates it with its notification and pushes in one
/// transaction, or returns the visit made the first time this `externalVisitId` came.
async fn hand_over(
    state: &AppState,
    req: InternalVisitRequest,
    what: Handover,
) -> ApiResult<(StatusCode, Json<Visit>)> {
    let external_id = required_text("externalVisitId", &req.external_visit_id, 64)?;
    if !external_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
    {
        return Err(ApiError::validation(
            "externalVisitId may hold only letters, digits and _ . : -",
        ));
    }
    let host_key = required_text("hostExternalId", &req.host_external_id, 255)?;
    let name = human_text("visitorName", &req.visitor_name, 100)?;
    let purpose = optional_human_text("purpose", req.purpose.as_deref(), 200)?;
    let phone = crate::domain::visits::phone(req.phone.as_deref())?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if let Some(id) = db::visits::by_external_id_in_tx(&mut tx, &external_id).await? {
        return same_visit(&mut tx, &id, what).await;
    }
    let host = db::accounts::resolve_in_tx(&mut tx, &host_key)
        .await?
        .ok_or_else(|| ApiError::validation("hostExternalId is not a known user"))?;
    if db::accounts::role_in_tx(&mut tx, &host).await? != Some(Role::Resident) {
        return Err(ApiError::validation(
            "hostExternalId must be a resident whose account is enabled",
        ));
    }
    let id = new_id();
    let row = NewWalkin {
        id: &id,
        visitor_name: &name,
        phone: phone.as_deref(),
        purpose: purpose.as_deref(),
        host_id: &host,
        // The host stands for the backend that registered the visit (as for invitations).
        created_by: &host,
        external_id: Some(&external_id),
        now,
    };
    let inserted = match what {
        Handover::Walkin => db::visits::insert_walkin(&mut tx, row).await?,
        Handover::Checkin => db::visits::insert_checked_in(&mut tx, row).await?,
    };
    if !inserted {
        // The same visit, handed over concurrently, was committed first.
        let id = db::visits::by_external_id_in_tx(&mut tx, &external_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("a visit clashed on its external id, then vanished"))?;
        return same_visit(&mut tx, &id, what).await;
    }
    let visit = db::visits::get_in_tx(&mut tx, &id, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a visit vanished as it was made"))?;
    let told = match what {
        Handover::Walkin => {
            crate::domain::visits::announce_walkin(&mut tx, state.rules(), &visit, now).await?
        }
        Handover::Checkin => {
            crate::domain::visits::announce_arrival(&mut tx, state.rules(), &visit).await?;
            vec![host]
        }
    };
    tx.commit().await?;
    for user_id in &told {
        state.after_notify(user_id);
    }
    if what == Handover::Walkin {
        state
            .events
            .publish_guards(LiveEvent::Visit { visit_id: id });
    }
    Ok((StatusCode::CREATED, Json(visit)))
}

/// The answer to a repeated hand-over: the visit as it stands, unless the id was used for the
/// other kind.
async fn same_visit(tx: &mut Tx, id: &str, what: Handover) -> ApiResult<(StatusCode, Json<Visit>)> {
    let visit = db::visits::get_in_tx(tx, id, now_ms())
        .await?
        .ok_or_else(|| anyhow::anyhow!("a visit vanished as it was read"))?;
    let walkin = visit.kind == gatebell_core::protocol::VisitKind::Walkin;
    if walkin != (what == Handover::Walkin) {
        return Err(ApiError::Conflict(
            "this externalVisitId names another kind of visit".into(),
        ));
    }
    Ok((StatusCode::OK, Json(visit)))
}

#[utoipa::path(post, path = paths::INTERNAL_WALKINS, tag = "internal", operation_id = "handOverWalkin",
    security(("service_key" = [])), request_body = InternalVisitRequest,
    responses((status = 201, description = "created; the host is notified and asked to decide", body = Visit),
        (status = 200, description = "this externalVisitId was handed over before: the visit as it stands", body = Visit),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "this externalVisitId names a check-in", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "a field is empty, too long or malformed, or the host is not a resident", body = gatebell_core::protocol::ErrorBody)))]
async fn walkin(
    State(state): State<AppState>,
    _: Service,
    Json(req): Json<InternalVisitRequest>,
) -> ApiResult<(StatusCode, Json<Visit>)> {
    hand_over(&state, req, Handover::Walkin).await
}

#[utoipa::path(post, path = paths::INTERNAL_CHECKINS, tag = "internal", operation_id = "handOverCheckin",
    security(("service_key" = [])), request_body = InternalVisitRequest,
    responses((status = 201, description = "created; the host is told the visitor arrived", body = Visit),
        (status = 200, description = "this externalVisitId was handed over before: the visit as it stands", body = Visit),
        (status = 401, body = gatebell_core::protocol::ErrorBody), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "this externalVisitId names a walk-in", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "a field is empty, too long or malformed, or the host is not a resident", body = gatebell_core::protocol::ErrorBody)))]
async fn checkin(
    State(state): State<AppState>,
    _: Service,
    Json(req): Json<InternalVisitRequest>,
) -> ApiResult<(StatusCode, Json<Visit>)> {
    hand_over(&state, req, Handover::Checkin).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email(Some("Asha@Example.com")).unwrap().as_deref(),
            Some("asha@example.com")
        );
        for bad in ["asha", "@example.com", "asha@localhost", "a b@example.com"] {
            assert!(email(Some(bad)).is_err(), "{bad}");
        }
    }
}
