//! IP_ADDRESS: dotted IPv4 with octets 0-255 (no leading zeros), and IPv6 in
//! full or compressed form (validated by the standard library's parser).

use std::net::Ipv6Addr;
use std::str::FromStr;

pub(crate) const PATTERNS: &[&str] = &[
    r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b",
    r"(?:\b[0-9A-Fa-f]{1,4}|:):(?:[0-9A-Fa-f]{0,4}:){0,6}[0-9A-Fa-f]{0,4}(?:\.[0-9]{1,3}){0,3}",
];

fn ipv4(c: &str) -> bool {
    let parts: Vec<&str> = c.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && !(p.len() > 1 && p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

pub(crate) fn validate(c: &str) -> Option<usize> {
    if !c.contains(':') {
        return ipv4(c).then_some(c.len());
    }
    // Trailing colons belong to the sentence ("at fe80::1:"), try shorter.
    let mut end = c.len();
    while end > 2 {
        let s = &c[..end];
        if s.matches(':').count() >= 2 && Ipv6Addr::from_str(s).is_ok() {
            return Some(end);
        }
        if !s.ends_with(':') {
            break;
        }
        end -= 1;
    }
    None
}

/// Whether an address can start at `s`: 1-3 digits and a dot, three times,
/// then a digit (IPv4); `::`, or 1-4 hex digits and `:` (IPv6).
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    if at(0) == b':' {
        return at(1) == b':';
    }
    let h = super::hex_run(b, s);
    if (1..=4).contains(&h) && at(h) == b':' {
        return true;
    }
    let mut i = s;
    for _ in 0..3 {
        let d = super::byte_run(b, i, 3, |c| c.is_ascii_digit());
        if d == 0 || super::byte(b, i + d) != b'.' {
            return false;
        }
        i += d + 1;
    }
    super::byte(b, i).is_ascii_digit()
}
