//! The escalation sweep: a walk-in nobody in the household decided or opened
//! within `--escalate-after` is escalated once: a task on every instance marks it (the
//! `UPDATE … WHERE escalated_at IS NULL` is the one place that happens, so two instances
//! cannot both escalate it) and queues, in the same transaction, a text and/or an email to each
//! resident it asked, per their channels and quiet hours. Each carries one-tap Approve / Reject
//! links with its own single-use action token, answered by [`crate::http::links`] with no app and no
//! login. A check-in is emailed (or texted) at once to a host who chose that channel for it.
//! [`crate::outbox::messages`] sends what is queued.

use std::time::Duration;

use gatebell_core::protocol::{LiveEvent, NotificationType};
use tokio::sync::watch;

use crate::db::{self, now_ms};
use crate::domain::escalation::queue;
use crate::state::AppState;

/// How often the sweep runs: a walk-in is escalated at most this much late.
const EVERY: Duration = Duration::from_secs(1);
/// Walk-ins escalated in one transaction at most.
const BATCH: i64 = 50;

/// Runs [`run_once`] every second until `stop` turns true; None when escalation is off
/// (`--escalate-after 0`) or there is no channel to escalate by.
pub fn spawn(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    state.config.escalate_after_ms()?;
    if !state.config.sms_enabled() && !state.config.email_enabled() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "escalating walk-ins failed; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }))
}

/// Escalates the walk-ins waiting longer than `--escalate-after`; returns how many.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let Some(after) = state.config.escalate_after_ms() else {
        return Ok(0);
    };
    let now = now_ms();
    let mut tx = state.db.begin_background().await?;
    let ids = db::visits::escalate_walkins(&mut tx, now - after, now, BATCH).await?;
    for id in &ids {
        let visit = db::visits::get_in_tx(&mut tx, id, now)
            .await?
            .ok_or_else(|| anyhow::anyhow!("an escalated walk-in vanished"))?;
        let (mut sms, mut email) = (0, 0);
        for user_id in db::visits::asked_users_in_tx(&mut tx, id).await? {
            let Some(contact) = db::accounts::contact_in_tx(&mut tx, &user_id).await? else {
                continue;
            };
            let queued = queue(
                &mut tx,
                state.rules(),
                &visit,
                &user_id,
                &contact,
                NotificationType::WalkinPending,
                now,
            )
            .await?;
            sms += queued.sms as u32;
            email += queued.email as u32;
        }
        db::visits::set_escalated(&mut tx, id, sms, email).await?;
    }
    tx.commit().await?;
    for id in &ids {
        state.events.publish_guards(LiveEvent::Visit {
            visit_id: id.clone(),
        });
    }
    if !ids.is_empty() {
        state.push.wake();
        tracing::info!(n = ids.len(), "walk-ins escalated by SMS and email");
    }
    Ok(ids.len())
}
