//! EMAIL: local@domain.tld with RFC 5321 length limits and sane dots.

pub(crate) const PATTERNS: &[&str] = &[
    r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
];

pub(crate) fn validate(c: &str) -> Option<usize> {
    let (local, domain) = c.split_once('@')?;
    let ok_local = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    (ok_local && domain.len() <= 253 && domain.contains('.')).then_some(c.len())
}
