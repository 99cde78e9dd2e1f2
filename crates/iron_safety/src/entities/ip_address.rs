//! IP_ADDRESS: dotted IPv4 with octets 0-255 (no leading zeros), and IPv6 in
//! full or compressed form (parsed by the standard library), each with its
//! CIDR prefix length (`10.0.0.0/8`, `2001:db8::/32`) and an IPv6 zone
//! (`fe80::1%eth0`, `%25eth0` in a URL) as part of the finding.
//!
//! An IPv6 address must stand on its own: text glued to it on either side
//! (`text2001:db8::1`, `fe80::1text`), a longer chain of colon-separated
//! groups (`2001::db8::1`, fingerprints `43:51:43:a1:...`) or identifier paths
//! (`crate::dfa::DFA`) are not addresses. Code is full of `::` that parses as
//! IPv6 (`std::cout`, `Foo::f`, `::C`, `f64::`, `a[1::2]`), so an address needs
//! a decimal digit, and one written with `::` and at most two groups needs a
//! group of four hex digits (`fe80::1`, `2001:db8::`) or an embedded IPv4,
//! unless it is the loopback `::1` (not in a subscript: `a[::1]`); a single
//! group before a final `::` needs
//! a hex letter too (`fe80::`, not the `1000::` of a reST literal block).
//! With a prefix length it is a network, and a digit is enough (`5000::/4`).
//!
//! A dotted quad after `version`, `==` and other version specifiers, `§` or
//! `section` is a version or a section number (`__version__ = "3.5.0.1"`).

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{byte, is_word};

pub(crate) const PATTERNS: &[&str] = &[
    r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b(?:/[0-9]{1,3})?",
    r"(?:\b[0-9A-Fa-f]{1,4}|\B:):(?:[0-9A-Fa-f]{0,4}:){0,6}[0-9A-Fa-f]{0,4}(?:\.[0-9]{1,3}){0,3}(?:%[0-9A-Za-z_.\-]{1,32})?(?:/[0-9]{1,3})?",
];

fn ipv4(c: &str) -> bool {
    let mut parts = 0;
    for p in c.split('.') {
        parts += 1;
        let ok = !p.is_empty()
            && p.len() <= 3
            && !(p.len() > 1 && p.starts_with('0'))
            && p.parse::<u16>().is_ok_and(|v| v <= 255);
        if !ok {
            return false;
        }
    }
    parts == 4
}

/// The length of a valid `/n` prefix (0 ≤ n ≤ `max`, no leading zero) at the
/// start of `b[i..]`, counting the slash; 0 when there is none. A prefix glued
/// to more word characters (`/24abc`) is not one.
fn prefix_len(b: &[u8], i: usize, end: usize, max: u32) -> usize {
    if byte(b, i) != b'/' {
        return 0;
    }
    let digits = (i + 1..end).take_while(|&j| b[j].is_ascii_digit()).count();
    let text = &b[i + 1..i + 1 + digits];
    let value = text
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    let ok = (1..=3).contains(&digits)
        && !(digits > 1 && text[0] == b'0')
        && value <= max
        && !is_word(byte(b, i + 1 + digits));
    if ok {
        1 + digits
    } else {
        0
    }
}

/// How much of `text[start..end]` (a pattern match) is an IP address, judged
/// with the text around it.
pub(crate) fn validate(text: &str, start: usize, end: usize) -> Option<usize> {
    let b = text.as_bytes();
    let c = &text[start..end];
    if c.contains(':') {
        return ipv6(b, start, end);
    }
    let addr = c.find('/').map_or(end, |i| start + i);
    if !ipv4(&text[start..addr]) {
        return None;
    }
    // Not part of a longer dotted number (`1.2.3.4.5`, `10.1.2.3.4`).
    let dotted_before = start >= 2 && b[start - 1] == b'.' && b[start - 2].is_ascii_digit();
    let dotted_after = byte(b, addr) == b'.' && byte(b, addr + 1).is_ascii_digit();
    if dotted_before || dotted_after || versioned(&b[..start]) {
        return None;
    }
    Some(addr - start + prefix_len(b, addr, end, 32))
}

/// Whether the text before a dotted quad makes it a version or a section
/// number: `version 3.5.0.1`, `__version__ = "1.2.3.4"`, `foo==1.0.0.0`,
/// `>= 1.2.3.0`, `§4.2.3.1`, `section 2.3.2.1`.
fn versioned(before: &[u8]) -> bool {
    let tail = &before[before.len().saturating_sub(24)..];
    let trimmed = tail
        .iter()
        .rposition(|&c| !matches!(c, b' ' | b'\t' | b'"' | b'\'' | b'=' | b':'))
        .map_or(&tail[..0], |i| &tail[..=i]);
    // A version specifier right before it, unquoted (`foo==1.0.0.0`, `>= 1.2.3.0`).
    let op = tail
        .iter()
        .rposition(|&c| c != b' ')
        .map_or(&tail[..0], |i| &tail[..=i]);
    let spec_op = op.len() >= 2
        && op[op.len() - 1] == b'='
        && matches!(op[op.len() - 2], b'=' | b'>' | b'<' | b'~' | b'!');
    let word = |w: &[u8]| {
        trimmed.len() >= w.len()
            && trimmed[trimmed.len() - w.len()..].eq_ignore_ascii_case(w)
            && trimmed
                .len()
                .checked_sub(w.len() + 1)
                .is_none_or(|i| !is_word(trimmed[i]))
    };
    spec_op
        || trimmed.ends_with("§".as_bytes())
        || word(b"version")
        || word(b"__version__")
        || word(b"ver")
        || word(b"section")
}

