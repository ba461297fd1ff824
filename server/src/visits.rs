//! Visits: invitations with an OTP and a QR code, check-in at the gate, walk-ins and the host's
//! decision. Each arrival notifies the host in the same transaction that records it.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use gatebell_core::protocol::{
    CheckinRequest, InviteRequest, InviteResponse, NotificationType, Role, Visit, VisitKind,
    VisitList, VisitStatus, WalkinRequest,
};
use rand::Rng;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{AuthUser, hash_token, random_token};
use crate::db::{Tx, is_unique_violation, new_id, now_ms};
use crate::error::{ApiError, ApiResult, Json, Path, Query, optional_text, required_text};
use crate::events::Event;
use crate::notifications::{NewNotification, notify_user};
use crate::{AppState, on_pool, on_tx};

/// Default validity of an invitation's codes.
const DEFAULT_VALID_MINUTES: u32 = 24 * 60;
/// Longest validity a resident may ask for.
const MAX_VALID_MINUTES: u32 = 7 * 24 * 60;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visits", post(invite).get(list))
        .route("/visits/checkin", post(checkin))
        .route("/visits/walkin", post(walkin))
        .route("/visits/{id}", get(get_one))
        .route("/visits/{id}/approve", post(approve))
        .route("/visits/{id}/reject", post(reject))
        .route("/dashboard/my-requests", get(my_requests))
}

const VISIT_COLUMNS: &str =
    "SELECT v.id, v.visitor_name, v.phone, v.purpose, v.host_id, h.name AS host_name,
    un.name AS unit, v.kind, v.status, v.created_at, v.valid_until, v.checked_in_at, v.decided_at,
    d.name AS decided_by
    FROM visits v JOIN users h ON h.id = v.host_id
    LEFT JOIN units un ON un.id = h.unit_id
    LEFT JOIN users d ON d.id = v.decided_by";

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: String,
    visitor_name: String,
    phone: Option<String>,
    purpose: Option<String>,
    host_id: String,
    host_name: String,
    unit: Option<String>,
    kind: String,
    status: String,
    created_at: i64,
    valid_until: Option<i64>,
    checked_in_at: Option<i64>,
    decided_at: Option<i64>,
    decided_by: Option<String>,
}

impl VisitRow {
    fn into_visit(self, now: i64) -> ApiResult<Visit> {
        let mut status = VisitStatus::parse(&self.status)
            .ok_or_else(|| anyhow::anyhow!("bad visit status {:?}", self.status))?;
        // Invitations expire lazily: nothing needs to run for a code to stop working.
        if status == VisitStatus::Invited && self.valid_until.is_some_and(|t| t <= now) {
            status = VisitStatus::Expired;
        }
        Ok(Visit {
            id: self.id,
            visitor_name: self.visitor_name,
            phone: self.phone,
            purpose: self.purpose,
            host_id: self.host_id,
            host_name: self.host_name,
            unit: self.unit,
            kind: VisitKind::parse(&self.kind)
                .ok_or_else(|| anyhow::anyhow!("bad visit kind {:?}", self.kind))?,
            status,
            created_at: self.created_at,
            valid_until: self.valid_until,
            checked_in_at: self.checked_in_at,
            decided_at: self.decided_at,
            decided_by: self.decided_by,
        })
    }
}

async fn load_visit(tx: &mut Tx, id: &str) -> ApiResult<Visit> {
    let sql = format!("{VISIT_COLUMNS} WHERE v.id = $1");
    let row: Option<VisitRow> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?
    });
    row.ok_or_else(|| ApiError::not_found("no such visit"))?
        .into_visit(now_ms())
}

fn visible_to(visit: &Visit, user: &AuthUser) -> ApiResult<()> {
    match user.role {
        Role::Guard | Role::Admin => Ok(()),
        Role::Resident if visit.host_id == user.id => Ok(()),
        Role::Resident => Err(ApiError::forbidden("this visit is for another resident")),
    }
}

