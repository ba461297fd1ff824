//! A user's own settings: phone, household, channels per event type, quiet hours.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[cfg(doc)]
use super::paths;
use super::{NotificationType, from_wire_name, wire_name};

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
    /// The language of everything Gatebell writes to the caller (pushes, inbox entries, texts,
    /// emails, link pages): a BCP 47 tag the server has a catalog for (`en`, `hi`).
    #[serde(default = "english")]
    pub language: String,
}

fn english() -> String {
    "en".into()
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
    #[serde(default, with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable))]
    #[cfg_attr(feature = "ts", ts(as = "Option<QuietHours>"))]
    pub quiet_hours: Option<Option<QuietHours>>,
    /// A BCP 47 tag the server has a catalog for (`en`, `hi`; `hi-IN` is `hi`); any other is a 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 35))]
    pub language: Option<String>,
}

/// A field that is present: `null` is `Some(None)`, and absence (`#[serde(default)]`) `None`.
/// A module for `with` rather than a `deserialize_with` function, which ts-rs cannot parse.
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    /// Only called for `Some` (the field skips `None`): `null` or the value.
    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_ref().and_then(Option::as_ref).serialize(s)
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
    fn preferences_update_round_trips_absent_null_and_set_quiet_hours() {
        for text in [
            r#"{"phone":"+919800000001"}"#,
            r#"{"quietHours":null}"#,
            r#"{"quietHours":{"start":"22:00","end":"07:00","timeZone":"Asia/Kolkata"}}"#,
        ] {
            let u: PreferencesUpdate = serde_json::from_str(text).unwrap();
            let again: PreferencesUpdate =
                serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
            assert_eq!(again, u, "{text}");
        }
    }
}
