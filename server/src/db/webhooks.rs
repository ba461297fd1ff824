//! The webhook outbox: `webhook_jobs` rows written in the transaction that made the event,
//! claimed, sent and closed like the push outbox ([`super::outbox`]): a claim stamps a claim id
//! and moves `due_at` a lease ahead, so a crashed sender's rows are claimed again once the
//! lease runs out; delivery is at least once, and the row id is the stable `webhook-id`.

use super::{Backend, Db, Tx};

/// Queues one webhook.
pub async fn enqueue(
    tx: &mut Tx,
    id: &str,
    event: &str,
    payload_json: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
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

const CLAIM_SQLITE: &str =
    "UPDATE webhook_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM webhook_jobs WHERE state = 'pending' AND due_at <= $3
                 ORDER BY due_at LIMIT $4)
    RETURNING id, event, payload, attempts, expires_at";

// As for pushes: instances pass over each other's rows.
const CLAIM_POSTGRES: &str =
    "UPDATE webhook_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM webhook_jobs WHERE state = 'pending' AND due_at <= $3
                 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
    RETURNING id, event, payload, attempts, expires_at";

/// Claims up to `limit` due webhooks for `lease_ms`; commit `tx` straight after.
pub async fn claim(
    tx: &mut Tx,
    claim_id: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let sql = match tx.conn() {
        Backend::Sqlite(_) => CLAIM_SQLITE,
        Backend::Postgres(_) => CLAIM_POSTGRES,
    };
    per_backend!(tx.conn(), c => {
        sqlx::query_as(sql)
            .bind(claim_id)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *c)
            .await
    })
}

/// Where a webhook stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    Delivered,
    /// Back to pending, due then.
    RetryAt(i64),
    /// A day old and still not delivered.
    Expired,
    /// Refused for a reason retrying will not fix.
    Failed,
}

/// Records an attempt's outcome, if `claim_id` still holds the row.
pub async fn record(
    tx: &mut Tx,
    id: &str,
    claim_id: &str,
    next: NextState,
    status: Option<u16>,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (state, due) = match next {
        NextState::Delivered => ("delivered", None),
        NextState::RetryAt(t) => ("pending", Some(t)),
        NextState::Expired => ("expired", None),
        NextState::Failed => ("failed", None),
    };
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE webhook_jobs SET state = $1, due_at = COALESCE($2, due_at), claim = NULL,
             updated_at = $3, last_status = $4, last_error = $5 WHERE id = $6 AND claim = $7",
        )
        .bind(state)
        .bind(due)
        .bind(now)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .bind(claim_id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Makes the webhooks `claim_id` still holds due at `now` (stopping); returns how many.
pub async fn release(tx: &mut Tx, claim_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE webhook_jobs SET claim = NULL, due_at = $2, updated_at = $2
             WHERE claim = $1 AND state = 'pending'",
        )
        .bind(claim_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

/// When the next pending webhook is due, if any.
pub async fn next_due(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT MIN(due_at) FROM webhook_jobs WHERE state = 'pending'")
            .fetch_one(p)
            .await
    })
}

/// Pending webhooks.
pub async fn depth(db: &Db) -> Result<i64, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_jobs WHERE state = 'pending'")
            .fetch_one(p)
            .await
    })
}

/// Deletes closed webhooks created before `cutoff` (retention); returns how many.
pub async fn purge_before(tx: &mut Tx, cutoff: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query("DELETE FROM webhook_jobs WHERE created_at < $1 AND state <> 'pending'")
            .bind(cutoff)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })
}
