//! Errors of `iron_reliability`.

/// What can go wrong in the reliability primitives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReliabilityError {
    /// The breaker rejected the call without making it.
    #[error("circuit breaker {breaker:?} is {state}: the call was not made; retry after {retry_after_s:.3}s")]
    CircuitOpen {
        /// The breaker's name.
        breaker: String,
        /// `open` or `half_open` (all probe slots taken).
        state: &'static str,
        /// Seconds until a call may be admitted again (a hint when half-open).
        retry_after_s: f64,
    },
    /// A configuration value out of range.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// The parameter.
        what: &'static str,
        /// Why, and what is accepted.
        reason: String,
    },
}
