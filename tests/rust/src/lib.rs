//! Shared helpers for the integration tests (none yet).
