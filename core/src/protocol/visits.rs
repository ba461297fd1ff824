//! Visits: invitations, check-ins, walk-ins and a host's decision.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(doc)]
use super::{ACTION_APPROVE, InternalVisitRequest, PushPayload, paths};
use super::{from_wire_name, wire_name};

/// How a visit began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum VisitKind {
    Invited,
    Walkin,
}

/// Where a visit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VisitStatus {
    Invited,
    CheckedIn,
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl VisitStatus {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<VisitStatus> {
        from_wire_name(s)
    }
}

impl VisitKind {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<VisitKind> {
        from_wire_name(s)
    }
}

/// One visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    pub id: String,
    pub visitor_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub host_id: String,
    pub host_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub kind: VisitKind,
    pub status: VisitStatus,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Until when an invitation's OTP and QR code are accepted (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_in_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// Name of whoever approved or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The existing backend's id for a visit it handed over ([`InternalVisitRequest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A walk-in nobody answered in time was escalated by SMS and email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
}

/// What escalating a walk-in queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// Epoch milliseconds.
    pub at: i64,
    /// Texts queued.
    pub sms: u32,
    /// Emails queued.
    pub email: u32,
}

/// `POST /visits`: a resident invites a visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub visitor_name: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 32, pattern = r"^[0-9 +()-]*$")
    )]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub purpose: Option<String>,
    /// How long the OTP and QR code stay valid; default 24 hours, at most 7 days.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10080))]
    pub valid_for_minutes: Option<u32>,
}

/// Answer to an invitation: the codes are shown once and stored only as hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct InviteResponse {
    pub visit: Visit,
    /// Six digits.
    pub otp: String,
    /// The token a QR code carries.
    pub qr: String,
}

/// `POST /visits/checkin`: exactly one of `otp` or `qr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    #[serde(default)]
    pub otp: Option<String>,
    #[serde(default)]
    pub qr: Option<String>,
}

// Derived, the schema would allow both codes or neither; the server takes exactly one.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CheckinRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let one = |field: &str, code: ObjectBuilder| {
            ObjectBuilder::new()
                .property(field, code.schema_type(Type::String))
                .required(field)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .description(Some("Exactly one of `otp` or `qr`."))
            .item(one(
                "otp",
                ObjectBuilder::new()
                    .description(Some("The invitation's six-digit OTP."))
                    .pattern(Some("^[0-9]{6}$")),
            ))
            .item(one(
                "qr",
                ObjectBuilder::new()
                    .description(Some("The token the invitation's QR code carries."))
                    .min_length(Some(1))
                    .max_length(Some(128)),
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CheckinRequest {}

/// `POST /visits/walkin`: a guard registers a visitor who was not invited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalkinRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub visitor_name: String,
    /// A resident's id, from `GET /residents`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub host_id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub purpose: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 32, pattern = r"^[0-9 +()-]*$")
    )]
    pub phone: Option<String>,
}

/// A list of visits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VisitList {
    pub items: Vec<Visit>,
}

/// A host's answer to a walk-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// `approve` or `reject`: also the notification's action id ([`ACTION_APPROVE`]).
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// The status a visit moves to.
    pub fn status(self) -> VisitStatus {
        match self {
            Decision::Approve => VisitStatus::Approved,
            Decision::Reject => VisitStatus::Rejected,
        }
    }
}

/// `POST` [`paths::VISIT_DECISION`]: a decision carried by the action token a walk-in's push
/// brought, with no session (a backend's JWT may have expired by the time the button is
/// pressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// The push's [`PushPayload::action_token`].
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub action_token: String,
}
