//! Statistics of a fallback chain: which tier served each call.
//!
//! The chain itself (calling tier after tier) lives with the caller, since the
//! tiers are the caller's functions; this keeps the counts consistent under
//! concurrency and computes the shares the dashboard shows.

use std::sync::atomic::{AtomicU64, Ordering};

/// Per-tier counters, updated without locks.
#[derive(Debug)]
pub struct FallbackStats {
    names: Vec<String>,
    attempts: Vec<AtomicU64>,
    successes: Vec<AtomicU64>,
    exhausted: AtomicU64,
}

/// One tier's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCounts {
    /// The tier's name.
    pub name: String,
    /// Times it was tried.
    pub attempts: u64,
    /// Times it served the call.
    pub successes: u64,
}

impl FallbackStats {
    /// Counters for tiers named `names`, primary first.
    #[must_use]
    pub fn new(names: Vec<String>) -> Self {
        let n = names.len();
        FallbackStats {
            names,
            attempts: (0..n).map(|_| AtomicU64::new(0)).collect(),
            successes: (0..n).map(|_| AtomicU64::new(0)).collect(),
            exhausted: AtomicU64::new(0),
        }
    }

    /// Tier `i` is being tried.
    pub fn attempt(&self, i: usize) {
        if let Some(a) = self.attempts.get(i) {
            a.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Tier `i` served the call.
    pub fn success(&self, i: usize) {
        if let Some(s) = self.successes.get(i) {
            s.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every tier failed.
    pub fn exhausted(&self) {
        self.exhausted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts per tier, primary first.
    #[must_use]
    pub fn tiers(&self) -> Vec<TierCounts> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| TierCounts {
                name: name.clone(),
                attempts: self.attempts[i].load(Ordering::Relaxed),
                successes: self.successes[i].load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Calls where every tier failed.
    #[must_use]
    pub fn exhausted_count(&self) -> u64 {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// Of the calls that were served, the share served by a tier after the
    /// primary (0.0 when none were served).
    #[must_use]
    pub fn fallback_share(&self) -> f64 {
        let served: Vec<u64> = self
            .successes
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        let total: u64 = served.iter().sum();
        if total == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let share = served.iter().skip(1).sum::<u64>() as f64 / total as f64;
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares() {
        let s = FallbackStats::new(vec!["live".into(), "cache".into(), "placeholder".into()]);
        for _ in 0..2 {
            s.attempt(0);
            s.success(0);
        }
        for _ in 0..98 {
            s.attempt(0);
            s.attempt(1);
            s.success(1);
        }
        assert!((s.fallback_share() - 0.98).abs() < 1e-12);
        assert_eq!(
            s.tiers()[0],
            TierCounts {
                name: "live".into(),
                attempts: 100,
                successes: 2
            }
        );
    }
}
