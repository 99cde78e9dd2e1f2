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