fn phone(p: Option<&str>) -> ApiResult<Option<String>> {
    let p = optional_text("phone", p, 32)?;
    if let Some(p) = &p
        && !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        return Err(ApiError::validation(
            "phone may hold only digits, spaces and + - ( )",
        ));
    }
    Ok(p)
}

#[utoipa::path(post, path = "/api/v1/visits", tag = "visits", security(("bearer" = [])),
    request_body = InviteRequest,
    responses((status = 201, body = InviteResponse), (status = 403, body = gatebell_core::protocol::ErrorBody),
        (status = 422, body = gatebell_core::protocol::ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<InviteRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<InviteResponse>)> {
    user.require(&[Role::Resident])?;
    let name = required_text("visitorName", &req.visitor_name, 100)?;
    let phone = phone(req.phone.as_deref())?;
    let purpose = optional_text("purpose", req.purpose.as_deref(), 200)?;
    let minutes = req.valid_for_minutes.unwrap_or(DEFAULT_VALID_MINUTES);
    if !(1..=MAX_VALID_MINUTES).contains(&minutes) {
        return Err(ApiError::validation(format!(
            "validForMinutes must be between 1 and {MAX_VALID_MINUTES}"
        )));
    }
    let now = now_ms();
    let id = new_id();
    let qr = random_token(24);
    // A six-digit OTP is unique among open invitations; on the rare clash, draw again.
    for _ in 0..8 {
        let otp = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        let mut tx = state.db.begin().await?;
        let inserted = on_tx!(&mut tx, c => {
            sqlx::query(
                "INSERT INTO visits (id, visitor_name, phone, purpose, host_id, kind, status, otp_hash,
                 qr_hash, valid_until, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'invited', 'INVITED', $6, $7, $8, $5, $9)",
            )
            .bind(&id)
            .bind(&name)
            .bind(&phone)
            .bind(&purpose)
            .bind(&user.id)
            .bind(hash_token(&otp))
            .bind(hash_token(&qr))
            .bind(now + i64::from(minutes) * 60_000)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
        });
        match inserted {
            Ok(_) => {
                let visit = load_visit(&mut tx, &id).await?;
                tx.commit().await?;
                return Ok((
                    axum::http::StatusCode::CREATED,
                    Json(InviteResponse { visit, otp, qr }),
                ));
            }
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(
        "could not draw a free OTP; try again".into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/visits/checkin", tag = "visits", security(("bearer" = [])),
    request_body = CheckinRequest,
    responses((status = 200, body = Visit), (status = 404, body = gatebell_core::protocol::ErrorBody),
        (status = 409, body = gatebell_core::protocol::ErrorBody), (status = 410, body = gatebell_core::protocol::ErrorBody)))]
async fn checkin(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<CheckinRequest>,
) -> ApiResult<Json<Visit>> {
    user.require(&[Role::Guard])?;
    let (column, code) = match (
        req.otp.as_deref().map(str::trim),
        req.qr.as_deref().map(str::trim),
    ) {
        (Some(otp), None) => {
            if otp.len() != 6 || !otp.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::validation("otp must be six digits"));
            }
            ("otp_hash", otp)
        }
        (None, Some(qr)) => {
            if qr.is_empty() || qr.len() > 128 {
                return Err(ApiError::validation("qr is not a Gatebell code"));
            }
            ("qr_hash", qr)
        }
        _ => return Err(ApiError::validation("send exactly one of otp or qr")),
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Prefer the open invitation; a used code still finds its visit, for a clear 409.
    let sql = format!(
        "SELECT id, status, valid_until FROM visits WHERE {column} = $1
         ORDER BY CASE WHEN status = 'INVITED' THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
    );
    let found: Option<(String, String, Option<i64>)> = on_tx!(&mut tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hash_token(code)).fetch_optional(&mut *c).await?
    });
    let (id, status, valid_until) =
        found.ok_or_else(|| ApiError::not_found("no invitation has this code"))?;
    if status != VisitStatus::Invited.as_str() {
        return Err(ApiError::Conflict(format!(
            "this code was used already (visit is {status})"
        )));
    }
    if valid_until.is_some_and(|t| t <= now) {
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE visits SET status = 'EXPIRED' WHERE id = $1").bind(&id).execute(&mut *c).await?;
        });
        tx.commit().await?;
        return Err(ApiError::Gone("this invitation has expired".into()));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE visits SET status = 'CHECKED_IN', checked_in_at = $1, checked_in_by = $2 WHERE id = $3")
            .bind(now)
            .bind(&user.id)
            .bind(&id)
            .execute(&mut *c)
            .await?;
    });
    let visit = load_visit(&mut tx, &id).await?;
    notify_user(
        &mut tx,
        NewNotification {
            user_id: &visit.host_id,
            kind: NotificationType::VisitorArrived,
            title: "Visitor arrived".into(),
            body: format!("{} has checked in.", visit.visitor_name),
            visit_id: Some(&visit.id),
            ttl_ms: state.config.checkin_ttl_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    state.after_notify(&visit.host_id);
    Ok(Json(visit))
}

#[utoipa::path(post, path = "/api/v1/visits/walkin", tag = "visits", security(("bearer" = [])),
    request_body = WalkinRequest,
    responses((status = 201, body = Visit), (status = 403, body = gatebell_core::protocol::ErrorBody),
        (status = 422, body = gatebell_core::protocol::ErrorBody)))]