fn ipv6(b: &[u8], start: usize, end: usize) -> Option<usize> {
    // Glued on the left: a colon or a dotted name continues the token
    // (`crate::dfa::DFA`, `x:fe80::1`, `a.fe80::1`). The patterns already
    // exclude a word character right before.
    let before = if start == 0 { 0 } else { b[start - 1] };
    if before == b':' || (before == b'.' && start >= 2 && is_word(b[start - 2])) {
        return None;
    }
    let suffix = (start..end)
        .find(|&i| matches!(b[i], b'%' | b'/'))
        .unwrap_or(end);
    let text = std::str::from_utf8(&b[start..suffix]).ok()?;
    // Trailing colons belong to the sentence ("at fe80::1:"), unless a zone or
    // a prefix follows; try shorter.
    let mut addr = text.len();
    loop {
        let s = &text[..addr];
        if s.matches(':').count() >= 2 && Ipv6Addr::from_str(s).is_ok() {
            break;
        }
        if !s.ends_with(':') || suffix != end || addr <= 2 {
            return None;
        }
        addr -= 1;
    }
    if &text[..addr] == "::1" && subscript(b, start) {
        return None;
    }
    let mut stop = start + addr;
    if stop == suffix && byte(b, stop) == b'%' {
        // A zone: interface names and numbers; a trailing dot or dash ends the sentence.
        let mut z = stop + 1;
        while z < end && (b[z].is_ascii_alphanumeric() || matches!(b[z], b'_' | b'.' | b'-')) {
            z += 1;
        }
        while z > stop + 1 && matches!(b[z - 1], b'.' | b'-') {
            z -= 1;
        }
        if z > stop + 1 {
            stop = z;
        }
    }
    let mut network = false;
    if stop == suffix || byte(b, stop) == b'/' {
        let n = prefix_len(b, stop, end, 128);
        network = n > 0;
        stop += n;
    }
    if !plausible(&text[..addr], network) {
        return None;
    }
    // Glued on the right: more word characters (`fe80::1text`), more groups
    // (`...:8b:b7:0a`, `2001::db8::1`), or a dotted continuation.
    let next = byte(b, stop);
    let then = byte(b, stop + 1);
    let glued = is_word(next)
        || (next == b':' && (is_word(then) || then == b':'))
        || (next == b'.' && is_word(then));
    (!glued).then_some(stop - start)
}

/// Whether `start` is inside the brackets of a subscript (`a[::1]`,
/// `grid[1:, ::1]`), not of a URL host (`http://[::1]:80`): the nearest
/// unclosed `[` on the line is glued to an expression.
fn subscript(b: &[u8], start: usize) -> bool {
    let floor = start.saturating_sub(64);
    let Some(open) = (floor..start)
        .rev()
        .take_while(|&i| !matches!(b[i], b'\n' | b']'))
        .find(|&i| b[i] == b'[')
    else {
        return false;
    };
    open > 0 && (is_word(b[open - 1]) || matches!(b[open - 1], b')' | b']'))
}

/// The shape rules that set addresses apart from code (see the module
/// comment); a network (an address with a prefix length: `5000::/4`) needs
/// only a digit.
fn plausible(s: &str, network: bool) -> bool {
    if !s.bytes().any(|c| c.is_ascii_digit()) {
        return false;
    }
    if network || s == "::1" || !s.contains("::") {
        return true;
    }
    let groups: Vec<&str> = s.split(':').filter(|g| !g.is_empty()).collect();
    let embedded_v4 = groups.last().is_some_and(|g| g.contains('.'));
    if let [only] = groups.as_slice() {
        if s.ends_with("::") {
            // `fe80::`, `fd00::`; not a number before reST's `::` (`defaults to 1000::`).
            return only.len() == 4 && only.bytes().any(|c| c.is_ascii_alphabetic());
        }
    }
    groups.len() >= 3 || embedded_v4 || groups.iter().any(|g| g.len() == 4)
}

