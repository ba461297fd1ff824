//! PostgreSQL's `LISTEN/NOTIFY`: how instances on one database tell each other about
//! queued pushes and live events.

use sqlx::PgPool;

use super::DbError;

/// Sends `payload` on `channel` to every listening instance (this one too).
pub async fn notify(pool: &PgPool, channel: &str, payload: &str) -> Result<(), DbError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// Calls `on` with each payload sent on `channel`; returns only when the connection fails
/// (the caller reconnects).
pub async fn listen(pool: &PgPool, channel: &str, mut on: impl FnMut(&str)) -> Result<(), DbError> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    loop {
        let n = listener.recv().await?;
        on(n.payload());
    }
}
