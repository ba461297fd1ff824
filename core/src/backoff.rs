//! Retry backoff, shared by the client state machine and the server's push dispatcher.

/// Exponential backoff with equal jitter: after the `failures`-th failure (1 for the first) the
/// delay is uniform in `[d/2, d]` with `d = min(cap, base · 2^(failures-1))`, so retries spread
/// out but never come right back. `random` is in `[0, 1]`; anything else (NaN included) is
/// clamped into it.
pub fn delay_ms(failures: i64, base_ms: i64, cap_ms: i64, random: f64) -> i64 {
    let shift = failures.clamp(1, 41) - 1;
    let full = base_ms
        .max(0)
        .saturating_mul(1i64 << shift)
        .min(cap_ms.max(0));
    let half = full / 2;
    // NaN casts to 0; the clamp keeps a bad random from leaving [d/2, d].
    let jitter = (random.clamp(0.0, 1.0) * (full - half) as f64) as i64;
    half + jitter
}

#[cfg(test)]
mod tests {
    use super::delay_ms;

    #[test]
    fn doubles_per_failure_within_its_upper_half() {
        assert_eq!(delay_ms(1, 1_000, 60_000, 0.0), 500);
        assert_eq!(delay_ms(1, 1_000, 60_000, 1.0), 1_000);
        assert_eq!(delay_ms(3, 1_000, 60_000, 0.0), 2_000);
        assert_eq!(delay_ms(3, 1_000, 60_000, 0.5), 3_000);
    }

    #[test]
    fn is_capped_and_never_overflows() {
        assert_eq!(delay_ms(30, 1_000, 60_000, 1.0), 60_000);
        assert_eq!(delay_ms(i64::MAX, i64::MAX, i64::MAX, 1.0), i64::MAX);
    }

    #[test]
    fn bad_inputs_stay_in_range() {
        assert_eq!(delay_ms(0, 1_000, 60_000, 0.0), 500);
        assert_eq!(delay_ms(-5, 1_000, 60_000, f64::NAN), 500);
        assert_eq!(delay_ms(1, -1, 60_000, 1.0), 0);
        assert_eq!(delay_ms(1, 1_000, 60_000, 7.0), 1_000);
    }
}
