//! iron-cage's PII and secret detection: one pass over the text for every
//! pattern, validators in Rust (Luhn, mod-97, SSA rules, RFC 5321 limits...),
//! redact / block / warn policies, allow-lists, user patterns, findings audited
//! by keyed HMAC (never the value), and a streaming scanner with a bounded
//! hold-back. No Python here; `iron_cage_py` wraps it.

mod candidates;
mod entities;
mod entity;
mod error;
mod scanner;
mod stream;

pub use entity::{Entity, Severity};
pub use error::SafetyError;
pub use scanner::{
    CustomPattern, Finding, Mode, ScanResult, Scanner, ScannerConfig, DEFAULT_PHONE_REGIONS,
    PHONE_REGIONS,
};
pub use stream::{ModeOf, StreamScanner, HOLD_BACK, PEM_LIMIT};

/// The built-in patterns, `(entity name, regex)`, in priority order: for
/// documentation and for benchmarking peers on exactly the same patterns.
#[must_use]
pub fn builtin_patterns() -> Vec<(&'static str, &'static str)> {
    entities::builtin_patterns()
        .into_iter()
        .map(|(e, p)| (e.name(), p))
        .collect()
}
