//! The outbox: `push_jobs` rows written in the transaction that made the notification, claimed
//! by dispatchers and closed with an outcome.
//!
//! A claim does not change a row's state: it stamps a claim id and moves `due_at` a lease into
//! the future. A dispatcher that dies mid-send leaves the row to be claimed again once the lease
//! runs out, so no row is lost (delivery is at least once; a crash between a provider's 2xx and
//! the write of the outcome re-sends that one message). A row's payload is kept only while it
//! may still be sent: closing it blanks the payload (a walk-in's carries an action token).

use super::{Backend, Db, Tx, new_id};

/// Queues one push per device of `user_id` whose session is live; returns how many. Each row's
/// id is `job_prefix` and the device id: a notification's first pushes use its own id, a later
/// push about it (a walk-in's outcome) a new one.
pub async fn enqueue(
    tx: &mut Tx,
    job_prefix: &str,
    notification_id: &str,
    user_id: &str,
    payload_json: &str,
    now: i64,
    expires_at: i64,
) -> Result<u32, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO push_jobs (id, notification_id, device_id, provider, payload, state,
             attempts, due_at, expires_at, created_at, updated_at)
             SELECT $1 || '-' || d.id, $2, d.id,
                    CASE WHEN d.platform = 'web' THEN 'webpush' ELSE 'fcm' END,
                    $3, 'pending', 0, $4, $5, $4, $4
             FROM devices d WHERE d.user_id = $6 AND (d.session_hash IS NULL OR EXISTS
               (SELECT 1 FROM sessions s WHERE s.token_hash = d.session_hash AND s.expires_at > $4))",
        )
        .bind(job_prefix)
        .bind(notification_id)
        .bind(payload_json)
        .bind(now)
        .bind(expires_at)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n as u32)
}

/// A claimed job with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub device_id: String,
    pub payload: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Where a job goes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub platform: String,
    pub token: String,
    pub endpoint: Option<String>,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

const CLAIM_SQLITE: &str =
    "UPDATE push_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM push_jobs WHERE state = 'pending' AND provider = $5 AND due_at <= $3
                 ORDER BY due_at LIMIT $4)
    RETURNING id, device_id, payload, attempts, expires_at, created_at";

// SKIP LOCKED: concurrent claimers on other instances pass over each other's rows instead of
// waiting for them, and never claim the same row twice.
const CLAIM_POSTGRES: &str =
    "UPDATE push_jobs SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
    WHERE id IN (SELECT id FROM push_jobs WHERE state = 'pending' AND provider = $5 AND due_at <= $3
                 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
    RETURNING id, device_id, payload, attempts, expires_at, created_at";

/// Claims up to `limit` of `provider`'s due jobs for `lease_ms`; commit `tx` straight after,
/// so that on PostgreSQL the claimed rows' locks are held only for the claim.
pub async fn claim(
    tx: &mut Tx,
    provider: &str,
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
            .bind(provider)
            .fetch_all(&mut *c)
            .await
    })
}

/// The device a job goes to, if it still exists and the session it was registered under is
/// live at `now` (a device of an expired session is treated as removed, and pruned).
pub async fn target(db: &Db, device_id: &str, now: i64) -> Result<Option<Target>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_as(
            "SELECT platform, token, endpoint, p256dh, auth FROM devices d WHERE d.id = $1
             AND (d.session_hash IS NULL OR EXISTS
               (SELECT 1 FROM sessions s WHERE s.token_hash = d.session_hash AND s.expires_at > $2))",
        )
        .bind(device_id)
        .bind(now)
        .fetch_optional(p)
        .await
    })
}

/// Makes the jobs `claim_id` still holds due at `now` (a dispatcher stopping with sends it
/// gave up on); returns how many.
pub async fn release(tx: &mut Tx, claim_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "UPDATE push_jobs SET claim = NULL, due_at = $2, updated_at = $2
             WHERE claim = $1 AND state = 'pending'",
        )
        .bind(claim_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n)
}

