//! Action tokens: single-use, per visit and recipient, stored as hashes (see
//! `migrations/0006_alongside.sql`).

use super::{Db, Tx};

/// Stores a token's hash for `user_id`'s decision on `visit_id`, valid until `expires_at`.
pub async fn insert(
    tx: &mut Tx,
    token_hash: &str,
    visit_id: &str,
    user_id: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO action_tokens (token_hash, visit_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(visit_id)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Whether a token could decide `visit_id` now (known, for that visit, unused, unexpired), on
/// the read side: an unauthenticated caller with a made-up token is answered without taking
/// the writer. [`consume`] decides for real.
pub async fn usable(
    db: &Db,
    token_hash: &str,
    visit_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT 1 FROM action_tokens
             WHERE token_hash = $1 AND visit_id = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(visit_id)
        .bind(now)
        .fetch_optional(p)
        .await?
    });
    Ok(found.is_some())
}

/// Uses a token on `visit_id`: marks it used and returns whose it is, or None when it is
/// unknown, for another visit, used already or expired at `now`. One statement, so two uses
/// at once cannot both succeed (on PostgreSQL the second waits for the first, then finds it
/// used).
pub async fn consume(
    tx: &mut Tx,
    token_hash: &str,
    visit_id: &str,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query_scalar(
            "UPDATE action_tokens SET used_at = $1
             WHERE token_hash = $2 AND visit_id = $3 AND used_at IS NULL AND expires_at > $1
             RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .bind(visit_id)
        .fetch_optional(&mut *c)
        .await
    })
}

/// What a token is for, whether used or expired or not.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Found {
    pub visit_id: String,
    /// Whose token it is.
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Looks a token up by its hash (a link carries the token alone, not the visit's id).
pub async fn find(db: &Db, token_hash: &str) -> Result<Option<Found>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT visit_id, user_id, expires_at, used_at FROM action_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(p)
        .await
    })
}

/// Deletes tokens that expired before `cutoff` (housekeeping); returns how many.
pub async fn purge_expired(tx: &mut Tx, cutoff: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("DELETE FROM action_tokens WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })
}
