//! The outbox: `push_jobs` rows written in the transaction that made the notification, claimed
//! by dispatchers and closed with an outcome.
//!
//! A claim does not change a row's state: it stamps a claim id and moves `due_at` a lease into
//! the future. A dispatcher that dies mid-send leaves the row to be claimed again once the lease
//! runs out, so no row is lost (delivery is at least once; a crash between a provider's 2xx and
//! the write of the outcome re-sends that one message). A row's payload is kept only while it
//! may still be sent: closing it blanks the payload (a walk-in's carries an action token).

use std::collections::HashMap;

use super::{Backend, Db, Tx, new_id};

/// The pushes of one notification to one user's devices.
pub struct NewPushes<'a> {
    pub job_prefix: &'a str,
    pub notification_id: &'a str,
    pub user_id: &'a str,
    pub payload_json: &'a str,
    pub now: i64,
    pub expires_at: i64,
    /// Devices of this session get none (see [`enqueue`]).
    pub except_session: Option<&'a str>,
}

/// Queues one push per device of `user_id` whose session is live, but for the devices of
/// `except_session` (the session that decided, which already show the answer); returns how
/// many. Each row's id is `job_prefix` and the device id: a notification's first pushes use its
/// own id, a later push about it (a walk-in's outcome) a new one.
pub async fn enqueue(tx: &mut Tx, p: NewPushes<'_>) -> Result<u32, sqlx::Error> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO push_jobs (id, notification_id, device_id, provider, payload, state,
             attempts, due_at, expires_at, created_at, updated_at)
             SELECT $1 || '-' || d.id, $2, d.id,
                    CASE WHEN d.platform = 'web' THEN 'webpush' ELSE 'fcm' END,
                    $3, 'pending', 0, $4, $5, $4, $4
             FROM devices d WHERE d.user_id = $6 AND (d.session_hash IS NULL OR EXISTS
               (SELECT 1 FROM sessions s WHERE s.token_hash = d.session_hash AND s.expires_at > $4))
               AND ($7 IS NULL OR d.session_hash IS NULL OR d.session_hash <> $7)",
        )
        .bind(p.job_prefix)
        .bind(p.notification_id)
        .bind(p.payload_json)
        .bind(p.now)
        .bind(p.expires_at)
        .bind(p.user_id)
        .bind(p.except_session)
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

const TARGETS_SQLITE: &str = "SELECT d.id, platform, token, endpoint, p256dh, auth FROM devices d
     WHERE d.id IN (SELECT value FROM json_each($1))
     AND (d.session_hash IS NULL OR EXISTS
       (SELECT 1 FROM sessions s WHERE s.token_hash = d.session_hash AND s.expires_at > $2))";

const TARGETS_POSTGRES: &str = "SELECT d.id, platform, token, endpoint, p256dh, auth FROM devices d
     WHERE d.id IN (SELECT jsonb_array_elements_text($1::jsonb))
     AND (d.session_hash IS NULL OR EXISTS
       (SELECT 1 FROM sessions s WHERE s.token_hash = d.session_hash AND s.expires_at > $2))";

