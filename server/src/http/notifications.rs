//! The in-app inbox: its pages, read marks, and the backend's notifications
//! (`/internal/notify` is in [`crate::http::internal`]; notifications are made by
//! [`crate::domain::notifications::notify_user`]).

use axum::extract::State;
use axum::http::StatusCode;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{LiveEvent, MarkedRead, NotificationPage};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::{self};
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
