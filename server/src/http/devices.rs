//! The device registry: FCM/APNs tokens and Web Push subscriptions, upserted by token.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{
    Device, ERROR_DEVICE_NOT_FOUND, Platform, RegisterDeviceRequest, UnregisterDeviceRequest,
    VapidPublicKey, WebPushKeys, WebPushSubscription,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::AllowList;
use crate::db::{self, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AuthUser;
use crate::http::error::Json;
use crate::state::AppState;

/// A user keeps at most this many devices; registering one more drops the least recently seen.
pub const MAX_DEVICES_PER_USER: i64 = 20;
/// Longest token accepted (FCM tokens are about 160 characters, web endpoints a few hundred).
const MAX_TOKEN_LEN: usize = 1024;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, unregister))
        .routes(routes!(unregister_by_post))
        .routes(routes!(vapid_public_key))
}

#[utoipa::path(get, path = paths::VAPID_PUBLIC_KEY, tag = "devices", operation_id = "getVapidPublicKey",
    responses((status = 200, body = VapidPublicKey)))]
async fn vapid_public_key(State(state): State<AppState>) -> Json<VapidPublicKey> {
    Json(VapidPublicKey {
        public_key: state.vapid_public_key.to_string(),
    })
}

/// Checks a Web Push subscription: an allowed https endpoint and well-formed P-256 keys.
pub fn check_subscription(sub: &WebPushSubscription, allow: &AllowList) -> ApiResult<()> {
    if sub.endpoint.len() > MAX_TOKEN_LEN {
        return Err(ApiError::validation("subscription.endpoint is too long"));
    }
    allow
        .check(&sub.endpoint)
        .map_err(|e| ApiError::validation(format!("subscription.endpoint: {e}")))?;
    check_keys(&sub.keys, "subscription.keys")
}

/// Checks a key pair's public half: `p256dh` an uncompressed P-256 point, `auth` 16 bytes.
fn check_keys(keys: &WebPushKeys, field: &str) -> ApiResult<()> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let p256dh = b64
        .decode(keys.p256dh.trim_end_matches('='))
        .map_err(|_| ApiError::validation(format!("{field}.p256dh is not base64url")))?;
    if p256dh.len() != 65 || p256dh[0] != 4 {
        return Err(ApiError::validation(format!(
            "{field}.p256dh must be an uncompressed P-256 point (65 bytes)"
        )));
    }
    if p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(ApiError::validation(format!(
            "{field}.p256dh is not a point on the P-256 curve"
        )));
    }
    let auth = b64
        .decode(keys.auth.trim_end_matches('='))
        .map_err(|_| ApiError::validation(format!("{field}.auth is not base64url")))?;
    if auth.len() != 16 {
        return Err(ApiError::validation(format!(
            "{field}.auth must be 16 bytes"
        )));
    }
    Ok(())
}

#[utoipa::path(post, path = paths::REGISTER_DEVICE, tag = "devices", operation_id = "registerDevice",
    security(("bearer" = [])), request_body = RegisterDeviceRequest,
    responses((status = 200, body = Device),
        (status = 422, description = "a bad token, a web device without a valid, allowed subscription (or another device with one), or malformed `keys`", body = gatebell_core::protocol::ErrorBody)))]
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
    if req.keys.is_some() && req.platform == Platform::Web {
        return Err(ApiError::validation(
            "a web device's keys belong in its subscription",
        ));
    }
    let (endpoint, p256dh, auth) = match (req.platform, &req.subscription) {
        (Platform::Web, Some(sub)) => {
            check_subscription(sub, &state.config.allow_list)?;
            (
                Some(sub.endpoint.as_str()),
                Some(sub.keys.p256dh.as_str()),
                Some(sub.keys.auth.as_str()),
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
        (_, None) => match &req.keys {
            Some(keys) => {
                check_keys(keys, "keys")?;
                (None, Some(keys.p256dh.as_str()), Some(keys.auth.as_str()))
            }
            None => (None, None, None),
        },
    };
    let mut tx = state.db.begin().await?;
    let device = db::devices::upsert(
        &mut tx,
        db::devices::DeviceRow {
            token,
            platform: req.platform,
            endpoint,
            p256dh,
            auth,
            user_id: &user.id,
            session_hash: user.token_hash(),
            now: now_ms(),
        },
        MAX_DEVICES_PER_USER,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(device))
}

#[utoipa::path(delete, path = paths::REGISTER_DEVICE, tag = "devices", operation_id = "unregisterDevice",
    security(("bearer" = [])), request_body = UnregisterDeviceRequest,
    responses((status = 204, description = "the device is removed"),
        (status = 404, description = "`device_not_found`: the token is not registered to you", body = gatebell_core::protocol::ErrorBody)))]
async fn unregister(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<UnregisterDeviceRequest>,
) -> ApiResult<StatusCode> {
    if req.token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::validation("token is too long"));
    }
    let mut tx = state.db.begin().await?;
    let found = db::devices::delete(&mut tx, req.token.trim(), &user.id).await?;
    tx.commit().await?;
    if !found {
        return Err(ApiError::NotFound(
            ERROR_DEVICE_NOT_FOUND,
            "this token is not registered to you".into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The same as `DELETE` [`paths::REGISTER_DEVICE`], for clients that cannot send a `DELETE` body.
#[utoipa::path(post, path = paths::UNREGISTER_DEVICE, tag = "devices", operation_id = "unregisterDeviceByPost",
    security(("bearer" = [])), request_body = UnregisterDeviceRequest,
    responses((status = 204, description = "the device is removed"),
        (status = 404, description = "`device_not_found`: the token is not registered to you", body = gatebell_core::protocol::ErrorBody)))]
async fn unregister_by_post(
    state: State<AppState>,
    user: AuthUser,
    req: Json<UnregisterDeviceRequest>,
) -> ApiResult<StatusCode> {
    unregister(state, user, req).await
}
