//! Accounts an existing backend manages: made and updated from its JWTs and its users API,
//! and the tombstones of the ones it deleted.

use gatebell_core::protocol::{Role, User};

use super::*;
use crate::db::{Db, Tx};

/// The key of an external user's one session row. Not a [`crate::domain::sessions::hash_token`] output
/// (those are 64 hex digits), so no bearer token can ever match it; the SQL of
/// [`external_user`] builds the same string.
pub fn external_session_hash(user_id: &str) -> String {
    format!("jwt:{user_id}")
}

/// A user an external JWT names, with their session row when it is live.
pub struct ExternalUser {
    pub user: User,
    pub disabled: bool,
    /// Their language's tag; None until chosen.
    pub language: Option<String>,
    /// The session's public id, expiry and last use.
    pub session: Option<(String, i64, Option<i64>)>,
}

type ExternalUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The user with this external id (`sub`), and their session row unless it expired by `now`.
pub async fn external_user(
    db: &Db,
    external_id: &str,
    now: i64,
) -> Result<Option<ExternalUser>, sqlx::Error> {
    let row: Option<ExternalUserRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.disabled_at, s.id, s.expires_at, s.last_used_at, u.language
             FROM users u LEFT JOIN units un ON un.id = u.unit_id
             LEFT JOIN sessions s ON s.token_hash = 'jwt:' || u.id AND s.expires_at > $2
             WHERE u.external_id = $1",
        )
        .bind(external_id)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    row.map(
        |(
            id,
            name,
            email,
            role,
            unit,
            disabled_at,
            session_id,
            expires_at,
            last_used_at,
            language,
        )| {
            Ok(ExternalUser {
                user: user(id, name, email, role, unit)?,
                disabled: disabled_at.is_some(),
                language,
                session: session_id
                    .zip(expires_at)
                    .map(|(s, e)| (s, e, last_used_at)),
            })
        },
    )
    .transpose()
}

/// An external user as their latest token describes them.
pub struct ExternalUserUpdate<'a> {
    /// The id a new user gets.
    pub id_if_new: &'a str,
    pub external_id: &'a str,
    /// `None` keeps a stored name; a new user gets `name_if_new`.
    pub name: Option<&'a str>,
    pub name_if_new: &'a str,
    /// Used when the user is new; the caller picks one no other account has.
    pub email: &'a str,
    pub role: Role,
    /// Created when new.
    pub unit: Option<&'a str>,
    /// Stored as the password hash: external users do not sign in with a password.
    pub unusable_password_hash: &'a str,
    pub now: i64,
}

/// Whether an account has this email.
pub async fn email_taken_in_tx(tx: &mut Tx, email: &str) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.is_some())
}

/// Makes or updates (name, role, unit) the user with this external id; returns their id.
pub async fn upsert_external_user(
    tx: &mut Tx,
    u: ExternalUserUpdate<'_>,
) -> Result<String, sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.now).await?;
    per_backend!(tx.conn(), c => {
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
            .bind(u.external_id)
            .fetch_optional(&mut *c)
            .await?;
        match existing {
            Some(id) => {
                let before: (String, Option<String>) =
                    sqlx::query_as("SELECT role, unit_id FROM users WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *c)
                        .await?;
                sqlx::query(
                    "UPDATE users SET name = COALESCE($1, name), role = $2, unit_id = $3 WHERE id = $4",
                )
                    .bind(u.name)
                    .bind(u.role.as_str())
                    .bind(&unit_id)
                    .bind(&id)
                    .execute(&mut *c)
                    .await?;
                // Tokens follow the person: one who moved or changed role decides no more.
                if before != (u.role.as_str().to_owned(), unit_id) {
                    sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                        .bind(&id)
                        .execute(&mut *c)
                        .await?;
                }
                Ok(id)
            }
            None => {
                let id = u.id_if_new.to_owned();
                sqlx::query(
                    "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at, external_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&id)
                .bind(u.name.unwrap_or(u.name_if_new))
                .bind(u.email)
                .bind(u.unusable_password_hash)
                .bind(u.role.as_str())
                .bind(unit_id)
                .bind(u.now)
                .bind(u.external_id)
                .execute(&mut *c)
                .await?;
                Ok(id)
            }
        }
    })
}

/// A user as the backend's `PUT /internal/users/{id}` describes them.
pub struct PutExternalUser<'a> {
    /// The id a new user gets.
    pub id_if_new: &'a str,
    pub external_id: &'a str,
    pub name: &'a str,
    /// Replaces the stored email when given; a new user without one gets a placeholder.
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub role: Role,
    pub unit: Option<&'a str>,
    pub unusable_password_hash: &'a str,
    pub now: i64,
}

