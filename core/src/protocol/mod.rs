//! Every type that crosses a wire: API request and response bodies and the push payload.
//!
//! The server serialises these, the service worker and the mobile apps parse them. JSON names
//! are camelCase (`visitId`, `hostId`) as in DESIGN.md's API table.
//!
//! With the `openapi` feature the schemas also state the server's checks of a request: lengths,
//! ranges, and `^[^\u0000-\u001F\u007F-\u009F]*$` for text, which may hold no control character.

// One file per area; everything is re-exported here, so callers name `protocol::X` and never
// the file that holds it.
mod accounts;
mod devices;
mod errors;
mod internal;
mod notifications;
pub mod paths;
mod preferences;
mod push;
mod stream;
mod visits;

pub use accounts::*;
pub use devices::*;
pub use errors::*;
pub use internal::*;
pub use notifications::*;
pub use preferences::*;
pub use push::*;
pub use stream::*;
pub use visits::*;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
