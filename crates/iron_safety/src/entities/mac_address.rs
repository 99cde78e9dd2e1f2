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

/// Whether a MAC address can start at `s`: six hex pairs with `:` or `-`
/// between, or three hex quads with dots between.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    let hex = |i| at(i).is_ascii_hexdigit();
    match super::hex_run(b, s) {
        2 => (0..6).all(|g| {
            hex(3 * g) && hex(3 * g + 1) && (g == 5 || matches!(at(3 * g + 2), b':' | b'-'))
        }),
        4 => (0..3).all(|g| (0..4).all(|i| hex(5 * g + i)) && (g == 2 || at(5 * g + 4) == b'.')),
        _ => false,
    }
}
