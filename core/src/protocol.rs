//! Every type that crosses a wire: API request and response bodies and the push payload.
//!
//! The server serialises these, the service worker and the mobile apps parse them. JSON names
//! are camelCase (`visitId`, `hostId`) as in DESIGN.md's API table.
//!
//! With the `openapi` feature the schemas also state the server's checks of a request: lengths,
//! ranges, and `^[^\u0000-\u001F\u007F-\u009F]*$` for text, which may hold no control character.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Largest Web Push plaintext that fits one aes128gcm record (RFC 8291, 4096-byte record).
pub const MAX_WEB_PUSH_PLAINTEXT: usize = 3993;
/// Largest FCM message payload.
pub const MAX_FCM_PAYLOAD: usize = 4096;
/// Action id of the Approve button on a walk-in notification.
pub const ACTION_APPROVE: &str = "approve";
/// Action id of the Reject button on a walk-in notification.
pub const ACTION_REJECT: &str = "reject";
/// The Android notification channel Gatebell's FCM messages name (`android.notification.channel_id`)
/// and the app creates with high importance, so a visitor comes as a heads-up banner.
pub const ANDROID_CHANNEL_ID: &str = "visitors";
/// The iOS notification category of a walk-in (`aps.category`): the app registers it with the
/// Approve and Reject actions ([`ACTION_APPROVE`], [`ACTION_REJECT`]).
pub const IOS_WALKIN_CATEGORY: &str = "WALKIN_PENDING";

// ---------------------------------------------------------------------------------------------
// Errors

/// The body of every error answer: `{ "error": { "code", "message" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A machine-readable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorDetail {
    /// Stable, snake_case: `unauthorized`, `validation`, `conflict`, `device_not_found`, …
    pub code: String,
    pub message: String,
}

/// Error code the server uses when a device token is not registered (the client re-registers).
pub const ERROR_DEVICE_NOT_FOUND: &str = "device_not_found";

/// The name serde gives a unit variant, so the enum's `#[serde(rename_all)]` is the one place
/// a wire and database name is spelled.
fn wire_name<T: Serialize>(value: &T) -> &'static str {
    serde_variant::to_variant_name(value).expect("only unit variants are named")
}

/// Parses a wire or database name with the enum's own `Deserialize`.
fn from_wire_name<'a, T: Deserialize<'a>>(name: &'a str) -> Option<T> {
    use serde::de::value::{BorrowedStrDeserializer, Error};
    T::deserialize(BorrowedStrDeserializer::<Error>::new(name)).ok()
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Resident,
    Guard,
    Admin,
}

impl Role {
    /// The lowercase name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Role> {
        from_wire_name(s)
    }
}

/// `POST /auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub password: String,
}

/// A signed-in user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The resident's flat, such as `A-101`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Answer to a login: the bearer token and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    pub user: User,
    /// Epoch milliseconds after which the token is refused.
    pub expires_at: i64,
}

/// One of the caller's sign-in sessions (`GET` [`paths::SESSIONS`]); never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    /// Epoch milliseconds of the sign-in.
    pub created_at: i64,
    /// Epoch milliseconds of the last request (kept to the minute), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Epoch milliseconds after which the session is refused.
    pub expires_at: i64,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// Body of `PUT` [`paths::INTERNAL_USER_DISABLED`]: a disabled account cannot sign in and its
/// sessions end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetDisabledRequest {
    pub disabled: bool,
}

/// Whom a walk-in for a unit's resident asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum HouseholdSetting {
    /// Every resident of the unit (the default): the first answer wins.
    Household,
    /// The host alone.
    Host,
}

impl HouseholdSetting {
    /// The lowercase name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<HouseholdSetting> {
        from_wire_name(s)
    }
}

/// `GET` [`paths::PREFERENCES`]: the caller's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    /// The caller's phone, E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Whom a walk-in for the caller's unit asks; absent for users without a unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<HouseholdSetting>,
    /// Which channels carry each kind of event to the caller.
    pub channels: ChannelPreferences,
    /// When no SMS is sent; absent: any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

/// Which channels carry one kind of event. Push reaches the caller's registered devices; SMS
/// needs a phone in the preferences; email goes to the account's address. For a walk-in, SMS
/// and email are the escalation: sent only when nobody in the household answered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub push: bool,
    pub sms: bool,
    pub email: bool,
}

/// Channels per event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelPreferences {
    /// A walk-in asking for a decision (default: push, then SMS and email if nobody answers).
    pub walkin_pending: Channels,
    /// An invited visitor checked in (default: push only).
    pub visitor_arrived: Channels,
}

