//! MAC_ADDRESS: six hex pairs (EUI-48) or eight (EUI-64) with one separator
//! (`:` or `-`), or Cisco's `xxxx.xxxx.xxxx`. Not part of a longer chain of
//! groups (colon-separated fingerprints such as `43:51:43:a1:b5:fc:8b:b7:...`).

use super::{byte, is_word};

pub(crate) const PATTERNS: &[&str] = &[
    r"\b[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){4}(?:[:\-][0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2})?\b",
    r"\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b",
];

/// How much of `text[start..end]` is a MAC address, judged with its neighbours.
pub(crate) fn validate(text: &str, start: usize, end: usize) -> Option<usize> {
    let c = &text[start..end];
    let b = text.as_bytes();
    // Cisco form must contain a hex letter: three dotted 4-digit numbers are usually not a MAC.
    let cisco = c.contains('.');
    let ok =
        super::consistent_separators(c) && (!cisco || c.bytes().any(|x| x.is_ascii_alphabetic()));
    // A separator and a hex digit on either side continue the chain.
    let sep = |x: u8| matches!(x, b':' | b'-' | b'.');
    let glued_before = start >= 2 && sep(b[start - 1]) && b[start - 2].is_ascii_hexdigit();
    let glued_after = sep(byte(b, end)) && is_word(byte(b, end + 1));
    (ok && !glued_before && !glued_after).then_some(c.len())
}

/// Whether a MAC address can start at `s`: six hex pairs with `:` or `-`
/// between, or three hex quads with dots between.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| byte(b, s + i);
    let hex = |i| at(i).is_ascii_hexdigit();
    match super::hex_run(b, s) {
        2 => (0..6).all(|g| {
            hex(3 * g) && hex(3 * g + 1) && (g == 5 || matches!(at(3 * g + 2), b':' | b'-'))
        }),
        4 => (0..3).all(|g| (0..4).all(|i| hex(5 * g + i)) && (g == 2 || at(5 * g + 4) == b'.')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn eui48_and_eui64_but_not_longer_chains() {
        let eui48 = "00:1a:2b:3c:4d:5e";
        assert_eq!(validate(eui48, 0, eui48.len()), Some(eui48.len()));
        let eui64 = "00-1a-2b-3c-4d-5e-6f-70";
        assert_eq!(validate(eui64, 0, eui64.len()), Some(eui64.len()));
        let fingerprint = "43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8";
        assert_eq!(validate(fingerprint, 0, 23), None);
        assert_eq!(validate(fingerprint, 24, 47), None);
        assert_eq!(validate("00:1a:2b-3c:4d:5e", 0, 17), None);
        let sentence = "nic 00:1A:2B:3C:4D:5E.";
        assert_eq!(validate(sentence, 4, 21), Some(17));
    }
}
