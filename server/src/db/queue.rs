//! The outbox's statements, written once for its three tables: `push_jobs` (a lane per
//! provider), `webhook_jobs` (one lane) and `message_jobs` (a lane per channel).
//!
//! A row is `pending` until an attempt closes it. A claim stamps a claim id on due rows and
//! moves their `due_at` a lease ahead, so a crashed sender's rows are claimed again once the
//! lease runs out (delivery is at least once); on PostgreSQL it skips rows another instance
//! holds (`FOR UPDATE SKIP LOCKED`). Only the claim holder may close a row. A claim takes the
//! most urgent rows first ([`Urgency`], then the earliest deadline), but every fourth claim of
//! a lane takes rows in due order ([`Order::for_claim`]): urgent rows cannot starve the rest,
//! and the rest delay an urgent row by at most that one claim. A batch of outcomes
//! is two statements whatever its size: the rows travel as one JSON array (SQLite's
//! `jsonb_each`, PostgreSQL's `jsonb_to_recordset`).

use std::sync::LazyLock;

use sqlx::FromRow;

use super::{Backend, Db, DbError, Tx, new_id, now_ms};

/// One outbox table.
pub struct Queue {
    /// For logs and metrics: `pushes`, `webhooks`, `messages`.
    pub name: &'static str,
    /// The column that splits the table into lanes (`provider`, `channel`), if any.
    lane: Option<&'static str>,
    /// The table of attempts, if attempts are logged.
    attempts: Option<&'static str>,
    // The statements, made once per process (sqlx takes `&'static str` as audited SQL).
    /// By [`Order`], then by backend.
    claim: [[&'static str; 2]; 2],
    close: [&'static str; 2],
    log: [&'static str; 2],
    release: &'static str,
    next_due: &'static str,
    depth: &'static str,
    purge_jobs: &'static str,
    purge_attempts: Option<&'static str>,
}

/// A statement made once at start-up, kept for the process's life.
fn stmt(sql: String) -> &'static str {
    sql.leak()
}

/// Claimed rows come back with these columns (the queue's job type reads them).
const PUSH_COLUMNS: &str = "id, device_id, payload, attempts, expires_at, created_at";
const WEBHOOK_COLUMNS: &str = "id, event, payload, attempts, expires_at";
const MESSAGE_COLUMNS: &str = "id, event, payload, attempts, expires_at,
      (SELECT v.status FROM visits v WHERE v.id = message_jobs.visit_id) AS visit_status";

pub static PUSHES: LazyLock<Queue> = LazyLock::new(|| {
    Queue::new(
        "pushes",
        "push_jobs",
        Some("provider"),
        Some("push_attempts"),
        PUSH_COLUMNS,
    )
});
pub static WEBHOOKS: LazyLock<Queue> =
    LazyLock::new(|| Queue::new("webhooks", "webhook_jobs", None, None, WEBHOOK_COLUMNS));
pub static MESSAGES: LazyLock<Queue> = LazyLock::new(|| {
    Queue::new(
        "messages",
        "message_jobs",
        Some("channel"),
        Some("message_attempts"),
        MESSAGE_COLUMNS,
    )
});

impl Queue {
    fn new(
        name: &'static str,
        table: &'static str,
        lane: Option<&'static str>,
        attempts: Option<&'static str>,
        returning: &str,
    ) -> Queue {
        let in_lane = lane.map_or(String::new(), |l| format!(" AND {l} = $5"));
        let claim = |from: &str, order: &str, skip_locked: &str| {
            format!(
                "UPDATE {table} SET claim = $1, due_at = $2, attempts = attempts + 1, updated_at = $3
                 WHERE id IN (SELECT id FROM {from} WHERE state = 'pending'{in_lane} AND due_at <= $3
                              ORDER BY {order} LIMIT $4{skip_locked})
                 RETURNING {returning}"
            )
        };
        // SQLite without statistics would take the due-time index and sort every due row:
        // the urgent claim names its index, which yields rows in claim order.
        let urgent = [
            claim(
                &format!("{table} INDEXED BY {table}_urgent"),
                "urgency, expires_at",
                "",
            ),
            claim(table, "urgency, expires_at", " FOR UPDATE SKIP LOCKED"),
        ];
        let due = [
            claim(table, "due_at", ""),
            claim(table, "due_at", " FOR UPDATE SKIP LOCKED"),
        ];
        // A closed row keeps no payload: it held an action token or an address.
        let set = "state = j.state, due_at = COALESCE(j.due, q.due_at), claim = NULL,
                   updated_at = j.at, last_status = j.status, last_error = j.error,
                   payload = CASE WHEN j.state = 'pending' THEN q.payload ELSE '' END";
        let close_sqlite = format!(
            "UPDATE {table} AS q SET {set}
             FROM (SELECT value ->> 'id' AS id, value ->> 'claim' AS claim,
                          value ->> 'state' AS state, value ->> 'due' AS due, value ->> 'at' AS at,
                          value ->> 'status' AS status, value ->> 'error' AS error
                   FROM jsonb_each($1)) AS j
             WHERE q.id = j.id AND q.claim = j.claim"
        );
        let close_postgres = format!(
            "UPDATE {table} AS q SET {set}
             FROM jsonb_to_recordset($1::jsonb)
                  AS j(id text, claim text, state text, due bigint, at bigint, status bigint, error text)
             WHERE q.id = j.id AND q.claim = j.claim"
        );
        let (log_sqlite, log_postgres) = match (attempts, lane) {
            (Some(log), Some(lane)) => (
                format!(
                    "INSERT INTO {log} (id, job_id, at, {lane}, status, error, latency_ms)
                     SELECT value ->> 'aid', value ->> 'id', value ->> 'at', value ->> 'lane',
                            value ->> 'status', value ->> 'error', value ->> 'latency'
                     FROM jsonb_each($1)"
                ),
                format!(
                    "INSERT INTO {log} (id, job_id, at, {lane}, status, error, latency_ms)
                     SELECT aid, id, at, lane, status, error, latency
                     FROM jsonb_to_recordset($1::jsonb)
                          AS j(aid text, id text, at bigint, lane text, status bigint, error text,
                               latency bigint)"
                ),
            ),
            _ => (String::new(), String::new()),
        };
        let lane_1 = lane.map_or(String::new(), |l| format!(" AND {l} = $1"));
        Queue {
            name,
            lane,
            attempts,
            claim: [urgent.map(stmt), due.map(stmt)],
            close: [close_sqlite, close_postgres].map(stmt),
            log: [log_sqlite, log_postgres].map(stmt),
            release: stmt(format!(
                "UPDATE {table} SET claim = NULL, due_at = $2, updated_at = $2
                 WHERE claim = $1 AND state = 'pending'"
            )),
            next_due: stmt(format!(
                "SELECT MIN(due_at) FROM {table} WHERE state = 'pending'{lane_1}"
            )),
            depth: stmt(format!(
                "SELECT COUNT(*) FROM {table} WHERE state = 'pending'{lane_1}"
            )),
            purge_jobs: stmt(format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table}
                 WHERE created_at < $1 AND state <> 'pending' ORDER BY created_at LIMIT $2)"
            )),
            purge_attempts: attempts.map(|log| {
                stmt(format!(
                    "DELETE FROM {log} WHERE id IN
                     (SELECT id FROM {log} WHERE at < $1 ORDER BY at LIMIT $2)"
                ))
            }),
        }
    }
}

