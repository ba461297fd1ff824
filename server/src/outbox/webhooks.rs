//! The webhook queue: `visit.approved`, `visit.rejected` and `visit.expired` for the existing
//! backend (`--webhook-url`), signed by [`crate::channels::webhooks::Signer`].
//!
//! Webhooks ride an outbox like pushes do: [`enqueue_decision`] writes a `webhook_jobs` row in
//! the transaction that records the decision, and one sender task per instance claims due rows
//! (with a lease, so a crashed instance's rows are taken again), posts them and records the
//! outcome, retrying with the shared backoff until the receiver answers 2xx or the webhook is a
//! day old. The row id is the `webhook-id`, the same on every try, for de-duplication; the
//! timestamp is each try's, so a late retry still passes the receiver's five-minute window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatebell_core::protocol::{VisitDecided, VisitStatus, WebhookEvent};
use tokio::sync::watch;

use crate::channels::retry_after_ms;
use crate::channels::webhooks::Signer;
use crate::config::Config;
use crate::db::queue::{Hold, NextState, Order};
use crate::db::webhooks::{self, Job, WEBHOOKS};
use crate::db::{Db, DbError, Tx, new_id, now_ms};
use crate::metrics::PushMetrics;
use crate::outbox::push::PushHandle;
use crate::outbox::worker::{self, Channel};
use crate::outbox::{Recorded, retry_at};

/// A webhook not delivered within a day is given up.
pub const WEBHOOK_TTL_MS: i64 = 24 * 3600 * 1000;
/// How long the receiver has to answer one try.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Webhooks claimed (and sent concurrently) at a time.
/// Webhooks posted at once.
const SLOTS: usize = 32;

/// The event type of a visit that reached `status`, if it is one the backend hears of.
pub fn event_type(status: VisitStatus) -> Option<&'static str> {
    match status {
        VisitStatus::Approved => Some("visit.approved"),
        VisitStatus::Rejected => Some("visit.rejected"),
        VisitStatus::Expired => Some("visit.expired"),
        _ => None,
    }
}

/// Queues the webhook of a decision inside `tx`, when webhooks are configured; returns whether
/// one was queued. Wake the sender ([`PushHandle::wake`]) after committing.
pub async fn enqueue_decision(
    tx: &mut Tx,
    config: &Config,
    decided: VisitDecided,
    now: i64,
) -> Result<bool, DbError> {
    if config.args.webhook.url.is_none() {
        return Ok(false);
    }
    let Some(kind) = event_type(decided.status) else {
        return Ok(false);
    };
    let event = WebhookEvent {
        kind: kind.to_owned(),
        timestamp: rfc3339(now),
        data: decided,
    };
    let json = serde_json::to_string(&event).map_err(|e| DbError::Encode(Box::new(e)))?;
    webhooks::enqueue(tx, &new_id(), kind, &json, now, now + WEBHOOK_TTL_MS).await?;
    Ok(true)
}

/// Epoch milliseconds as RFC 3339 UTC (`2026-11-28T08:00:00.000Z`).
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the sender needs.
pub struct Sender {
    url: String,
    signer: Signer,
    client: reqwest::Client,
    retry_max_ms: i64,
    metrics: PushMetrics,
    hold: Hold,
}

/// Starts the sender when `--webhook-url` is set; it stops when `stop` turns true, handing back
/// what it holds.
pub fn spawn(
    db: Db,
    config: &Config,
    wake: &PushHandle,
    metrics: PushMetrics,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let (Some(url), Some(secret)) = (&config.args.webhook.url, &config.args.webhook.secret) else {
        return Ok(None);
    };
    let sender = Arc::new(Sender {
        url: url.clone(),
        signer: Signer::new(secret)?,
        // The receiver is the operator's own service, possibly on a private network: no
        // public-address check, but no redirects either (a signed body goes where configured).
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(SEND_TIMEOUT)
            .build()?,
        retry_max_ms: (config.args.webhook.retry_max_secs as i64).saturating_mul(1000),
        metrics,
        hold: Hold::new(&db, &WEBHOOKS, "", config.args.push.claim_lease_ms),
    });
    let settings = worker::Settings {
        slots: SLOTS,
        grace: Duration::from_secs(config.args.http.shutdown_grace_secs),
    };
    Ok(Some(worker::spawn(sender, wake.clone(), settings, stop)))
}

impl Channel for Sender {
    type Job = Job;
    type Outcome = Recorded;

    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn hold(&self) -> &Hold {
        &self.hold
    }

    async fn claim(&self, order: Order, limit: i64) -> Result<Vec<Job>, DbError> {
        self.hold.claim(order, limit).await
    }

    async fn send(&self, job: Job) -> Recorded {
        let (next, status, error) = attempt(self, &job).await;
        let event = match next {
            NextState::RetryAt(_) => "retried",
            other => other.as_str(),
        };
        self.metrics.webhooks.with_label_values(&[event]).inc();
        if let Some(e) = &error {
            tracing::debug!(webhook = %job.id, event = %job.event, ?status, error = %e, "webhook not delivered");
        }
        Recorded {
            job_id: job.id,
            at: now_ms(),
            next,
            status,
            error,
            latency_ms: None,
        }
    }

    async fn record(&self, tx: &mut Tx, batch: &mut [Recorded]) -> Result<(), DbError> {
        Recorded::write(tx, &self.hold, batch).await
    }
}

async fn attempt(sender: &Sender, job: &Job) -> (NextState, Option<u16>, Option<String>) {
    let now = now_ms();
    if job.expires_at <= now {
        return (
            NextState::Expired,
            None,
            Some("not delivered within a day".into()),
        );
    }
    let headers = match sender.signer.headers(&job.id, now / 1000, &job.payload) {
        Ok(h) => h,
        Err(e) => return (NextState::Failed, None, Some(format!("signing: {e}"))),
    };
    let mut request = sender
        .client
        .post(&sender.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(job.payload.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    sender.metrics.webhooks.with_label_values(&["sent"]).inc();
    let started = Instant::now();
    let (status, retry_after, error) = match request.send().await {
        Ok(resp) if resp.status().is_success() => {
            tracing::debug!(webhook = %job.id, ms = started.elapsed().as_millis() as u64, "webhook delivered");
            return (NextState::Delivered, Some(resp.status().as_u16()), None);
        }
        Ok(resp) => (
            Some(resp.status().as_u16()),
            retry_after_ms(resp.headers()),
            format!("the receiver answered {}", resp.status()),
        ),
        Err(e) => (None, None, crate::channels::egress::chain(&e)),
    };
    match retry_at(
        now_ms(),
        job.attempts,
        sender.retry_max_ms,
        retry_after,
        job.expires_at,
    ) {
        NextState::Expired => (
            NextState::Expired,
            status,
            Some(format!("{error} (a day passed; given up)")),
        ),
        next => (next, status, Some(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_852_800_123), "2026-11-28T08:00:00.123Z");
    }

    #[test]
    fn only_outcomes_make_events() {
        assert_eq!(event_type(VisitStatus::Approved), Some("visit.approved"));
        assert_eq!(event_type(VisitStatus::Rejected), Some("visit.rejected"));
        assert_eq!(event_type(VisitStatus::Pending), None);
    }
}
