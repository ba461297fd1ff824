//! The SMS and email outbox: `message_jobs` rows written in the transaction that escalated a
//! walk-in (or recorded a check-in), claimed per channel with a lease and closed with an
//! outcome, like the push outbox ([`super::outbox`]): a crashed sender's rows are claimed again
//! once the lease runs out, so no message is lost (delivery is at least once). A closed row
//! keeps no payload: it held the recipient's address and a link's action token.

use super::{Backend, Db, Tx, new_id};

/// A message to queue.
pub struct NewMessage<'a> {
    pub channel: &'static str,
    /// The event type it tells of (`walkin_pending`, `visitor_arrived`).
    pub event: &'a str,
    pub user_id: &'a str,
    pub visit_id: Option<&'a str>,
    pub payload_json: &'a str,
    pub expires_at: i64,
}

/// Queues one message, due now.
pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>, now: i64) -> Result<(), sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO message_jobs (id, channel, event, user_id, visit_id, payload, state,
             attempts, due_at, expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $7, $7)",
        )
        .bind(new_id())
        .bind(m.channel)
        .bind(m.event)
        .bind(m.user_id)
        .bind(m.visit_id)
        .bind(m.payload_json)
        .bind(now)
        .bind(m.expires_at)
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

const CLAIM_SQLITE: &str =
    "UPDATE message_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM message_jobs WHERE state = 'pending' AND channel = $5
                 AND due_at <= $3 ORDER BY due_at LIMIT $4)
    RETURNING id, event, payload, attempts, expires_at,
      (SELECT v.status FROM visits v WHERE v.id = message_jobs.visit_id) AS visit_status";

// As for pushes: instances pass over each other's rows.
const CLAIM_POSTGRES: &str =
    "UPDATE message_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM message_jobs WHERE state = 'pending' AND channel = $5
                 AND due_at <= $3 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
    RETURNING id, event, payload, attempts, expires_at,
      (SELECT v.status FROM visits v WHERE v.id = message_jobs.visit_id) AS visit_status";

/// Claims up to `limit` of `channel`'s due messages for `lease_ms`; commit `tx` straight after.
pub async fn claim(
    tx: &mut Tx,
    channel: &str,
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
            .bind(channel)
            .fetch_all(&mut *c)
            .await
    })
}

/// Where a message stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    Delivered,
    /// Back to pending, due then.
    RetryAt(i64),
    /// Too late to be of use.
    Expired,
    /// Refused for a reason retrying will not fix.
    Failed,
    /// The walk-in it asks about was decided or expired before it went.
    Cancelled,
}

impl NextState {
    /// The state's name in the table and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NextState::Delivered => "delivered",
            NextState::RetryAt(_) => "pending",
            NextState::Expired => "expired",
            NextState::Failed => "failed",
            NextState::Cancelled => "cancelled",
        }
    }
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub job_id: &'a str,
    pub claim_id: &'a str,
    pub channel: &'static str,
    pub at: i64,
    pub next: NextState,
    /// The provider's answer (HTTP status, SMTP reply code), when one came.
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    /// How long the send took; None when nothing was sent.
    pub latency_ms: Option<i64>,
}

/// Records an attempt, if `claim_id` still holds the row.
pub async fn record(tx: &mut Tx, a: &Attempt<'_>) -> Result<(), sqlx::Error> {
    let due = match a.next {
        NextState::RetryAt(t) => Some(t),
        _ => None,
    };
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE message_jobs SET state = $1, due_at = COALESCE($2, due_at), claim = NULL,
             updated_at = $3, last_status = $4, last_error = $5,
             payload = CASE WHEN $1 = 'pending' THEN payload ELSE '' END
             WHERE id = $6 AND claim = $7",
        )
        .bind(a.next.as_str())
        .bind(due)
        .bind(a.at)
        .bind(a.status.map(i64::from))
        .bind(a.error)
        .bind(a.job_id)
        .bind(a.claim_id)
        .execute(&mut *c)
        .await?;
        if let Some(latency_ms) = a.latency_ms {
            sqlx::query(
                "INSERT INTO message_attempts (id, job_id, at, channel, status, error, latency_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new_id())
            .bind(a.job_id)
            .bind(a.at)
            .bind(a.channel)
            .bind(a.status.map(i64::from))
            .bind(a.error)
            .bind(latency_ms)
            .execute(&mut *c)
            .await?;
        }
    });
    Ok(())
}

/// Makes the messages `claim_id` still holds due at `now` (stopping); returns how many.
pub async fn release(tx: &mut Tx, claim_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE message_jobs SET claim = NULL, due_at = $2, updated_at = $2
             WHERE claim = $1 AND state = 'pending'",
        )
        .bind(claim_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

/// When `channel`'s next pending message is due, if any.
pub async fn next_due(db: &Db, channel: &str) -> Result<Option<i64>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT MIN(due_at) FROM message_jobs WHERE state = 'pending' AND channel = $1",
        )
        .bind(channel)
        .fetch_one(p)
        .await
    })
}

/// Pending messages of `channel`.
pub async fn depth(db: &Db, channel: &str) -> Result<i64, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_jobs WHERE state = 'pending' AND channel = $1",
        )
        .bind(channel)
        .fetch_one(p)
        .await
    })
}

/// Deletes closed messages created before `cutoff` and every attempt made before it
/// (retention); returns how many rows went.
pub async fn purge_before(tx: &mut Tx, cutoff: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let attempts = sqlx::query("DELETE FROM message_attempts WHERE at < $1")
            .bind(cutoff)
            .execute(&mut *c)
            .await?
            .rows_affected();
        let jobs = sqlx::query(
            "DELETE FROM message_jobs WHERE created_at < $1 AND state <> 'pending'",
        )
        .bind(cutoff)
        .execute(&mut *c)
        .await?
        .rows_affected();
        Ok(attempts + jobs)
    })
}
