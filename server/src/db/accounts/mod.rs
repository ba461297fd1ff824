//! Users and units; sign-in sessions (`sessions`), accounts from an existing backend
//! (`external`), and preferences and contact details (`preferences`).

mod external;
mod preferences;
mod sessions;

pub use external::*;
pub use preferences::*;
pub use sessions::*;

use gatebell_core::protocol::{InternalUser, Resident, Role, User};

use super::{Db, Tx, bad_value};

pub struct UserRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    /// Created when new.
    pub unit: Option<&'a str>,
    pub created_at: i64,
}

/// Inserts a user, and its unit when new. A taken email is a unique violation
/// ([`super::is_unique_violation`]).
pub async fn insert_user(tx: &mut Tx, u: UserRow<'_>) -> Result<(), sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.created_at).await?;
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id)
        .bind(u.name)
        .bind(u.email)
        .bind(u.password_hash)
        .bind(u.role.as_str())
        .bind(unit_id)
        .bind(u.created_at)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })
}

/// The id of the unit with this name, created when new.
async fn unit_id(tx: &mut Tx, unit: Option<&str>, now: i64) -> Result<Option<String>, sqlx::Error> {
    let Some(unit) = unit else {
        return Ok(None);
    };
    per_backend!(tx.conn(), c => {
        sqlx::query("INSERT INTO units (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(super::new_id())
            .bind(unit)
            .bind(now)
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar("SELECT id FROM units WHERE name = $1")
            .bind(unit)
            .fetch_optional(&mut *c)
            .await
    })
}

/// The user with this external id, as the internal API shows them.
pub async fn internal_user_in_tx(
    tx: &mut Tx,
    external_id: &str,
) -> Result<Option<InternalUser>, sqlx::Error> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = per_backend!(tx.conn(), c => {
        sqlx::query_as(
            "SELECT u.id, u.external_id, u.name, u.email, u.phone, u.role, un.name, u.language
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(&mut *c)
        .await?
    });
    row.map(
        |(id, external_id, name, email, phone, role, unit, language)| {
            Ok(InternalUser {
                language: language.unwrap_or_else(|| "en".into()),
                role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
                id,
                external_id,
                name,
                email,
                phone,
                unit,
            })
        },
    )
    .transpose()
}

/// The Gatebell id of the (not deleted) user with this external id.
pub async fn by_external_id_in_tx(
    tx: &mut Tx,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1 AND deleted_at IS NULL")
            .bind(external_id)
            .fetch_optional(&mut *c)
            .await
    })
}

/// The id of the user the internal API names by `key`: the user with that external id, else
/// the (local) user with that Gatebell id; never a deleted one.
pub async fn resolve_in_tx(tx: &mut Tx, key: &str) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE (external_id = $1 OR id = $1) AND deleted_at IS NULL
             ORDER BY CASE WHEN external_id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&mut *c)
        .await
    })
}

/// A user's name and external id (for a webhook naming who decided).
pub async fn name_and_external_id_in_tx(
    tx: &mut Tx,
    user_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_as("SELECT name, external_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await
    })
}

/// The role of a user, if the user exists and is neither disabled nor deleted.
pub async fn role_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND disabled_at IS NULL")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    role.map(|r| Role::parse(&r).ok_or_else(|| bad_value("role", &r)))
        .transpose()
}

#[derive(sqlx::FromRow)]
struct ResidentRow {
    id: String,
    name: String,
    unit: String,
}

/// Residents whose name or unit is LIKE `pattern` (lowercase), by unit and name, at most 200.
pub async fn residents(db: &Db, pattern: &str) -> Result<Vec<Resident>, sqlx::Error> {
    let rows: Vec<ResidentRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, un.name AS unit FROM users u JOIN units un ON un.id = u.unit_id
             WHERE u.role = 'resident' AND u.disabled_at IS NULL AND (LOWER(u.name) LIKE $1 OR LOWER(un.name) LIKE $1)
             ORDER BY un.name, u.name LIMIT 200",
        )
        .bind(pattern)
        .fetch_all(p)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Resident {
            id: r.id,
            name: r.name,
            unit: r.unit,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct UserWithHash {
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
    password_hash: String,
    disabled_at: Option<i64>,
}

/// A user found by email, for sign-in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    /// Set when the account is disabled.
    pub disabled_at: Option<i64>,
}

fn user(
    id: String,
    name: String,
    email: String,
    role: String,
    unit: Option<String>,
) -> Result<User, sqlx::Error> {
    Ok(User {
        role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
        id,
        name,
        email,
        unit,
    })
}

/// Whether a user with this id exists (and was not deleted).
pub async fn user_exists_in_tx(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.is_some())
}

/// Disables (`Some(time)`, voiding its action tokens) or re-enables (`None`) an account that
/// has not been deleted; false when there is no such account. End its sessions too when disabling ([`end_sessions`]).
pub async fn set_disabled(
    tx: &mut Tx,
    user_id: &str,
    disabled_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        let n = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(disabled_at)
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
        // A disabled account's outstanding tokens are void (re-enabling does not revive them).
        if n > 0 && disabled_at.is_some() {
            sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *c)
                .await?;
        }
        n
    });
    Ok(n > 0)
}

/// Deletes an account's personal data while keeping its visits as history: the user row stays
/// as an anonymous, disabled tombstone (visits reference it), the visitors' details on the
/// visits it hosted are blanked and their codes voided, and its notifications and devices are
/// deleted. End its sessions first ([`end_sessions`]). False when there is no such account.
pub async fn anonymise(
    tx: &mut Tx,
    user_id: &str,
    now: i64,
    unusable_password_hash: &str,
) -> Result<bool, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let n = sqlx::query(
            "UPDATE users SET name = 'Deleted user', email = 'deleted-' || id || '@deleted.invalid',
             password_hash = $1, unit_id = NULL, external_id = NULL, phone = NULL, channels = NULL, quiet_hours = NULL, disabled_at = COALESCE(disabled_at, $2), deleted_at = $2
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(unusable_password_hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE visits SET visitor_name = 'Deleted', phone = NULL, purpose = NULL,
             otp_hash = NULL, qr_hash = NULL WHERE host_id = $1",
        )
        .bind(user_id)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "DELETE FROM push_jobs WHERE notification_id IN (SELECT id FROM notifications WHERE user_id = $1)",
        )
        .bind(user_id)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM message_jobs WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM notifications WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM devices WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        Ok(true)
    })
}
