//! The database layer: SQLite by default, PostgreSQL for several instances.
//!
//! Handlers never touch SQL or pools. Each area has a store module here (`accounts`, `visits`,
//! `checkin_attempts`, `notifications`, `devices`, `outbox`, `settings`, `action_tokens`,
//! `webhooks`) of plain async functions that own their SQL for both backends:
//!
//! - a function that only reads takes `&Db` and runs on [`Db::reader`]: SQLite's read pool, or
//!   the one PostgreSQL pool;
//! - a function that writes takes `&mut Tx`, a transaction opened by [`Db::begin`] on SQLite's
//!   single writer connection (`BEGIN IMMEDIATE`) or on the PostgreSQL pool. Reads that must see
//!   the transaction's own writes take `&mut Tx` too (the `*_in_tx` functions).
//!
//! So a write cannot reach SQLite's read pool through the types: the writer connection is only
//! reachable through a [`Tx`], and [`Reader`] only ever holds the read side. That part is a
//! compile-time property (no test can fail on it); what a test can pin is the second line:
//! SQLite's read connections are opened with `PRAGMA query_only`, so a write statement sent to
//! a [`Reader`] by mistake fails instead of racing the writer (`sqlite_read_pool_refuses_writes`).
//! [`Db::postgres`] hands out the PostgreSQL pool for the event bus's `LISTEN/NOTIFY` only.
//!
//! One portable schema (TEXT ids, BIGINT epoch-millisecond times) lets the same SQL run on both
//! backends, from the one `migrations/` folder. sqlx has no generic-over-backend path worth
//! using (`sqlx::Any` breaks on SQLite booleans), so the private `per_backend!` macro below
//! expands a store function's body once per backend. It is not exported: only this module and
//! its store modules use it, and each use is a whole store function body, so a `?` inside it
//! returns from that store function, as it reads. Only the outbox (its claim's `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, and its batch statements, which read a JSON array with SQLite's
//! `json_each` or PostgreSQL's `jsonb_to_recordset`; see [`outbox`]) and [`Tx::lock`] have
//! backend-specific SQL.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use sqlx::Error as DbError;
pub use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

/// Runs `$body` with `$x` bound to whatever a [`Backend`] value holds for the backend in use;
/// the body is compiled once per backend. Private to the database layer (see the module doc).
macro_rules! per_backend {
    ($on:expr, $x:ident => $body:expr) => {
        match $on {
            $crate::db::Backend::Sqlite($x) => $body,
            $crate::db::Backend::Postgres($x) => $body,
        }
    };
}

/// The longest a request waits for a PostgreSQL connection.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

pub mod accounts;
pub mod action_tokens;
pub mod checkin_attempts;
pub mod devices;
pub mod messages;
pub mod notifications;
pub mod notify;
pub mod outbox;
pub mod queue;
pub mod seed;
pub mod settings;
pub mod visits;
pub mod webhooks;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// One value per backend: a pool, a connection, a transaction.
#[derive(Clone, Debug)]
pub enum Backend<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The handle reads run on: SQLite's read pool, or the PostgreSQL pool. Public so that tests
/// and benchmarks can check rows directly; the SQLite pool it holds refuses writes.
pub type Reader<'a> = Backend<&'a SqlitePool, &'a PgPool>;

/// The connections of a database, on either backend.
#[derive(Clone, Debug)]
pub struct Db(Backend<SqlitePools, PgPool>);

/// SQLite's pools: readers, and a one-connection pool every write goes through. SQLite has one
/// writer at a time, and queueing writers here is fair and prompt, where SQLite's own busy
/// handler sleeps in growing steps (up to 100 ms) and made the slowest requests wait.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
    /// When the last write that was not background work began (ms since the epoch).
    last_write_ms: Arc<AtomicI64>,
}

/// An open transaction, the one way to write.
pub struct Tx(Backend<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>);

/// The connection a transaction's statements run on.
pub type TxConn<'a> = Backend<&'a mut SqliteConnection, &'a mut PgConnection>;

/// Takes an exclusive lock on a file beside a SQLite database (`<file>-migrate.lock`) while a
/// process opens its writer and applies the migrations, so processes started at once on a
/// fresh file take turns. Opening the writer is covered too: a fresh file is in rollback mode,
/// and two connections switching it to WAL at once can deadlock, where SQLite answers
/// "database is locked" at once without waiting out the busy timeout. sqlx locks PostgreSQL
/// itself (an advisory lock); its SQLite lock does nothing. `None` for an in-memory database.
async fn lock_sqlite_start(file: &std::path::Path) -> std::io::Result<Option<std::fs::File>> {
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        return Ok(None);
    }
    let mut lock_path = file.as_os_str().to_owned();
    lock_path.push("-migrate.lock");
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        f.lock()?;
        Ok(Some(f))
    })
    .await?
}

