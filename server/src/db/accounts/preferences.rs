//! Preferences and contact details: phone, channels, quiet hours, the household setting.

use gatebell_core::protocol::{ChannelPreferences, HouseholdSetting, Preferences, QuietHours};

use crate::db::{Db, Tx, bad_value};

/// A user's preferences: their phone, channels, quiet hours and their unit's household
/// setting.
pub async fn preferences(db: &Db, user_id: &str) -> Result<Preferences, sqlx::Error> {
    let row: Option<PreferenceRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.phone, un.notify, u.channels, u.quiet_hours, u.language FROM users u
             LEFT JOIN units un ON un.id = u.unit_id WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(p)
        .await?
    });
    let (phone, notify, channels, quiet_hours, language) = row.unwrap_or_default();
    Ok(Preferences {
        phone,
        household: notify
            .map(|n| HouseholdSetting::parse(&n).ok_or_else(|| bad_value("units.notify", &n)))
            .transpose()?,
        channels: parse_json("users.channels", channels)?.unwrap_or_default(),
        quiet_hours: parse_json("users.quiet_hours", quiet_hours)?,
        language: language.unwrap_or_else(|| "en".into()),
    })
}

type PreferenceRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A JSON column's value (None when NULL).
fn parse_json<T: serde::de::DeserializeOwned>(
    column: &str,
    value: Option<String>,
) -> Result<Option<T>, sqlx::Error> {
    value
        .map(|v| serde_json::from_str(&v).map_err(|_| bad_value(column, &v)))
        .transpose()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Sets a user's channels per event type.
pub async fn set_channels(
    tx: &mut Tx,
    user_id: &str,
    channels: &ChannelPreferences,
) -> Result<(), sqlx::Error> {
    let json = to_json(channels)?;
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET channels = $1 WHERE id = $2")
            .bind(json)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets (or with None removes) a user's quiet hours.
pub async fn set_quiet_hours(
    tx: &mut Tx,
    user_id: &str,
    quiet_hours: Option<&QuietHours>,
) -> Result<(), sqlx::Error> {
    let json = quiet_hours.map(to_json).transpose()?;
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET quiet_hours = $1 WHERE id = $2")
            .bind(json)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// How to reach a user beyond their devices.
#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub channels: ChannelPreferences,
    pub quiet_hours: Option<QuietHours>,
    /// Their language's tag; None until chosen (English).
    pub language: Option<String>,
}

type ContactRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A live (not disabled or deleted) user's contact details and channels.
pub async fn contact_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<Contact>, sqlx::Error> {
    let row: Option<ContactRow> = per_backend!(tx.conn(), c => {
        sqlx::query_as(
            "SELECT name, email, phone, channels, quiet_hours, language FROM users
             WHERE id = $1 AND disabled_at IS NULL AND deleted_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((name, email, phone, channels, quiet_hours, language)) = row else {
        return Ok(None);
    };
    Ok(Some(Contact {
        name,
        email,
        phone,
        channels: parse_json("users.channels", channels)?.unwrap_or_default(),
        quiet_hours: parse_json("users.quiet_hours", quiet_hours)?,
        language,
    }))
}

/// A user's language tag (None: not chosen, or no such user).
pub async fn language_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    let tag: Option<Option<String>> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT language FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(tag.flatten())
}

/// A user's language tag, outside a transaction (None: not chosen, or no such user).
pub async fn language(db: &Db, user_id: &str) -> Result<Option<String>, sqlx::Error> {
    let tag: Option<Option<String>> = per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT language FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(p)
            .await?
    });
    Ok(tag.flatten())
}

/// Sets a user's language (a tag the caller checked against the catalogs).
pub async fn set_language(tx: &mut Tx, user_id: &str, tag: &str) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(tag)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets a user's language only if none was ever chosen: a sign-in's `Accept-Language` is a
/// first default, never an override.
pub async fn default_language(tx: &mut Tx, user_id: &str, tag: &str) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2 AND language IS NULL")
            .bind(tag)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets a user's phone (`Some("")`: none).
pub async fn set_phone(tx: &mut Tx, user_id: &str, phone: Option<&str>) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE users SET phone = $1 WHERE id = $2")
            .bind(phone)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets the household setting of the user's unit; false when the user has no unit.
pub async fn set_household(
    tx: &mut Tx,
    user_id: &str,
    setting: HouseholdSetting,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE units SET notify = $1 WHERE id = (SELECT unit_id FROM users WHERE id = $2)",
        )
        .bind(setting.as_str())
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}
