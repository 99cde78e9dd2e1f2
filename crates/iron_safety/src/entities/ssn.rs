//! US_SSN: AAA-GG-SSSS with dashes, spaces or dots (mixed too: `536-22 8726`),
//! and nine bare digits right after an SSN label (`SSN 536228726`, `ssn:
//! "536228726"`, `Social Security No. 536228726`, `social_security_number=...`;
//! the finding is the digits). Numbers the SSA never issues are rejected.

pub(crate) const PATTERNS: &[&str] = &[
    r"\b[0-9]{3}[ .\-][0-9]{2}[ .\-][0-9]{4}\b",
    r#"\b(?:SSN|[Ss]sn|(?:[Ss]ocial|SOCIAL)[ _\-](?:[Ss]ecurity|SECURITY))(?:[ _\-]?(?:[Nn]umber|NUMBER|[Nn]um|NUM|[Nn]o\.?|NO\.?|[Nn]r\.?|#))?[ \t"'#=\-]{0,3}:?[ \t"'#=\-]{0,3}(?:(?:is|was):?[ \t]{1,2})?["']?[0-9]{9}\b"#,
];

/// The label words a labelled SSN starts with.
pub(crate) const LABELS: &[&str] = &["SSN", "ssn", "Ssn", "social", "Social", "SOCIAL"];

/// The furthest a label starts before its SSN's first digit: the longest
/// label, suffix, separators and `was` the second pattern allows; `tests`
/// checks it. (At most one `:` between label and digits: a `::` there would
/// start an IPv6 candidate inside the label.)
pub(crate) const LABEL_REACH: usize = 37;

/// The first position in `from..to` where a label can start: one of
/// [`LABELS`] at a word boundary.
pub(crate) fn label_before(b: &[u8], from: usize, to: usize) -> Option<usize> {
    memchr::memchr2_iter(b's', b'S', &b[from..to])
        .map(|i| from + i)
        .find(|&i| super::boundary(b, i) && LABELS.iter().any(|l| b[i..].starts_with(l.as_bytes())))
}

/// Numbers printed in advertisements and documentation, never valid.
const SAMPLES: &[&str] = &["078051120", "219099999", "457555462", "123456789"];

fn issued(d: &[u8]) -> bool {
    let n = |r: std::ops::Range<usize>| {
        d[r].iter()
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x - b'0'))
    };
    let (area, group, serial) = (n(0..3), n(3..5), n(5..9));
    let bad = area == 0
        || area == 666
        || area >= 900
        || group == 0
        || serial == 0
        || SAMPLES.iter().any(|s| s.as_bytes() == d);
    !bad
}

/// The span of the candidate that is an SSN: all of it, or the nine digits
/// after a label.
pub(crate) fn validate(c: &str) -> Option<(usize, usize)> {
    let b = c.as_bytes();
    if b.first().is_some_and(u8::is_ascii_digit) {
        let d: Vec<u8> = c.bytes().filter(u8::is_ascii_digit).collect();
        return (d.len() == 9 && issued(&d)).then_some((0, c.len()));
    }
    let digits = c.len().checked_sub(9)?;
    issued(&b[digits..]).then_some((digits, c.len()))
}

/// Whether an SSN can start at `s`: three digits, a separator, two digits.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    super::digits_at(b, s, 3)
        && matches!(at(3), b' ' | b'-' | b'.')
        && super::digits_at(b, s + 4, 2)
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn separators_and_labels() {
        for ssn in [
            "536-22-8726",
            "536 22 8726",
            "536.22.8726",
            "536-22 8726",
            "536.22-8726",
        ] {
            assert_eq!(validate(ssn), Some((0, ssn.len())), "{ssn}");
        }
        assert_eq!(validate("SSN 536228726"), Some((4, 13)));
        assert_eq!(validate("SSN 666228726"), None);
        assert_eq!(validate("ssn: 078051120"), None);
        assert_eq!(validate("666-22-8726"), None);
    }

    #[test]
    fn label_reach_covers_the_longest_label() {
        use regex_automata::{meta::Regex, util::syntax};
        let re = Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build(super::PATTERNS[1])
            .expect("compiles");
        let longest = "SOCIAL_SECURITY_NUMBER\"\t=:= \"was: \t\"536228726";
        let m = re.find(longest).expect("the longest label matches");
        assert_eq!((m.start(), m.end()), (0, longest.len()));
        assert_eq!(longest.find('5'), Some(super::LABEL_REACH - 1));
    }
}
