//! The SMS and email queue: `message_jobs` rows written in the transaction that escalated a
//! walk-in (or recorded a check-in), claimed per channel and closed like every outbox row
//! ([`super::queue`], queue [`MESSAGES`]). A closed row keeps no payload: it held the
//! recipient's address and a link's action token.

pub use super::queue::{MESSAGES, Urgency};
use super::{DbError, Tx, new_id};

/// A message to queue.
pub struct NewMessage<'a> {
    pub channel: &'static str,
    /// The event type it tells of (`walkin_pending`, `visitor_arrived`).
    pub event: &'a str,
    pub user_id: &'a str,
    pub visit_id: Option<&'a str>,
    pub payload_json: &'a str,
    pub expires_at: i64,
    pub urgency: Urgency,
}

/// Queues one message, due now.
pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>, now: i64) -> Result<(), DbError> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO message_jobs (id, channel, event, user_id, visit_id, payload, state,
             attempts, due_at, expires_at, created_at, updated_at, urgency)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $7, $7, $9)",
        )
        .bind(new_id())
        .bind(m.channel)
        .bind(m.event)
        .bind(m.user_id)
        .bind(m.visit_id)
        .bind(m.payload_json)
        .bind(now)
        .bind(m.expires_at)
        .bind(m.urgency as i16)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// A claimed message, with the status of the walk-in it asks about (None for other events).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub visit_status: Option<String>,
}
