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

/// Which models and providers an agent may call (`None`: any), set on the
/// Control Panel per developer or agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelPolicy {
    /// Model names as the price table spells them (a dated snapshot of one passes too).
    pub models: Option<Vec<String>>,
    /// `openai`, `anthropic`, `other`.
    pub providers: Option<Vec<String>>,
}

impl ModelPolicy {
    /// From the Control Panel's limits (`allowed_models`, `allowed_providers`; null: any).
    #[must_use]
    pub fn from_json(limits: &Value) -> Self {
        let list = |k: &str| {
            limits.get(k).and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect()
            })
        };
        ModelPolicy {
            models: list("allowed_models"),
            providers: list("allowed_providers"),
        }
    }

    fn is_open(&self) -> bool {
        self.models.is_none() && self.providers.is_none()
    }

    /// Refuses `model` (resolved to the table's `priced_as`, served by `provider`)
    /// when a list leaves it out.
    ///
    /// # Errors
    /// [`PipelineError::ModelNotAllowed`] naming the model and what is allowed.
    pub fn check(&self, model: &str, priced_as: &str, provider: &str) -> Result<(), PipelineError> {
        if let Some(providers) = &self.providers {
            if !providers.iter().any(|p| p == provider) {
                return Err(PipelineError::ModelNotAllowed(format!(
                    "provider {provider:?} (for model {model:?}) is not allowed for this agent; allowed: {}. Ask an admin to allow it on the Control Panel",
                    providers.join(", ")
                )));
            }
        }
        if let Some(models) = &self.models {
            let asked = model.trim().to_ascii_lowercase();
            if !models.iter().any(|m| *m == asked || m == priced_as) {
                return Err(PipelineError::ModelNotAllowed(format!(
                    "model {model:?} is not allowed for this agent; allowed: {}. Ask an admin to allow it on the Control Panel",
                    models.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The limits in force and the window of recent admissions.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: RwLock<RequestLimits>,
    /// The model policy; `None` when open (the common case costs one read).
    policy: RwLock<Option<std::sync::Arc<ModelPolicy>>>,
    window: Mutex<VecDeque<Instant>>,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Limiter {
    /// Replaces the limits.
    pub fn set(&self, limits: RequestLimits) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// Replaces the model policy.
    pub fn set_policy(&self, policy: ModelPolicy) {
        let policy = (!policy.is_open()).then(|| std::sync::Arc::new(policy));
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// Refuses a model the policy leaves out (see [`ModelPolicy::check`]).
    ///
    /// # Errors
    /// [`PipelineError::ModelNotAllowed`].
    pub fn check_model(
        &self,
        model: &str,
        priced_as: &str,
        provider: &str,
    ) -> Result<(), PipelineError> {
        let policy = self
            .policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        policy.map_or(Ok(()), |p| p.check(model, priced_as, provider))
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
    fn a_model_policy_admits_its_models_and_their_snapshots_only() {
        let p = ModelPolicy::from_json(
            &json!({"allowed_models": ["gpt-4o-mini", "Claude-Haiku-4-5"], "allowed_providers": null}),
        );
        assert!(p.check("gpt-4o-mini", "gpt-4o-mini", "openai").is_ok());
        assert!(p
            .check("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "openai")
            .is_ok());
        assert!(p
            .check("claude-haiku-4-5", "claude-haiku-4-5", "anthropic")
            .is_ok());
        let err = p
            .check("gpt-4o", "gpt-4o", "openai")
            .expect_err("not listed");
        assert_eq!((err.status(), err.code()), (403, "model_not_allowed"));
        assert!(err.to_string().contains("gpt-4o-mini"), "{err}");
        let by_provider = ModelPolicy::from_json(&json!({"allowed_providers": ["anthropic"]}));
        assert!(by_provider.check("gpt-4o", "gpt-4o", "openai").is_err());
        assert!(ModelPolicy::from_json(&json!({})).is_open());
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
