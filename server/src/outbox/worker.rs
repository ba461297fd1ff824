//! The one worker every outbox queue runs on (pushes per provider, webhooks, texts, emails):
//! it claims due rows of its [`Channel`] with a lease, sends them concurrently within the
//! channel's own send slots, and hands each outcome to a recorder that writes them in batches
//! (one transaction for many outcomes keeps SQLite's single writer from becoming the
//! bottleneck). When nothing is due it sleeps until the next row is, a wake (on PostgreSQL
//! also another instance's), or the periodic sweep that picks up rows whose lease ran out. On
//! stop, sends in flight get a bounded grace period; what is unfinished then is handed back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::db::queue::{Hold, NextState, Order};
use crate::db::{DbError, Tx, now_ms};
use crate::outbox::push::PushHandle;

/// A periodic sweep picks up rows whose lease ran out (a crashed instance) or that another
/// instance queued without waking us.
const SWEEP: Duration = Duration::from_millis(500);
/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 512;

/// One outbox lane: how its rows are claimed, sent and recorded. Each send is bounded by its
/// client's timeout.
pub trait Channel: Send + Sync + 'static {
    /// A claimed row, ready to send.
    type Job: Send + 'static;
    /// What one send ends with, to record.
    type Outcome: Outcome + Send + 'static;
    /// For logs: `fcm`, `webpush`, `webhooks`, `sms`, `email`.
    fn name(&self) -> &'static str;
    /// The lane this worker holds: claims, the next due time and handing back go through it.
    fn hold(&self) -> &Hold;
    /// Claims up to `limit` due rows in `order` (most channels: `self.hold().claim(..)`).
    fn claim(
        &self,
        order: Order,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Job>, DbError>> + Send;
    /// Sends one row.
    fn send(&self, job: Self::Job) -> impl Future<Output = Self::Outcome> + Send;
    /// Writes a batch of outcomes inside `tx`, in one order (by row id) in every batch, so that
    /// two writers never wait on each other's rows in a cycle.
    fn record(
        &self,
        tx: &mut Tx,
        batch: &mut [Self::Outcome],
    ) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// What the worker reads of an outcome.
pub trait Outcome {
    /// Where the row stands after the send.
    fn next(&self) -> NextState;
}

/// A worker's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Sends in flight at once.
    pub slots: usize,
    /// How long sends in flight may take to finish once stopping.
    pub grace: Duration,
}

/// Starts `channel`'s worker and its recorder; they end when `stop` turns true, within the
/// grace period whatever the provider does, and the rows still held are handed back.
pub fn spawn<C: Channel>(
    channel: Arc<C>,
    wake: PushHandle,
    settings: Settings,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (outcomes, rx) = mpsc::unbounded_channel::<C::Outcome>();
    let recorder = tokio::spawn(record_loop(channel.clone(), rx, wake.clone()));
    tokio::spawn(async move {
        run(&channel, outcomes, wake.subscribe(), settings, stop).await;
        // Every send has ended or was abandoned: the recorder writes what is left and ends.
        let _ = recorder.await;
        // Sends abandoned at the end of the grace period: give their rows back now rather
        // than when the lease runs out.
        match channel.hold().release().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lane = channel.name(), n, "handed back unfinished rows"),
            Err(e) => tracing::warn!(
                lane = channel.name(),
                error = %e,
                "could not hand back claimed rows; their lease will run out"
            ),
        }
    })
}

async fn run<C: Channel>(
    channel: &Arc<C>,
    outcomes: mpsc::UnboundedSender<C::Outcome>,
    mut woken: watch::Receiver<u64>,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) {
    let slots = settings.slots.max(1);
    let permits = Arc::new(Semaphore::new(slots));
    let mut sends = JoinSet::new();
    // Claim in chunks: waiting for a few free send slots at a time keeps claims (writes) few,
    // and claiming as soon as they are free keeps the provider busy.
    let chunk = (slots / 4).clamp(1, 64) as u32;
    let mut claims = 0u64;
    loop {
        while sends.try_join_next().is_some() {}
        let mut room = tokio::select! {
            p = permits.clone().acquire_many_owned(chunk) => p.expect("semaphore open"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let extra = permits
            .available_permits()
            .min(256usize.saturating_sub(chunk as usize)) as u32;
        if extra > 0
            && let Ok(more) = permits.clone().try_acquire_many_owned(extra)
        {
            room.merge(more);
        }
        let order = Order::for_claim(claims);
        claims += 1;
        let jobs = match channel.claim(order, room.num_permits() as i64).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(lane = channel.name(), error = %e, "claiming failed");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            drop(room);
            let wait = match channel.hold().next_due().await {
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
        for job in jobs {
            let permit = room.split(1).expect("one permit per claimed row");
            let (channel, outcomes) = (channel.clone(), outcomes.clone());
            sends.spawn(async move {
                let _ = outcomes.send(channel.send(job).await);
                drop(permit);
            });
        }
    }
    // Sends in flight get the grace period; a provider that still has not answered then loses
    // them (their rows are released once the recorder is done).
    let drained = tokio::time::timeout(settings.grace, async {
        while sends.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            lane = channel.name(),
            abandoned = sends.len(),
            "sends still in flight after the grace period; handing them back"
        );
        sends.shutdown().await;
    }
}

async fn record_loop<C: Channel>(
    channel: Arc<C>,
    mut rx: mpsc::UnboundedReceiver<C::Outcome>,
    wake: PushHandle,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        // The lanes are woken once a retry is recorded, so that one due before the next sweep is
        // not missed.
        let retry_soon = batch
            .iter()
            .any(|o| matches!(o.next(), NextState::RetryAt(_)));
        // A failed write is retried: losing an outcome would send the row again once its
        // lease runs out.
        let mut delay = Duration::from_millis(50);
        loop {
            let written = async {
                let mut tx = channel.hold().db.begin().await?;
                channel.record(&mut tx, &mut batch).await?;
                tx.commit().await
            };
            match written.await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(lane = channel.name(), error = %e, n = batch.len(), "recording outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
        if retry_soon {
            wake.wake();
        }
    }
}
