//! One file per entity: its patterns (ASCII, for the one-pass automaton) and
//! its validator, which sees a candidate and returns how much of it is the
//! entity (`Some(len)`, possibly shorter) or `None`.

pub(crate) mod api_key;
pub(crate) mod credit_card;
pub(crate) mod email;
pub(crate) mod iban;
pub(crate) mod ip_address;
pub(crate) mod mac_address;
pub(crate) mod phone;
pub(crate) mod ssn;

use crate::entity::Entity;

/// Patterns of every built-in entity, in priority order.
pub(crate) fn builtin_patterns() -> Vec<(Entity, &'static str)> {
    let mut out = Vec::new();
    for (entity, patterns) in [
        (Entity::ApiKey, api_key::PATTERNS),
        (Entity::CreditCard, credit_card::PATTERNS),
        (Entity::Iban, iban::PATTERNS),
        (Entity::UsSsn, ssn::PATTERNS),
        (Entity::Email, email::PATTERNS),
        (Entity::Phone, phone::PATTERNS),
        (Entity::MacAddress, mac_address::PATTERNS),
        (Entity::IpAddress, ip_address::PATTERNS),
    ] {
        for p in patterns {
            out.push((entity, *p));
        }
    }
    out
}

/// What the validators are configured with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    /// The regions whose national phone formats are read.
    pub(crate) phone_regions: phone::Regions,
}

/// Runs the entity's validator on the pattern match `text[start..end]`,
/// judged with the text around it; returns the part that is the entity (in
/// `start..end`, usually a prefix of it).
pub(crate) fn validate(
    entity: Entity,
    text: &str,
    start: usize,
    end: usize,
    rules: &Rules,
) -> Option<(usize, usize)> {
    let c = &text[start..end];
    let whole = |len: Option<usize>| len.map(|n| (start, start + n));
    match entity {
        Entity::Email => whole(email::validate(c)),
        Entity::Phone => whole(phone::validate(text, start, end, rules.phone_regions)),
        Entity::UsSsn => ssn::validate(c).map(|(s, e)| (start + s, start + e)),
        Entity::CreditCard => whole(credit_card::validate(c)),
        Entity::Iban => whole(iban::validate(c)),
        Entity::IpAddress => whole(ip_address::validate(text, start, end)),
        Entity::MacAddress => whole(mac_address::validate(text, start, end)),
        Entity::ApiKey => whole(api_key::validate(c)),
    }
}

/// Every literal a match can start with that the candidate search looks for
/// (rather than a trigger byte): the key prefixes.
pub(crate) fn literals() -> Vec<&'static str> {
    api_key::PREFIXES.to_vec()
}

/// Whether a literal of [`literals`] can start with the bytes `c0`, `c1`.
#[inline]
fn may_literal(c0: u8, c1: u8) -> bool {
    api_key::may_prefix(c0, c1)
}

/// Whether a literal found at `i` can start a match: one that starts with a
/// word character is always preceded by `\b` in its patterns.
#[inline]
pub(crate) fn literal_start_ok(b: &[u8], i: usize) -> bool {
    !is_word(b[i]) || boundary(b, i)
}

/// The first literal start at or after `from` that can start a match, byte
/// by byte: for a short text this runs far less code than the SIMD literal
/// search (whose code, fetched cold once per governed reply, costs more than
/// the search itself).
pub(crate) fn find_literal(b: &[u8], from: usize, literals: &[&str]) -> Option<usize> {
    let end = b.len().saturating_sub(1);
    (from..end).find(|&i| {
        may_literal(b[i], b[i + 1])
            && literals.iter().any(|p| b[i..].starts_with(p.as_bytes()))
            && literal_start_ok(b, i)
    })
}

/// Digits of `s`, ignoring everything else.
pub(crate) fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Whether every separator (non-alphanumeric byte) in `s` is the same byte.
pub(crate) fn consistent_separators(s: &str) -> bool {
    let mut seps = s.bytes().filter(|b| !b.is_ascii_alphanumeric());
    match seps.next() {
        None => true,
        Some(first) => seps.all(|b| b == first),
    }
}

/// The byte at `i`, or 0 past the end.
#[inline]
pub(crate) fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// A regex `\w` byte (ASCII: the patterns are compiled without Unicode).
#[inline]
pub(crate) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether `\b` holds at `i`.
#[inline]
pub(crate) fn boundary(b: &[u8], i: usize) -> bool {
    let before = i > 0 && is_word(b[i - 1]);
    before != is_word(byte(b, i))
}

/// How many bytes from `s` (at most `max`) satisfy `f`.
#[inline]
pub(crate) fn byte_run(b: &[u8], s: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
    (0..max).take_while(|&i| f(byte(b, s + i))).count()
}

/// Whether the `n` bytes from `s` are digits.
#[inline]
pub(crate) fn digits_at(b: &[u8], s: usize, n: usize) -> bool {
    byte_run(b, s, n, |c| c.is_ascii_digit()) == n
}

/// Hex digits from `s`, counting to 5 at most (the patterns need at most 4).
#[inline]
pub(crate) fn hex_run(b: &[u8], s: usize) -> usize {
    byte_run(b, s, 5, |c| c.is_ascii_hexdigit())
}

/// Whether a built-in pattern other than EMAIL, API_KEY and labelled SSNs
/// (found through their own literals) can match at `s`. False only when none
/// can; a word character start must also be a word boundary (every such
/// pattern opens with `\b`).
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    match byte(b, s) {
        b'+' | b'(' => phone::may_start(b, s),
        b':' => ip_address::may_start(b, s),
        c if !is_word(c) || !boundary(b, s) => false,
        c if c.is_ascii_digit() => {
            // After its first run of digits every such pattern goes on with a
            // hex letter (MAC, IPv6), `:` (IPv6, MAC), a space and a digit
            // (card, SSN, phone), `-` or `.` and a hex digit (card, SSN,
            // phone, IPv4, MAC), `(` perhaps after a separator (a phone
            // number's `1 (415)`), or the run is already a card number.
            let run = byte_run(b, s, 13, |x| x.is_ascii_digit());
            let next = byte(b, s + run);
            let then = byte(b, s + run + 1);
            let goes_on = match next {
                b':' | b'(' => true,
                b' ' => then.is_ascii_digit() || then == b'(',
                b'-' | b'.' => then.is_ascii_hexdigit() || then == b'(',
                x => x.is_ascii_hexdigit(),
            };
            if run < 13 && !goes_on {
                return false;
            }
            credit_card::may_start(b, s)
                || ssn::may_start(b, s)
                || phone::may_start(b, s)
                || mac_address::may_start(b, s)
                || ip_address::may_start(b, s)
        }
        c if c.is_ascii_uppercase() => {
            iban::may_start(b, s) || mac_address::may_start(b, s) || ip_address::may_start(b, s)
        }
        c if c.is_ascii_hexdigit() => mac_address::may_start(b, s) || ip_address::may_start(b, s),
        _ => false,
    }
}
