//! Visits: invitations with an OTP and a QR code, check-in at the gate, walk-ins and the host's
//! decision. Each arrival notifies the host in the same transaction that records it.

use axum::extract::State;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{
    CheckinRequest, DecisionRequest, InviteRequest, InviteResponse, LiveEvent, Role, Visit,
    VisitKind, VisitList, VisitStatus, WalkinRequest,
};
use rand::Rng;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::checkin_attempts::Outcome;
use crate::db::visits::{Code, NewInvitation, NewWalkin};
use crate::db::{self, Tx, new_id, now_ms};
use crate::domain::checks::{human_text, optional_human_text, required_text};
use crate::domain::sessions::random_token;
use crate::domain::visits::{
    announce_arrival, announce_walkin, decide_by_token, load_visit, phone, record_decision,
};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{AuthUser, ClientIp};
use crate::http::error::{Json, Path, Query};
use crate::state::AppState;

/// Default validity of an invitation's codes.
const DEFAULT_VALID_MINUTES: u32 = 24 * 60;
/// Longest validity a resident may ask for.
const MAX_VALID_MINUTES: u32 = 7 * 24 * 60;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite, list))
        .routes(routes!(checkin))
        .routes(routes!(walkin))
        .routes(routes!(get_one))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(decision))
        .routes(routes!(my_requests))
}

/// Guards and admins see every visit; a resident the visits they host and the walk-ins that
/// asked their household.
async fn visible_to(state: &AppState, visit: &Visit, user: &AuthUser) -> ApiResult<()> {
    match user.role {
        Role::Guard | Role::Admin => Ok(()),
        Role::Resident if visit.host_id == user.id => Ok(()),
        Role::Resident if db::visits::asked(&state.db, &visit.id, &user.id).await? => Ok(()),
        Role::Resident => Err(ApiError::forbidden("this visit is for another resident")),
    }
}

#[utoipa::path(post, path = paths::VISITS, tag = "visits", operation_id = "inviteVisitor",
    security(("bearer" = [])), request_body = InviteRequest,
    responses((status = 201, body = InviteResponse),
        (status = 403, description = "only residents invite", body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "the resident has too many open invitations (`--max-open-invitations`)", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "a field is empty, too long or out of range", body = gatebell_core::protocol::ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<InviteRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<InviteResponse>)> {
    user.require(&[Role::Resident])?;
    let name = human_text("visitorName", &req.visitor_name, 100)?;
    let phone = phone(req.phone.as_deref())?;
    let purpose = optional_human_text("purpose", req.purpose.as_deref(), 200)?;
    let minutes = req.valid_for_minutes.unwrap_or(DEFAULT_VALID_MINUTES);
    if !(1..=MAX_VALID_MINUTES).contains(&minutes) {
        return Err(ApiError::validation(format!(
            "validForMinutes must be between 1 and {MAX_VALID_MINUTES}"
        )));
    }
    let now = now_ms();
    let id = new_id();
    let qr = random_token(24);
    let mut tx = state.db.begin().await?;
    // Two invitations at once must not both slip under the cap.
    tx.lock(&format!("open-invitations:{}", user.id)).await?;
    let max = state.config.args.visits.max_open_invitations;
    if db::visits::open_invitations_in_tx(&mut tx, &user.id, now).await? >= i64::from(max) {
        return Err(ApiError::TooManyOpenInvitations(format!(
            "you have {max} open invitations, the most allowed; \
             wait until one is used or expires, then invite again"
        )));
    }
    // A six-digit OTP is unique among open invitations; on the rare clash, draw again.
    for _ in 0..8 {
        let otp = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let inserted = db::visits::insert_invitation(
            &mut tx,
            NewInvitation {
                id: &id,
                visitor_name: &name,
                phone: phone.as_deref(),
                purpose: purpose.as_deref(),
                host_id: &user.id,
                otp_hash: &state.code_key.hash(&otp),
                qr_hash: &state.code_key.hash(&qr),
                valid_until: now + i64::from(minutes) * 60_000,
                now,
            },
        )
        .await?;
        if inserted {
            let visit = load_visit(&mut tx, &id).await?;
            tx.commit().await?;
            return Ok((
                axum::http::StatusCode::CREATED,
                Json(InviteResponse { visit, otp, qr }),
            ));
        }
    }
    Err(ApiError::Unavailable(
        "could not draw a free OTP; try again".into(),
    ))
}

#[utoipa::path(post, path = paths::VISIT_CHECKIN, tag = "visits", operation_id = "checkInVisitor",
    security(("bearer" = [])), request_body = CheckinRequest,
    responses((status = 200, body = Visit),
        (status = 403, description = "only guards check visitors in", body = gatebell_core::protocol::ErrorBody),
        (status = 404, description = "no invitation has this code", body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "the code was used already", body = gatebell_core::protocol::ErrorBody),
        (status = 410, description = "the invitation has expired", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "not exactly one of `otp` (six digits) or `qr`", body = gatebell_core::protocol::ErrorBody),
        (status = 429, description = "too many wrong codes from this guard or at this gate; see `Retry-After`", body = gatebell_core::protocol::ErrorBody)))]