impl Default for ChannelPreferences {
    fn default() -> Self {
        ChannelPreferences {
            walkin_pending: Channels {
                push: true,
                sms: true,
                email: true,
            },
            visitor_arrived: Channels {
                push: true,
                sms: false,
                email: false,
            },
        }
    }
}

impl ChannelPreferences {
    /// The channels of one event type; other types go by push alone.
    pub fn of(&self, kind: NotificationType) -> Channels {
        match kind {
            NotificationType::WalkinPending => self.walkin_pending,
            NotificationType::VisitorArrived => self.visitor_arrived,
            _ => Channels {
                push: true,
                sms: false,
                email: false,
            },
        }
    }
}

/// A daily window in which no SMS is sent, in the user's time zone; it may wrap midnight
/// (`22:00`–`07:00`). Start and end are `HH:MM`, 24-hour; the start is in the window, the end
/// is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuietHours {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")
    )]
    pub start: String,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")
    )]
    pub end: String,
    /// An IANA time zone name.
    #[cfg_attr(feature = "openapi", schema(example = "Asia/Kolkata"))]
    pub time_zone: String,
}

/// Minutes since midnight of an `HH:MM` 24-hour time.
pub fn minute_of_day(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl QuietHours {
    /// Whether the local minute of the day `minute` (0–1439) falls in the window. A window
    /// whose start equals its end is empty. None when a time is not `HH:MM`.
    pub fn contains(&self, minute: u16) -> Option<bool> {
        let (start, end) = (minute_of_day(&self.start)?, minute_of_day(&self.end)?);
        Some(if start <= end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        })
    }
}

/// `PUT` [`paths::PREFERENCES`]: what to change; an absent field stays as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields = nullable))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesUpdate {
    /// E.164 (`+` and 8 to 15 digits); an empty string removes it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^(\+[1-9][0-9]{7,14})?$"))]
    pub phone: Option<String>,
    /// The unit's setting, shared by all its residents; residents only.
    #[serde(default)]
    pub household: Option<HouseholdSetting>,
    #[serde(default)]
    pub channels: Option<ChannelPreferences>,
    /// `null` removes them. Absent stays absent when serialised, so a client that sends an
    /// update it parsed never removes quiet hours by accident.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    #[cfg_attr(feature = "ts", ts(as = "Option<QuietHours>"))]
    pub quiet_hours: Option<Option<QuietHours>>,
}

/// A field that is present: `null` is `Some(None)`, and absence (`#[serde(default)]`) `None`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A resident a guard can pick as a walk-in's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resident {
    pub id: String,
    pub name: String,
    pub unit: String,
}

// ---------------------------------------------------------------------------------------------
// Visits

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

// ---------------------------------------------------------------------------------------------
// Notifications

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

// ---------------------------------------------------------------------------------------------
// Devices

/// Where a device token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    /// The lowercase name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        wire_name(&self)
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Platform> {
        from_wire_name(s)
    }
}

/// The keys of a Web Push subscription, base64url as `PushSubscription.toJSON()` gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WebPushKeys {
    /// The browser's P-256 public key (65 bytes uncompressed).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, pattern = "^[A-Za-z0-9_-]+=*$")
    )]
    pub p256dh: String,
    /// The 16-byte authentication secret.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, pattern = "^[A-Za-z0-9_-]+=*$")
    )]
    pub auth: String,
}

/// A browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct WebPushSubscription {
    /// An `https` URL of an allowed push service.
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<i64>,
    pub keys: WebPushKeys,
}

/// `POST /notifications/register-device`: upsert by token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    /// The FCM/APNs token, or for the web a stable id of the subscription (its endpoint).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub token: String,
    pub platform: Platform,
    /// Required when `platform` is `web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<WebPushSubscription>,
    /// `android` and `ios` only, optional: the app's P-256 public key and auth secret. With
    /// them the server encrypts every FCM payload to the device (RFC 8291 `aes128gcm`, as Web
    /// Push does) into the `data` key [`ENCRYPTED_DATA_KEY`], so FCM sees no visitor names;
    /// without them the payload travels in clear text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<WebPushKeys>,
}

/// The FCM `data` key of an encrypted payload: the base64url (unpadded) RFC 8291 `aes128gcm`
/// body whose plaintext is the [`PushPayload`] JSON.
pub const ENCRYPTED_DATA_KEY: &str = "encrypted";

/// `POST /notifications/unregister-device` (or `DELETE /notifications/register-device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UnregisterDeviceRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub token: String,
}

/// A registered device as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    pub token: String,
    pub platform: Platform,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seen_at: i64,
}

