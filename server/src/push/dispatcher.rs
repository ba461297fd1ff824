//! The dispatcher: claims due outbox rows, sends them concurrently, and hands each outcome to a
//! recorder that writes them in batches (one transaction for many outcomes keeps SQLite's
//! single writer from becoming the bottleneck).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatebell_core::protocol::{Platform, PushPayload};
use rand::Rng;
use tokio::sync::{Semaphore, mpsc, watch};

use super::fcm::FcmSender;
use super::metrics::PushMetrics;
use super::webpush::{WebPushSender, WebTarget, topic_for_visit};
use super::{PushHandle, SendOutcome};
use crate::db::outbox::{self, Attempt, Job, NextState, SentInfo, Target};
use crate::db::{Db, new_id, now_ms};

/// A periodic sweep picks up rows whose lease ran out (a crashed instance) or that another
/// instance queued without waking us.
const SWEEP: Duration = Duration::from_millis(500);
const RETRY_BASE_MS: i64 = 1_000;
const RETRY_CAP_MS: i64 = 60_000;
const RECORD_BATCH: usize = 512;

/// The senders the dispatcher uses.
pub struct Senders {
    /// None when no FCM credentials are configured.
    pub fcm: Option<FcmSender>,
    pub webpush: WebPushSender,
}

/// The dispatcher's settings.
pub struct DispatcherConfig {
    pub concurrency: usize,
    pub lease_ms: i64,
}

/// Starts the dispatcher and its recorder; they stop when `stop` turns true.
pub fn spawn(
    db: Db,
    senders: Arc<Senders>,
    handle: PushHandle,
    metrics: PushMetrics,
    config: DispatcherConfig,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel::<Attempt>();
    let recorder = tokio::spawn(record_loop(db.clone(), rx, handle.clone()));
    tokio::spawn(async move {
        let claim_id = new_id();
        let concurrency = config.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        // Claim in chunks: waiting for a few free send slots at a time keeps claims (writes)
        // few, and claiming as soon as they are free keeps the providers busy.
        let chunk = (concurrency / 4).clamp(1, 64) as u32;
        loop {
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
            let jobs = match claim(
                &db,
                &claim_id,
                now_ms(),
                config.lease_ms,
                room.num_permits() as i64,
            )
            .await
            {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming push jobs failed");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                drop(room);
                let wait = match outbox::next_due(&db).await {
                    Ok(Some(due)) => Duration::from_millis(
                        (due - now_ms()).clamp(1, SWEEP.as_millis() as i64) as u64,
                    ),
                    _ => SWEEP,
                };
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = handle.woken() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            for job in jobs {
                let permit = room.split(1).expect("one permit per claimed job");
                let (db, senders, metrics, tx, claim_id) = (
                    db.clone(),
                    senders.clone(),
                    metrics.clone(),
                    tx.clone(),
                    claim_id.clone(),
                );
                tokio::spawn(async move {
                    let attempt = send_job(&db, &senders, &metrics, &claim_id, job).await;
                    let _ = tx.send(attempt);
                    drop(permit);
                });
            }
        }
        // Let sends in flight finish and their outcomes be written.
        let _ = permits.acquire_many(concurrency as u32).await;
        drop(tx);
        let _ = recorder.await;
    })
}

/// Claims due jobs in a transaction of their own.
async fn claim(
    db: &Db,
    claim_id: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let jobs = outbox::claim(&mut tx, claim_id, now, lease_ms, limit).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Writes a batch of outcomes in one transaction.
async fn record(db: &Db, batch: &[Attempt]) -> Result<(), sqlx::Error> {
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

fn provider_of(platform: &str) -> &'static str {
    if platform == Platform::Web.as_str() {
        "webpush"
    } else {
        "fcm"
    }
}

async fn send_job(
    db: &Db,
    senders: &Senders,
    metrics: &PushMetrics,
    claim_id: &str,
    job: Job,
) -> Attempt {
    let now = now_ms();
    let mut attempt = Attempt {
        job_id: job.id.clone(),
        claim_id: claim_id.to_owned(),
        device_id: job.device_id.clone(),
        provider: "unknown",
        at: now,
        sent: None,
        next: NextState::Failed,
        error: None,
    };
    let target = match outbox::target(db, &job.device_id, now).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            attempt.next = NextState::Pruned;
            attempt.error = Some("the device was removed".into());
            return attempt;
        }
        Err(e) => {
            attempt.next = NextState::RetryAt(now + RETRY_BASE_MS);
            attempt.error = Some(format!("database: {e}"));
            return attempt;
        }
    };
    let provider = provider_of(&target.platform);
    attempt.provider = provider;
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
    let outcome = send(senders, &target, &payload, &job.payload, ttl_secs, now).await;
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
            let due =
                done + retry_delay_ms(job.attempts, retry_after_ms, rand::thread_rng().r#gen());
            if due >= job.expires_at {
                (
                    NextState::Expired,
                    status,
                    Some(format!("{error} (TTL runs out before the next try)")),
                )
            } else {
                (NextState::RetryAt(due), status, Some(error))
            }
        }
    };
    metrics.count(
        provider,
        match next {
            NextState::Delivered => "delivered",
            NextState::RetryAt(_) => "retried",
            NextState::Expired => "expired",
            NextState::Failed => "failed",
            NextState::Pruned => "pruned",
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
            Some(fcm) => fcm.send(&target.token, payload, ttl_secs as u64, now).await,
            None => SendOutcome::Failed {
                status: None,
                error: "FCM is not configured (--fcm-credentials)".into(),
            },
        }
    }
}

/// The shared backoff ([`gatebell_core::backoff::delay_ms`]), never before `Retry-After`.
pub fn retry_delay_ms(attempts: i64, retry_after_ms: Option<i64>, random: f64) -> i64 {
    gatebell_core::backoff::delay_ms(attempts.min(20), RETRY_BASE_MS, RETRY_CAP_MS, random)
        .max(retry_after_ms.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(retry_delay_ms(1, None, 0.0), 500);
        assert_eq!(retry_delay_ms(1, None, 0.999), 999);
        assert_eq!(retry_delay_ms(3, None, 0.0), 2_000);
        assert_eq!(retry_delay_ms(30, None, 0.999), 59_970);
    }

    #[test]
    fn retry_after_is_a_floor() {
        assert_eq!(retry_delay_ms(1, Some(2_000), 0.5), 2_000);
        assert_eq!(retry_delay_ms(8, Some(2_000), 0.0), 30_000);
    }
}
