//! EMAIL: local@domain.tld with RFC 5321 length limits and sane dots.

pub(crate) const PATTERNS: &[&str] = &[
    r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
];

pub(crate) fn validate(c: &str) -> Option<usize> {
    let (local, domain) = c.split_once('@')?;
    let ok_local = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    (ok_local && domain.len() <= 253 && domain.contains('.')).then_some(c.len())
}

/// The first position at or after `pos` where an address can start: the
/// word boundary furthest left in the run of local-part characters (at most
/// 64) before an `@` that is followed by a letter or digit.
pub(crate) fn next_start(b: &[u8], pos: usize) -> Option<usize> {
    let mut from = pos;
    while let Some(off) = memchr::memchr(b'@', b.get(from..)?) {
        let at = from + off;
        if super::byte(b, at + 1).is_ascii_alphanumeric() {
            let floor = at.saturating_sub(64).max(pos);
            let mut s = at;
            while s > floor && is_local(b[s - 1]) {
                s -= 1;
            }
            if let Some(start) = (s..at).find(|&i| super::boundary(b, i)) {
                return Some(start);
            }
        }
        from = at + 1;
    }
    None
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}
