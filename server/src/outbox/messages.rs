//! Texts and emails, the third channel beside pushes: what [`crate::jobs::escalation`] queues in
//! `message_jobs` is sent here, one lane per channel, each claiming its own rows (with a lease:
//! a crashed instance's rows are taken again), sending them and recording the outcome. Tries
//! back off like pushes until the message is delivered, refused for good, or too late (a
//! walk-in's texts expire with the walk-in). A walk-in's message whose walk-in was decided or
//! expired before it went is cancelled unsent.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Config;
use crate::db::messages::{Job, MESSAGES};
use crate::db::queue::{Hold, NextState, Order};
use crate::db::{Db, DbError, Tx, now_ms};
use crate::metrics::PushMetrics;
use crate::outbox::push::PushHandle;
use crate::outbox::worker::{self, Channel};
use crate::outbox::{RETRY_CAP_MS, Recorded, retry_at};

use crate::channels::Sent;
use crate::channels::email::EmailClient;
use crate::channels::sms::SmsClient;

/// The channels, as `message_jobs.channel` and the metrics' label name them.
pub const CHANNELS: [&str; 2] = ["sms", "email"];

/// Messages sent at once per lane.
const SLOTS: usize = 16;

/// One queued message (the `payload` of a `message_jobs` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum Message {
    Sms {
        to: String,
        body: String,
    },
    Email {
        /// `Name <address>`.
        to: String,
        subject: String,
        text: String,
        html: String,
    },
}

impl Message {
    pub fn channel(&self) -> &'static str {
        match self {
            Message::Sms { .. } => "sms",
            Message::Email { .. } => "email",
        }
    }
}

enum Transport {
    Sms(SmsClient),
    Email(EmailClient),
}

struct MessageLane {
    channel: &'static str,
    transport: Transport,
    metrics: PushMetrics,
    hold: Hold,
}

/// Starts a lane per configured channel; each stops when `stop` turns true, handing back what
/// it holds.
pub fn spawn(
    db: &Db,
    config: &Config,
    wake: &PushHandle,
    metrics: &PushMetrics,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut transports = Vec::new();
    if let Some(c) = SmsClient::new(config)? {
        transports.push(("sms", Transport::Sms(c)));
    }
    if let Some(c) = EmailClient::new(config)? {
        transports.push(("email", Transport::Email(c)));
    }
    Ok(transports
        .into_iter()
        .map(|(channel, transport)| {
            let lane = Arc::new(MessageLane {
                channel,
                transport,
                metrics: metrics.clone(),
                hold: Hold::new(db, &MESSAGES, channel, config.args.push.claim_lease_ms),
            });
            let settings = worker::Settings {
                slots: SLOTS,
                grace: Duration::from_secs(config.args.http.shutdown_grace_secs),
            };
            worker::spawn(lane, wake.clone(), settings, stop.clone())
        })
        .collect())
}

impl Channel for MessageLane {
    type Job = Job;
    type Outcome = Recorded;

    fn name(&self) -> &'static str {
        self.channel
    }

    fn hold(&self) -> &Hold {
        &self.hold
    }

    async fn claim(&self, order: Order, limit: i64) -> Result<Vec<Job>, DbError> {
        self.hold.claim(order, limit).await
    }

    async fn send(&self, job: Job) -> Recorded {
        deliver(self, job).await
    }

    async fn record(&self, tx: &mut Tx, batch: &mut [Recorded]) -> Result<(), DbError> {
        Recorded::write(tx, &self.hold, batch).await
    }
}

/// One try's outcome, before it is recorded.
struct Outcome {
    next: NextState,
    status: Option<u16>,
    error: Option<String>,
    latency_ms: Option<i64>,
}

impl Outcome {
    fn unsent(next: NextState, error: &str) -> Outcome {
        Outcome {
            next,
            status: None,
            error: Some(error.to_owned()),
            latency_ms: None,
        }
    }
}

/// Sends one message; its outcome, to record.
async fn deliver(lane: &MessageLane, job: Job) -> Recorded {
    let outcome = attempt(lane, &job).await;
    let event = match outcome.next {
        NextState::RetryAt(_) => "retried",
        other => other.as_str(),
    };
    lane.metrics
        .messages
        .with_label_values(&[lane.channel, event])
        .inc();
    if let Some(e) = &outcome.error {
        tracing::debug!(message = %job.id, channel = lane.channel, status = ?outcome.status, error = %e, "message not delivered");
    }
    Recorded {
        job_id: job.id,
        at: now_ms(),
        next: outcome.next,
        status: outcome.status,
        error: outcome.error,
        latency_ms: outcome.latency_ms,
    }
}

async fn attempt(lane: &MessageLane, job: &Job) -> Outcome {
    let now = now_ms();
    if job.expires_at <= now {
        return Outcome::unsent(NextState::Expired, "too late to be of use");
    }
    // A walk-in's text asks for a decision: once someone decided (or it expired), it is noise.
    if job.event == "walkin_pending" && job.visit_status.as_deref() != Some("PENDING") {
        return Outcome::unsent(NextState::Cancelled, "the walk-in was decided or expired");
    }
    let message: Message = match serde_json::from_str(&job.payload) {
        Ok(m) => m,
        Err(e) => return Outcome::unsent(NextState::Failed, &format!("bad payload: {e}")),
    };
    lane.metrics
        .messages
        .with_label_values(&[lane.channel, "sent"])
        .inc();
    let sent = match (&lane.transport, &message) {
        (Transport::Sms(c), Message::Sms { to, body }) => c.send(to, body).await,
        (
            Transport::Email(c),
            Message::Email {
                to,
                subject,
                text,
                html,
            },
        ) => c.send(to, subject, text, html).await,
        _ => return Outcome::unsent(NextState::Failed, "a message in another channel's lane"),
    };
    match sent {
        Sent::Accepted { status, latency_ms } => {
            if let Message::Sms { body, .. } = &message {
                // What the text cost, for the bill: in the metrics and the log.
                let cost = crate::texts::segments(body);
                lane.metrics
                    .sms_segments
                    .with_label_values(&[cost.encoding])
                    .inc_by(cost.count as u64);
                tracing::info!(message = %job.id, segments = cost.count, encoding = cost.encoding, "text sent");
            }
            Outcome {
                next: NextState::Delivered,
                status: Some(status),
                error: None,
                latency_ms: Some(latency_ms),
            }
        }
        Sent::Refused {
            status,
            error,
            transient,
            retry_after_ms,
            latency_ms,
        } => {
            let next = if transient {
                retry_at(
                    now_ms(),
                    job.attempts,
                    RETRY_CAP_MS,
                    retry_after_ms,
                    job.expires_at,
                )
            } else {
                NextState::Failed
            };
            Outcome {
                next,
                status,
                error: Some(error),
                latency_ms: Some(latency_ms),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_channel() {
        let sms = Message::Sms {
            to: "+919800000001".into(),
            body: "hi".into(),
        };
        let json = serde_json::to_value(&sms).unwrap();
        assert_eq!(json["channel"], "sms");
        assert_eq!(serde_json::from_value::<Message>(json).unwrap(), sms);
        assert_eq!(sms.channel(), "sms");
    }
}
