//! Errors of `iron_llm`.

use iron_cost::CostError;

/// A request the pipeline cannot price or forward.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The body is not what the endpoint accepts.
    #[error("{0}")]
    BadRequest(String),
    /// Pricing failed (unknown model, bad usage).
    #[error(transparent)]
    Cost(#[from] CostError),
}
