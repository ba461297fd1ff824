//! The sender loop shared by the outboxes that are not pushes (webhooks, texts, emails): claim
//! due rows (with a lease), send them concurrently, record each outcome, and when nothing is
//! due sleep until the next row is, a wake, or the periodic sweep that picks up rows whose lease
//! ran out or that another instance queued. On stop the rows still held are handed back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::queue::Order;
use crate::db::{Db, DbError, Tx, now_ms};

/// A periodic sweep picks up rows whose lease ran out or that another instance queued.
const SWEEP: Duration = Duration::from_millis(500);

/// One outbox lane: its rows, and how one is sent and recorded.
pub trait Lane: Send + Sync + 'static {
    type Job: Send + 'static;
    /// For logs: `webhooks`, `sms`, `email`.
    fn name(&self) -> &'static str;
    fn db(&self) -> &Db;
    /// Claims due rows in `order` inside `tx` (committed straight after).
    fn claim(
        &self,
        tx: &mut Tx,
        now: i64,
        order: Order,
    ) -> impl Future<Output = Result<Vec<Self::Job>, DbError>> + Send;
    /// When the lane's next pending row is due.
    fn next_due(&self) -> impl Future<Output = Result<Option<i64>, DbError>> + Send;
    /// Sends one row and records its outcome (with [`record`]).
    fn deliver(&self, job: Self::Job) -> impl Future<Output = ()> + Send;
    /// Makes the rows this lane still holds due at `now` (stopping).
    fn release(&self, tx: &mut Tx, now: i64) -> impl Future<Output = Result<u64, DbError>> + Send;
}

/// Runs `lane` until `stop` turns true; each send is bounded by its client's timeout, so a
/// stop waits at most that long.
pub async fn run<L: Lane>(
    lane: Arc<L>,
    mut woken: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut claims = 0u64;
    loop {
        if *stop.borrow() {
            break;
        }
        let order = Order::for_claim(claims);
        claims += 1;
        let jobs = match claim(&*lane, order).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(lane = lane.name(), error = %e, "claiming failed");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            let wait = match lane.next_due().await {
                Ok(Some(due)) => {
                    Duration::from_millis((due - now_ms()).clamp(1, SWEEP.as_millis() as i64) as u64)
                }
                _ => SWEEP,
            };
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = woken.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let sends = jobs.into_iter().map(|job| {
            let lane = lane.clone();
            async move { lane.deliver(job).await }
        });
        futures::future::join_all(sends).await;
    }
    let released = async {
        let mut tx = lane.db().begin().await?;
        lane.release(&mut tx, now_ms()).await?;
        tx.commit().await
    };
    if let Err(e) = released.await {
        tracing::warn!(lane = lane.name(), error = %e, "could not hand back claimed rows");
    }
}

async fn claim<L: Lane>(lane: &L, order: Order) -> Result<Vec<L::Job>, DbError> {
    let mut tx = lane.db().begin().await?;
    let jobs = lane.claim(&mut tx, now_ms(), order).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Writes an outcome with `write` in its own transaction, trying up to 8 times with a doubling
/// pause: losing it would send the row again once its lease runs out.
pub async fn record<F, Fut>(db: &Db, what: &str, mut write: F)
where
    F: FnMut(Tx) -> Fut,
    Fut: Future<Output = Result<Tx, DbError>>,
{
    let mut delay = Duration::from_millis(50);
    for _ in 0..8 {
        let recorded = async {
            let tx = write(db.begin().await?).await?;
            tx.commit().await
        }
        .await;
        match recorded {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "recording {what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