/// `GET /notifications/vapid-public-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct VapidPublicKey {
    /// Uncompressed P-256 point, base64url without padding: `applicationServerKey`.
    pub public_key: String,
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

// ---------------------------------------------------------------------------------------------
// Push payload

/// A button on a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PushAction {
    /// `approve` or `reject`.
    pub action: String,
    pub title: String,
}

/// The value of a Gatebell payload's `gatebell` field; payloads without it are another
/// provider's.
pub const PAYLOAD_FORMAT: u32 = 1;

/// What every push carries: the Web Push plaintext, and the FCM `data` (as strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PushPayload {
    /// The marker of a Gatebell push ([`PAYLOAD_FORMAT`]): a service worker shared with other
    /// push providers shows only payloads that carry it and leaves the rest to the app.
    #[serde(rename = "gatebell", default)]
    pub format: u32,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "NotificationType"))]
    pub kind: NotificationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    pub title: String,
    pub body: String,
    /// Notifications with the same tag replace each other: one per visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<PushAction>,
    /// On a walk-in's push: the recipient's single-use token for `POST`
    /// [`paths::VISIT_DECISION`], so Approve / Reject work without a valid sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_token: Option<String>,
}

impl PushPayload {
    /// Builds the payload for a notification: tag per visit, Approve / Reject for walk-ins.
    pub fn new(
        kind: NotificationType,
        notification_id: Option<String>,
        visit_id: Option<String>,
        title: String,
        body: String,
    ) -> PushPayload {
        let tag = visit_id.as_deref().map(visit_tag);
        let actions = if kind == NotificationType::WalkinPending && visit_id.is_some() {
            vec![
                PushAction {
                    action: ACTION_APPROVE.into(),
                    title: "Approve".into(),
                },
                PushAction {
                    action: ACTION_REJECT.into(),
                    title: "Reject".into(),
                },
            ]
        } else {
            Vec::new()
        };
        PushPayload {
            format: PAYLOAD_FORMAT,
            kind,
            visit_id,
            notification_id,
            title,
            body,
            tag,
            actions,
            action_token: None,
        }
    }

    /// The payload with the recipient's action token ([`PushPayload::action_token`]).
    pub fn with_action_token(mut self, token: Option<String>) -> PushPayload {
        self.action_token = token;
        self
    }

    /// The FCM `data` map: `type` and `visitId` (and the notification id), all strings.
    pub fn data_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("type", self.kind.as_str().to_owned())];
        if let Some(v) = &self.visit_id {
            pairs.push(("visitId", v.clone()));
        }
        if let Some(n) = &self.notification_id {
            pairs.push(("notificationId", n.clone()));
        }
        if let Some(t) = &self.action_token {
            pairs.push(("actionToken", t.clone()));
        }
        pairs
    }
}

/// The notification tag (and Web Push `Topic`, FCM collapse key) of a visit.
pub fn visit_tag(visit_id: &str) -> String {
    format!("visit-{visit_id}")
}

// ---------------------------------------------------------------------------------------------
// API paths and live events

