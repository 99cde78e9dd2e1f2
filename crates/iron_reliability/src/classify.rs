//! Which upstream results count against a breaker.
//!
//! For LLM providers: 429 (rate limited), 408 (timeout) and every 5xx mean the
//! service is unhealthy or overloaded; other 4xx mean the request was wrong and
//! the service is fine; so do 2xx and 3xx. Timeouts and connection errors (no
//! status at all) are failures too, and iron-cage's own refusals (budget, PII)
//! never reach the breaker.

/// What a response status means for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// The service answered properly (2xx, 3xx, client errors other than 408/429).
    Healthy,
    /// The service is failing or overloaded (408, 429, 5xx).
    Failure,
}

/// Classifies an HTTP status from an upstream LLM provider.
#[must_use]
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        408 | 429 | 500..=599 => StatusClass::Failure,
        _ => StatusClass::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_defaults() {
        for s in [429, 500, 502, 503, 504, 529, 408] {
            assert_eq!(classify_status(s), StatusClass::Failure, "{s}");
        }
        for s in [200, 201, 304, 400, 401, 403, 404, 422] {
            assert_eq!(classify_status(s), StatusClass::Healthy, "{s}");
        }
    }
}
