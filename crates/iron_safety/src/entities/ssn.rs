//! US_SSN: AAA-GG-SSSS (or with spaces), rejecting numbers the SSA never issues.

pub(crate) const PATTERNS: &[&str] = &[r"\b[0-9]{3}[ \-][0-9]{2}[ \-][0-9]{4}\b"];

/// Numbers printed in advertisements and documentation, never valid.
const SAMPLES: &[&str] = &["078051120", "219099999", "457555462", "123456789"];

pub(crate) fn validate(c: &str) -> Option<usize> {
    if !super::consistent_separators(c) {
        return None;
    }
    let d: String = c.chars().filter(char::is_ascii_digit).collect();
    let area: u32 = d[0..3].parse().ok()?;
    let group: u32 = d[3..5].parse().ok()?;
    let serial: u32 = d[5..9].parse().ok()?;
    let bad = area == 0
        || area == 666
        || area >= 900
        || group == 0
        || serial == 0
        || SAMPLES.contains(&d.as_str());
    (!bad).then_some(c.len())
}

/// Whether an SSN can start at `s`: three digits, a separator, two digits.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    super::digits_at(b, s, 3) && matches!(at(3), b' ' | b'-') && super::digits_at(b, s + 4, 2)
}
