//! The dispatcher: one lane per provider claims that provider's due outbox rows and sends
//! them concurrently within the provider's own budget of send slots, so a provider that stalls
//! (a token endpoint that hangs, a push service that times out) cannot starve the other. A
//! recorder writes the outcomes in batches (one transaction for many outcomes keeps SQLite's
//! single writer from becoming the bottleneck). On shutdown, sends get a bounded grace period;
//! what is still unfinished then is handed back (lease released) for another instance or the
//! next start.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatebell_core::protocol::{Platform, PushPayload};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::breaker::PruneBreaker;
use crate::channels::SendOutcome;
use crate::channels::fcm::FcmSender;
use crate::channels::webpush::{WebPushSender, WebTarget, topic_for_visit};
use crate::db::outbox::{self, Attempt, Job, NextState, PUSHES, SentInfo, Target};
use crate::db::queue::{self, Order};
use crate::db::{Db, DbError, new_id, now_ms};
use crate::metrics::PushMetrics;
use crate::outbox::push::{Provider, PushHandle};
use crate::outbox::{RETRY_BASE_MS, RETRY_CAP_MS, retry_at};

/// A periodic sweep picks up rows whose lease ran out (a crashed instance) or that another
/// instance queued without waking us.
const SWEEP: Duration = Duration::from_millis(500);
const RECORD_BATCH: usize = 512;

/// The senders the dispatcher uses.
pub struct Senders {
    /// None when no FCM credentials are configured.
    pub fcm: Option<FcmSender>,
    pub webpush: WebPushSender,
}

/// The dispatcher's settings.
#[derive(Clone)]
pub struct DispatcherConfig {
    /// Send slots per provider.
    pub concurrency: usize,
    pub lease_ms: i64,
    /// How long sends in flight may take to finish once stopping.
    pub grace: Duration,
}

/// What a lane shares with its send tasks.
#[derive(Clone)]
struct Lane {
    provider: Provider,
    db: Db,
    senders: Arc<Senders>,
    metrics: PushMetrics,
    breaker: Arc<Mutex<PruneBreaker>>,
    claim_id: Arc<str>,
    outcomes: mpsc::UnboundedSender<Attempt>,
}

/// Starts one lane per provider and the recorder; they stop when `stop` turns true, within
/// the grace period whatever the providers do.
pub fn spawn(
    db: Db,
    senders: Arc<Senders>,
    handle: PushHandle,
    metrics: PushMetrics,
    config: DispatcherConfig,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel::<Attempt>();
    let recorder = tokio::spawn(record_loop(db.clone(), rx, handle.clone()));
    let claim_id: Arc<str> = new_id().into();
    let lanes: Vec<_> = Provider::ALL
        .into_iter()
        .map(|provider| {
            let lane = Lane {
                provider,
                db: db.clone(),
                senders: senders.clone(),
                metrics: metrics.clone(),
                breaker: Arc::default(),
                claim_id: claim_id.clone(),
                outcomes: tx.clone(),
            };
            tokio::spawn(run_lane(
                lane,
                handle.subscribe(),
                config.clone(),
                stop.clone(),
            ))
        })
        .collect();
    drop(tx);
    tokio::spawn(async move {
        for lane in lanes {
            let _ = lane.await;
        }
        // Every lane's sender is gone: the recorder writes what is left and ends.
        let _ = recorder.await;
        // Sends abandoned at the end of the grace period: give their rows back now rather
        // than when the lease runs out.
        match release(&db, &claim_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "handed back unfinished push jobs"),
            Err(e) => {
                tracing::warn!(error = %e, "releasing push jobs failed; their lease will run out")
            }
        }
    })
}