async fn checkin(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<CheckinRequest>,
) -> ApiResult<Json<Visit>> {
    user.require(&[Role::Guard])?;
    let (kind, code) = match (
        req.otp.as_deref().map(str::trim),
        req.qr.as_deref().map(str::trim),
    ) {
        (Some(otp), None) => {
            if otp.len() != 6 || !otp.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::validation("otp must be six digits"));
            }
            (Code::Otp, otp)
        }
        (None, Some(qr)) => {
            if qr.is_empty() || qr.len() > 128 {
                return Err(ApiError::validation("qr is not a Gatebell code"));
            }
            (Code::Qr, qr)
        }
        _ => return Err(ApiError::validation("send exactly one of otp or qr")),
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // One check-in at a time (across instances on PostgreSQL), so that the wrong-code limits
    // are exact: two wrong codes at once cannot both be let past the last allowed attempt.
    tx.lock("checkin").await?;
    if let Some((outcome, refusal)) = wrong_code_lockout(&mut tx, &state, &user.id, now).await? {
        return refuse(tx, &user.id, now, outcome, kind, None, refusal).await;
    }
    let found = db::visits::by_code_in_tx(&mut tx, kind, &state.code_key.hash(code)).await?;
    let Some((id, status, valid_until)) = found else {
        let refusal = ApiError::not_found("no open invitation has this code");
        return refuse(tx, &user.id, now, Outcome::WrongCode, kind, None, refusal).await;
    };
    let expired = status == VisitStatus::Expired.as_str()
        || (status == VisitStatus::Invited.as_str() && valid_until.is_some_and(|t| t <= now));
    if expired {
        db::visits::expire(&mut tx, &id).await?;
        let refusal = ApiError::Gone("this invitation has expired".into());
        return refuse(
            tx,
            &user.id,
            now,
            Outcome::Expired,
            kind,
            Some(&id),
            refusal,
        )
        .await;
    }
    if status != VisitStatus::Invited.as_str()
        || !db::visits::check_in(&mut tx, &id, &user.id, now).await?
    {
        let refusal = ApiError::Conflict("this code was used already".into());
        return refuse(
            tx,
            &user.id,
            now,
            Outcome::AlreadyUsed,
            kind,
            Some(&id),
            refusal,
        )
        .await;
    }
    db::checkin_attempts::record(&mut tx, &user.id, now, Outcome::CheckedIn, kind, Some(&id))
        .await?;
    let visit = load_visit(&mut tx, &id).await?;
    announce_arrival(&mut tx, state.rules(), &visit).await?;
    tx.commit().await?;
    state.after_notify(&visit.host_id);
    Ok(Json(visit))
}

