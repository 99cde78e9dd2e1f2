//! Per-request limits (from the Control Panel's `limits`, or set directly): the
//! most a single call may cost, the most tokens it may use, and how many calls
//! a minute the runtime admits. Checked in `Pipeline::begin`, before anything
//! is reserved or sent.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use iron_cost::Money;
use iron_llm::Estimate;
use serde_json::Value;

use crate::error::{PipelineError, Refusal};

/// The limits; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestLimits {
    /// The most one call may cost (its worst case, as reserved).
    pub max_cost_per_request: Option<Money>,
    /// The most tokens one call may use (input + maximum output).
    pub max_tokens_per_request: Option<u64>,
    /// Calls admitted per rolling minute.
    pub max_requests_per_minute: Option<u32>,
}

impl RequestLimits {
    /// From the Control Panel's `{"kind": value}` map (unknown kinds are ignored).
    #[must_use]
    pub fn from_json(limits: &Value) -> Self {
        let num = |k: &str| {
            limits
                .get(k)
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        RequestLimits {
            max_cost_per_request: num("max_cost_per_request_usd")
                .and_then(|v| Money::from_usd_f64(v, "max_cost_per_request_usd").ok()),
            max_tokens_per_request: num("max_tokens_per_request").map(|v| v.floor() as u64),
            max_requests_per_minute: num("max_requests_per_minute")
                .map(|v| v.floor().min(1e9) as u32),
        }
    }
}

/// The limits in force and the window of recent admissions.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: RwLock<RequestLimits>,
    window: Mutex<VecDeque<Instant>>,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Limiter {
    /// Replaces the limits.
    pub fn set(&self, limits: RequestLimits) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// The limits in force.
    #[must_use]
    pub fn get(&self) -> RequestLimits {
        *self.limits.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a per-request cost or token limit is set (then a call's worst
    /// case must be its exact count, not a bound that could exceed the limit).
    #[must_use]
    pub fn limits_requests(&self) -> bool {
        let limits = self.get();
        limits.max_cost_per_request.is_some() || limits.max_tokens_per_request.is_some()
    }

    /// Refuses a call whose worst case is over a limit, or one over the rate.
    ///
    /// # Errors
    /// [`PipelineError::LimitExceeded`] or [`PipelineError::RateLimited`].
    pub fn check(&self, estimate: &Estimate) -> Result<(), PipelineError> {
        let limits = self.get();
        if let Some(max) = limits.max_cost_per_request {
            if estimate.cost > max {
                return Err(PipelineError::LimitExceeded {
                    message: format!(
                        "this call may cost up to {}, over the per-request limit of {max}: lower max_tokens \
                         or shorten the prompt (the limit is set on the Control Panel)",
                        estimate.cost
                    ),
                    refusal: Box::new(Refusal {
                        limit: max,
                        requested: estimate.cost,
                        ..Refusal::default()
                    }),
                });
            }
        }
        if let Some(max) = limits.max_tokens_per_request {
            let tokens = estimate.input_tokens + estimate.output_tokens;
            if tokens > max {
                return Err(PipelineError::LimitExceeded {
                    message: format!(
                        "this call may use up to {tokens} tokens ({} in, {} out), over the per-request \
                         limit of {max}: lower max_tokens or shorten the prompt",
                        estimate.input_tokens, estimate.output_tokens
                    ),
                    refusal: Box::new(Refusal {
                        requested: estimate.cost,
                        ..Refusal::default()
                    }),
                });
            }
        }
        if let Some(rpm) = limits.max_requests_per_minute {
            let now = Instant::now();
            let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= MINUTE)
            {
                window.pop_front();
            }
            if window.len() >= rpm as usize {
                let wait = window
                    .front()
                    .map_or(MINUTE, |t| MINUTE.saturating_sub(now.duration_since(*t)));
                return Err(PipelineError::RateLimited {
                    message: format!(
                        "{rpm} calls a minute is the limit and it is reached: retry after {:.1}s",
                        wait.as_secs_f64()
                    ),
                    retry_after_s: wait.as_secs_f64(),
                });
            }
            window.push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn est(cost: u64, input: u64, output: u64) -> Estimate {
        Estimate {
            input_tokens: input,
            output_tokens: output,
            cost: Money::from_micros(cost),
            capped: false,
        }
    }

    #[test]
    fn cost_tokens_and_rate() {
        let l = Limiter::default();
        assert!(l.check(&est(1_000_000, 10, 10)).is_ok());
        l.set(RequestLimits::from_json(&json!({
            "max_cost_per_request_usd": 0.5, "max_tokens_per_request": 100,
            "max_requests_per_minute": 2, "daily_usd": 3
        })));
        assert!(matches!(
            l.check(&est(600_000, 10, 10)),
            Err(PipelineError::LimitExceeded { .. })
        ));
        assert!(matches!(
            l.check(&est(1, 60, 41)),
            Err(PipelineError::LimitExceeded { .. })
        ));
        assert!(l.check(&est(1, 60, 40)).is_ok());
        assert!(l.check(&est(1, 1, 1)).is_ok());
        match l.check(&est(1, 1, 1)) {
            Err(PipelineError::RateLimited { retry_after_s, .. }) => assert!(retry_after_s > 59.0),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        l.set(RequestLimits::default());
        assert!(l.check(&est(u64::MAX / 2, 1 << 40, 1)).is_ok());
    }
}
