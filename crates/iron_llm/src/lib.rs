//! Provider wire formats.
//!
//! - [`request`]: parse an OpenAI Chat Completions, OpenAI Responses, Anthropic
//!   Messages or embeddings request, count its input tokens, estimate its
//!   worst-case cost, cap its output and ask streams for usage.
//! - [`response`]: usage and text of a JSON response.
//! - [`sse`]: an incremental Server-Sent Events parser, and [`stream`]: usage
//!   and text deltas of a streamed response, including an aborted one.

pub mod error;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod inputs;
pub mod media;
pub mod request;
pub mod response;
mod skim;
pub mod sse;
pub mod stream;
pub mod translate;

pub use error::LlmError;
pub use format::ApiFormat;
pub use request::{Estimate, ParsedRequest, TextSpan};
pub use sse::{SseEvent, SseParser};
pub use stream::StreamUsage;