async fn run_lane(
    lane: Lane,
    mut woken: watch::Receiver<u64>,
    config: DispatcherConfig,
    mut stop: watch::Receiver<bool>,
) {
    let concurrency = config.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut sends = JoinSet::new();
    // Claim in chunks: waiting for a few free send slots at a time keeps claims (writes) few,
    // and claiming as soon as they are free keeps the provider busy.
    let chunk = (concurrency / 4).clamp(1, 64) as u32;
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
        let jobs = match claim(&lane, order, config.lease_ms, room.num_permits() as i64).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, provider = lane.provider.as_str(), "claiming push jobs failed");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            drop(room);
            let wait = match queue::next_due(&lane.db, &PUSHES, lane.provider.as_str()).await {
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
        // Every claimed job's device in one query, not one read per job.
        let ids: Vec<&str> = jobs.iter().map(|j| j.device_id.as_str()).collect();
        let targets = outbox::targets(&lane.db, &ids, now_ms())
            .await
            .map_err(|e| format!("database: {e}"));
        for job in jobs {
            let permit = room.split(1).expect("one permit per claimed job");
            let lane = lane.clone();
            let target = match &targets {
                Ok(found) => Ok(found.get(&job.device_id).cloned()),
                Err(e) => Err(e.clone()),
            };
            sends.spawn(async move {
                let attempt = send_job(&lane, job, target).await;
                let _ = lane.outcomes.send(attempt);
                drop(permit);
            });
        }
    }
    // Sends in flight get the grace period; a provider that still has not answered then loses
    // them (their rows are released once the recorder is done).
    let drained = tokio::time::timeout(config.grace, async {
        while sends.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            provider = lane.provider.as_str(),
            abandoned = sends.len(),
            "push sends still in flight after the grace period; handing them back"
        );
        sends.shutdown().await;
    }
}

