//! The server-sent event stream that tells an open app what to refetch.

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::paths;

/// An event on the stream at [`paths::STREAM`]. Serialised the serde way (externally tagged),
/// the variant's name is the server-sent event's `event:` name and its fields are the `data:`
/// JSON (`{}` for a variant without fields): `event: visit` / `data: {"visitId":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum LiveEvent {
    /// Sent once when the stream opens: refetch what may have been missed.
    Ready,
    /// The user's inbox has a new or changed notification.
    Inbox,
    /// A visit changed (guards watch every walk-in).
    Visit {
        #[serde(rename = "visitId")]
        visit_id: String,
    },
    /// The stream's session ended (signed out, revoked, expired): the stream closes after it.
    #[serde(rename = "session_ended")]
    SessionEnded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_events_serialise_as_name_and_data() {
        assert_eq!(
            serde_json::to_string(&LiveEvent::Inbox).unwrap(),
            r#""inbox""#
        );
        assert_eq!(
            serde_json::to_string(&LiveEvent::Ready).unwrap(),
            r#""ready""#
        );
        let v = LiveEvent::Visit {
            visit_id: "v1".into(),
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"visit":{"visitId":"v1"}}"#
        );
    }
}
