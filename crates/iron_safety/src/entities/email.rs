//! EMAIL: local@domain.tld with RFC 5321 length limits and sane dots, and
//! internationalised addresses: punycode labels and top-level domains
//! (`xn--...`), Unicode domains (`müller.de`, `例子.中国`) and local parts with
//! letters beyond ASCII (`jörg@...`; two-byte UTF-8 characters: Latin,
//! Greek, Cyrillic, Hebrew, Arabic...).
//!
//! The patterns work on bytes: `U` below is one UTF-8 encoded character of
//! two to four bytes, `L2` one of two bytes. A local part starting with such
//! a character needs no word boundary (the boundary is ASCII).

/// One multi-byte UTF-8 character.
macro_rules! utf8 {
    () => {
        r"(?:[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3})"
    };
}

/// One domain label: letters, digits, `-` and any non-ASCII character
/// (label lengths and dashes are checked by `validate`).
macro_rules! label {
    () => {
        concat!(
            r"(?:[A-Za-z0-9]|",
            utf8!(),
            r")(?:[A-Za-z0-9\-]|",
            utf8!(),
            r"){0,62}"
        )
    };
}

pub(crate) const PATTERNS: &[&str] = &[concat!(
    r"(?:\b[A-Za-z0-9._%+\-]|[\xC2-\xDF][\x80-\xBF])(?:[A-Za-z0-9._%+\-]|[\xC2-\xDF][\x80-\xBF]){0,63}@",
    label!(),
    r"(?:\.",
    label!(),
    r")*\.(?:xn--[A-Za-z0-9\-]{0,58}[A-Za-z0-9]\b|[A-Za-z]{2,24}\b|",
    utf8!(),
    r"{2,24})"
)];

/// Whether `label` is a valid domain label: 1-63 bytes of letters, digits
/// (ASCII or not) and `-`, neither first nor last.
fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

pub(crate) fn validate(c: &str) -> Option<usize> {
    let (local, domain) = c.split_once('@')?;
    let ok_local = local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|ch| ch.is_ascii() || ch.is_alphanumeric());
    // A Unicode top-level domain may have swallowed trailing punctuation
    // (`a@b.рф»`): it ends at its last letter.
    let tld_start = domain.rfind('.')? + 1;
    let tld_len = domain[tld_start..]
        .char_indices()
        .take_while(|(_, ch)| ch.is_alphanumeric() || *ch == '-')
        .map(|(i, ch)| i + ch.len_utf8())
        .last()?;
    let domain = &domain[..tld_start + tld_len];
    let tld = &domain[tld_start..];
    let ok_tld = if let Some(puny) = tld.strip_prefix("xn--") {
        !puny.is_empty() && label_ok(tld)
    } else {
        tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)
    };
    let ok_domain = domain.len() <= 253 && domain.split('.').all(label_ok);
    (ok_local && ok_tld && ok_domain).then_some(local.len() + 1 + domain.len())
}

/// The first position at or after `pos` where an address can start: the
/// position furthest left in the run of local-part characters (at most 64;
/// ASCII ones or two-byte UTF-8 ones) before an `@` that is followed by a
/// letter, a digit or a non-ASCII character, that is a word boundary before
/// an ASCII character or the first byte of a two-byte character.
pub(crate) fn next_start(b: &[u8], pos: usize) -> Option<usize> {
    let mut from = pos;
    while let Some(off) = memchr::memchr(b'@', b.get(from..)?) {
        let at = from + off;
        let next = super::byte(b, at + 1);
        if next.is_ascii_alphanumeric() || next >= 0xC2 {
            let mut s = at;
            let mut units = 0;
            while units < 64 && s > pos {
                if is_local(b[s - 1]) {
                    s -= 1;
                } else if s >= pos + 2 && is_two_byte(b[s - 2], b[s - 1]) {
                    s -= 2;
                } else {
                    break;
                }
                units += 1;
            }
            let start = (s..at).find(|&i| {
                (is_local(b[i]) && super::boundary(b, i))
                    || (i + 1 < at && is_two_byte(b[i], b[i + 1]))
            });
            if let Some(start) = start {
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

fn is_two_byte(lead: u8, cont: u8) -> bool {
    (0xC2..=0xDF).contains(&lead) && (0x80..=0xBF).contains(&cont)
}

#[cfg(test)]
mod tests {
    use super::validate;

    fn accepted(c: &str) -> Option<&str> {
        validate(c).map(|n| &c[..n])
    }

    #[test]
    fn punycode_and_unicode_domains() {
        for addr in [
            "user@xn--80akhbyknj4f.xn--p1ai",
            "jane@mail.xn--bcher-kva.example",
            "info@müller.de",
            "jörg.weiß@bücher.example",
            "пользователь@пример.рф",
            "admin@例子.中国",
        ] {
            assert_eq!(accepted(addr), Some(addr));
        }
        assert_eq!(accepted("a@b.рф»"), Some("a@b.рф"));
        assert_eq!(accepted("«jane@x.de"), None);
        assert_eq!(accepted("a@-b.com"), None);
        assert_eq!(accepted("a@b.xn--"), None);
        assert_eq!(accepted("a.@b.com"), None);
    }
}
