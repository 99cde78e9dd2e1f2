//! iron-cage's reliability primitives: a [`CircuitBreaker`] that is correct
//! under concurrency and never holds a lock while the protected call runs,
//! [`RetryPolicy`] delays with full jitter, [`FallbackStats`] for tiered
//! fallbacks, and `Retry-After` parsing. No Python here; `iron_cage_py` wraps it.

mod breaker;
mod classify;
mod clock;
mod error;
mod fallback;
mod registry;
mod retry;
mod retry_after;

pub use breaker::{BreakerConfig, CircuitBreaker, Metrics, Permit, State, StateChange, TripRule};
pub use classify::{classify_status, StatusClass};
pub use clock::Clock;
pub use error::ReliabilityError;
pub use fallback::{FallbackStats, TierCounts};
pub use registry::BreakerRegistry;
pub use retry::{Jitter, RetryPolicy};
pub use retry_after::parse_retry_after;