/// When `provider`'s next pending job is due, if any.
pub async fn next_due(db: &Db, provider: &str) -> Result<Option<i64>, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar(
            "SELECT MIN(due_at) FROM push_jobs WHERE state = 'pending' AND provider = $1",
        )
        .bind(provider)
        .fetch_one(p)
            .await
    })
}

/// Pending jobs.
pub async fn depth(db: &Db) -> Result<i64, sqlx::Error> {
    per_backend!(db.reader(), p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM push_jobs WHERE state = 'pending'")
            .fetch_one(p)
            .await
    })
}

/// The new state of a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    Delivered,
    /// Back to pending, due then.
    RetryAt(i64),
    Expired,
    Failed,
    /// The device is gone (or was just deleted).
    Pruned,
}

/// One attempt's record.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub job_id: String,
    pub claim_id: String,
    pub device_id: String,
    pub provider: &'static str,
    pub at: i64,
    /// None when nothing was sent (expired before sending, device gone).
    pub sent: Option<SentInfo>,
    pub next: NextState,
    pub error: Option<String>,
}

/// What was sent and how the provider answered.
#[derive(Debug, Clone)]
pub struct SentInfo {
    pub status: Option<u16>,
    pub latency_ms: i64,
}

/// Writes a batch of outcomes: job states, attempts, pruned devices.
pub async fn record(tx: &mut Tx, batch: &[Attempt]) -> Result<(), sqlx::Error> {
    for a in batch {
        let (state, due) = match a.next {
            NextState::Delivered => ("delivered", None),
            NextState::RetryAt(t) => ("pending", Some(t)),
            NextState::Expired => ("expired", None),
            NextState::Failed => ("failed", None),
            NextState::Pruned => ("pruned", None),
        };
        per_backend!(tx.conn(), c => {
            // Only the claim holder may close the row: a row re-claimed after its lease ran out
            // belongs to the newer claim. A closed row keeps no payload: a walk-in's holds the
            // recipient's action token, which is stored nowhere else unhashed.
            sqlx::query(
                "UPDATE push_jobs SET state = $1, due_at = COALESCE($2, due_at), claim = NULL,
                 updated_at = $3, last_error = $4,
                 payload = CASE WHEN $1 = 'pending' THEN payload ELSE '' END
                 WHERE id = $5 AND claim = $6",
            )
            .bind(state)
            .bind(due)
            .bind(a.at)
            .bind(a.error.as_deref())
            .bind(&a.job_id)
            .bind(&a.claim_id)
            .execute(&mut *c)
            .await?;
            if let Some(sent) = &a.sent {
                sqlx::query(
                    "INSERT INTO push_attempts (id, job_id, at, provider, status, error, latency_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(new_id())
                .bind(&a.job_id)
                .bind(a.at)
                .bind(a.provider)
                .bind(sent.status.map(i64::from))
                .bind(a.error.as_deref())
                .bind(sent.latency_ms)
                .execute(&mut *c)
                .await?;
            }
            if a.next == NextState::Pruned {
                sqlx::query("DELETE FROM devices WHERE id = $1")
                    .bind(&a.device_id)
                    .execute(&mut *c)
                    .await?;
            }
        });
    }
    Ok(())
}

/// Deletes closed outbox rows created before `cutoff` and every attempt made before it
/// (retention); returns how many rows went.
pub async fn purge_before(tx: &mut Tx, cutoff: i64) -> Result<u64, sqlx::Error> {
    per_backend!(tx.conn(), c => {
        let attempts = sqlx::query("DELETE FROM push_attempts WHERE at < $1")
            .bind(cutoff)
            .execute(&mut *c)
            .await?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM push_jobs WHERE created_at < $1 AND state <> 'pending'")
            .bind(cutoff)
            .execute(&mut *c)
            .await?
            .rows_affected();
        Ok(attempts + jobs)
    })
}
