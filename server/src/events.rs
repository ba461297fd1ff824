//! In-process change events for live screens: "your inbox changed", "a visit changed".

use tokio::sync::broadcast;

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
}

impl Default for Events {
    fn default() -> Events {
        Events {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    /// Tells one user's screens.
    pub fn publish(&self, user_id: &str, event: Event) {
        let _ = self.tx.send((Audience::User(user_id.to_owned()), event));
    }

    /// Tells every guard's screen.
    pub fn publish_guards(&self, event: Event) {
        let _ = self.tx.send((Audience::Guards, event));
    }

    /// Listens to everything; the listener filters by audience.
    pub fn subscribe(&self) -> broadcast::Receiver<(Audience, Event)> {
        self.tx.subscribe()
    }
}
