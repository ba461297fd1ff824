//! The event bus: "your inbox changed", "a visit changed", for open screens (the stream
//! handler in `stream.rs` sends them on). On PostgreSQL every event also goes through
//! `NOTIFY`, so a screen connected to one instance hears what happened on another.

use std::time::Duration;

use gatebell_core::protocol::LiveEvent;

use crate::db::{DbError, PgPool, notify};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

const CHANNEL: &str = "gatebell_events";

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    User(String),
    Guards,
    /// The streams of one session (by token hash): only [`LiveEvent::SessionEnded`] goes here.
    Session(String),
}

/// A `NOTIFY` payload: the event, whom it is for, and which instance sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Notice {
    origin: String,
    to: Audience,
    event: LiveEvent,
}

/// A broadcast of events; slow listeners miss old events and simply refetch.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<(Audience, LiveEvent)>,
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

fn encode(audience: &Audience, event: &LiveEvent, origin: &str) -> String {
    let notice = Notice {
        origin: origin.to_owned(),
        to: audience.clone(),
        event: event.clone(),
    };
    serde_json::to_string(&notice).expect("a notice serialises")
}

fn decode(text: &str) -> Option<(String, Audience, LiveEvent)> {
    let n: Notice = serde_json::from_str(text).ok()?;
    Some((n.origin, n.to, n.event))
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

    fn send(&self, audience: Audience, event: LiveEvent) {
        if let Some((pool, origin)) = &self.pg {
            let (pool, text) = (pool.clone(), encode(&audience, &event, origin));
            tokio::spawn(async move {
                if let Err(e) = notify::notify(&pool, CHANNEL, &text).await {
                    tracing::warn!(error = %e, "pg_notify failed");
                }
            });
        }
        let _ = self.tx.send((audience, event));
    }

    /// Tells one user's screens.
    pub fn publish(&self, user_id: &str, event: LiveEvent) {
        self.send(Audience::User(user_id.to_owned()), event);
    }

    /// Tells every guard's screen.
    pub fn publish_guards(&self, event: LiveEvent) {
        self.send(Audience::Guards, event);
    }

    /// Tells the streams of these sessions (token hashes) that their session ended.
    pub fn end_sessions(&self, token_hashes: &[String]) {
        for h in token_hashes {
            self.send(Audience::Session(h.clone()), LiveEvent::SessionEnded);
        }
    }

    /// Listens to everything; the listener filters by audience.
    pub fn subscribe(&self) -> broadcast::Receiver<(Audience, LiveEvent)> {
        self.tx.subscribe()
    }
}

async fn listen(
    pool: &PgPool,
    tx: &broadcast::Sender<(Audience, LiveEvent)>,
    origin: &str,
) -> Result<(), DbError> {
    notify::listen(pool, CHANNEL, |payload| {
        // Our own events were broadcast locally when they were published.
        if let Some((from, audience, event)) = decode(payload)
            && from != origin
        {
            let _ = tx.send((audience, event));
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_payloads_round_trip() {
        for (a, e) in [
            (Audience::User("u1".into()), LiveEvent::Inbox),
            (Audience::Session("h1".into()), LiveEvent::SessionEnded),
            (
                Audience::Guards,
                LiveEvent::Visit {
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