/// The devices a claimed batch goes to, by device id, in one query: those that still exist
/// and whose session is live at `now` (a device missing from the map is treated as removed,
/// and pruned). The ids travel as one JSON array, so a batch is one statement on both backends.
pub async fn targets(
    db: &Db,
    device_ids: &[&str],
    now: i64,
) -> Result<HashMap<String, Target>, sqlx::Error> {
    let ids = to_json(device_ids);
    let reader = db.reader();
    let sql = match reader {
        Backend::Sqlite(_) => TARGETS_SQLITE,
        Backend::Postgres(_) => TARGETS_POSTGRES,
    };
    let rows: Vec<TargetRow> = per_backend!(reader, p => {
        sqlx::query_as(sql).bind(&ids).bind(now).fetch_all(p).await?
    });
    Ok(rows.into_iter().map(|r| (r.id, r.target)).collect())
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: String,
    #[sqlx(flatten)]
    target: Target,
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

// A batch of outcomes is three statements whatever its size: the rows travel as one JSON
// array (SQLite's `jsonb_each`, whose object values are binary JSON, so reading each field does
// not parse the text again; PostgreSQL's `jsonb_to_recordset`). Only the claim holder may
// close a row: a row re-claimed after its lease ran out belongs to the newer claim. A closed
// row keeps no payload: a walk-in's holds the recipient's action token, stored nowhere else
// unhashed.
const CLOSE_SQLITE: &str = "UPDATE push_jobs AS p SET state = j.state,
     due_at = COALESCE(j.due, p.due_at), claim = NULL, updated_at = j.at, last_error = j.error,
     payload = CASE WHEN j.state = 'pending' THEN p.payload ELSE '' END
     FROM (SELECT value ->> 'id' AS id, value ->> 'claim' AS claim, value ->> 'state' AS state,
                  value ->> 'due' AS due, value ->> 'at' AS at, value ->> 'error' AS error
           FROM jsonb_each($1)) AS j
     WHERE p.id = j.id AND p.claim = j.claim";

const CLOSE_POSTGRES: &str = "UPDATE push_jobs AS p SET state = j.state,
     due_at = COALESCE(j.due, p.due_at), claim = NULL, updated_at = j.at, last_error = j.error,
     payload = CASE WHEN j.state = 'pending' THEN p.payload ELSE '' END
     FROM jsonb_to_recordset($1::jsonb)
          AS j(id text, claim text, state text, due bigint, at bigint, error text)
     WHERE p.id = j.id AND p.claim = j.claim";

const ATTEMPTS_SQLITE: &str =
    "INSERT INTO push_attempts (id, job_id, at, provider, status, error, latency_ms)
     SELECT value ->> 'aid', value ->> 'id', value ->> 'at', value ->> 'provider',
            value ->> 'status', value ->> 'error', value ->> 'latency'
     FROM jsonb_each($1)";

const ATTEMPTS_POSTGRES: &str =
    "INSERT INTO push_attempts (id, job_id, at, provider, status, error, latency_ms)
     SELECT aid, id, at, provider, status, error, latency
     FROM jsonb_to_recordset($1::jsonb)
          AS j(aid text, id text, at bigint, provider text, status bigint, error text, latency bigint)";

const PRUNE_SQLITE: &str = "DELETE FROM devices WHERE id IN (SELECT value FROM json_each($1))";

const PRUNE_POSTGRES: &str =
    "DELETE FROM devices WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))";

/// A row's outcome as the close statement reads it.
#[derive(serde::Serialize)]
struct Closing<'a> {
    id: &'a str,
    claim: &'a str,
    state: &'static str,
    due: Option<i64>,
    at: i64,
    error: Option<&'a str>,
}

/// An attempt's record as the insert reads it.
#[derive(serde::Serialize)]
struct AttemptRow<'a> {
    aid: String,
    id: &'a str,
    at: i64,
    provider: &'static str,
    status: Option<u16>,
    error: Option<&'a str>,
    latency: i64,
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs serialize")
}

/// Writes a batch of outcomes: job states, attempts, pruned devices, in three statements.
pub async fn record(tx: &mut Tx, batch: &[Attempt]) -> Result<(), sqlx::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let closing: Vec<Closing> = batch
        .iter()
        .map(|a| {
            let (state, due) = match a.next {
                NextState::Delivered => ("delivered", None),
                NextState::RetryAt(t) => ("pending", Some(t)),
                NextState::Expired => ("expired", None),
                NextState::Failed => ("failed", None),
                NextState::Pruned => ("pruned", None),
            };
            Closing {
                id: &a.job_id,
                claim: &a.claim_id,
                state,
                due,
                at: a.at,
                error: a.error.as_deref(),
            }
        })
        .collect();
    let attempts: Vec<AttemptRow> = batch
        .iter()
        .filter_map(|a| {
            a.sent.as_ref().map(|sent| AttemptRow {
                aid: new_id(),
                id: &a.job_id,
                at: a.at,
                provider: a.provider,
                status: sent.status,
                error: a.error.as_deref(),
                latency: sent.latency_ms,
            })
        })
        .collect();
    let pruned: Vec<&str> = batch
        .iter()
        .filter(|a| a.next == NextState::Pruned)
        .map(|a| a.device_id.as_str())
        .collect();
    let (close, insert, prune) = match tx.conn() {
        Backend::Sqlite(_) => (CLOSE_SQLITE, ATTEMPTS_SQLITE, PRUNE_SQLITE),
        Backend::Postgres(_) => (CLOSE_POSTGRES, ATTEMPTS_POSTGRES, PRUNE_POSTGRES),
    };
    let (closing, attempts, pruned) = (to_json(&closing), to_json(&attempts), to_json(&pruned));
    per_backend!(tx.conn(), c => {
        sqlx::query(close).bind(&closing).execute(&mut *c).await?;
        if attempts != "[]" {
            sqlx::query(insert).bind(&attempts).execute(&mut *c).await?;
        }
        if pruned != "[]" {
            sqlx::query(prune).bind(&pruned).execute(&mut *c).await?;
        }
    });
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
