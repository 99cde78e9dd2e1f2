//! Retry delays: exponential backoff with full jitter, capped, respecting `Retry-After`.

use std::time::Duration;

use crate::error::ReliabilityError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff before the second attempt, before jitter.
    pub base_delay: Duration,
    /// The largest backoff before jitter.
    pub max_delay: Duration,
    /// Growth per attempt (2.0 doubles).
    pub multiplier: f64,
    /// Give up once this much time would have passed (None: no limit).
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            max_elapsed: None,
        }
    }
}

impl RetryPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    /// Zero attempts, a multiplier below 1, or `max_delay < base_delay`.
    pub fn validate(&self) -> Result<(), ReliabilityError> {
        let bad = |what: &'static str, reason: &str| {
            Err(ReliabilityError::InvalidConfig {
                what,
                reason: reason.to_owned(),
            })
        };
        if self.max_attempts == 0 {
            return bad(
                "max_attempts",
                "must be at least 1 (the first attempt counts)",
            );
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return bad("multiplier", "must be a finite number >= 1.0");
        }
        if self.max_delay < self.base_delay {
            return bad("max_delay", "must be at least base_delay");
        }
        Ok(())
    }

    /// The wait after failed attempt number `attempt` (1-based): full jitter,
    /// `uniform(0, min(max_delay, base * multiplier^(attempt-1)))`, but never
    /// shorter than the service's `retry_after`. `unit_random` is in [0, 1).
    #[must_use]
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, unit_random: f64) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let ceiling = (self.base_delay.as_secs_f64() * self.multiplier.powi(exp))
            .min(self.max_delay.as_secs_f64());
        let jittered = Duration::from_secs_f64(ceiling * unit_random.clamp(0.0, 1.0));
        retry_after.map_or(jittered, |r| r.max(jittered))
    }

    /// Whether to try again after failed attempt `attempt`, `elapsed` after the
    /// first began, given the `delay` that would come next.
    #[must_use]
    pub fn should_retry(&self, attempt: u32, elapsed: Duration, delay: Duration) -> bool {
        attempt < self.max_attempts
            && self
                .max_elapsed
                .is_none_or(|limit| elapsed + delay <= limit)
    }
}

/// A small, fast PRNG for jitter (xorshift64*). Not for secrets.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded; a zero seed is replaced by a constant.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Jitter(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// Uniform in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        #[allow(clippy::cast_precision_loss)]
        let v = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_full_jitter_capped_and_retry_after_respected() {
        let p = RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(1, None, 0.5), Duration::from_millis(500));
        assert_eq!(
            p.delay(3, None, 0.999_999),
            Duration::from_secs_f64(4.0 * 0.999_999)
        );
        assert_eq!(
            p.delay(10, None, 0.5),
            Duration::from_millis(2500),
            "capped at max_delay before jitter"
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7)), 0.5),
            Duration::from_secs(7)
        );
        assert!(
            p.should_retry(2, Duration::ZERO, Duration::ZERO)
                && !p.should_retry(3, Duration::ZERO, Duration::ZERO)
        );
        let q = RetryPolicy {
            max_elapsed: Some(Duration::from_secs(3)),
            max_attempts: 10,
            ..p
        };
        assert!(!q.should_retry(1, Duration::from_secs(2), Duration::from_secs(2)));
        let mut j = Jitter::new(1);
        assert!((0..1000)
            .map(|_| j.next_unit())
            .all(|u| (0.0..1.0).contains(&u)));
    }
}