/// The API's paths, as clients call them and as the server routes and documents them (its
/// `#[utoipa::path]` attributes use these constants). `{id}` is a path parameter.
pub mod paths {
    /// `POST`: sign in.
    pub const LOGIN: &str = "/api/v1/auth/login";
    /// `POST`: end the session.
    pub const LOGOUT: &str = "/api/v1/auth/logout";
    /// `POST`: end every session of the caller (and the deliveries registered under them).
    pub const LOGOUT_ALL: &str = "/api/v1/auth/logout-all";
    /// `GET`: the caller's sessions ([`super::SessionInfo`]).
    pub const SESSIONS: &str = "/api/v1/auth/sessions";
    /// `GET`: the signed-in user.
    pub const ME: &str = "/api/v1/me";
    /// `GET`, `PUT`: the caller's preferences ([`super::Preferences`]).
    pub const PREFERENCES: &str = "/api/v1/me/preferences";
    /// `GET`: residents a guard can pick as a walk-in's host.
    pub const RESIDENTS: &str = "/api/v1/residents";
    /// `POST`: invite; `GET`: list.
    pub const VISITS: &str = "/api/v1/visits";
    /// `POST`: check an invited visitor in.
    pub const VISIT_CHECKIN: &str = "/api/v1/visits/checkin";
    /// `POST`: register a walk-in.
    pub const VISIT_WALKIN: &str = "/api/v1/visits/walkin";
    /// `GET`: one visit.
    pub const VISIT: &str = "/api/v1/visits/{id}";
    /// `POST`: the host lets a walk-in in.
    pub const VISIT_APPROVE: &str = "/api/v1/visits/{id}/approve";
    /// `POST`: the host turns a walk-in away.
    pub const VISIT_REJECT: &str = "/api/v1/visits/{id}/reject";
    /// `POST` ([`super::DecisionRequest`]): approve or reject with a push's action token, no
    /// session needed.
    pub const VISIT_DECISION: &str = "/api/v1/visits/{id}/decision";
    /// `GET`: the host's walk-ins awaiting a decision.
    pub const MY_REQUESTS: &str = "/api/v1/dashboard/my-requests";
    /// `GET`: the inbox.
    pub const NOTIFICATIONS: &str = "/api/v1/notifications";
    /// `POST`: mark one notification read.
    pub const NOTIFICATION_READ: &str = "/api/v1/notifications/{id}/read";
    /// `POST`: mark every notification read.
    pub const NOTIFICATIONS_READ_ALL: &str = "/api/v1/notifications/read-all";
    /// `GET`: the server-sent event stream of [`super::LiveEvent`]s.
    pub const STREAM: &str = "/api/v1/notifications/stream";
    /// `POST`: register a device; `DELETE` (with a JSON body): unregister it.
    pub const REGISTER_DEVICE: &str = "/api/v1/notifications/register-device";
    /// `POST`: unregister a device, for HTTP clients and proxies that drop a `DELETE`'s body.
    pub const UNREGISTER_DEVICE: &str = "/api/v1/notifications/unregister-device";
    /// `GET`: the VAPID public key (`applicationServerKey`).
    pub const VAPID_PUBLIC_KEY: &str = "/api/v1/notifications/vapid-public-key";
    /// `POST`: the internal API for an existing backend.
    pub const INTERNAL_NOTIFY: &str = "/api/v1/internal/notify";
    /// `PUT`: disable or re-enable an account ([`super::SetDisabledRequest`]; internal API).
    pub const INTERNAL_USER_DISABLED: &str = "/api/v1/internal/users/{id}/disabled";
    /// `PUT`: create or update a user the backend manages, named by its id there;
    /// `DELETE`: delete an account's personal data, keeping its visits anonymised (internal API).
    pub const INTERNAL_USER: &str = "/api/v1/internal/users/{id}";
    /// `POST`: the backend hands over a walk-in awaiting the host's decision.
    pub const INTERNAL_WALKINS: &str = "/api/v1/internal/walkins";
    /// `POST`: the backend reports a visitor who checked in.
    pub const INTERNAL_CHECKINS: &str = "/api/v1/internal/checkins";
    /// `GET`: this API's OpenAPI description.
    pub const OPENAPI: &str = "/api/v1/openapi.json";

    /// The API's path for a visit action (`approve` or `reject`, see [`super::ACTION_APPROVE`]).
    pub fn visit_action(visit_id: &str, action: &str) -> String {
        format!("/api/v1/visits/{visit_id}/{action}")
    }

    /// [`VISIT_DECISION`] for one visit.
    pub fn visit_decision(visit_id: &str) -> String {
        VISIT_DECISION.replace("{id}", visit_id)
    }
}

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
mod live_event_tests {
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

