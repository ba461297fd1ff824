//! The device registry: FCM/APNs tokens and Web Push subscriptions, upserted by token.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine;
use gatebell_core::protocol::{
    Device, ERROR_DEVICE_NOT_FOUND, Platform, RegisterDeviceRequest, UnregisterDeviceRequest,
    VapidPublicKey, WebPushSubscription,
};

use crate::auth::AuthUser;
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiResult, Json};
use crate::push::allowlist::AllowList;
use crate::{AppState, on_writer};

/// A user keeps at most this many devices; registering one more drops the least recently seen.
pub const MAX_DEVICES_PER_USER: i64 = 20;
/// Longest token accepted (FCM tokens are about 160 characters, web endpoints a few hundred).
const MAX_TOKEN_LEN: usize = 1024;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/notifications/register-device",
            post(register).delete(unregister),
        )
        .route("/notifications/vapid-public-key", get(vapid_public_key))
}

#[utoipa::path(get, path = "/api/v1/notifications/vapid-public-key", tag = "devices",
    responses((status = 200, body = VapidPublicKey)))]
async fn vapid_public_key(State(state): State<AppState>) -> Json<VapidPublicKey> {
    Json(VapidPublicKey {
        public_key: state.vapid_public_key.to_string(),
    })
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    token: String,
    platform: String,
    created_at: i64,
    updated_at: i64,
    last_seen_at: i64,
}

/// Checks a Web Push subscription: an allowed https endpoint and well-formed P-256 keys.
pub fn check_subscription(sub: &WebPushSubscription, allow: &AllowList) -> ApiResult<()> {
    if sub.endpoint.len() > MAX_TOKEN_LEN {
        return Err(ApiError::validation("subscription.endpoint is too long"));
    }
    allow
        .check(&sub.endpoint)
        .map_err(|e| ApiError::validation(format!("subscription.endpoint: {e}")))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let p256dh = b64
        .decode(sub.keys.p256dh.trim_end_matches('='))
        .map_err(|_| ApiError::validation("subscription.keys.p256dh is not base64url"))?;
    if p256dh.len() != 65 || p256dh[0] != 4 {
        return Err(ApiError::validation(
            "subscription.keys.p256dh must be an uncompressed P-256 point (65 bytes)",
        ));
    }
    if p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(ApiError::validation(
            "subscription.keys.p256dh is not a point on the P-256 curve",
        ));
    }
    let auth = b64
        .decode(sub.keys.auth.trim_end_matches('='))
        .map_err(|_| ApiError::validation("subscription.keys.auth is not base64url"))?;
    if auth.len() != 16 {
        return Err(ApiError::validation(
            "subscription.keys.auth must be 16 bytes",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/notifications/register-device", tag = "devices", security(("bearer" = [])),
    request_body = RegisterDeviceRequest,
    responses((status = 200, body = Device), (status = 401, body = gatebell_core::protocol::ErrorBody),
        (status = 422, body = gatebell_core::protocol::ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<RegisterDeviceRequest>,
) -> ApiResult<Json<Device>> {
    let token = req.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "token must be 1 to {MAX_TOKEN_LEN} printable characters"
        )));
    }
    let (endpoint, p256dh, auth) = match (req.platform, &req.subscription) {
        (Platform::Web, Some(sub)) => {
            check_subscription(sub, &state.config.allow_list)?;
            (
                Some(sub.endpoint.clone()),
                Some(sub.keys.p256dh.clone()),
                Some(sub.keys.auth.clone()),
            )
        }
        (Platform::Web, None) => {
            return Err(ApiError::validation(
                "a web device needs its Web Push subscription",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::validation(
                "only web devices carry a subscription",
            ));
        }
        (_, None) => (None, None, None),
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Upsert by token: a token seen under another user moves to this one (a shared phone
    // changed hands), and keeps its created_at.
    let row: DeviceRow = crate::on_tx!(&mut tx, c => {
        let row = sqlx::query_as(
            "INSERT INTO devices (id, token, platform, endpoint, p256dh, auth, user_id, created_at, updated_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)
             ON CONFLICT (token) DO UPDATE SET platform = excluded.platform, endpoint = excluded.endpoint,
               p256dh = excluded.p256dh, auth = excluded.auth, user_id = excluded.user_id,
               updated_at = excluded.updated_at, last_seen_at = excluded.last_seen_at
             RETURNING id, token, platform, created_at, updated_at, last_seen_at",
        )
        .bind(new_id())
        .bind(token)
        .bind(req.platform.as_str())
        .bind(endpoint)
        .bind(p256dh)
        .bind(auth)
        .bind(&user.id)
        .bind(now)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM devices WHERE user_id = $1 AND id NOT IN
             (SELECT id FROM devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC LIMIT $2)",
        )
        .bind(&user.id)
        .bind(MAX_DEVICES_PER_USER)
        .execute(&mut *c)
        .await?;
        row
    });
    tx.commit().await?;
    Ok(Json(Device {
        id: row.id,
        token: row.token,
        platform: Platform::parse(&row.platform)
            .ok_or_else(|| anyhow::anyhow!("bad platform {:?}", row.platform))?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_seen_at: row.last_seen_at,
    }))
}

#[utoipa::path(delete, path = "/api/v1/notifications/register-device", tag = "devices", security(("bearer" = [])),
    request_body = UnregisterDeviceRequest,
    responses((status = 204), (status = 404, body = gatebell_core::protocol::ErrorBody)))]
async fn unregister(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<UnregisterDeviceRequest>,
) -> ApiResult<StatusCode> {
    if req.token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::validation("token is too long"));
    }
    let n = on_writer!(&state.db, p => {
        sqlx::query("DELETE FROM devices WHERE token = $1 AND user_id = $2")
            .bind(req.token.trim())
            .bind(&user.id)
            .execute(p)
            .await?
            .rows_affected()
    });
    if n == 0 {
        return Err(ApiError::NotFound(
            ERROR_DEVICE_NOT_FOUND,
            "this token is not registered to you".into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