/// Whether an account other than the one with `external_id` has this email.
pub async fn email_taken_by_other_in_tx(
    tx: &mut Tx,
    email: &str,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "SELECT id FROM users WHERE email = $1 AND (external_id IS NULL OR external_id <> $2)",
        )
        .bind(email)
        .bind(external_id)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(id.is_some())
}

/// Makes or updates the user with this external id from the backend's description; returns
/// their id and whether they are new. A deleted (anonymised) user has no external id any
/// more, so the same id makes a new user.
pub async fn put_external_user(
    tx: &mut Tx,
    u: PutExternalUser<'_>,
) -> Result<(String, bool), sqlx::Error> {
    let unit_id = unit_id(tx, u.unit, u.now).await?;
    per_backend!(tx.conn(), c => {
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
            .bind(u.external_id)
            .fetch_optional(&mut *c)
            .await?;
        match existing {
            Some(id) => {
                let before: (String, Option<String>) =
                    sqlx::query_as("SELECT role, unit_id FROM users WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *c)
                        .await?;
                sqlx::query(
                    "UPDATE users SET name = $1, role = $2, unit_id = $3, phone = $4,
                     email = COALESCE($5, email) WHERE id = $6",
                )
                .bind(u.name)
                .bind(u.role.as_str())
                .bind(&unit_id)
                .bind(u.phone)
                .bind(u.email)
                .bind(&id)
                .execute(&mut *c)
                .await?;
                // Tokens follow the person: one who moved or changed role decides no more.
                if before != (u.role.as_str().to_owned(), unit_id) {
                    sqlx::query("DELETE FROM action_tokens WHERE user_id = $1")
                        .bind(&id)
                        .execute(&mut *c)
                        .await?;
                }
                Ok((id, false))
            }
            None => {
                let id = u.id_if_new.to_owned();
                let email = u.email.map_or_else(|| format!("{id}@external.invalid"), str::to_owned);
                sqlx::query(
                    "INSERT INTO users (id, name, email, password_hash, role, unit_id, created_at, external_id, phone)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&id)
                .bind(u.name)
                .bind(&email)
                .bind(u.unusable_password_hash)
                .bind(u.role.as_str())
                .bind(unit_id)
                .bind(u.now)
                .bind(u.external_id)
                .bind(u.phone)
                .execute(&mut *c)
                .await?;
                Ok((id, true))
            }
        }
    })
}

/// When the backend deleted the user with this external id, if it did (and has not made them
/// again since).
pub async fn tombstone(db: &Db, external_id: &str) -> Result<Option<i64>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT deleted_at FROM external_tombstones WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(p)
            .await
    })
}

/// Records (`Some(time)`) or clears (`None`) the deletion of the user with this external id.
pub async fn set_tombstone(
    tx: &mut Tx,
    external_id: &str,
    deleted_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        match deleted_at {
            Some(at) => sqlx::query(
                "INSERT INTO external_tombstones (external_id, deleted_at) VALUES ($1, $2)
                 ON CONFLICT (external_id) DO UPDATE SET deleted_at = excluded.deleted_at",
            )
            .bind(external_id)
            .bind(at)
            .execute(&mut *c)
            .await?,
            None => sqlx::query("DELETE FROM external_tombstones WHERE external_id = $1")
                .bind(external_id)
                .execute(&mut *c)
                .await?,
        };
    });
    Ok(())
}