impl Queue {
    /// The claim statement in `order` for SQLite or PostgreSQL (for tests of its plan).
    pub fn claim_sql(&self, order: Order, postgres: bool) -> &'static str {
        self.claim[order as usize][usize::from(postgres)]
    }
}

/// 0 for SQLite, 1 for PostgreSQL: the index of a statement pair.
fn which<S, P>(b: &Backend<S, P>) -> usize {
    match b {
        Backend::Sqlite(_) => 0,
        Backend::Postgres(_) => 1,
    }
}

/// How a row's class is ranked: the visitor at the gate first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// A walk-in waiting for an answer, and its outcome.
    Gate = 0,
    /// A visitor who checked in.
    Arrival = 1,
    /// Everything else: the backend's notices, webhooks.
    Bulk = 2,
}

/// The order of one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By urgency, then by deadline (`expires_at`).
    Urgent = 0,
    /// By `due_at`, whatever the class.
    Due = 1,
}

impl Order {
    /// The order of a lane's `n`th claim: every fourth is [`Order::Due`], the rest
    /// [`Order::Urgent`].
    pub fn for_claim(n: u64) -> Order {
        if n % 4 == 3 {
            Order::Due
        } else {
            Order::Urgent
        }
    }
}

/// One worker's hold on a lane of a queue: the rows it claims carry its `claim_id` for
/// `lease_ms`, and only it records or hands them back.
pub struct Hold {
    pub db: Db,
    pub queue: &'static Queue,
    /// The lane's name (ignored by a queue with one lane).
    pub lane: &'static str,
    pub claim_id: String,
    pub lease_ms: i64,
}

