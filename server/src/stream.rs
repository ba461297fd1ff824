//! `GET /notifications/stream`: the event bus ([`crate::events`]) as Server-Sent Events for one
//! signed-in screen. Each [`LiveEvent`] goes out under its serde name with its fields as data.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use gatebell_core::protocol::{LiveEvent, Role};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::auth::AuthUser;
use crate::events::Audience;
use crate::state::AppState;

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
    responses((status = 200, description = "text/event-stream of `ready`, `inbox` and `visit` events (data: {\"visitId\"} for visits)", content_type = "text/event-stream")))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let watches_gate = matches!(user.role, Role::Guard | Role::Admin);
    let me = user.id.clone();
    let hello = futures::stream::once(async { Ok(sse(&LiveEvent::Ready)) });
    let events = futures::stream::unfold(rx, move |mut rx| {
        let me = me.clone();
        async move {
            loop {
                let ev = match rx.recv().await {
                    Ok((Audience::User(u), e)) if u == me => e,
                    Ok((Audience::Guards, e)) if watches_gate => e,
                    Ok(_) => continue,
                    // Missed events: tell the screen to refetch everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => LiveEvent::Inbox,
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                return Some((Ok(sse(&ev)), rx));
            }
        }
    });
    Sse::new(futures::StreamExt::chain(hello, events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