/// Claims due jobs of the lane's provider in a transaction of their own.
async fn claim(lane: &Lane, order: Order, lease_ms: i64, limit: i64) -> Result<Vec<Job>, DbError> {
    let mut tx = lane.db.begin().await?;
    let claim = queue::Claim {
        order,
        lane: lane.provider.as_str(),
        claim_id: &lane.claim_id,
        now: now_ms(),
        lease_ms,
        limit,
    };
    let jobs = queue::claim(&mut tx, &PUSHES, claim).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Makes this dispatcher's unfinished claims due again.
async fn release(db: &Db, claim_id: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let n = queue::release(&mut tx, &PUSHES, claim_id, now_ms()).await?;
    tx.commit().await?;
    Ok(n)
}

/// Writes a batch of outcomes in one transaction.
async fn record(db: &Db, batch: &[Attempt]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    outbox::record(&mut tx, batch).await?;
    tx.commit().await
}

async fn record_loop(db: Db, mut rx: mpsc::UnboundedReceiver<Attempt>, handle: PushHandle) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let retry_soon = batch
            .iter()
            .any(|a| matches!(a.next, NextState::RetryAt(_)));
        // A failed write is retried: losing an outcome would resend a delivered push later.
        let mut delay = Duration::from_millis(50);
        // Rows in one order (by id) in every batch: two writers never wait on each other's
        // rows in a cycle.
        batch.sort_unstable_by(|a, b| a.job_id.cmp(&b.job_id));
        while let Err(e) = record(&db, &batch).await {
            tracing::warn!(error = %e, n = batch.len(), "recording push outcomes failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        batch.clear();
        if retry_soon {
            handle.wake();
        }
    }
}

/// Sends one claimed job to `target`, its device as looked up with the batch (`Ok(None)`:
/// removed; `Err`: the lookup failed, so the job is retried).
async fn send_job(lane: &Lane, job: Job, target: Result<Option<Target>, String>) -> Attempt {
    let (metrics, provider) = (&lane.metrics, lane.provider.as_str());
    let now = now_ms();
    let mut attempt = Attempt {
        job_id: job.id.clone(),
        claim_id: lane.claim_id.to_string(),
        device_id: job.device_id.clone(),
        provider,
        at: now,
        sent: None,
        next: NextState::Failed,
        error: None,
    };
    let target = match target {
        Ok(Some(t)) => t,
        Ok(None) => {
            attempt.next = NextState::Pruned;
            attempt.error = Some("the device was removed".into());
            return attempt;
        }
        Err(e) => {
            attempt.next = NextState::RetryAt(now + RETRY_BASE_MS);
            attempt.error = Some(e);
            return attempt;
        }
    };
    if job.expires_at <= now {
        attempt.next = NextState::Expired;
        attempt.error = Some("the message's TTL ran out".into());
        metrics.count(provider, "expired");
        return attempt;
    }
    let payload: PushPayload = match serde_json::from_str(&job.payload) {
        Ok(p) => p,
        Err(e) => {
            attempt.error = Some(format!("stored payload is unreadable: {e}"));
            return attempt;
        }
    };
    let ttl_secs = ((job.expires_at - now) / 1000).max(1);
    let started = Instant::now();
    metrics.count(provider, "sent");
    let outcome = send(
        &lane.senders,
        &target,
        &payload,
        &job.payload,
        ttl_secs,
        now,
    )
    .await;
    let outcome = check_prune(lane, outcome);
    let latency_ms = started.elapsed().as_millis() as i64;
    let done = now_ms();
    attempt.at = done;
    let (next, status, error) = match outcome {
        SendOutcome::Delivered { status } => {
            metrics
                .dispatch_latency
                .with_label_values(&[provider])
                .observe((done - job.created_at).max(0) as f64 / 1000.0);
            (NextState::Delivered, Some(status), None)
        }
        SendOutcome::Prune { status, error } => (NextState::Pruned, Some(status), Some(error)),
        SendOutcome::Failed { status, error } => (NextState::Failed, status, Some(error)),
        SendOutcome::Retry {
            status,
            error,
            retry_after_ms,
        } => {
            match retry_at(
                done,
                job.attempts,
                RETRY_CAP_MS,
                retry_after_ms,
                job.expires_at,
            ) {
                NextState::Expired => (
                    NextState::Expired,
                    status,
                    Some(format!("{error} (TTL runs out before the next try)")),
                ),
                next => (next, status, Some(error)),
            }
        }
    };
    metrics.count(
        provider,
        match next {
            NextState::RetryAt(_) => "retried",
            other => other.as_str(),
        },
    );
    if let Some(e) = &error {
        tracing::debug!(job = %job.id, provider, ?status, error = %e, "push not delivered");
    }
    attempt.next = next;
    attempt.error = error;
    attempt.sent = Some(SentInfo { status, latency_ms });
    attempt
}

/// Passes the provider's answer through the lane's prune breaker: while it is open, a "dead
/// token" answer keeps the device and retries the push (until its TTL) instead.
fn check_prune(lane: &Lane, outcome: SendOutcome) -> SendOutcome {
    let provider = lane.provider.as_str();
    let verdict = lane
        .breaker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .answer(matches!(outcome, SendOutcome::Prune { .. }));
    match verdict.changed {
        Some(true) => {
            lane.metrics
                .pruning_suspended
                .with_label_values(&[provider])
                .set(1);
            tracing::error!(
                provider,
                share = verdict.share,
                "most recent push answers say the device is gone: pruning suspended, devices are \
                 kept; check this provider's configuration (project id, keys, endpoint)"
            );
        }
        Some(false) => {
            lane.metrics
                .pruning_suspended
                .with_label_values(&[provider])
                .set(0);
            tracing::info!(provider, "push answers look normal again: pruning resumed");
        }
        None => {}
    }
    match outcome {
        SendOutcome::Prune { status, error } if !verdict.may_prune => {
            lane.metrics.count(provider, "prune_suspended");
            SendOutcome::Retry {
                status: Some(status),
                error: format!("{error} (not pruned: pruning is suspended for {provider})"),
                retry_after_ms: None,
            }
        }
        other => other,
    }
}

async fn send(
    senders: &Senders,
    target: &Target,
    payload: &PushPayload,
    json: &str,
    ttl_secs: i64,
    now: i64,
) -> SendOutcome {
    if target.platform == Platform::Web.as_str() {
        let (Some(endpoint), Some(p256dh), Some(auth)) =
            (&target.endpoint, &target.p256dh, &target.auth)
        else {
            return SendOutcome::Prune {
                status: 0,
                error: "web device without a subscription".into(),
            };
        };
        let topic = payload.visit_id.as_deref().and_then(topic_for_visit);
        let t = WebTarget {
            endpoint,
            p256dh,
            auth,
        };
        senders
            .webpush
            .send(
                &t,
                json.as_bytes(),
                ttl_secs.min(u32::MAX as i64) as u32,
                topic.as_deref(),
            )
            .await
    } else {
        match &senders.fcm {
            Some(fcm) => {
                // Only android and ios reach here; an unknown name is treated as Android's.
                let platform = Platform::parse(&target.platform).unwrap_or(Platform::Android);
                let keys = target.p256dh.as_deref().zip(target.auth.as_deref());
                fcm.send(&target.token, platform, keys, payload, ttl_secs as u64, now)
                    .await
            }
            None => SendOutcome::Failed {
                status: None,
                error: "FCM is not configured (--fcm-credentials)".into(),
            },
        }
    }
}
