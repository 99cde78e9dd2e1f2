//! Errors of the pipeline, and their HTTP form (OpenAI's error shape on OpenAI
//! endpoints, Anthropic's on `/v1/messages`).

use iron_llm::ApiFormat;
use serde_json::{json, Value};

/// Why a call was refused or failed inside iron-cage.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// The request body is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The model is not in the price table.
    #[error("{0}")]
    UnknownModel(String),
    /// The call could cost more than the budget has left.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The call's cost has no upper bound, so a hard budget cannot admit it.
    #[error("{0}")]
    Unbounded(String),
    /// The provider's breaker is open.
    #[error("{message}")]
    CircuitOpen {
        /// What happened and when to retry.
        message: String,
        /// Seconds until a call may be admitted again.
        retry_after_s: f64,
    },
    /// The reply contained PII and the policy is `block`.
    #[error("{0}")]
    PiiBlocked(String),
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
    /// The call is over a per-request limit (cost or tokens).
    #[error("{0}")]
    LimitExceeded(String),
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
            PipelineError::BudgetExceeded(_) | PipelineError::Unbounded(_) => 402,
            PipelineError::LimitExceeded(_) => 403,
            PipelineError::RateLimited { .. } => 429,
            PipelineError::NotFound(_) => 404,
            PipelineError::TooLarge(_) => 413,
            PipelineError::PiiBlocked(_) => PII_BLOCKED_STATUS,
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
            PipelineError::BudgetExceeded(_) => "budget_exceeded",
            PipelineError::Unbounded(_) => "cost_unbounded",
            PipelineError::CircuitOpen { .. } => "circuit_open",
            PipelineError::PiiBlocked(_) => "pii_blocked",
            PipelineError::Unauthorized(_) => "invalid_api_key",
            PipelineError::TooLarge(_) => "request_too_large",
            PipelineError::NotFound(_) => "not_found",
            PipelineError::Upstream(_) => "upstream_unavailable",
            PipelineError::LimitExceeded(_) => "limit_exceeded",
            PipelineError::RateLimited { .. } => "rate_limited",
        }
    }

    fn openai_type(&self) -> &'static str {
        match self {
            PipelineError::BudgetExceeded(_) => "insufficient_quota",
            PipelineError::RateLimited { .. } => "rate_limit_error",
            PipelineError::LimitExceeded(_) => "permission_error",
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

    /// The error body in the wire format of `format` (OpenAI when unknown).
    #[must_use]
    pub fn body(&self, format: Option<ApiFormat>) -> Value {
        let message = self.to_string();
        if format == Some(ApiFormat::Messages) {
            json!({"type": "error", "error": {"type": self.code(), "message": message}})
        } else {
            json!({"error": {"message": message, "type": self.openai_type(), "param": null, "code": self.code()}})
        }
    }
}