/// Whether a wrong-code limit holds check-ins back: the refusal, and which limit it is. The
/// server's database is the one gate (Gatebell has no gate entity): the gate-wide limit counts
/// every guard's wrong codes together.
async fn wrong_code_lockout(
    tx: &mut Tx,
    state: &AppState,
    guard_id: &str,
    now: i64,
) -> ApiResult<Option<(Outcome, ApiError)>> {
    let args = &state.config.args;
    let window = state.config.otp_failure_window_ms();
    let since = now - window;
    let guard = db::checkin_attempts::limit_reached_by(
        tx,
        Some(guard_id),
        since,
        args.limits.otp_failures_per_guard,
    )
    .await?;
    let gate =
        db::checkin_attempts::limit_reached_by(tx, None, since, args.limits.otp_failures_per_gate)
            .await?;
    // Refused until the failure that reached the limit is a window old; if both limits are
    // reached, the later of the two.
    let (outcome, at, who) = match (guard, gate) {
        (None, None) => return Ok(None),
        (Some(g), Some(a)) if a > g => (Outcome::LockedGate, a, "at this gate"),
        (Some(g), _) => (Outcome::LockedGuard, g, "from this guard"),
        (None, Some(a)) => (Outcome::LockedGate, a, "at this gate"),
    };
    let secs = ((at + window - now).max(1) as u64).div_ceil(1000);
    Ok(Some((
        outcome,
        ApiError::TooManyWrongCodes(
            format!(
                "too many wrong codes {who}; check-ins are paused for {secs} s, \
                 even with a right code"
            ),
            secs,
        ),
    )))
}

/// Records a refused check-in in the audit, commits (with whatever the refusal changed, such
/// as an invitation marked expired) and answers the refusal.
async fn refuse(
    mut tx: Tx,
    guard_id: &str,
    now: i64,
    outcome: Outcome,
    kind: Code,
    visit_id: Option<&str>,
    refusal: ApiError,
) -> ApiResult<Json<Visit>> {
    db::checkin_attempts::record(&mut tx, guard_id, now, outcome, kind, visit_id).await?;
    tx.commit().await?;
    Err(refusal)
}

#[utoipa::path(post, path = paths::VISIT_WALKIN, tag = "visits", operation_id = "registerWalkin",
    security(("bearer" = [])), request_body = WalkinRequest,
    responses((status = 201, body = Visit),
        (status = 403, description = "only guards register walk-ins", body = gatebell_core::protocol::ErrorBody),
        (status = 429, description = "too many walk-ins from this guard in a minute; see Retry-After", body = gatebell_core::protocol::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait before trying again"))),
        (status = 422, description = "a field is empty or too long, or `hostId` is not a resident", body = gatebell_core::protocol::ErrorBody)))]
async fn walkin(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<WalkinRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<Visit>)> {
    user.require(&[Role::Guard])?;
    state.walkin_limits.check(&user.id)?;
    let name = human_text("visitorName", &req.visitor_name, 100)?;
    let purpose = human_text("purpose", &req.purpose, 200)?;
    let phone = phone(req.phone.as_deref())?;
    let host_id = required_text("hostId", &req.host_id, 64)?;
    let now = now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    match db::accounts::role_in_tx(&mut tx, &host_id).await? {
        Some(Role::Resident) => {}
        Some(_) => return Err(ApiError::validation("hostId must be a resident")),
        None => return Err(ApiError::validation("hostId is not a known resident")),
    }
    db::visits::insert_walkin(
        &mut tx,
        NewWalkin {
            id: &id,
            visitor_name: &name,
            phone: phone.as_deref(),
            purpose: Some(&purpose),
            host_id: &host_id,
            created_by: &user.id,
            external_id: None,
            now,
        },
    )
    .await?;
    let visit = load_visit(&mut tx, &id).await?;
    let asked = announce_walkin(&mut tx, state.rules(), &visit, now).await?;
    tx.commit().await?;
    for user_id in &asked {
        state.after_notify(user_id);
    }
    state
        .events
        .publish_guards(LiveEvent::Visit { visit_id: id });
    Ok((axum::http::StatusCode::CREATED, Json(visit)))
}

async fn decide(
    state: AppState,
    user: AuthUser,
    id: String,
    to: VisitStatus,
) -> ApiResult<Json<Visit>> {
    if user.role != Role::Resident {
        return Err(ApiError::forbidden(
            "only the visit's household can approve or reject it",
        ));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // 404 for no such visit, before any question of rights.
    load_visit(&mut tx, &id).await?;
    if !db::visits::asked_in_tx(&mut tx, &id, &user.id).await? {
        return Err(ApiError::forbidden("this visit is for another household"));
    }
    let decided = record_decision(
        &mut tx,
        state.rules(),
        &id,
        to,
        &user.id,
        Some(user.token_hash()),
        now,
    )
    .await?;
    tx.commit().await?;
    state.after_resolution(&decided.told, id);
    Ok(Json(decided.visit))
}

#[utoipa::path(post, path = paths::VISIT_DECISION, tag = "visits", operation_id = "decideWithActionToken",
    params(("id" = String, Path, description = "visit id")), request_body = DecisionRequest,
    responses((status = 200, body = Visit),
        (status = 403, description = "the action token is unknown, used, expired, for another visit, or its recipient may not decide it (disabled, moved, not asked)", body = gatebell_core::protocol::ErrorBody),
        (status = 429, description = "too many decisions from this address; see Retry-After", body = gatebell_core::protocol::ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait before trying again"))),
        (status = 409, description = "decided already (the message names the outcome and who decided)", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "the body is not a decision and a token", body = gatebell_core::protocol::ErrorBody)))]
