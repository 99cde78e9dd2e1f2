//! The policy pipeline and the servers built on it.
//!
//! - [`pipeline`]: parse → estimate → reserve → breaker → forward → usage →
//!   commit → PII scan → events, transport-free (router and library mode).
//! - [`stream_guard`]: the same for a streamed (SSE) reply.
//! - [`router`]: `LlmRouter`, an OpenAI/Anthropic-compatible loopback proxy.
//! - [`fake`]: `FakeProvider`, an OpenAI/Anthropic-compatible loopback server
//!   with exact usage, streaming and scripted faults, for tests and demos.
//! - [`lease_client`] + [`outbox`]: budget leases from the Control Panel,
//!   enforced locally, usage reported through a durable SQLite outbox.

pub mod egress;
pub mod error;
pub mod events;
pub mod limits;
pub mod pipeline;
pub mod record;
pub mod refusals;
pub mod stream_guard;

pub use egress::{Action as PiiAction, PiiPolicy};
pub use error::{PipelineError, Refusal};
pub use events::EventBus;
pub use limits::{ModelPolicy, RequestLimits};
pub use pipeline::{Call, Charge, Pipeline, PipelineConfig};
pub use record::CallRecord;
pub use stream_guard::StreamGuard;
pub mod fake;
mod fake_billing;
pub mod http;
pub mod key_proxy;
pub mod lease_client;
pub mod outbox;
#[cfg(test)]
mod pipeline_tests;
pub mod router;
pub mod sealed_key;

pub use fake::{FakeProvider, FakeState, Fault};
pub use key_proxy::KeyProxy;
pub use lease_client::{LeaseClient, LeaseConfig, LeaseError, LeaseState};
pub use outbox::Outbox;
pub use router::{Router, RouterConfig};
pub use sealed_key::{KeyExchange, KeySlot};
