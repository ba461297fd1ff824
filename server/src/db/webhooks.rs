//! The webhook queue: `webhook_jobs` rows written in the transaction that made the event,
//! claimed, sent and closed like every outbox row ([`super::queue`], queue [`WEBHOOKS`]);
//! delivery is at least once, and the row id is the stable `webhook-id`.

pub use super::queue::WEBHOOKS;
use super::{DbError, Tx};

/// Queues one webhook.
pub async fn enqueue(
    tx: &mut Tx,
    id: &str,
    event: &str,
    payload_json: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO webhook_jobs (id, event, payload, state, attempts, due_at, expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', 0, $4, $5, $4, $4)",
        )
        .bind(id)
        .bind(event)
        .bind(payload_json)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// A claimed webhook.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
    pub expires_at: i64,
}
