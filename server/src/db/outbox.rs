//! The push queue: `push_jobs` rows written in the transaction that made the notification (one
//! per device), the devices they go to, and their outcomes. Claims, releases and the closing
//! of rows are the outbox's own ([`super::queue`], queue [`PUSHES`]). A dispatcher that dies
//! mid-send leaves its rows to be claimed again once the lease runs out (delivery is at least
//! once; a crash between a provider's 2xx and the write of the outcome re-sends that one
//! message).

use std::collections::HashMap;

use super::queue::{self, Outcome, to_json};
pub use super::queue::{NextState, PUSHES, Urgency};
use super::{Backend, Db, DbError, Tx};

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
    pub urgency: Urgency,
}

/// Queues one push per device of `user_id` whose session is live, but for the devices of
/// `except_session` (the session that decided, which already show the answer); returns how
/// many. Each row's id is `job_prefix` and the device id: a notification's first pushes use its
/// own id, a later push about it (a walk-in's outcome) a new one.
pub async fn enqueue(tx: &mut Tx, p: NewPushes<'_>) -> Result<u32, DbError> {
    let n = per_backend!(tx.conn(), c => {
        sqlx::query(
            "INSERT INTO push_jobs (id, notification_id, device_id, provider, payload, state,
             attempts, due_at, expires_at, created_at, updated_at, urgency)
             SELECT $1 || '-' || d.id, $2, d.id,
                    CASE WHEN d.platform = 'web' THEN 'webpush' ELSE 'fcm' END,
                    $3, 'pending', 0, $4, $5, $4, $4, $8
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
        .bind(p.urgency as i16)
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
) -> Result<HashMap<String, Target>, DbError> {
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

const PRUNE_SQLITE: &str = "DELETE FROM devices WHERE id IN (SELECT value FROM json_each($1))";

const PRUNE_POSTGRES: &str =
    "DELETE FROM devices WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))";

/// Records a batch of outcomes ([`queue::record`]) and deletes the devices found gone, in
/// three statements whatever the batch's size.
pub async fn record(tx: &mut Tx, batch: &[Attempt]) -> Result<(), DbError> {
    if batch.is_empty() {
        return Ok(());
    }
    let outcomes: Vec<Outcome> = batch
        .iter()
        .map(|a| Outcome {
            job_id: &a.job_id,
            claim_id: &a.claim_id,
            lane: a.provider,
            at: a.at,
            next: a.next,
            status: a.sent.as_ref().and_then(|s| s.status),
            error: a.error.as_deref(),
            latency_ms: a.sent.as_ref().map(|s| s.latency_ms),
        })
        .collect();
    queue::record(tx, &PUSHES, &outcomes).await?;
    let pruned: Vec<&str> = batch
        .iter()
        .filter(|a| a.next == NextState::Pruned)
        .map(|a| a.device_id.as_str())
        .collect();
    if pruned.is_empty() {
        return Ok(());
    }
    let prune = match tx.conn() {
        Backend::Sqlite(_) => PRUNE_SQLITE,
        Backend::Postgres(_) => PRUNE_POSTGRES,
    };
    let pruned = to_json(&pruned);
    per_backend!(tx.conn(), c => {
        sqlx::query(prune).bind(&pruned).execute(&mut *c).await?;
    });
    Ok(())
}
