//! Live updates for open screens: "your inbox changed", "a visit changed", streamed as
//! Server-Sent Events at `GET /notifications/stream`. On PostgreSQL every event also goes
//! through `NOTIFY`, so a screen connected to one instance hears what happened on another.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use gatebell_core::protocol::Role;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::AppState;
use crate::auth::AuthUser;

const CHANNEL: &str = "gatebell_events";

/// Something a signed-in screen may want to refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The user's inbox has a new or changed notification.
    InboxChanged,
    /// A visit changed (guards watch every walk-in).
    VisitChanged { visit_id: String },
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    User(String),
    Guards,
}

/// A broadcast of events; slow listeners miss old events and simply refetch.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<(Audience, Event)>,
    pg: Option<(PgPool, String)>,
}

impl Default for Events {
    fn default() -> Events {
        Events {
            tx: broadcast::channel(1024).0,
            pg: None,
        }
    }
}

fn encode(audience: &Audience, event: &Event, origin: &str) -> String {
    let (to, user) = match audience {
        Audience::User(u) => ("user", Some(u.as_str())),
        Audience::Guards => ("guards", None),
    };
    let (kind, visit) = match event {
        Event::InboxChanged => ("inbox", None),
        Event::VisitChanged { visit_id } => ("visit", Some(visit_id.as_str())),
    };
    json!({ "origin": origin, "to": to, "user": user, "kind": kind, "visit": visit }).to_string()
}

fn decode(text: &str) -> Option<(String, Audience, Event)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let audience = match v["to"].as_str()? {
        "user" => Audience::User(v["user"].as_str()?.to_owned()),
        "guards" => Audience::Guards,
        _ => return None,
    };
    let event = match v["kind"].as_str()? {
        "inbox" => Event::InboxChanged,
        "visit" => Event::VisitChanged {
            visit_id: v["visit"].as_str()?.to_owned(),
        },
        _ => return None,
    };
    Some((v["origin"].as_str()?.to_owned(), audience, event))
}

impl Events {
    /// Events shared with other instances through PostgreSQL's `LISTEN/NOTIFY`.
    pub fn with_postgres(pool: PgPool) -> Events {
        let events = Events {
            tx: broadcast::channel(1024).0,
            pg: Some((pool.clone(), crate::db::new_id())),
        };
        let (tx, origin) = (
            events.tx.clone(),
            events.pg.as_ref().map(|p| p.1.clone()).unwrap_or_default(),
        );
        tokio::spawn(async move {
            loop {
                match listen(&pool, &tx, &origin).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        events
    }

    fn send(&self, audience: Audience, event: Event) {
        if let Some((pool, origin)) = &self.pg {
            let (pool, text) = (pool.clone(), encode(&audience, &event, origin));
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(text)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "pg_notify failed");
                }
            });
        }
        let _ = self.tx.send((audience, event));
    }

    /// Tells one user's screens.
    pub fn publish(&self, user_id: &str, event: Event) {
        self.send(Audience::User(user_id.to_owned()), event);
    }

    /// Tells every guard's screen.
    pub fn publish_guards(&self, event: Event) {
        self.send(Audience::Guards, event);
    }

    /// Listens to everything; the listener filters by audience.
    pub fn subscribe(&self) -> broadcast::Receiver<(Audience, Event)> {
        self.tx.subscribe()
    }
}

async fn listen(
    pool: &PgPool,
    tx: &broadcast::Sender<(Audience, Event)>,
    origin: &str,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let n = listener.recv().await?;
        // Our own events were broadcast locally when they were published.
        if let Some((from, audience, event)) = decode(n.payload())
            && from != origin
        {
            let _ = tx.send((audience, event));
        }
    }
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/notifications/stream", get(stream))
}

#[utoipa::path(get, path = "/api/v1/notifications/stream", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of `inbox` and `visit` events (data: {\"visitId\"} for visits)", content_type = "text/event-stream")))]
async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let watches_gate = matches!(user.role, Role::Guard | Role::Admin);
    let me = user.id.clone();
    let hello = futures::stream::once(async { Ok(SseEvent::default().event("ready").data("{}")) });
    let events = futures::stream::unfold(rx, move |mut rx| {
        let me = me.clone();
        async move {
            loop {
                let ev = match rx.recv().await {
                    Ok((Audience::User(u), e)) if u == me => e,
                    Ok((Audience::Guards, e)) if watches_gate => e,
                    Ok(_) => continue,
                    // Missed events: tell the screen to refetch everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => Event::InboxChanged,
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                let sse = match ev {
                    Event::InboxChanged => SseEvent::default().event("inbox").data("{}"),
                    Event::VisitChanged { visit_id } => SseEvent::default()
                        .event("visit")
                        .data(json!({ "visitId": visit_id }).to_string()),
                };
                return Some((Ok(sse), rx));
            }
        }
    });
    Sse::new(futures::StreamExt::chain(hello, events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_payloads_round_trip() {
        for (a, e) in [
            (Audience::User("u1".into()), Event::InboxChanged),
            (
                Audience::Guards,
                Event::VisitChanged {
                    visit_id: "v1".into(),
                },
            ),
        ] {
            let text = encode(&a, &e, "me");
            assert_eq!(decode(&text), Some(("me".to_owned(), a, e)));
        }
        assert_eq!(decode("{\"to\":\"nobody\"}"), None);
        assert_eq!(decode("not json"), None);
    }
}
