//! Errors of the pipeline, and their HTTP form (OpenAI's error shape on OpenAI
//! endpoints, Anthropic's on `/v1/messages`).

use iron_cost::{Money, Snapshot};
use iron_llm::ApiFormat;
use iron_safety::Finding;
use serde_json::{json, Value};

/// The numbers behind a refusal to spend: which budget, its limit and state,
/// and what the call asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusal {
    /// The budget (ledger) that had no room.
    pub budget: String,
    /// Its limit (for a per-request limit: that limit, when it is an amount).
    pub limit: Money,
    /// Spent so far.
    pub spent: Money,
    /// Reserved by calls in flight.
    pub reserved: Money,
    /// What the refused call would have reserved.
    pub requested: Money,
    /// Left to reserve.
    pub remaining: Money,
}

impl Refusal {
    /// The state of a ledger named `budget`, and the amount a call asked for.
    #[must_use]
    pub fn of(budget: &str, snap: &Snapshot, requested: Money) -> Box<Self> {
        Box::new(Refusal {
            budget: budget.to_owned(),
            limit: snap.limit,
            spent: snap.spent,
            reserved: snap.reserved,
            requested,
            remaining: snap.remaining,
        })
    }
}

/// Why a call was refused or failed inside iron-cage. Each variant keeps the
/// data a caller acts on (amounts, findings, when to retry), not only words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// The request body is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The model is not in the price table.
    #[error("{0}")]
    UnknownModel(String),
    /// The call could cost more than the budget has left.
    #[error("{message}")]
    BudgetExceeded {
        /// What happened, the numbers, and what to do.
        message: String,
        /// The numbers.
        refusal: Box<Refusal>,
    },
    /// The call's cost has no upper bound, so a hard budget cannot admit it.
    #[error("{message}")]
    Unbounded {
        /// What makes it unbounded and how to proceed.
        message: String,
        /// The budget's state (nothing was requested: there is no bound to request).
        refusal: Box<Refusal>,
    },
    /// The provider's breaker is open.
    #[error("{message}")]
    CircuitOpen {
        /// What happened and when to retry.
        message: String,
        /// The breaker (`provider:model`).
        breaker: String,
        /// `open` or `half_open`.
        state: &'static str,
        /// Seconds until a call may be admitted again.
        retry_after_s: f64,
    },
    /// The reply contained PII and the policy is `block`.
    #[error("{message}")]
    PiiBlocked {
        /// What was found, by entity, and that nothing was returned.
        message: String,
        /// The findings (entity, offsets in the text they were found in,
        /// severity, keyed HMAC), never the values.
        findings: Vec<Finding>,
    },
    /// Missing or wrong key.
    #[error("{0}")]
    Unauthorized(String),
    /// The body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// No such endpoint.
    #[error("{0}")]
    NotFound(String),
    /// The upstream could not be reached or broke the connection.
    #[error("{0}")]
    Upstream(String),
    /// The model or its provider is not on the agent's allowed list.
    #[error("{0}")]
    ModelNotAllowed(String),
    /// The call is over a per-request limit (cost or tokens).
    #[error("{message}")]
    LimitExceeded {
        /// Which limit, the numbers, and what to do.
        message: String,
        /// The numbers (`limit` is the per-request cost limit, zero for a token limit).
        refusal: Box<Refusal>,
    },
    /// Over the calls-per-minute limit.
    #[error("{message}")]
    RateLimited {
        /// What happened and when to retry.
        message: String,
        /// Seconds until a call may be admitted again.
        retry_after_s: f64,
    },
}

/// HTTP status of a PII block: the reply exists but policy withholds it.
pub const PII_BLOCKED_STATUS: u16 = 422;