async fn decision(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<Visit>> {
    // Counted before any work: guessing tokens costs the guesser.
    state.decision_limits.check(&ip)?;
    let decided = decide_by_token(
        &state.db,
        state.rules(),
        &id,
        &req.action_token,
        req.decision.status(),
    )
    .await?;
    state.after_resolution(&decided.told, id);
    Ok(Json(decided.visit))
}

#[utoipa::path(post, path = paths::VISIT_APPROVE, tag = "visits", operation_id = "approveVisit",
    security(("bearer" = [])), params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit),
        (status = 403, description = "only the residents the walk-in asked (the host and, per the unit's setting, the household) decide", body = gatebell_core::protocol::ErrorBody),
        (status = 404, description = "no such visit", body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "not a walk-in, or decided already or expired (the message names the outcome and who decided)", body = gatebell_core::protocol::ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    decide(state, user, id, VisitStatus::Approved).await
}

#[utoipa::path(post, path = paths::VISIT_REJECT, tag = "visits", operation_id = "rejectVisit",
    security(("bearer" = [])), params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit),
        (status = 403, description = "only the residents the walk-in asked (the host and, per the unit's setting, the household) decide", body = gatebell_core::protocol::ErrorBody),
        (status = 404, description = "no such visit", body = gatebell_core::protocol::ErrorBody),
        (status = 409, description = "not a walk-in, or decided already or expired (the message names the outcome and who decided)", body = gatebell_core::protocol::ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    decide(state, user, id, VisitStatus::Rejected).await
}

#[utoipa::path(get, path = paths::VISIT, tag = "visits", operation_id = "getVisit",
    security(("bearer" = [])), params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit),
        (status = 403, description = "the visit is another resident's", body = gatebell_core::protocol::ErrorBody),
        (status = 404, description = "no such visit", body = gatebell_core::protocol::ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    let visit = db::visits::get(&state.db, &id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such visit"))?;
    visible_to(&state, &visit, &user).await?;
    Ok(Json(visit))
}

/// `GET /visits` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// `invited` or `walkin`.
    pub kind: Option<VisitKind>,
    /// Only visits created at or after this time (epoch ms); default: the last 24 hours.
    pub since: Option<i64>,
}

#[utoipa::path(get, path = paths::VISITS, tag = "visits", operation_id = "listVisits",
    security(("bearer" = [])), params(VisitQuery),
    responses((status = 200, description = "a resident's own visits; the whole gate's for guards and admins", body = VisitList)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<VisitQuery>,
) -> ApiResult<Json<VisitList>> {
    let now = now_ms();
    let since = q.since.unwrap_or(now - 24 * 3600 * 1000);
    // Guards and admins see the whole gate; a resident sees their own visits.
    let host_filter = if user.role == Role::Resident {
        Some(user.id.clone())
    } else {
        None
    };
    let items = db::visits::list(&state.db, since, q.kind, host_filter.as_deref(), now).await?;
    Ok(Json(VisitList { items }))
}

#[utoipa::path(get, path = paths::MY_REQUESTS, tag = "visits", operation_id = "listMyRequests",
    security(("bearer" = [])),
    responses((status = 200, body = VisitList),
        (status = 403, description = "only residents host visits", body = gatebell_core::protocol::ErrorBody)))]
async fn my_requests(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<VisitList>> {
    user.require(&[Role::Resident])?;
    let items = db::visits::pending_walkins(&state.db, &user.id, now_ms()).await?;
    Ok(Json(VisitList { items }))
}
