//! The durable queues and the workers that drain them: pushes per provider (`push`,
//! `dispatcher`, with the prune `breaker`), and the webhook, SMS and email lanes (`lane`,
//! `messages`).

use rand::Rng;

use crate::db::queue::NextState;

pub mod breaker;
pub mod dispatcher;
pub mod lane;
pub mod messages;
pub mod push;
pub mod webhooks;

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
