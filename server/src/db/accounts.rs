//! Users, units and sign-in sessions.

use gatebell_core::protocol::{Resident, Role, User};

use super::{Db, Tx, bad_value};

/// A user row to insert (already validated and hashed).
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
    per_backend!(tx.conn(), c => {
        let unit_id: Option<String> = match u.unit {
            None => None,
            Some(unit) => {
                sqlx::query("INSERT INTO units (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                    .bind(super::new_id())
                    .bind(unit)
                    .bind(u.created_at)
                    .execute(&mut *c)
                    .await?;
                sqlx::query_scalar("SELECT id FROM units WHERE name = $1")
                    .bind(unit)
                    .fetch_optional(&mut *c)
                    .await?
            }
        };
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

/// The role of a user, if the user exists.
pub async fn role_in_tx(tx: &mut Tx, user_id: &str) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
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
             WHERE u.role = 'resident' AND (LOWER(u.name) LIKE $1 OR LOWER(un.name) LIKE $1)
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

/// The user signed in by the session with this token hash, unless it expired by `now`.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<User>, sqlx::Error> {
    let row: Option<(String, String, String, String, Option<String>)> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN units un ON un.id = u.unit_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    row.map(|(id, name, email, role, unit)| user(id, name, email, role, unit))
        .transpose()
}

/// The user with this (lowercase) email and their password hash.
pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<(User, String)>, sqlx::Error> {
    let row: Option<UserWithHash> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.password_hash
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.email = $1",
        )
        .bind(email)
        .fetch_optional(p)
        .await?
    });
    row.map(|r| {
        Ok((
            user(r.id, r.name, r.email, r.role, r.unit)?,
            r.password_hash,
        ))
    })
    .transpose()
}

/// Records a session.
pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Ends a session.
pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Whether a user with this id exists.
pub async fn user_exists_in_tx(tx: &mut Tx, user_id: &str) -> Result<bool, sqlx::Error> {
    let id: Option<String> = per_backend!(tx.conn(), c => {
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.is_some())
}
