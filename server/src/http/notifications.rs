//! The in-app inbox, and [`notify_user`]: the one way a notification is made, which also
//! queues its pushes in the same transaction (the outbox).

use axum::extract::State;
use axum::http::StatusCode;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{
    LiveEvent, MarkedRead, NotificationPage, NotificationType, PushPayload,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::{self, Tx, new_id, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AuthUser;
use crate::http::error::{Json, Path, Query};
use crate::state::AppState;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
}

/// Queues a push about an existing notification of `user_id` (the outcome of a walk-in it
/// asked about) on every device of theirs but those of `except_session`, inside `tx`; returns
/// how many. With the visit's tag
/// (Web Push `Topic`, FCM collapse key, APNs collapse id) it replaces the earlier push on the
/// device, and at the push service when that one is still waiting.
pub async fn push_about(
    tx: &mut Tx,
    user_id: &str,
    notification_id: &str,
    payload: &PushPayload,
    ttl_ms: i64,
    except_session: Option<&str>,
) -> ApiResult<u32> {
    let now = now_ms();
    let json = crate::channels::payload::encode(payload).map_err(ApiError::validation)?;
    let n = db::outbox::enqueue(
        tx,
        db::outbox::NewPushes {
            job_prefix: &new_id(),
            notification_id,
            user_id,
            payload_json: &json,
            now,
            expires_at: now + ttl_ms,
            except_session,
        },
    )
    .await?;
    Ok(n)
}

/// A notification to record and push.
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: NotificationType,
    pub title: String,
    pub body: String,
    pub visit_id: Option<&'a str>,
    /// How long its pushes may still be delivered.
    pub ttl_ms: i64,
    /// The recipient's action token, carried by the push ([`PushPayload::action_token`]).
    pub action_token: Option<String>,
    /// Whether to push it (false when the recipient turned push off for its event type: the
    /// inbox entry is still made).
    pub push: bool,
}

/// What [`notify_user`] recorded.
pub struct Notified {
    pub notification_id: String,
    /// Pushes queued (one per device of the user).
    pub pushes: u32,
}

/// Records a notification and queues one push per device of the user, inside `tx`. The caller
/// commits and then wakes the dispatcher ([`crate::outbox::push::PushHandle::wake`]).
pub async fn notify_user(tx: &mut Tx, n: NewNotification<'_>) -> ApiResult<Notified> {
    let id = new_id();
    let now = now_ms();
    let payload = PushPayload::new(
        n.kind.clone(),
        Some(id.clone()),
        n.visit_id.map(str::to_owned),
        n.title.clone(),
        n.body.clone(),
    )
    .with_action_token(n.action_token);
    let payload_json = crate::channels::payload::encode(&payload).map_err(ApiError::validation)?;
    db::notifications::insert(
        tx,
        db::notifications::NotificationRow {
            id: &id,
            user_id: n.user_id,
            kind: &n.kind,
            title: &n.title,
            body: &n.body,
            visit_id: n.visit_id,
            created_at: now,
        },
    )
    .await?;
    let pushes = if n.push {
        db::outbox::enqueue(
            tx,
            db::outbox::NewPushes {
                job_prefix: &id,
                notification_id: &id,
                user_id: n.user_id,
                payload_json: &payload_json,
                now,
                expires_at: now + n.ttl_ms,
                except_session: None,
            },
        )
        .await?
    } else {
        0
    };
    Ok(Notified {
        notification_id: id,
        pushes,
    })
}

/// `GET /notifications` paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = paths::NOTIFICATIONS, tag = "notifications", operation_id = "listNotifications",
    security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = NotificationPage),
        (status = 400, description = "`cursor` is not one this API gave, or a parameter does not parse", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "`limit` is out of range", body = gatebell_core::protocol::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 100"));
    }
    // Ids are UUIDv7 text: later ids sort higher, so the cursor is the last id seen.
    let cursor = match q.cursor {
        Some(c) if uuid::Uuid::parse_str(&c).is_ok() => c,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "cursor is not one this API gave".into(),
            ));
        }
        None => "~".into(), // sorts after every id
    };
    let (mut rows, unread) =
        db::notifications::page(&state.db, &user.id, &cursor, i64::from(limit) + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(NotificationPage {
        items: rows,
        unread_count: unread,
        next_cursor,
    }))
}

#[utoipa::path(post, path = paths::NOTIFICATION_READ, tag = "notifications", operation_id = "markNotificationRead",
    security(("bearer" = [])), params(("id" = String, Path, description = "notification id")),
    responses((status = 204, description = "marked read"),
        (status = 404, description = "no such notification of yours", body = gatebell_core::protocol::ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    let found = db::notifications::mark_read(&mut tx, &id, &user.id).await?;
    tx.commit().await?;
    if !found {
        return Err(ApiError::not_found("no such notification"));
    }
    state.events.publish(&user.id, LiveEvent::Inbox);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = paths::NOTIFICATIONS_READ_ALL, tag = "notifications", operation_id = "markAllNotificationsRead",
    security(("bearer" = [])), responses((status = 200, body = MarkedRead)))]
async fn mark_all_read(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<MarkedRead>> {
    let mut tx = state.db.begin().await?;
    let n = db::notifications::mark_all_read(&mut tx, &user.id).await?;
    tx.commit().await?;
    state.events.publish(&user.id, LiveEvent::Inbox);
    Ok(Json(MarkedRead { updated: n }))
}
