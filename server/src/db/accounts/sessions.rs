//! Sign-in sessions: opaque bearer tokens stored as hashes, their users, and ending them.

use gatebell_core::protocol::User;

use super::*;
use crate::db::{Db, Tx};

/// Starts or extends a session row (`token_hash` is its key) to `expires_at`.
pub async fn upsert_session(
    tx: &mut Tx,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $4)
             ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at, last_used_at = excluded.last_used_at",
        )
        .bind(token_hash)
        .bind(crate::db::new_id())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// A live session and its user.
pub struct SessionUser {
    pub user: User,
    /// The session's public id.
    pub session_id: String,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

type SessionUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

/// The user signed in by the session with this token hash, unless the session expired by `now`
/// or the account is disabled.
pub async fn session_user(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionUser>, sqlx::Error> {
    let row: Option<SessionUserRow> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, s.id, s.expires_at, s.last_used_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN units un ON un.id = u.unit_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    row.map(
        |(id, name, email, role, unit, session_id, expires_at, last_used_at)| {
            Ok(SessionUser {
                user: user(id, name, email, role, unit)?,
                // Every session has an id since migration 0003 (older ones got one there).
                session_id: session_id.unwrap_or_default(),
                expires_at,
                last_used_at,
            })
        },
    )
    .transpose()
}

/// The user with this (lowercase) email and their password hash.
pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    let row: Option<UserWithHash> = per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, un.name AS unit, u.password_hash, u.disabled_at
             FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.email = $1",
        )
        .bind(email)
        .fetch_optional(p)
        .await?
    });
    row.map(|r| {
        Ok(Credentials {
            user: user(r.id, r.name, r.email, r.role, r.unit)?,
            password_hash: r.password_hash,
            disabled_at: r.disabled_at,
        })
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
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, user_id, created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(token_hash)
        .bind(crate::db::new_id())
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Notes that a session was used at `now`.
pub async fn touch_session(tx: &mut Tx, token_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// The session with this token hash (logout).
    One(&'a str),
    /// Every session of this user (logout-all, a disabled or deleted account).
    AllOf(&'a str),
    /// Sessions expired by this time (cleanup), at most [`ENDING_BATCH`] at a time.
    ExpiredBy(i64),
}

/// How many expired sessions one [`end_sessions`] call ends at most.
pub const ENDING_BATCH: usize = 500;

/// Ends sessions: drops the devices registered under them (a device registered again under
/// another session belongs to that one now and stays), cancels those devices' queued pushes,
/// and deletes the sessions. Returns the token hashes of the sessions ended, for closing their
/// event streams.
pub async fn end_sessions(
    tx: &mut Tx,
    which: Ending<'_>,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let hashes: Vec<String> = match which {
            Ending::One(hash) => {
                sqlx::query_scalar("SELECT token_hash FROM sessions WHERE token_hash = $1")
                    .bind(hash)
                    .fetch_all(&mut *c)
                    .await?
            }
            Ending::AllOf(user_id) => {
                sqlx::query_scalar("SELECT token_hash FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_all(&mut *c)
                    .await?
            }
            Ending::ExpiredBy(t) => {
                sqlx::query_scalar(
                    "SELECT token_hash FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
                )
                .bind(t)
                .bind(ENDING_BATCH as i64)
                .fetch_all(&mut *c)
                .await?
            }
        };
        for hash in &hashes {
            // The claim is cleared too: a send in flight cannot record its outcome over this.
            sqlx::query(
                "UPDATE push_jobs SET state = 'pruned', claim = NULL, updated_at = $1, payload = '',
                 last_error = 'the session the device was registered under ended'
                 WHERE state = 'pending' AND device_id IN (SELECT id FROM devices WHERE session_hash = $2)",
            )
            .bind(now)
            .bind(hash)
            .execute(&mut *c)
            .await?;
            sqlx::query("DELETE FROM devices WHERE session_hash = $1")
                .bind(hash)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash)
                .execute(&mut *c)
                .await?;
        }
        Ok(hashes)
    })
}

/// One of a user's sessions, for the sessions list.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

/// A user's live sessions, newest first.
pub async fn sessions_of(db: &Db, user_id: &str, now: i64) -> Result<Vec<SessionRow>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT token_hash, id, created_at, expires_at, last_used_at FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(p)
        .await
    })
}
