//! The in-app inbox, and [`notify_user`]: the one way a notification is made, which also
//! queues its pushes in the same transaction (the outbox).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use gatebell_core::protocol::{
    MarkedRead, Notification, NotificationPage, NotificationType, PushPayload,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::AuthUser;
use crate::db::{Tx, new_id, now_ms};
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::{AppState, on_pool, on_tx, on_writer, push};

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/{id}/read", post(mark_read))
        .route("/notifications/read-all", post(mark_all_read))
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
}

/// What [`notify_user`] recorded.
pub struct Notified {
    pub notification_id: String,
    /// Pushes queued (one per device of the user).
    pub pushes: u32,
}

/// Records a notification and queues one push per device of the user, inside `tx`. The caller
/// commits and then wakes the dispatcher ([`push::PushHandle::wake`]).
pub async fn notify_user(tx: &mut Tx, n: NewNotification<'_>) -> ApiResult<Notified> {
    let id = new_id();
    let now = now_ms();
    let payload = PushPayload::new(
        n.kind.clone(),
        Some(id.clone()),
        n.visit_id.map(str::to_owned),
        n.title.clone(),
        n.body.clone(),
    );
    let payload_json = push::payload::encode(&payload).map_err(ApiError::validation)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notifications (id, user_id, type, title, body, visit_id, read, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)",
        )
        .bind(&id)
        .bind(n.user_id)
        .bind(n.kind.as_str())
        .bind(&n.title)
        .bind(&n.body)
        .bind(n.visit_id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    let pushes =
        push::outbox::enqueue(tx, &id, n.user_id, &payload_json, now, now + n.ttl_ms).await?;
    Ok(Notified {
        notification_id: id,
        pushes,
    })
}

/// `GET /notifications` paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1–100, default 20.
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    title: String,
    body: String,
    visit_id: Option<String>,
    read: bool,
    created_at: i64,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Notification {
        Notification {
            id: r.id,
            kind: NotificationType::parse(&r.kind),
            title: r.title,
            body: r.body,
            visit_id: r.visit_id,
            read: r.read,
            created_at: r.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = NotificationPage), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
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
    let (mut rows, unread): (Vec<NotificationRow>, i64) = on_pool!(&state.db, p => {
        let rows = sqlx::query_as(
            "SELECT id, type, title, body, visit_id, read, created_at FROM notifications
             WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(&user.id)
        .bind(&cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(p)
        .await?;
        let unread: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read = FALSE",
        )
        .bind(&user.id)
        .fetch_one(p)
        .await?;
        (rows, unread)
    });
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(NotificationPage {
        items: rows.into_iter().map(Into::into).collect(),
        unread_count: unread,
        next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 204), (status = 404, body = gatebell_core::protocol::ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let n = on_writer!(&state.db, p => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE id = $1 AND user_id = $2")
            .bind(&id)
            .bind(&user.id)
            .execute(p)
            .await?
            .rows_affected()
    });
    if n == 0 {
        return Err(ApiError::not_found("no such notification"));
    }
    state
        .events
        .publish(&user.id, crate::events::Event::InboxChanged);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead)))]
async fn mark_all_read(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<MarkedRead>> {
    let n = on_writer!(&state.db, p => {
        sqlx::query("UPDATE notifications SET read = TRUE WHERE user_id = $1 AND read = FALSE")
            .bind(&user.id)
            .execute(p)
            .await?
            .rows_affected()
    });
    state
        .events
        .publish(&user.id, crate::events::Event::InboxChanged);
    Ok(Json(MarkedRead { updated: n }))
}
