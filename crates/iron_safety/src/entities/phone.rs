//! PHONE: North American numbers in their usual formats, and international
//! numbers written in E.164 style with a leading `+` (8 to 15 digits).

pub(crate) const PATTERNS: &[&str] = &[
    r"\+1[ .\-]?\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-]?[0-9]{4}\b",
    r"\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[ .\-][0-9]{4}\b",
    r"\b[2-9][0-9]{2}[ .\-][2-9][0-9]{2}[ .\-][0-9]{4}\b",
    r"\+[2-9][0-9]{0,2}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,6}\b",
];

pub(crate) fn validate(c: &str) -> Option<usize> {
    let d = super::digits(c);
    if c.starts_with('+') && !c.starts_with("+1") {
        // E.164: country code + subscriber number, at most 15 digits.
        return (8..=15).contains(&d.len()).then_some(c.len());
    }
    let national = if d.len() == 11 && d[0] == 1 {
        &d[1..]
    } else {
        &d[..]
    };
    if national.len() != 10 {
        return None;
    }
    // NANP: area code and exchange start 2-9 (the patterns ensure it); an area
    // code is never an N11 service code. (N11 exchanges do exist in places.)
    let n11 = |x: &[u8]| x[1] == 1 && x[2] == 1;
    let bare = !c.starts_with('+') && !c.starts_with('(');
    if n11(&national[0..3]) || (bare && !super::consistent_separators(c)) {
        return None;
    }
    Some(c.len())
}

/// Whether a phone number can start at `s`: `+` and a digit, `(` and an area
/// code digit, or three digits, a separator and an exchange digit.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    match at(0) {
        b'+' => at(1).is_ascii_digit(),
        b'(' => matches!(at(1), b'2'..=b'9'),
        _ => {
            super::digits_at(b, s, 3)
                && matches!(at(3), b' ' | b'.' | b'-')
                && matches!(at(4), b'2'..=b'9')
        }
    }
}