impl PipelineError {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            PipelineError::BadRequest(_) | PipelineError::UnknownModel(_) => 400,
            PipelineError::Unauthorized(_) => 401,
            PipelineError::BudgetExceeded { .. } | PipelineError::Unbounded { .. } => 402,
            PipelineError::LimitExceeded { .. } | PipelineError::ModelNotAllowed(_) => 403,
            PipelineError::RateLimited { .. } => 429,
            PipelineError::NotFound(_) => 404,
            PipelineError::TooLarge(_) => 413,
            PipelineError::PiiBlocked { .. } => PII_BLOCKED_STATUS,
            PipelineError::Upstream(_) => 502,
            PipelineError::CircuitOpen { .. } => 503,
        }
    }

    /// The machine-readable code (`error.code` / Anthropic `error.type`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            PipelineError::BadRequest(_) => "invalid_request",
            PipelineError::UnknownModel(_) => "unknown_model",
            PipelineError::BudgetExceeded { .. } => "budget_exceeded",
            PipelineError::Unbounded { .. } => "cost_unbounded",
            PipelineError::CircuitOpen { .. } => "circuit_open",
            PipelineError::PiiBlocked { .. } => "pii_blocked",
            PipelineError::Unauthorized(_) => "invalid_api_key",
            PipelineError::TooLarge(_) => "request_too_large",
            PipelineError::NotFound(_) => "not_found",
            PipelineError::Upstream(_) => "upstream_unavailable",
            PipelineError::LimitExceeded { .. } => "limit_exceeded",
            PipelineError::ModelNotAllowed(_) => "model_not_allowed",
            PipelineError::RateLimited { .. } => "rate_limited",
        }
    }

    fn openai_type(&self) -> &'static str {
        match self {
            PipelineError::BudgetExceeded { .. } => "insufficient_quota",
            PipelineError::RateLimited { .. } => "rate_limit_error",
            PipelineError::LimitExceeded { .. } | PipelineError::ModelNotAllowed(_) => {
                "permission_error"
            }
            PipelineError::Unauthorized(_) => "authentication_error",
            PipelineError::CircuitOpen { .. } | PipelineError::Upstream(_) => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// `Retry-After` seconds, when the client should retry later.
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            PipelineError::CircuitOpen { retry_after_s, .. }
            | PipelineError::RateLimited { retry_after_s, .. } => {
                Some(retry_after_s.ceil().max(1.0) as u64)
            }
            _ => None,
        }
    }

    /// The refusal's data as JSON (amounts in USD, findings without values,
    /// retry hints): what library mode puts on the exception, router mode puts
    /// in the error body under `iron_cage`.
    #[must_use]
    pub fn data(&self) -> Value {
        let money = |r: &Refusal| {
            json!({"budget": r.budget, "limit_usd": r.limit.to_usd_f64(), "spent_usd": r.spent.to_usd_f64(),
                   "reserved_usd": r.reserved.to_usd_f64(), "requested_usd": r.requested.to_usd_f64(),
                   "remaining_usd": r.remaining.to_usd_f64()})
        };
        match self {
            PipelineError::BudgetExceeded { refusal, .. }
            | PipelineError::Unbounded { refusal, .. }
            | PipelineError::LimitExceeded { refusal, .. } => money(refusal),
            PipelineError::PiiBlocked { findings, .. } => {
                json!({"findings": findings.iter().map(|f| json!({
                "entity": f.entity, "start": f.start, "end": f.end, "severity": f.severity.as_str(), "value_hmac": f.value_hmac,
            })).collect::<Vec<_>>()})
            }
            PipelineError::CircuitOpen {
                breaker,
                state,
                retry_after_s,
                ..
            } => {
                json!({"breaker": breaker, "state": state, "retry_after_s": retry_after_s})
            }
            PipelineError::RateLimited { retry_after_s, .. } => {
                json!({"retry_after_s": retry_after_s})
            }
            _ => json!({}),
        }
    }

    /// The error body in the wire format of `format` (OpenAI when unknown),
    /// with the refusal's data under `iron_cage`.
    #[must_use]
    pub fn body(&self, format: Option<ApiFormat>) -> Value {
        let message = self.to_string();
        let data = self.data();
        if format == Some(ApiFormat::Messages) {
            json!({"type": "error", "error": {"type": self.code(), "message": message, "iron_cage": data}})
        } else {
            json!({"error": {"message": message, "type": self.openai_type(), "param": null, "code": self.code(), "iron_cage": data}})
        }
    }
}