    #[test]
    fn visit_action_path_matches_the_route() {
        assert_eq!(
            paths::visit_action("v-1", ACTION_APPROVE),
            paths::VISIT_APPROVE.replace("{id}", "v-1")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_wrap_midnight_and_exclude_their_end() {
        let q = |start: &str, end: &str| QuietHours {
            start: start.into(),
            end: end.into(),
            time_zone: "Asia/Kolkata".into(),
        };
        let night = q("22:00", "07:00");
        assert_eq!(night.contains(22 * 60), Some(true));
        assert_eq!(night.contains(23 * 60 + 59), Some(true));
        assert_eq!(night.contains(0), Some(true));
        assert_eq!(night.contains(6 * 60 + 59), Some(true));
        assert_eq!(night.contains(7 * 60), Some(false));
        assert_eq!(night.contains(12 * 60), Some(false));
        let lunch = q("13:00", "14:30");
        assert_eq!(lunch.contains(13 * 60), Some(true));
        assert_eq!(lunch.contains(14 * 60 + 30), Some(false));
        assert_eq!(lunch.contains(12 * 60 + 59), Some(false));
        assert_eq!(q("09:00", "09:00").contains(9 * 60), Some(false));
        assert_eq!(q("24:00", "07:00").contains(0), None);
        assert_eq!(q("7:00", "08:00").contains(0), None);
    }

    #[test]
    fn times_are_two_digit_hours_and_minutes() {
        assert_eq!(minute_of_day("00:00"), Some(0));
        assert_eq!(minute_of_day("23:59"), Some(1439));
        for bad in [
            "24:00", "12:60", "1:00", "12:5", "ab:cd", "+1:00", "12-00", "",
        ] {
            assert_eq!(minute_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn channels_default_to_push_and_escalate_walkins_only() {
        let c = ChannelPreferences::default();
        let w = c.of(NotificationType::WalkinPending);
        assert!(w.push && w.sms && w.email);
        let a = c.of(NotificationType::VisitorArrived);
        assert!(a.push && !a.sms && !a.email);
        let other = c.of(NotificationType::WalkinResolved);
        assert!(other.push && !other.sms && !other.email);
    }

    #[test]
    fn quiet_hours_update_tells_null_from_absent() {
        let u: PreferencesUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!(u.quiet_hours, None);
        let u: PreferencesUpdate = serde_json::from_str(r#"{"quietHours":null}"#).unwrap();
        assert_eq!(u.quiet_hours, Some(None));
        let u: PreferencesUpdate = serde_json::from_str(
            r#"{"quietHours":{"start":"22:00","end":"07:00","timeZone":"Asia/Kolkata"}}"#,
        )
        .unwrap();
        assert_eq!(u.quiet_hours.unwrap().unwrap().start, "22:00");
    }

    #[test]
    fn preferences_update_round_trips_absent_and_null_quiet_hours() {
        for text in [r#"{"phone":"+919800000001"}"#, r#"{"quietHours":null}"#] {
            let u: PreferencesUpdate = serde_json::from_str(text).unwrap();
            let again: PreferencesUpdate =
                serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
            assert_eq!(again, u, "{text}");
        }
    }

    #[test]
    fn walkin_payload_has_approve_and_reject_and_a_visit_tag() {
        let p = PushPayload::new(
            NotificationType::WalkinPending,
            Some("n1".into()),
            Some("v1".into()),
            "Visitor at the gate".into(),
            "Ravi is at the gate. Approve or reject?".into(),
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["gatebell"], 1, "the marker a shared worker looks for");
        assert_eq!(json["type"], "walkin_pending");
        assert_eq!(json["visitId"], "v1");
        assert_eq!(json["tag"], "visit-v1");
        assert_eq!(json["actions"][0]["action"], "approve");
        assert_eq!(json["actions"][1]["action"], "reject");
    }

    #[test]
    fn arrival_payload_has_no_actions() {
        let p = PushPayload::new(
            NotificationType::VisitorArrived,
            None,
            Some("v2".into()),
            "t".into(),
            "b".into(),
        );
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("actions").is_none());
        assert_eq!(
            p.data_pairs(),
            vec![("type", "visitor_arrived".into()), ("visitId", "v2".into())]
        );
    }

    #[test]
    fn unknown_notification_types_survive_a_round_trip() {
        let t: NotificationType = serde_json::from_str("\"parcel_arrived\"").unwrap();
        assert_eq!(t, NotificationType::Other("parcel_arrived".into()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"parcel_arrived\"");
    }

    #[test]
    fn register_request_uses_wire_names_and_rejects_unknown_fields() {
        let r: RegisterDeviceRequest = serde_json::from_str(
            r#"{"token":"t","platform":"web","subscription":{"endpoint":"https://x","expirationTime":null,"keys":{"p256dh":"a","auth":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(r.platform, Platform::Web);
        assert!(
            serde_json::from_str::<RegisterDeviceRequest>(
                r#"{"token":"t","platform":"ios","extra":1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn enums_parse_their_own_names() {
        for s in [
            VisitStatus::Invited,
            VisitStatus::CheckedIn,
            VisitStatus::Pending,
            VisitStatus::Approved,
            VisitStatus::Rejected,
            VisitStatus::Expired,
        ] {
            assert_eq!(VisitStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for p in [Platform::Android, Platform::Ios, Platform::Web] {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        for r in [Role::Resident, Role::Guard, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for k in [VisitKind::Invited, VisitKind::Walkin] {
            assert_eq!(VisitKind::parse(k.as_str()), Some(k));
        }
        // The names are serde's (the database stores them), and nothing else parses.
        assert_eq!(VisitStatus::CheckedIn.as_str(), "CHECKED_IN");
        assert_eq!(VisitKind::Walkin.as_str(), "walkin");
        assert_eq!(Platform::Ios.as_str(), "ios");
        assert_eq!(Role::Guard.as_str(), "guard");
        assert_eq!(Role::parse("Guard"), None);
        assert_eq!(VisitStatus::parse("checked_in"), None);
        assert_eq!(Platform::parse(""), None);
        assert_eq!(VisitKind::parse("walkin\0"), None);
    }
}