async fn walkin(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<WalkinRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<Visit>)> {
    user.require(&[Role::Guard])?;
    let name = required_text("visitorName", &req.visitor_name, 100)?;
    let purpose = required_text("purpose", &req.purpose, 200)?;
    let phone = phone(req.phone.as_deref())?;
    let host_id = required_text("hostId", &req.host_id, 64)?;
    let now = now_ms();
    let id = new_id();
    let mut tx = state.db.begin().await?;
    let host_role: Option<String> = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1").bind(&host_id).fetch_optional(&mut *c).await?
    });
    match host_role.as_deref() {
        Some("resident") => {}
        Some(_) => return Err(ApiError::validation("hostId must be a resident")),
        None => return Err(ApiError::validation("hostId is not a known resident")),
    }
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO visits (id, visitor_name, phone, purpose, host_id, kind, status, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, 'walkin', 'PENDING', $6, $7)",
        )
        .bind(&id)
        .bind(&name)
        .bind(&phone)
        .bind(&purpose)
        .bind(&host_id)
        .bind(&user.id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    let visit = load_visit(&mut tx, &id).await?;
    notify_user(
        &mut tx,
        NewNotification {
            user_id: &host_id,
            kind: NotificationType::WalkinPending,
            title: "Visitor at the gate".into(),
            body: format!("{name} is at the gate ({purpose}). Approve or reject?"),
            visit_id: Some(&id),
            ttl_ms: state.config.walkin_ttl_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    state.after_notify(&host_id);
    state
        .events
        .publish_guards(Event::VisitChanged { visit_id: id });
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
            "only the visit's host can approve or reject it",
        ));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let visit = load_visit(&mut tx, &id).await?;
    if visit.host_id != user.id {
        return Err(ApiError::forbidden("this visit is for another resident"));
    }
    if visit.kind != VisitKind::Walkin {
        return Err(ApiError::Conflict(
            "only walk-ins are approved or rejected".into(),
        ));
    }
    if visit.status != VisitStatus::Pending {
        return Err(ApiError::Conflict(format!(
            "this visit was decided already: it is {}",
            visit.status.as_str()
        )));
    }
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE visits SET status = $1, decided_at = $2, decided_by = $3 WHERE id = $4 AND status = 'PENDING'")
            .bind(to.as_str())
            .bind(now)
            .bind(&user.id)
            .bind(&id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if n != 1 {
        return Err(ApiError::Conflict("this visit was decided already".into()));
    }
    // The inbox entry is answered: mark it read so it no longer asks for a decision.
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE visit_id = $1 AND user_id = $2")
            .bind(&id)
            .bind(&user.id)
            .execute(&mut *c)
            .await?;
    });
    let visit = load_visit(&mut tx, &id).await?;
    tx.commit().await?;
    state.events.publish(&user.id, Event::InboxChanged);
    state
        .events
        .publish_guards(Event::VisitChanged { visit_id: id });
    Ok(Json(visit))
}

