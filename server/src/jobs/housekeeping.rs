//! Periodic housekeeping, on every instance (each step is idempotent, so instances sharing a
//! database may overlap): expired sessions are ended with their effects (devices dropped, queued
//! pushes cancelled, streams closed), devices left without a session and expired action tokens
//! are deleted, and with `--retention-days` above 0 visits, notifications, push records and
//! closed webhooks, texts and emails older than that are purged.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::{self, now_ms};
use crate::domain::sessions::end_sessions;
use crate::state::AppState;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Runs [`run_once`] now and then every `--housekeeping-interval` until `stop` turns true.
pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.config.args.housekeeping_interval_secs);
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

/// One round: ends expired sessions, then purges rows past retention.
pub async fn run_once(state: &AppState) -> anyhow::Result<Swept> {
    let now = now_ms();
    let mut swept = Swept::default();
    // In batches, so that a long backlog does not hold SQLite's writer in one transaction.
    loop {
        let n = end_sessions(state, db::accounts::Ending::ExpiredBy(now))
            .await
            .map_err(|e| anyhow::anyhow!("ending expired sessions: {e}"))?;
        swept.sessions += n;
        if n < db::accounts::ENDING_BATCH {
            break;
        }
    }
    let mut tx = state.db.begin().await?;
    swept.orphan_devices = db::devices::delete_orphans(&mut tx).await?;
    swept.action_tokens = db::action_tokens::purge_expired(&mut tx, now).await?;
    tx.commit().await?;
    let days = i64::from(state.config.args.retention_days);
    if days > 0 {
        let cutoff = now - days * DAY_MS;
        let mut tx = state.db.begin().await?;
        swept.push_rows = db::queue::purge_before(&mut tx, &db::queue::PUSHES, cutoff).await?;
        swept.webhooks = db::queue::purge_before(&mut tx, &db::queue::WEBHOOKS, cutoff).await?;
        swept.messages = db::queue::purge_before(&mut tx, &db::queue::MESSAGES, cutoff).await?;
        swept.notifications = db::notifications::purge_before(&mut tx, cutoff).await?;
        swept.visits = db::visits::purge_before(&mut tx, cutoff).await?;
        tx.commit().await?;
    }
    if swept != Swept::default() {
        tracing::info!(?swept, "housekeeping");
    }
    Ok(swept)
}
