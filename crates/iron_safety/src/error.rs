//! Errors of the safety engine.

/// What can go wrong configuring or running a scan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    /// A bad setting: unknown mode or entity, a custom pattern that does not compile.
    #[error("invalid PII configuration: {0}")]
    Config(String),
}