#[utoipa::path(post, path = "/api/v1/visits/{id}/approve", tag = "visits", security(("bearer" = [])),
    params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit), (status = 403, body = gatebell_core::protocol::ErrorBody),
        (status = 404, body = gatebell_core::protocol::ErrorBody), (status = 409, body = gatebell_core::protocol::ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    decide(state, user, id, VisitStatus::Approved).await
}

#[utoipa::path(post, path = "/api/v1/visits/{id}/reject", tag = "visits", security(("bearer" = [])),
    params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit), (status = 403, body = gatebell_core::protocol::ErrorBody),
        (status = 404, body = gatebell_core::protocol::ErrorBody), (status = 409, body = gatebell_core::protocol::ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    decide(state, user, id, VisitStatus::Rejected).await
}

#[utoipa::path(get, path = "/api/v1/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = String, Path, description = "visit id")),
    responses((status = 200, body = Visit), (status = 403, body = gatebell_core::protocol::ErrorBody),
        (status = 404, body = gatebell_core::protocol::ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Visit>> {
    let sql = format!("{VISIT_COLUMNS} WHERE v.id = $1");
    let row: Option<VisitRow> = on_pool!(&state.db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&id).fetch_optional(p).await?
    });
    let visit = row
        .ok_or_else(|| ApiError::not_found("no such visit"))?
        .into_visit(now_ms())?;
    visible_to(&visit, &user)?;
    Ok(Json(visit))
}

/// `GET /visits` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// `invited` or `walkin`.
    pub kind: Option<VisitKind>,
    /// Only visits created at or after this time (epoch ms); default: the last 24 hours.
    pub since: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/visits", tag = "visits", security(("bearer" = [])),
    params(VisitQuery),
    responses((status = 200, body = VisitList)))]
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
    let sql = format!(
        "{VISIT_COLUMNS} WHERE v.created_at >= $1 AND ($2 IS NULL OR v.kind = $2)
         AND ($3 IS NULL OR v.host_id = $3) ORDER BY v.created_at DESC LIMIT 200"
    );
    let rows: Vec<VisitRow> = on_pool!(&state.db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(q.kind.map(|k| k.as_str()))
            .bind(host_filter)
            .fetch_all(p)
            .await?
    });
    let items = rows
        .into_iter()
        .map(|r| r.into_visit(now))
        .collect::<ApiResult<_>>()?;
    Ok(Json(VisitList { items }))
}

#[utoipa::path(get, path = "/api/v1/dashboard/my-requests", tag = "visits", security(("bearer" = [])),
    responses((status = 200, body = VisitList), (status = 403, body = gatebell_core::protocol::ErrorBody)))]
async fn my_requests(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<VisitList>> {
    user.require(&[Role::Resident])?;
    let sql = format!(
        "{VISIT_COLUMNS} WHERE v.host_id = $1 AND v.kind = 'walkin' AND v.status = 'PENDING'
         ORDER BY v.created_at DESC LIMIT 100"
    );
    let rows: Vec<VisitRow> = on_pool!(&state.db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&user.id).fetch_all(p).await?
    });
    let now = now_ms();
    let items = rows
        .into_iter()
        .map(|r| r.into_visit(now))
        .collect::<ApiResult<_>>()?;
    Ok(Json(VisitList { items }))
}
