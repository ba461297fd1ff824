//! Periodic housekeeping, on every instance (each step is idempotent, so instances sharing a
//! database may overlap): expired sessions are ended with their effects (devices dropped, queued
//! pushes cancelled, streams closed), devices left without a session and expired action tokens
//! are deleted, and with `--retention-days` above 0 visits, notifications, push records and
//! closed webhooks, texts and emails older than that are purged.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::{self, now_ms};
use crate::state::AppState;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Runs [`run_once`] now and then every `--housekeeping-interval` until `stop` turns true.
pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.config.args.store.housekeeping_interval_secs);
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "housekeeping failed; trying again next round");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}

/// What one round removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: usize,
    pub orphan_devices: u64,
    pub action_tokens: u64,
    pub visits: u64,
    pub notifications: u64,
    pub push_rows: u64,
    pub webhooks: u64,
    pub messages: u64,
}

/// Rows the first retention batch of a table deletes, in one transaction.
const PURGE_BATCH: i64 = 500;
/// The bounds of a batch as [`next_batch`] sizes it.
const PURGE_BATCH_MIN: i64 = 50;
const PURGE_BATCH_MAX: i64 = 2_000;
/// How long a batch should hold the writer: a walk-in that arrives during one waits for it.
const PURGE_HOLD: std::time::Duration = std::time::Duration::from_millis(5);
/// After each batch the purge rests this many times as long as the batch took (at least
/// 10 ms): it takes at most a quarter of SQLite's one writer, whatever the backlog of old
/// rows, while nothing else writes (at night it goes at that pace)...
const PURGE_REST: u32 = 3;
/// ...and at most a two-hundredth of it while anything else wrote in the last
/// [`BUSY_WINDOW_MS`]: a walk-in that arrives during a batch waits for it, so the share of
/// the writer the purge holds is the share of walk-ins it delays. Below 1 % the walk-ins' p99
/// is their own; a day's rows still go within minutes.
const PURGE_REST_BUSY: u32 = 199;
const BUSY_WINDOW_MS: i64 = 1_000;

/// How long the purge rests after a batch that held the writer for `took`, `busy` when
/// anything else wrote lately.
fn rest_after(took: std::time::Duration, busy: bool) -> std::time::Duration {
    let times = if busy { PURGE_REST_BUSY } else { PURGE_REST };
    (took * times).max(std::time::Duration::from_millis(10))
}

/// The next batch's size after one of `size` rows took `took`: halved while a batch holds the
/// writer over twice [`PURGE_HOLD`] (a large file, a slow disk), doubled while it holds it
/// under half of it, within [`PURGE_BATCH_MIN`]..=[`PURGE_BATCH_MAX`].
fn next_batch(size: i64, took: std::time::Duration) -> i64 {
    if took > PURGE_HOLD * 2 {
        (size / 2).max(PURGE_BATCH_MIN)
    } else if took < PURGE_HOLD / 2 {
        (size * 2).min(PURGE_BATCH_MAX)
    } else {
        size
    }
}

/// What a retention batch deletes.
#[derive(Clone, Copy)]
enum Purge {
    Queue(&'static db::queue::Queue),
    Notifications,
    Visits,
}

/// Deletes `what` older than `cutoff` in transactions of a batch each until none is left; the
/// rows deleted.
async fn in_batches(state: &AppState, what: Purge, cutoff: i64) -> anyhow::Result<u64> {
    let (mut total, mut size) = (0, PURGE_BATCH);
    loop {
        let started = std::time::Instant::now();
        let mut tx = state.db.begin_background().await?;
        let n = match what {
            Purge::Queue(q) => db::queue::purge_before(&mut tx, q, cutoff, size).await?,
            Purge::Notifications => db::notifications::purge_before(&mut tx, cutoff, size).await?,
            Purge::Visits => db::visits::purge_before(&mut tx, cutoff, size).await?,
        };
        tx.commit().await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
        size = next_batch(size, started.elapsed());
        // Between batches, the writer is free for requests.
        let busy = state.db.written_within(BUSY_WINDOW_MS);
        tokio::time::sleep(rest_after(started.elapsed(), busy)).await;
    }
}

/// One round: ends expired sessions, then purges rows past retention.
pub async fn run_once(state: &AppState) -> anyhow::Result<Swept> {
    let now = now_ms();
    let mut swept = Swept::default();
    // In batches, so that a long backlog does not hold SQLite's writer in one transaction.
    loop {
        let n = state
            .end_sessions(db::accounts::Ending::ExpiredBy(now))
            .await
            .map_err(|e| anyhow::anyhow!("ending expired sessions: {e}"))?;
        swept.sessions += n;
        if n < db::accounts::ENDING_BATCH {
            break;
        }
    }
    let mut tx = state.db.begin_background().await?;
    swept.orphan_devices = db::devices::delete_orphans(&mut tx).await?;
    swept.action_tokens = db::action_tokens::purge_expired(&mut tx, now).await?;
    tx.commit().await?;
    let days = i64::from(state.config.args.store.retention_days);
    if days > 0 {
        let cutoff = now - days * DAY_MS;
        // A batch per transaction, the outbox first (a notification's pushes go before it):
        // the first start on a year of rows must not hold SQLite's writer, and so every
        // walk-in, for minutes.
        let queue = |q: &'static std::sync::LazyLock<db::queue::Queue>| Purge::Queue(q);
        swept.push_rows = in_batches(state, queue(&db::queue::PUSHES), cutoff).await?;
        swept.webhooks = in_batches(state, queue(&db::queue::WEBHOOKS), cutoff).await?;
        swept.messages = in_batches(state, queue(&db::queue::MESSAGES), cutoff).await?;
        swept.notifications = in_batches(state, Purge::Notifications, cutoff).await?;
        swept.visits = in_batches(state, Purge::Visits, cutoff).await?;
    }
    if swept != Swept::default() {
        tracing::info!(?swept, "housekeeping");
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_batch_shrinks_while_it_holds_the_writer_too_long_and_grows_while_it_is_quick() {
        assert_eq!(next_batch(500, Duration::from_millis(40)), 250);
        assert_eq!(next_batch(60, Duration::from_millis(40)), PURGE_BATCH_MIN);
        assert_eq!(next_batch(500, Duration::from_millis(1)), 1_000);
        assert_eq!(next_batch(1_500, Duration::from_millis(1)), PURGE_BATCH_MAX);
        assert_eq!(next_batch(500, Duration::from_millis(5)), 500);
    }

    #[test]
    fn the_purge_takes_a_quarter_of_an_idle_writer_and_a_two_hundredth_of_a_busy_one() {
        let took = Duration::from_millis(5);
        assert_eq!(rest_after(took, false), Duration::from_millis(15));
        assert_eq!(rest_after(took, true), Duration::from_millis(995));
        let share = |busy| took.as_secs_f64() / (took + rest_after(took, busy)).as_secs_f64();
        assert!(share(false) <= 0.25);
        assert!(share(true) <= 0.005);
        // A quick batch still leaves the writer 10 ms.
        assert_eq!(
            rest_after(Duration::from_micros(100), false),
            Duration::from_millis(10)
        );
    }
}
