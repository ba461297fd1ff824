//! The ways out of the process: FCM, Web Push (its encryption and its endpoint allow-list),
//! the backend's signed webhooks, SMS and email, all through the guarded egress client.

pub mod ece;
pub mod egress;
pub mod email;
pub mod fcm;
pub mod payload;
pub mod sms;
pub mod webhooks;
pub mod webpush;

use reqwest::header::HeaderMap;

/// How a provider took a message.
#[derive(Debug)]
pub enum Sent {
    Accepted {
        status: u16,
        latency_ms: i64,
    },
    Refused {
        status: Option<u16>,
        error: String,
        /// Whether a later try may succeed.
        transient: bool,
        retry_after_ms: Option<i64>,
        latency_ms: i64,
    },
}

/// The result of one send attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted by the provider.
    Delivered { status: u16 },
    /// The token or subscription is dead: delete the device, never retry.
    Prune { status: u16, error: String },
    /// Try again later, not before `retry_after_ms`.
    Retry {
        status: Option<u16>,
        error: String,
        retry_after_ms: Option<i64>,
    },
    /// Refused for a reason retrying will not fix.
    Failed { status: Option<u16>, error: String },
}

/// `Retry-After` as milliseconds from now: delay-seconds or an HTTP date.
pub fn retry_after_ms(headers: &HeaderMap) -> Option<i64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some((secs.min(86_400) * 1000) as i64);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let ms = at
        .duration_since(std::time::SystemTime::now())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Some(ms.min(86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_ms(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after_ms(&h), Some(2000));
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(30);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let ms = retry_after_ms(&h).unwrap();
        assert!((28_000..=30_000).contains(&ms), "{ms}");
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after_ms(&h), None);
    }
}
