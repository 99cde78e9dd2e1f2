//! The record of one charged call: built once by the pipeline, delivered as
//! is to typed subscribers (the lease client bills from it), and serialised
//! once as the `llm_call` event for everyone else.
//!
//! A typed record means a renamed field is a compile error, not a call
//! silently reported at $0.

use iron_cost::Money;
use serde::Serialize;

/// One charged LLM call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The model as the caller named it.
    pub model: String,
    /// The endpoint (`chat.completions`, `responses`, `messages`, `embeddings`).
    pub format: &'static str,
    /// Whether the reply streamed.
    pub stream: bool,
    /// The upstream's HTTP status; 0 when no answer came (see `failed`).
    pub status: u16,
    /// All input tokens (uncached, cached, cache writes, audio).
    pub input_tokens: u64,
    /// Of them, read from the prompt cache.
    pub cached_input_tokens: u64,
    /// Output tokens, reasoning and audio included.
    pub output_tokens: u64,
    /// Of them, reasoning.
    pub reasoning_tokens: u64,
    /// Audio input tokens.
    pub audio_input_tokens: u64,
    /// Of the output, audio.
    pub audio_output_tokens: u64,
    /// Who served it (`openai`, `anthropic`, `other`).
    pub provider: &'static str,
    /// What it cost.
    #[serde(skip)]
    pub cost: Money,
    /// What was reserved for it.
    #[serde(skip)]
    pub reserved: Money,
    /// Whether the provider reported the usage (false: estimated from what was emitted).
    pub exact_usage: bool,
    /// Time from admission to the end of the reply.
    pub latency_ms: f64,
    /// PII findings in the reply.
    pub pii_findings: usize,
    /// PII findings in the request that the request policy acted on.
    pub egress_findings: usize,
    /// The reply's findings (entity, offsets, severity, keyed HMAC; never
    /// values), for the Control Panel's PII audit.
    #[serde(skip)]
    pub findings: Vec<iron_safety::Finding>,
    /// The request's findings and what was done (`pseudonymized`, `redacted`,
    /// `warn`, `blocked`), for the same audit.
    #[serde(skip)]
    pub egress: Vec<(iron_safety::Finding, &'static str)>,
    /// Whether block mode withheld the reply (still charged: the provider billed it).
    pub blocked: bool,
    /// A call that was sent but got no complete answer (it timed out, or the connection
    /// broke): `failed_timeout` or `failed_connect`, charged the worst case reserved
    /// because the provider may bill it. `None` for an answered call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<&'static str>,
    /// Why it failed, in a few words (the transport's error; never a prompt or a value).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The budget's spend after this call.
    #[serde(skip)]
    pub spent: Money,
    /// The budget's limit.
    #[serde(skip)]
    pub limit: Money,
}

impl CallRecord {
    /// The `llm_call` event's fields (amounts also in USD for readers of the JSON).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("cost_usd".into(), self.cost.to_usd_f64().into());
            m.insert("cost_micros".into(), self.cost.micros().into());
            m.insert("reserved_usd".into(), self.reserved.to_usd_f64().into());
            m.insert("spent_usd".into(), self.spent.to_usd_f64().into());
            m.insert("limit_usd".into(), self.limit.to_usd_f64().into());
        }
        v
    }
}