impl Hold {
    /// A hold with a claim id of its own.
    pub fn new(db: &Db, queue: &'static Queue, lane: &'static str, lease_ms: i64) -> Hold {
        Hold {
            db: db.clone(),
            queue,
            lane,
            claim_id: new_id(),
            lease_ms,
        }
    }

    /// Claims up to `limit` due rows in `order`, in a transaction of its own: on PostgreSQL
    /// the claimed rows' locks are held only for the claim.
    pub async fn claim<J>(&self, order: Order, limit: i64) -> Result<Vec<J>, DbError>
    where
        J: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let (q, now) = (self.queue, now_ms());
        let mut tx = self.db.begin_background().await?;
        let sql = q.claim[order as usize][which(&tx.conn())];
        let jobs = per_backend!(tx.conn(), conn => {
            let query = sqlx::query_as(sql)
                .bind(&self.claim_id)
                .bind(now + self.lease_ms)
                .bind(now)
                .bind(limit);
            let query = if q.lane.is_some() { query.bind(self.lane) } else { query };
            query.fetch_all(&mut *conn).await
        })?;
        tx.commit().await?;
        Ok(jobs)
    }

    /// When the lane's next pending row is due, if any.
    pub async fn next_due(&self) -> Result<Option<i64>, DbError> {
        let q = self.queue;
        per_backend!(self.db.reader(), p => {
            let query = sqlx::query_scalar(q.next_due);
            let query = if q.lane.is_some() { query.bind(self.lane) } else { query };
            query.fetch_one(p).await
        })
    }

    /// Makes the rows this hold still has due now (a worker stopping with sends it gave up
    /// on); returns how many.
    pub async fn release(&self) -> Result<u64, DbError> {
        let now = now_ms();
        let mut tx = self.db.begin_background().await?;
        let n = per_backend!(tx.conn(), c => {
            sqlx::query(self.queue.release)
                .bind(&self.claim_id)
                .bind(now)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        })?;
        tx.commit().await?;
        Ok(n)
    }
}

/// Pending rows of `lane` (`lane` is ignored by a queue with one lane).
pub async fn depth(db: &Db, q: &Queue, lane: &str) -> Result<i64, DbError> {
    per_backend!(db.reader(), p => {
        let query = sqlx::query_scalar(q.depth);
        let query = if q.lane.is_some() { query.bind(lane) } else { query };
        query.fetch_one(p).await
    })
}