impl Db {
    /// Connects (creating a SQLite file when the URL says `mode=rwc`) and applies migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // A request waits this long for a connection, then answers 503: a guard with a
                // visitor in front of them learns within seconds to call the resident, and
                // requests do not pile up while the database is gone.
                .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                .connect_with(opts)
                .await?;
            MIGRATIONS.run(&pool).await?;
            Backend::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let start = lock_sqlite_start(opts.get_filename()).await?;
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts.clone())
                .await?;
            MIGRATIONS.run(&write).await?;
            drop(start);
            // `query_only` rather than a read-only open: the readers still share the WAL index
            // the writer keeps, and a stray write fails with SQLITE_READONLY.
            let read = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts.pragma("query_only", "ON"))
                .await?;
            Backend::Sqlite(SqlitePools {
                read,
                write,
                last_write_ms: Arc::new(AtomicI64::new(0)),
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://, got {url:?}");
        };
        Ok(Db(db))
    }

    /// Where reads run.
    pub fn reader(&self) -> Reader<'_> {
        match &self.0 {
            Backend::Sqlite(s) => Backend::Sqlite(&s.read),
            Backend::Postgres(p) => Backend::Postgres(p),
        }
    }

    /// Opens a transaction that will write. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade once another
    /// writer has committed, and fails with "database is locked" despite the busy timeout.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        if let Backend::Sqlite(s) = &self.0 {
            s.last_write_ms.store(now_ms(), Ordering::Relaxed);
        }
        self.begin_background().await
    }

    /// [`Db::begin`] for background work: the retention purge, the once-a-second sweeps
    /// (expiry, escalation) and the outbox's claims, which mostly find nothing. It does not
    /// count as a recent write for [`Db::written_within`], so an idle server is seen idle.
    pub async fn begin_background(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx(match &self.0 {
            Backend::Sqlite(s) => Backend::Sqlite(s.write.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(p) => Backend::Postgres(p.begin().await?),
        }))
    }

    /// Whether SQLite's one writer was taken for anything but background work in the last
    /// `ms`: requests or the outbox are writing, and a background batch would make them wait.
    /// Always false on PostgreSQL, where writers of other rows do not wait for each other.
    pub fn written_within(&self, ms: i64) -> bool {
        match &self.0 {
            Backend::Sqlite(s) => now_ms() - s.last_write_ms.load(Ordering::Relaxed) < ms,
            Backend::Postgres(_) => false,
        }
    }

    /// The PostgreSQL pool, when that is the backend (instances share events through it).
    pub fn postgres(&self) -> Option<&PgPool> {
        match &self.0 {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }

    /// Whether this is PostgreSQL (several instances may share it).
    pub fn is_postgres(&self) -> bool {
        self.postgres().is_some()
    }

    /// A trivial query, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        per_backend!(self.reader(), p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.0 {
            Backend::Sqlite(s) => {
                s.read.close().await;
                s.write.close().await;
            }
            Backend::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    /// The connection the transaction's statements run on. Public so that benchmarks can
    /// load bulk rows; the server's own writes live in the store modules.
    pub fn conn(&mut self) -> TxConn<'_> {
        match &mut self.0 {
            Backend::Sqlite(t) => Backend::Sqlite(&mut **t),
            Backend::Postgres(t) => Backend::Postgres(&mut **t),
        }
    }

    /// Makes the transactions that lock the same `key` run one after another until each ends:
    /// for a check that counts rows and then writes (a limit), which two transactions could
    /// otherwise both pass. On PostgreSQL an advisory transaction lock, held across instances;
    /// on SQLite nothing, as its one writer (`BEGIN IMMEDIATE`) already runs writes one at a time.
    pub async fn lock(&mut self, key: &str) -> Result<(), sqlx::Error> {
        match self.conn() {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(c) => {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(key)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self.0 {
            Backend::Sqlite(t) => t.commit().await,
            Backend::Postgres(t) => t.commit().await,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether the error is a unique-constraint violation (mapped to 409 by callers).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether the database aborted the transaction to break a deadlock or a serialization
/// conflict (PostgreSQL `40P01`, `40001`): trying the whole transaction again is safe.
pub fn is_deadlock(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40P01" | "40001")))
}

/// A text column that should hold one of an enum's names but does not.
pub(crate) fn bad_value(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {column} {value:?} in the database").into())
}

/// Whether an error means the database cannot be reached now (as opposed to a fault of the
/// statement): no connection within the acquire timeout, a broken or refused connection, or
/// PostgreSQL's connection and shutdown error classes.
pub fn is_unreachable(e: &DbError) -> bool {
    match e {
        DbError::PoolTimedOut
        | DbError::PoolClosed
        | DbError::Io(_)
        | DbError::Tls(_)
        | DbError::WorkerCrashed => true,
        DbError::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<DbError> for crate::error::ApiError {
    fn from(e: DbError) -> crate::error::ApiError {
        use crate::error::ApiError;
        if is_unreachable(&e) {
            tracing::warn!(error = %e, "the database cannot be reached");
            return ApiError::Unavailable(
                "the database cannot be reached; nothing was recorded, try again shortly".into(),
            );
        }
        ApiError::Internal(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_read_pool_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        let Backend::Sqlite(read) = db.reader() else {
            unreachable!("a sqlite: URL gives SQLite")
        };
        let err = sqlx::query("INSERT INTO settings (key, value) VALUES ('k', 'v')")
            .execute(read)
            .await
            .expect_err("the read pool must not write");
        assert!(err.to_string().contains("readonly"), "{err}");
        // The same write through a transaction works, and readers see it once committed.
        let mut tx = db.begin().await.unwrap();
        settings::insert_if_absent(&mut tx, "k", "v").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(settings::get(&db, "k").await.unwrap().as_deref(), Some("v"));
        db.close().await;
    }
}
