//! MAC_ADDRESS: six hex pairs with one separator (`:` or `-`), or Cisco's `xxxx.xxxx.xxxx`.

pub(crate) const PATTERNS: &[&str] = &[
    r"\b[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){4}\b",
    r"\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b",
];

pub(crate) fn validate(c: &str) -> Option<usize> {
    // Cisco form must contain a hex letter: three dotted 4-digit numbers are usually not a MAC.
    let cisco = c.contains('.');
    let ok =
        super::consistent_separators(c) && (!cisco || c.bytes().any(|b| b.is_ascii_alphabetic()));
    ok.then_some(c.len())
}