/// Whether an address can start at `s`: 1-3 digits and a dot, three times,
/// then a digit (IPv4); `::` after a non-word byte, or 1-4 hex digits and `:` (IPv6).
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| byte(b, s + i);
    if at(0) == b':' {
        return at(1) == b':' && (s == 0 || !is_word(b[s - 1]));
    }
    let h = super::hex_run(b, s);
    if (1..=4).contains(&h) && at(h) == b':' {
        return true;
    }
    let mut i = s;
    for _ in 0..3 {
        let d = super::byte_run(b, i, 3, |c| c.is_ascii_digit());
        if d == 0 || byte(b, i + d) != b'.' {
            return false;
        }
        i += d + 1;
    }
    byte(b, i).is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::validate;

    /// The address the validator accepts at the start of `text`, if any.
    fn at_start(text: &str) -> Option<&str> {
        validate(text, 0, text.len()).map(|n| &text[..n])
    }

    /// The part of `text[start..]` accepted, with `start` a position inside `text`.
    fn inside(text: &str, start: usize, end: usize) -> Option<&str> {
        validate(text, start, end).map(|n| &text[start..start + n])
    }

    #[test]
    fn cidr_prefixes_and_zones_are_part_of_the_address() {
        assert_eq!(at_start("10.0.0.0/8"), Some("10.0.0.0/8"));
        assert_eq!(at_start("192.168.1.0/24"), Some("192.168.1.0/24"));
        assert_eq!(at_start("10.0.0.1/33"), Some("10.0.0.1"));
        assert_eq!(at_start("10.0.0.1/024"), Some("10.0.0.1"));
        assert_eq!(at_start("2001:db8::/32"), Some("2001:db8::/32"));
        assert_eq!(at_start("5000::/4"), Some("5000::/4"));
        assert_eq!(at_start("f60::/12"), Some("f60::/12"));
        assert_eq!(at_start("fe80::1%eth0"), Some("fe80::1%eth0"));
        assert_eq!(at_start("fe80::1%25eth0"), Some("fe80::1%25eth0"));
        assert_eq!(at_start("fe80::1%eth0."), Some("fe80::1%eth0"));
        assert_eq!(at_start("fe80::1%eth0/64"), Some("fe80::1%eth0/64"));
        assert_eq!(at_start("2001:db8::1/129"), Some("2001:db8::1"));
        assert_eq!(inside("ip 2001:db8::1/64abc", 3, 17), Some("2001:db8::1"));
    }

    #[test]
    fn ipv6_glued_to_text_or_other_groups_is_not_an_address() {
        // `text2001:db8::1`: the pattern starts after the colon at best.
        assert_eq!(inside("text2001:db8::1", 9, 15), None);
        assert_eq!(inside("fe80::1text", 0, 7), None);
        assert_eq!(inside("2001::db8::1", 0, 12), None);
        assert_eq!(inside("2001::db8::1", 0, 9), None);
        assert_eq!(inside("2001::db8::1", 7, 12), None);
        assert_eq!(inside("crate::dfa::DFA", 7, 15), None);
        assert_eq!(inside("43:51:43:a1:b5:fc:8b:b7:0a:3a", 0, 23), None);
        assert_eq!(inside("at fe80::1: next", 3, 11), Some("fe80::1"));
        assert_eq!(inside("[2001:db8::1]:8080", 1, 12), Some("2001:db8::1"));
        assert_eq!(inside("http://[::1]:80", 8, 11), Some("::1"));
        assert_eq!(inside("a[::1]", 2, 5), None);
        assert_eq!(inside("grid[1:, ::1]", 8, 11), None);
    }

    #[test]
    fn versions_and_section_numbers_are_not_addresses() {
        for text in [
            "version 3.5.0.1",
            "__version__ = \"3.5.0.1\"",
            "foo==1.0.0.0",
            "pkg >= 1.2.3.0",
            "RFC 5891 §4.2.3.2",
            "see section 2.3.2.1",
            "Version: 10.0.0.1",
        ] {
            let start = text.rfind(' ').map_or(0, |i| i + 1);
            let start = text[start..]
                .find(|c: char| c.is_ascii_digit())
                .map_or(start, |i| start + i);
            assert_eq!(inside(text, start, text.len()), None, "{text}");
        }
        for text in [
            "host 10.0.0.1",
            "ip=10.0.0.1",
            "subversion 10.0.0.1",
            "if host == \"10.0.0.1",
        ] {
            assert_eq!(inside(text, text.len() - 8, text.len()), Some("10.0.0.1"));
        }
    }

    #[test]
    fn code_that_parses_as_ipv6_is_not_an_address() {
        for code in [
            "::C",
            "::f",
            "a::b",
            "f64::f",
            "f64::",
            "dfa::DFA",
            "1::2",
            "10::3",
            "::2",
            "::",
            "dead::beef",
            "1000::",
        ] {
            assert_eq!(at_start(code), None, "{code}");
        }
        for addr in [
            "::1",
            "fe80::1",
            "2001:db8::",
            "::ffff:10.0.0.1",
            "1:2:3:4:5:6:7:8",
            "2001:db8:85a3::8a2e:370:7334",
        ] {
            assert_eq!(at_start(addr), Some(addr));
        }
    }
}
