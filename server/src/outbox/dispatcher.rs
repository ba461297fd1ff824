//! The push channels: one per provider, each on its own [`worker`] with its own send slots
//! and prune breaker, so a provider that stalls (a token endpoint that hangs, a push service
//! that times out) cannot starve the other. A claimed batch's devices are read in one query.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatebell_core::protocol::{Platform, PushPayload};
use tokio::sync::watch;

use super::breaker::PruneBreaker;
use super::worker::{self, Channel};
use crate::channels::SendOutcome;
use crate::channels::fcm::FcmSender;
use crate::channels::webpush::{WebPushSender, WebTarget, topic_for_visit};
use crate::db::outbox::{self, Attempt, Job, NextState, PUSHES, SentInfo, Target};
use crate::db::queue::{Hold, Order};
use crate::db::{Db, DbError, Tx, now_ms};
use crate::metrics::PushMetrics;
use crate::outbox::push::{Provider, PushHandle};
use crate::outbox::{RETRY_BASE_MS, RETRY_CAP_MS, retry_at};

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

/// One provider's channel.
struct ProviderLane {
    provider: Provider,
    senders: Arc<Senders>,
    metrics: PushMetrics,
    breaker: Mutex<PruneBreaker>,
    hold: Hold,
}

/// A claimed job with its device as looked up with the batch (`Ok(None)`: removed; `Err`: the
/// lookup failed, so the job is retried).
pub struct Claimed {
    job: Job,
    target: Result<Option<Target>, String>,
}

/// Starts one worker per provider; they stop when `stop` turns true, within the grace period
/// whatever the providers do.
pub fn spawn(
    db: Db,
    senders: Arc<Senders>,
    handle: PushHandle,
    metrics: PushMetrics,
    config: DispatcherConfig,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let workers: Vec<_> = Provider::ALL
        .into_iter()
        .map(|provider| {
            let lane = Arc::new(ProviderLane {
                provider,
                senders: senders.clone(),
                metrics: metrics.clone(),
                breaker: Mutex::default(),
                hold: Hold::new(&db, &PUSHES, provider.as_str(), config.lease_ms),
            });
            let settings = worker::Settings {
                slots: config.concurrency,
                grace: config.grace,
            };
            worker::spawn(lane, handle.clone(), settings, stop.clone())
        })
        .collect();
    tokio::spawn(async move {
        for w in workers {
            let _ = w.await;
        }
    })
}

impl Channel for ProviderLane {
    type Job = Claimed;
    type Outcome = Attempt;

    fn name(&self) -> &'static str {
        self.provider.as_str()
    }

    fn hold(&self) -> &Hold {
        &self.hold
    }

    async fn claim(&self, order: Order, limit: i64) -> Result<Vec<Claimed>, DbError> {
        let jobs: Vec<Job> = self.hold.claim(order, limit).await?;
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // Every claimed job's device in one query, not one read per job.
        let ids: Vec<&str> = jobs.iter().map(|j| j.device_id.as_str()).collect();
        let targets = outbox::targets(&self.hold.db, &ids, now_ms())
            .await
            .map_err(|e| format!("database: {e}"));
        Ok(jobs
            .into_iter()
            .map(|job| {
                let target = match &targets {
                    Ok(found) => Ok(found.get(&job.device_id).cloned()),
                    Err(e) => Err(e.clone()),
                };
                Claimed { job, target }
            })
            .collect())
    }

    async fn send(&self, claimed: Claimed) -> Attempt {
        send_job(self, claimed.job, claimed.target).await
    }

    async fn record(&self, tx: &mut Tx, batch: &mut [Attempt]) -> Result<(), DbError> {
        batch.sort_unstable_by(|a, b| a.job_id.cmp(&b.job_id));
        outbox::record(tx, batch).await
    }
}

impl worker::Outcome for Attempt {
    fn next(&self) -> NextState {
        self.next
    }
}

/// Sends one claimed job to `target`, its device as looked up with the batch (`Ok(None)`:
/// removed; `Err`: the lookup failed, so the job is retried).
async fn send_job(
    lane: &ProviderLane,
    job: Job,
    target: Result<Option<Target>, String>,
) -> Attempt {
    let (metrics, provider) = (&lane.metrics, lane.provider.as_str());
    let now = now_ms();
    let mut attempt = Attempt {
        job_id: job.id.clone(),
        claim_id: lane.hold.claim_id.clone(),
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
fn check_prune(lane: &ProviderLane, outcome: SendOutcome) -> SendOutcome {
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
