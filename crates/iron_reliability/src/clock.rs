//! Time for the breaker: the monotonic clock, or a manual one tests move by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Nanoseconds on a monotonic timeline. Dispatch is an enum, not `dyn`: the
/// breaker reads the clock on every state check that needs it.
#[derive(Debug, Clone)]
pub enum Clock {
    /// `Instant`-based, counted from when the clock was made.
    Monotonic(Instant),
    /// Starts at zero and moves only when told to.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// The real monotonic clock.
    #[must_use]
    pub fn monotonic() -> Self {
        Clock::Monotonic(Instant::now())
    }

    /// A manual clock at zero and the handle that moves it.
    #[must_use]
    pub fn manual() -> (Self, Arc<AtomicU64>) {
        let handle = Arc::new(AtomicU64::new(0));
        (Clock::Manual(Arc::clone(&handle)), handle)
    }

    /// Now, in nanoseconds since the clock's origin.
    #[must_use]
    pub fn now_ns(&self) -> u64 {
        match self {
            Clock::Monotonic(origin) => {
                u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
            }
            Clock::Manual(t) => t.load(Ordering::Acquire),
        }
    }
}
