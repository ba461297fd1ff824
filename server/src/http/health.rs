//! Liveness and readiness probes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

use crate::db::queue;
use crate::outbox::push::Provider;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Value>) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({ "error": { "code": "unavailable", "message": "database not reachable" } }),
                ),
            )
        }
    }
}

/// Prometheus metrics; the outbox depth is read at each scrape. With `--metrics-token` the
/// scraper must send it as a bearer token.
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    if let Some(token) = &state.config.args.access.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("send the metrics token as a Bearer token".into())
            })?;
        // Comparing digests keeps the comparison's time independent of where the tokens differ.
        if Sha256::digest(given.trim().as_bytes()) != Sha256::digest(token.as_bytes()) {
            return Err(ApiError::Unauthorized("wrong metrics token".into()));
        }
    }
    let mut pushes = 0;
    for provider in [Provider::Fcm, Provider::WebPush] {
        pushes += queue::depth(&state.db, &queue::PUSHES, provider.as_str())
            .await
            .unwrap_or(0);
    }
    state.metrics.outbox_depth.set(pushes);
    if let Ok(d) = queue::depth(&state.db, &queue::WEBHOOKS, "").await {
        state.metrics.webhook_outbox_depth.set(d);
    }
    for channel in crate::outbox::messages::CHANNELS {
        if let Ok(d) = queue::depth(&state.db, &queue::MESSAGES, channel).await {
            state
                .metrics
                .message_outbox_depth
                .with_label_values(&[channel])
                .set(d);
        }
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    ))
}
