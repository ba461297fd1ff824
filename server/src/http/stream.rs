//! `GET /notifications/stream`: the event bus ([`crate::events`]) as Server-Sent Events for one
//! signed-in screen. Each [`LiveEvent`] goes out under its serde name with its fields as data.
//! A user holds at most `--max-streams-per-user` streams on an instance, and a stream lives no
//! longer than its session: logout, logout-all, revocation (on any instance, through the bus)
//! and expiry send `session_ended` and close it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use gatebell_core::protocol::{LiveEvent, Role};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::db::{self, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::events::Audience;
use crate::http::auth::AuthUser;
use crate::state::AppState;

/// Seconds a client refused for too many streams is asked to wait.
const STREAMS_RETRY_AFTER_SECS: u64 = 5;

/// The server-sent event for `event`: `event:` its serde name, `data:` its fields.
fn sse(event: &LiveEvent) -> SseEvent {
    let (name, data) = match serde_json::to_value(event).expect("a live event serialises") {
        Value::String(name) => (name, "{}".to_owned()),
        Value::Object(map) => {
            let (name, data) = map.into_iter().next().expect("one variant");
            (name, data.to_string())
        }
        other => unreachable!("a unit or struct variant, not {other}"),
    };
    SseEvent::default().event(name).data(data)
}

#[utoipa::path(get, path = gatebell_core::protocol::paths::STREAM, tag = "notifications", operation_id = "streamEvents",
    security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "the bearer token, for EventSource, which cannot send an Authorization header")),
    responses((status = 200, description = "text/event-stream of `ready`, `inbox` and `visit` events (data: {\"visitId\"} for visits), and `session_ended` before it closes", content_type = "text/event-stream"),
        (status = 401, body = gatebell_core::protocol::ErrorBody),
        (status = 429, description = "the user has too many streams open; see Retry-After", body = gatebell_core::protocol::ErrorBody)))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let max = state.config.args.limits.max_streams_per_user;
    // Held by the stream: dropped when the client goes away or the stream ends.
    let slot = state.streams.acquire(&user.id, max).ok_or_else(|| {
        ApiError::TooManyRequests(
            format!("at most {max} event streams per user may be open; close one first"),
            STREAMS_RETRY_AFTER_SECS,
        )
    })?;
    let rx = state.events.subscribe();
    let watches_gate = matches!(user.role, Role::Guard | Role::Admin);
    let me = user.id.clone();
    let session = user.token_hash().to_owned();
    let left_ms = u64::try_from(user.session_expires_at - now_ms()).unwrap_or(0);
    let expires = tokio::time::Instant::now() + Duration::from_millis(left_ms);
    let db = state.db.clone();
    let hello = futures::stream::once(async { Ok(sse(&LiveEvent::Ready)) });
    let events = futures::stream::unfold(Some((rx, slot)), move |open| {
        let (me, session, db) = (me.clone(), session.clone(), db.clone());
        async move {
            let (mut rx, slot) = open?;
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    () = tokio::time::sleep_until(expires) => {
                        return Some((Ok(sse(&LiveEvent::SessionEnded)), None));
                    }
                };
                let ev = match received {
                    Ok((Audience::Session(s), LiveEvent::SessionEnded)) if s == session => {
                        return Some((Ok(sse(&LiveEvent::SessionEnded)), None));
                    }
                    Ok((Audience::User(u), e)) if u == me => e,
                    Ok((Audience::Guards, e)) if watches_gate => e,
                    Ok(_) => continue,
                    // Missed events, perhaps the session's end: check the session, and tell the
                    // screen to refetch everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(None) = db::accounts::session_user(&db, &session, now_ms()).await
                        {
                            return Some((Ok(sse(&LiveEvent::SessionEnded)), None));
                        }
                        LiveEvent::Inbox
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(sse(&ev)), Some((rx, slot))));
            }
        }
    });
    Ok(Sse::new(futures::StreamExt::chain(hello, events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