/// Where a row stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextState {
    Delivered,
    /// Back to pending, due then.
    RetryAt(i64),
    /// Too late to be of use.
    Expired,
    /// Refused for a reason retrying will not fix.
    Failed,
    /// A push whose device is gone (or was just deleted).
    Pruned,
    /// A text or email whose walk-in was decided or expired before it went.
    Cancelled,
}

impl NextState {
    /// The state's name in the tables and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NextState::Delivered => "delivered",
            NextState::RetryAt(_) => "pending",
            NextState::Expired => "expired",
            NextState::Failed => "failed",
            NextState::Pruned => "pruned",
            NextState::Cancelled => "cancelled",
        }
    }

    fn due(self) -> Option<i64> {
        match self {
            NextState::RetryAt(t) => Some(t),
            _ => None,
        }
    }
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub job_id: &'a str,
    pub claim_id: &'a str,
    /// The lane the row was claimed in (`fcm`, `sms`), for the attempt log.
    pub lane: &'a str,
    pub at: i64,
    pub next: NextState,
    /// The provider's answer (HTTP status, SMTP reply code), when one came.
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    /// How long the send took; None when nothing was sent (nothing is logged then).
    pub latency_ms: Option<i64>,
}

/// A row's outcome as the close statement reads it.
#[derive(serde::Serialize)]
struct Closing<'a> {
    id: &'a str,
    claim: &'a str,
    state: &'static str,
    due: Option<i64>,
    at: i64,
    status: Option<u16>,
    error: Option<&'a str>,
}

/// An attempt as the log insert reads it.
#[derive(serde::Serialize)]
struct Logged<'a> {
    aid: String,
    id: &'a str,
    at: i64,
    lane: &'a str,
    status: Option<u16>,
    error: Option<&'a str>,
    latency: i64,
}

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain structs serialize")
}

/// Records a batch of outcomes in two statements: the rows' new states, and the attempts that
/// sent something (for a queue that logs them).
pub async fn record(tx: &mut Tx, q: &Queue, batch: &[Outcome<'_>]) -> Result<(), DbError> {
    if batch.is_empty() {
        return Ok(());
    }
    let closing: Vec<Closing> = batch
        .iter()
        .map(|o| Closing {
            id: o.job_id,
            claim: o.claim_id,
            state: o.next.as_str(),
            due: o.next.due(),
            at: o.at,
            status: o.status,
            error: o.error,
        })
        .collect();
    let logged: Vec<Logged> = batch
        .iter()
        .filter(|_| q.attempts.is_some())
        .filter_map(|o| {
            o.latency_ms.map(|latency| Logged {
                aid: new_id(),
                id: o.job_id,
                at: o.at,
                lane: o.lane,
                status: o.status,
                error: o.error,
                latency,
            })
        })
        .collect();
    let i = which(&tx.conn());
    let (close, log) = (q.close[i], q.log[i]);
    let (closing, logged) = (to_json(&closing), to_json(&logged));
    per_backend!(tx.conn(), c => {
        sqlx::query(close).bind(&closing).execute(&mut *c).await?;
        if logged != "[]" {
            sqlx::query(log).bind(&logged).execute(&mut *c).await?;
        }
    });
    Ok(())
}

/// Deletes up to `limit` closed rows created before `cutoff` and up to `limit` attempts logged
/// before it (retention, a batch per transaction); returns how many rows went (0: done).
pub async fn purge_before(tx: &mut Tx, q: &Queue, cutoff: i64, limit: i64) -> Result<u64, DbError> {
    per_backend!(tx.conn(), c => {
        let mut n = 0;
        if let Some(attempts) = q.purge_attempts {
            n += sqlx::query(attempts)
                .bind(cutoff)
                .bind(limit)
                .execute(&mut *c)
                .await?
                .rows_affected();
        }
        n += sqlx::query(q.purge_jobs)
            .bind(cutoff)
            .bind(limit)
            .execute(&mut *c)
            .await?
            .rows_affected();
        Ok(n)
    })
}
