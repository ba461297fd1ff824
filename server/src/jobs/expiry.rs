//! Walk-ins nobody answers expire: a task on every instance marks walk-ins pending for longer
//! than `--walkin-expiry` `EXPIRED`, tells everyone they asked (inbox entry and a replacing
//! push: "expired"), the guards' screens and the backend (`visit.expired`). Decisions after
//! that get 409. The sweep's `UPDATE … WHERE status = 'PENDING'` is the one place a walk-in
//! expires, so a decision and an expiry at once, or two instances' sweeps, cannot both win.

use std::time::Duration;

use gatebell_core::protocol::{VisitDecided, VisitStatus};
use tokio::sync::watch;

use crate::db::{self, now_ms};
use crate::domain::visits::{Outcome, resolve_walkin};
use crate::state::AppState;

/// How often the sweep runs: a walk-in expires at most this much late.
const EVERY: Duration = Duration::from_secs(1);
/// Walk-ins expired in one transaction at most.
const BATCH: i64 = 100;

/// Runs [`run_once`] every second until `stop` turns true.
pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "expiring walk-ins failed; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}

/// Expires the walk-ins past `--walkin-expiry`; returns how many.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let now = now_ms();
    let cutoff = now - state.config.walkin_expiry_ms();
    let mut tx = state.db.begin_background().await?;
    let ids = db::visits::expire_walkins(&mut tx, cutoff, now, BATCH).await?;
    let mut told = Vec::with_capacity(ids.len());
    for id in ids {
        let visit = db::visits::get_in_tx(&mut tx, &id, now)
            .await?
            .ok_or_else(|| anyhow::anyhow!("an expired walk-in vanished"))?;
        let users = resolve_walkin(&mut tx, state.rules(), &visit, Outcome::Expired, None)
            .await
            .map_err(|e| anyhow::anyhow!("telling the household: {e}"))?;
        crate::outbox::webhooks::enqueue_decision(
            &mut tx,
            &state.config,
            VisitDecided {
                visit_id: visit.id.clone(),
                external_visit_id: visit.external_id.clone(),
                status: VisitStatus::Expired,
                decided_at: now,
                decided_by_id: None,
                decided_by_external_id: None,
                decided_by_name: None,
            },
            now,
        )
        .await?;
        told.push((id, users));
    }
    tx.commit().await?;
    let n = told.len();
    for (id, users) in told {
        state.after_resolution(&users, id);
    }
    if n > 0 {
        tracing::info!(n, "walk-ins expired");
    }
    Ok(n)
}
