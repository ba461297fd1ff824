//! Who signs in: roles, sign-in, sessions, and the residents a guard can pick.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(doc)]
use super::paths;
use super::{from_wire_name, wire_name};

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

/// A resident a guard can pick as a walk-in's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resident {
    pub id: String,
    pub name: String,
    pub unit: String,
}
