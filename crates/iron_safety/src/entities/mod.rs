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

/// Runs the entity's validator on a candidate.
pub(crate) fn validate(entity: Entity, candidate: &str) -> Option<usize> {
    match entity {
        Entity::Email => email::validate(candidate),
        Entity::Phone => phone::validate(candidate),
        Entity::UsSsn => ssn::validate(candidate),
        Entity::CreditCard => credit_card::validate(candidate),
        Entity::Iban => iban::validate(candidate),
        Entity::IpAddress => ip_address::validate(candidate),
        Entity::MacAddress => mac_address::validate(candidate),
        Entity::ApiKey => api_key::validate(candidate),
    }
}

/// Whether the text around a match lets it stand as the entity: a dotted IPv4
/// must not be part of a longer dotted number (`1.2.3.4.5`, `10.1.2.3.4`).
pub(crate) fn context_ok(entity: Entity, text: &str, start: usize, end: usize) -> bool {
    match entity {
        Entity::IpAddress if !text[start..end].contains(':') => {
            let before = &text.as_bytes()[..start];
            let after = &text.as_bytes()[end..];
            let dotted_before = before.len() >= 2
                && before[before.len() - 1] == b'.'
                && before[before.len() - 2].is_ascii_digit();
            let dotted_after = after.len() >= 2 && after[0] == b'.' && after[1].is_ascii_digit();
            !dotted_before && !dotted_after
        }
        _ => true,
    }
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
