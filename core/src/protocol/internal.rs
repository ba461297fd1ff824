//! The internal API an existing backend calls (its users, visitors and notifications), and
//! the webhooks Gatebell sends it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(doc)]
use super::paths;
use super::{NotificationType, Role, VisitStatus};

/// Body of `PUT` [`paths::INTERNAL_USER_DISABLED`]: a disabled account cannot sign in and its
/// sessions end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetDisabledRequest {
    pub disabled: bool,
}

/// `POST /internal/notify`: an existing backend asks Gatebell to notify a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InternalNotifyRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub user_id: String,
    /// `walkin_pending`, `visitor_arrived`, or a backend-defined snake_case kind.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "NotificationType"))]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, min_length = 1, max_length = 40, pattern = "^[a-z_]+$")
    )]
    pub kind: NotificationType,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub title: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 1000,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub body: String,
    #[serde(default)]
    pub visit_id: Option<String>,
    /// How long the push may still be delivered; default: the check-in TTL, at most 28 days.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2419200))]
    pub ttl_seconds: Option<u32>,
}

/// Answer to `/internal/notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct InternalNotifyResponse {
    pub notification_id: String,
    /// How many devices a push was queued for.
    pub devices: u32,
}

/// `PUT` [`paths::INTERNAL_USER`]: the existing backend creates or updates one of its users
/// (the path names them by the backend's own id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InternalUserRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub name: String,
    /// Kept when given and no other account has it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: Option<String>,
    /// E.164: `+` and 8 to 15 digits.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\+[1-9][0-9]{7,14}$"))]
    pub phone: Option<String>,
    pub role: Role,
    /// The flat; required for residents.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 32,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub unit: Option<String>,
    /// The language Gatebell writes to them in (BCP 47, one the server has a catalog for:
    /// `en`, `hi`); kept as it is when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 35))]
    pub language: Option<String>,
}

/// A user the existing backend manages, as Gatebell keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct InternalUser {
    /// Gatebell's id.
    pub id: String,
    /// The backend's id (`sub` of its JWTs).
    pub external_id: String,
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Their language (`en` until one is chosen).
    #[serde(default = "english")]
    pub language: String,
}

fn english() -> String {
    "en".into()
}

/// `POST` [`paths::INTERNAL_WALKINS`] and [`paths::INTERNAL_CHECKINS`]: a visitor the existing
/// backend registered; creating one twice with the same `externalVisitId` is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InternalVisitRequest {
    /// The backend's id for the visit.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:-]+$")
    )]
    pub external_visit_id: String,
    /// The host's id in the backend (a user made by `PUT /internal/users/{id}` or a JWT).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub host_external_id: String,
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
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
        )
    )]
    pub purpose: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 32, pattern = r"^[0-9 +()-]*$")
    )]
    pub phone: Option<String>,
}

/// The body of a webhook Gatebell sends to `--webhook-url`, in the Standard Webhooks shape
/// (`type`, `timestamp`, `data`); signed in the `webhook-signature` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// `visit.approved`, `visit.rejected` or `visit.expired`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened, RFC 3339.
    pub timestamp: String,
    pub data: VisitDecided,
}

/// What a `visit.*` webhook says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VisitDecided {
    pub visit_id: String,
    /// The backend's id for the visit, when the backend created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_visit_id: Option<String>,
    pub status: VisitStatus,
    /// Epoch milliseconds of the decision (or of the expiry).
    pub decided_at: i64,
    /// Gatebell's id of whoever decided; absent for `visit.expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by_id: Option<String>,
    /// The backend's id of whoever decided, when it manages them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by_external_id: Option<String>,
    /// The name of whoever decided; absent for `visit.expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by_name: Option<String>,
}
