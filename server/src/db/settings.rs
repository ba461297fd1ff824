//! Server-made settings (the VAPID key pair, the codes' HMAC secret), a key-value table.

use super::{Db, Tx};

/// Reads a setting.
pub async fn get(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(p)
            .await
    })
}

/// Stores a setting unless one exists; returns the value that won (first writer wins, so
/// instances starting together agree on one VAPID key).
pub async fn insert_if_absent(tx: &mut Tx, key: &str, value: &str) -> Result<String, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *c)
            .await
    })
}
