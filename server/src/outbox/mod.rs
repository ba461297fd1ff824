//! The durable queues and the one worker that drains each of them (`worker`): pushes per
//! provider (`dispatcher`, with the prune `breaker`; `push` wakes them), webhooks
//! (`webhooks`), texts and emails (`messages`).

use rand::Rng;

use crate::db::queue::{self, Hold, NextState};
use crate::db::{DbError, Tx};

pub mod breaker;
pub mod dispatcher;
pub mod messages;
pub mod push;
pub mod webhooks;
pub mod worker;

/// One try's outcome in a queue whose attempts [`queue::record`] logs (webhooks, texts,
/// emails), held until the worker's recorder writes it with others.
#[derive(Debug)]
pub struct Recorded {
    pub job_id: String,
    pub at: i64,
    pub next: NextState,
    /// The provider's answer (HTTP status, SMTP reply code), when one came.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// How long the send took; None when nothing was sent.
    pub latency_ms: Option<i64>,
}

impl Recorded {
    /// Writes `batch`, claimed through `hold`, in the order of the rows' ids.
    pub async fn write(tx: &mut Tx, hold: &Hold, batch: &mut [Recorded]) -> Result<(), DbError> {
        batch.sort_unstable_by(|a, b| a.job_id.cmp(&b.job_id));
        let outcomes: Vec<queue::Outcome<'_>> = batch
            .iter()
            .map(|r| queue::Outcome {
                job_id: &r.job_id,
                claim_id: &hold.claim_id,
                lane: hold.lane,
                at: r.at,
                next: r.next,
                status: r.status,
                error: r.error.as_deref(),
                latency_ms: r.latency_ms,
            })
            .collect();
        queue::record(tx, hold.queue, &outcomes).await
    }
}

impl worker::Outcome for Recorded {
    fn next(&self) -> NextState {
        self.next
    }
}

/// The first retry's delay; each later one doubles (with jitter) up to a queue's cap.
pub const RETRY_BASE_MS: i64 = 1_000;
/// The cap of the push and message queues' backoff (webhooks take theirs from the
/// configuration).
pub const RETRY_CAP_MS: i64 = 60_000;

/// The shared backoff ([`gatebell_core::backoff::delay_ms`]) after `attempts` tries, capped at
/// `cap_ms`, never before `Retry-After`.
pub fn retry_delay_ms(attempts: i64, cap_ms: i64, retry_after_ms: Option<i64>, random: f64) -> i64 {
    gatebell_core::backoff::delay_ms(attempts.min(30), RETRY_BASE_MS, cap_ms, random)
        .max(retry_after_ms.unwrap_or(0))
}

/// When a row that failed at `now` is tried again, or [`NextState::Expired`] when that would
/// be at or past `expires_at`.
pub fn retry_at(
    now: i64,
    attempts: i64,
    cap_ms: i64,
    retry_after_ms: Option<i64>,
    expires_at: i64,
) -> NextState {
    let due = now + retry_delay_ms(attempts, cap_ms, retry_after_ms, rand::thread_rng().r#gen());
    if due >= expires_at {
        NextState::Expired
    } else {
        NextState::RetryAt(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(retry_delay_ms(1, RETRY_CAP_MS, None, 0.0), 500);
        assert_eq!(retry_delay_ms(1, RETRY_CAP_MS, None, 0.999), 999);
        assert_eq!(retry_delay_ms(3, RETRY_CAP_MS, None, 0.0), 2_000);
        assert_eq!(retry_delay_ms(30, RETRY_CAP_MS, None, 0.999), 59_970);
        assert_eq!(retry_delay_ms(30, 10_000, None, 0.999), 9_995);
    }

    #[test]
    fn retry_after_is_a_floor() {
        assert_eq!(retry_delay_ms(1, RETRY_CAP_MS, Some(2_000), 0.5), 2_000);
        assert_eq!(retry_delay_ms(8, RETRY_CAP_MS, Some(2_000), 0.0), 30_000);
    }

    #[test]
    fn a_retry_past_the_expiry_expires() {
        let now = 1_000_000;
        assert_eq!(
            retry_at(now, 1, RETRY_CAP_MS, None, now + 500),
            NextState::Expired
        );
        assert!(matches!(
            retry_at(now, 1, RETRY_CAP_MS, None, now + 600_000),
            NextState::RetryAt(t) if t > now && t < now + 1_000
        ));
        assert_eq!(
            retry_at(now, 1, RETRY_CAP_MS, Some(700_000), now + 600_000),
            NextState::Expired
        );
    }
}
