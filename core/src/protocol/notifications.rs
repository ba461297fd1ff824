//! The in-app inbox and the kinds of notification.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a notification is about. Known kinds have variants; anything else an existing backend
/// sends through `/internal/notify` is kept as [`NotificationType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotificationType {
    /// A guard registered a walk-in; the host should approve or reject.
    WalkinPending,
    /// An invited visitor checked in at the gate.
    VisitorArrived,
    /// A walk-in was decided or expired: replaces the walk-in's notification (same tag) on the
    /// devices of everyone it asked, with the outcome ("Approved by Asha").
    WalkinResolved,
    /// Any other kind.
    Other(String),
}

impl NotificationType {
    /// The wire name (`walkin_pending`, …).
    pub fn as_str(&self) -> &str {
        match self {
            NotificationType::WalkinPending => "walkin_pending",
            NotificationType::VisitorArrived => "visitor_arrived",
            NotificationType::WalkinResolved => "walkin_resolved",
            NotificationType::Other(s) => s,
        }
    }

    /// Parses a wire name; unknown names become [`NotificationType::Other`].
    pub fn parse(s: &str) -> NotificationType {
        match s {
            "walkin_pending" => NotificationType::WalkinPending,
            "visitor_arrived" => NotificationType::VisitorArrived,
            "walkin_resolved" => NotificationType::WalkinResolved,
            other => NotificationType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for NotificationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for NotificationType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NotificationType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(NotificationType::parse(&s))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for NotificationType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "`walkin_pending`, `visitor_arrived`, `walkin_resolved`, or a backend-defined snake_case kind",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for NotificationType {}

/// One entry of the in-app inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "NotificationType"))]
    pub kind: NotificationType,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_id: Option<String>,
    pub read: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// `GET /notifications`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub unread_count: i64,
    /// Pass as `?cursor=` to get the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// How many notifications were marked read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MarkedRead {
    pub updated: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_notification_types_survive_a_round_trip() {
        let t: NotificationType = serde_json::from_str("\"parcel_arrived\"").unwrap();
        assert_eq!(t, NotificationType::Other("parcel_arrived".into()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"parcel_arrived\"");
    }
}
