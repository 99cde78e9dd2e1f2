//! PHONE: North American numbers in their usual formats (with or without a
//! `1` prefix: `1-800-555-0199`, `1 (415) 555-2671`; an extension `ext. 12`
//! is part of the finding), international numbers written with `+` or `00`
//! and a country code (8 to 15 digits), and national formats without a
//! country code for a set of regions ([`Region`]): `020 7946 0958` (GB),
//! `030 901820` (DE), `01 23 45 67 89` (FR), `612 34 56 78` (ES),
//! `06 1234 5678` (IT), `06 12345678` (NL)...
//!
//! A national number needs the trunk `0` its region dials (or, in Spain and
//! for Italian mobiles, the leading digit and grouping the plan gives them),
//! the region's number of digits, and at least one separator: a bare run of
//! digits is a phone number only in E.164 form (`+4930901820`). It is not
//! read inside a longer run of grouped digits (tables, hex dumps: pairs next
//! to a pair with a hex letter), as a date
//! (`03.12.2024`), as an amount (a currency sign or code next to it:
//! `612 345 678 €`), when it has fewer than 8 digits, when it is grouped like
//! an SSN (`078-05-1120`), or when everything after the first group is zeros
//! (`750 000 000`). The German and Italian plans have area codes of many
//! lengths, so together they read most numbers written with a trunk `0` and
//! 8 to 12 digits; the other plans matter on their own (Brazil's bracketed
//! area codes, Spanish and Italian mobile numbers without a `0`).

use super::{byte, digits};

/// An extension after a North American number: ` ext. 123`, ` x123`, `#123`.
macro_rules! ext {
    () => {
        r"(?:,? ?(?:ext\.?|x|#) ?[0-9]{1,6}\b)?"
    };
}

pub(crate) const PATTERNS: &[&str] = &[
    concat!(
        r"\+1[ .\-]?\(?[2-9][0-9]{2}\)?[ .\-]?[2-9][0-9]{2}[ .\-]?[0-9]{4}\b",
        ext!()
    ),
    concat!(
        r"(?:\b1[ .\-]?)?\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[ .\-][0-9]{4}\b",
        ext!()
    ),
    concat!(
        r"\b(?:(?:00)?1[ .\-])?[2-9][0-9]{2}[ .\-][2-9][0-9]{2}[ .\-][0-9]{4}\b",
        ext!()
    ),
    r"\+[2-9][0-9]{0,2}(?:[ .\-]?\(?[0-9]{1,4}\)?){2,6}\b",
    r"\b00[2-9][0-9]{0,2}[ .\-]\(?[0-9]{1,4}\)?(?:[ .\-]?\(?[0-9]{1,4}\)?){1,5}\b",
    // National formats: trunk 0 and an area code, optionally in parentheses;
    // Spanish numbers and Italian mobiles; Brazil's `(11) 91234-5678`.
    r"\b0[1-9][0-9]{0,4}(?:[ .\-][0-9]{5,8}(?:[ .\-][0-9]{2,8}){0,3}|[ .\-][0-9]{2,4}(?:[ .\-][0-9]{2,8}){1,3})\b",
    r"\(0[1-9][0-9]{0,4}\) ?[0-9]{2,8}(?:[ .\-][0-9]{2,8}){0,3}\b",
    r"\b[36-9][0-9]{1,2}[ \-][0-9]{2,4}(?:[ \-][0-9]{2,4}){1,2}\b",
    r"\([1-9][0-9]\) ?9?[0-9]{4}[ \-][0-9]{4}\b",
];

/// A numbering plan whose national format is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    Gb,
    De,
    Fr,
    Es,
    It,
    Nl,
    Au,
    Be,
    Ch,
    In,
    Jp,
    Br,
}

impl Region {
    pub(crate) const ALL: [Region; 12] = [
        Region::Gb,
        Region::De,
        Region::Fr,
        Region::Es,
        Region::It,
        Region::Nl,
        Region::Au,
        Region::Be,
        Region::Ch,
        Region::In,
        Region::Jp,
        Region::Br,
    ];

    /// Read without configuration: the large European plans.
    pub(crate) const DEFAULT: [Region; 6] = [
        Region::Gb,
        Region::De,
        Region::Fr,
        Region::Es,
        Region::It,
        Region::Nl,
    ];

    /// The ISO 3166 code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Region::Gb => "GB",
            Region::De => "DE",
            Region::Fr => "FR",
            Region::Es => "ES",
            Region::It => "IT",
            Region::Nl => "NL",
            Region::Au => "AU",
            Region::Be => "BE",
            Region::Ch => "CH",
            Region::In => "IN",
            Region::Jp => "JP",
            Region::Br => "BR",
        }
    }

    pub(crate) fn parse(code: &str) -> Option<Self> {
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(code.trim()))
    }

    /// Whether the digits `d` (trunk included) are a number of this plan.
    /// `paren` says whether the first group was written in parentheses, and
    /// `lens` are the lengths of the digit groups. Numbers without a trunk
    /// `0` must be grouped as their plan groups them (`612 34 56 78`, not the
    /// SSN-like `612-34-5678`).
    fn accepts(self, d: &[u8], paren: bool, lens: &[usize]) -> bool {
        let trunk = d[0] == 0;
        let nsn = &d[1..];
        let lead = nsn[0];
        let len = nsn.len();
        match self {
            Region::Gb => {
                trunk
                    && ((len == 10 && matches!(lead, 1 | 2 | 3 | 5 | 7 | 8))
                        || (len == 9 && lead == 1))
            }
            Region::De => {
                trunk
                    && if lead == 1 {
                        matches!(nsn[1], 5..=7) && (10..=11).contains(&len)
                    } else {
                        lead >= 2 && (6..=11).contains(&len)
                    }
            }
            Region::Fr | Region::Nl => trunk && len == 9 && lead != 0,
            Region::Au => trunk && len == 9 && matches!(lead, 2 | 3 | 4 | 7 | 8),
            Region::Be => {
                trunk && ((len == 8 && lead != 0 && lead != 4) || (len == 9 && lead == 4))
            }
            Region::Ch => trunk && len == 9 && lead >= 2,
            Region::In => trunk && len == 10 && lead != 0,
            Region::Jp => trunk && (len == 9 || len == 10) && lead != 0,
            // Italy dials the leading 0 of fixed numbers from abroad too; mobiles start with 3.
            Region::It => {
                (trunk && lead != 0 && (6..=11).contains(&d.len()))
                    || (d[0] == 3 && !paren && matches!(lens, [3, 3, 4] | [3, 3, 3] | [3, 4, 3]))
            }
            Region::Es => {
                matches!(d[0], 6..=9)
                    && !paren
                    && matches!(lens, [3, 2, 2, 2] | [3, 3, 3] | [2, 3, 2, 2])
            }
            Region::Br => {
                paren
                    && lens[0] == 2
                    && d[0] != 0
                    && d[1] != 0
                    && ((d.len() == 10 && d[2] >= 2) || (d.len() == 11 && d[2] == 9))
            }
        }
    }
}

/// A set of [`Region`]s (bit `i`: `Region::ALL[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Regions(u16);

impl Regions {
    pub(crate) fn of(regions: impl IntoIterator<Item = Region>) -> Self {
        Regions(regions.into_iter().fold(0, |acc, r| acc | Regions::bit(r)))
    }

    fn bit(r: Region) -> u16 {
        let i = Region::ALL.iter().position(|&x| x == r).unwrap_or(0);
        1 << i
    }

    pub(crate) fn contains(self, r: Region) -> bool {
        self.0 & Regions::bit(r) != 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Region> {
        Region::ALL.into_iter().filter(move |&r| self.contains(r))
    }
}

impl Default for Regions {
    fn default() -> Self {
        Regions::of(Region::DEFAULT)
    }
}

/// The digit groups of `c` and the separators between them (`)` counts as
/// part of the separator that follows it).
fn groups(c: &str) -> (Vec<usize>, Vec<&str>) {
    let b = c.as_bytes();
    let (mut lens, mut seps) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > s {
            lens.push(i - s);
        }
        let t = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if i > t && t > 0 && i < b.len() {
            seps.push(&c[t..i]);
        }
    }
    (lens, seps)
}

/// North American numbering plan: area code and exchange start 2-9, the area
/// code is never an N11 service code (N11 exchanges do exist in places), and
/// a number written without `+` or parentheses uses one separator style.
fn nanp(c: &str, d: &[u8], lens: &[usize], seps: &[&str]) -> bool {
    let (national, shaped) = if c.starts_with("+1") {
        (&d[1..], d.len() == 11)
    } else {
        // `001` (the international prefix and the country code) counts as the `1` prefix.
        let (d, lens) = if c.starts_with("001") {
            (&d[2..], [&[1][..], &lens[1..]].concat())
        } else {
            (d, lens.to_vec())
        };
        let g = match lens.as_slice() {
            [3, 3, 4] => 0,
            [1, 3, 3, 4] if d[0] == 1 => 1,
            _ => return false,
        };
        let one_style = seps[g..].windows(2).all(|w| w[0] == w[1]);
        (&d[g..], c.contains('(') || one_style)
    };
    shaped
        && national.len() == 10
        && national[0] >= 2
        && national[3] >= 2
        && !(national[1] == 1 && national[2] == 1)
}

/// Day and month (either order) then a year: `03.12.2024`, `12-03-24`.
fn date_like(c: &str, lens: &[usize]) -> bool {
    let nums: Vec<u32> = c
        .split(|x: char| !x.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let day_month = |a: u32, b: u32| (1..=31).contains(&a) && (1..=12).contains(&b);
    matches!(lens, [2, 2, 4] | [2, 2, 2])
        && nums.len() == 3
        && (day_month(nums[0], nums[1]) || day_month(nums[1], nums[0]))
}

/// How much of `text[start..end]` is a phone number, judged with its
/// neighbours, reading national formats of `regions`.
pub(crate) fn validate(text: &str, start: usize, end: usize, regions: Regions) -> Option<usize> {
    let whole = &text[start..end];
    // The extension is part of the finding, not of the number.
    let c = whole
        .find(|x: char| x.is_ascii_alphabetic() || x == '#')
        .map_or(whole, |i| whole[..i].trim_end_matches([' ', ',']));
    let d = digits(c);
    let (lens, seps) = groups(c);
    if c.starts_with('+') && !c.starts_with("+1") {
        // E.164: country code + subscriber number, at most 15 digits.
        return (8..=15).contains(&d.len()).then_some(c.len());
    }
    if c.starts_with("00") && !c.starts_with("001") {
        let ok = (8..=15).contains(&(d.len() - 2)) && !glued(text.as_bytes(), start, end);
        return ok.then_some(c.len());
    }
    if nanp(c, &d, &lens, &seps) {
        return Some(whole.len());
    }
    national(text, start, end, &d, &lens, &seps, regions).then_some(c.len())
}

/// Whether a currency sign or code stands right before or after the digits
/// (`612 345 678 €`, `EUR 912 345 678`): an amount.
fn money(text: &str, start: usize, end: usize) -> bool {
    const SIGNS: [char; 5] = ['€', '$', '£', '¥', '₹'];
    const CODES: [&str; 8] = ["EUR", "USD", "GBP", "CHF", "JPY", "INR", "BRL", "AUD"];
    let after = text[end..].trim_start_matches(' ');
    let before = text[..start].trim_end_matches(' ');
    after.starts_with(SIGNS)
        || before.ends_with(SIGNS)
        || CODES
            .iter()
            .any(|c| after.starts_with(c) || before.ends_with(c))
}

/// Whether a separator and a digit on either side continue the number: it
/// is part of a longer run of grouped digits (a table, a hex dump, an IBAN).
fn glued(b: &[u8], start: usize, end: usize) -> bool {
    let sep = |x: u8| matches!(x, b' ' | b'.' | b'-');
    (start >= 2 && sep(b[start - 1]) && b[start - 2].is_ascii_digit())
        || (sep(byte(b, end)) && byte(b, end + 1).is_ascii_digit())
}

fn national(
    text: &str,
    start: usize,
    end: usize,
    d: &[u8],
    lens: &[usize],
    seps: &[&str],
    regions: Regions,
) -> bool {
    let c = &text[start..end];
    let b = text.as_bytes();
    // Pairs of digits next to a pair with a hex letter: bytes of a hex dump.
    let hex_pair = |i: usize| {
        byte(b, i).is_ascii_hexdigit()
            && byte(b, i + 1).is_ascii_hexdigit()
            && !super::is_word(byte(b, i + 2))
            && (i == 0 || !super::is_word(b[i - 1]))
    };
    let sep = |x: u8| matches!(x, b' ' | b'.' | b'-');
    let dump = lens.iter().all(|&n| n == 2)
        && ((start >= 3 && sep(b[start - 1]) && hex_pair(start - 3))
            || (sep(byte(b, end)) && hex_pair(end + 1)));
    let glued = glued(b, start, end) || dump || money(text, start, end);
    let paren = c.starts_with('(');
    // The area code may be set apart differently (`070-123 45 67`, `(020) 7946 0958`).
    let one_style = seps.len() < 2 || seps[1..].windows(2).all(|w| w[0] == w[1]);
    let zeros = d[lens[0]..].iter().all(|&x| x == 0);
    // Grouped like an SSN (`078-05-1120`): never read as a national number.
    let ssn_like = lens == [3, 2, 4];
    if d.len() < 8
        || glued
        || seps.is_empty()
        || !one_style
        || zeros
        || ssn_like
        || date_like(c, lens)
    {
        return false;
    }
    regions.iter().any(|r| r.accepts(d, paren, lens))
}

/// Whether a phone number can start at `s`: `+` and a digit; `(` and a
/// digit; `1` and an optional separator before an area code; `00` and a
/// country code; a trunk `0`, its area code and two more groups or a long
/// one; an area code and an exchange; or the first group of a Spanish or an
/// Italian mobile number.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| byte(b, s + i);
    let sep = |x: u8| matches!(x, b' ' | b'.' | b'-');
    match at(0) {
        b'+' | b'(' => at(1).is_ascii_digit(),
        b'0' if at(1) == b'0' => matches!(at(2), b'2'..=b'9') || (at(2) == b'1' && sep(at(3))),
        b'1' if !at(1).is_ascii_digit() => {
            // `1 (415)`, `1(415)`, `1-415-`: not `1.8 seconds`.
            let area = matches!(at(2), b'2'..=b'9')
                && at(3).is_ascii_digit()
                && at(4).is_ascii_digit()
                && sep(at(5));
            at(1) == b'(' || (sep(at(1)) && (at(2) == b'(' || area))
        }
        _ => {
            let digit = |x: u8| x.is_ascii_digit();
            let run = super::byte_run(b, s, 7, digit);
            if !sep(at(run)) || !digit(at(run + 1)) {
                return false;
            }
            if at(0) != b'0' {
                // `415-555-2671` (area code 2-9, exchange 2-9), or Spain and
                // Italian mobiles (`612 34 …`, `347 109 …`): not `11-21`.
                let nanp = run == 3 && at(0) >= b'2' && at(4) >= b'2';
                let mobile = (2..=3).contains(&run)
                    && matches!(at(0), b'3' | b'6'..=b'9')
                    && at(run) != b'.'
                    && digit(at(run + 2));
                return nanp || mobile;
            }
            // A trunk 0 and an area code, then five digits or more, or a
            // shorter group and another one (not a date's `03-15`).
            let more = super::byte_run(b, s + run + 1, 9, digit);
            (2..=6).contains(&run)
                && (more >= 5
                    || ((2..=4).contains(&more)
                        && sep(at(run + 1 + more))
                        && digit(at(run + 2 + more))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{validate, Region, Regions};

    fn phone(text: &str) -> bool {
        validate(text, 0, text.len(), Regions::default()).is_some()
    }

    #[test]
    fn north_american_with_a_one_prefix() {
        for n in [
            "1-800-555-0199",
            "1 (415) 555-2671",
            "1.415.555.2671",
            "001-415-555-2671",
            "(415) 555-2671",
            "+1 415 555 2671",
            "(415) 555-2671 ext. 042",
            "415-555-2671 x12",
        ] {
            assert!(phone(n), "{n}");
        }
        for n in [
            "1-415 555-2671",
            "415-555 2671",
            "211-555-2671",
            "1-041-555-2671",
        ] {
            assert!(!phone(n), "{n}");
        }
    }

    #[test]
    fn national_formats_of_the_default_regions() {
        for n in [
            "020 7946 0958",
            "07700 900123",
            "(0113) 496 0000",
            "030 901820",
            "01512 3456789",
            "01 23 45 67 89",
            "01.23.45.67.89",
            "612 34 56 78",
            "912 345 678",
            "06 1234 5678",
            "347 109 0495",
            "06 12345678",
            "070-123 45 67",
            "0044 20 7946 0958",
        ] {
            assert!(phone(n), "{n}");
        }
        for n in [
            "03.12.2024",
            "12-03-24",
            "750 000 000",
            "0800",
            "01 02",
            "012 345",
            "012 3456",
            "512 345 678",
            "666-12-3456",
            "078-05-1120",
            "347 10 904 95",
        ] {
            assert!(!phone(n), "{n}");
        }
    }

    #[test]
    fn the_public_region_lists_are_the_plans() {
        let codes: Vec<&str> = Region::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes, crate::PHONE_REGIONS);
        let defaults: Vec<&str> = Region::DEFAULT.iter().map(|r| r.code()).collect();
        assert_eq!(defaults, crate::DEFAULT_PHONE_REGIONS);
        assert_eq!(Regions::default().iter().count(), Region::DEFAULT.len());
    }

    #[test]
    fn each_region_alone() {
        for (region, number, not) in [
            (Region::Gb, "020 7946 0958", "020 7946 095"),
            (Region::De, "030 901820", "030 9018"),
            (Region::Fr, "01 23 45 67 89", "01 23 45 67 8"),
            (Region::Es, "612 34 56 78", "512 34 56 78"),
            (Region::It, "06 1234 5678", "06 1234 5678 9012"),
            (Region::Nl, "06 12345678", "06 1234567"),
            (Region::Au, "0412 345 678", "0512 345 678"),
            (Region::Be, "0478 85 77 59", "0578 85 77 59"),
            (Region::Ch, "021 234 56 78", "011 234 56 78"),
            (Region::In, "081234 56789", "081234 5678"),
            (Region::Jp, "090-1234-5678", "090-1234-56789"),
            (Region::Br, "(11) 96123-4567", "(11) 86123-4567"),
        ] {
            let only = Regions::of([region]);
            assert!(
                validate(number, 0, number.len(), only).is_some(),
                "{number}"
            );
            assert!(validate(not, 0, not.len(), only).is_none(), "{not}");
            assert!(validate(number, 0, number.len(), Regions::of([])).is_none());
        }
        assert!(!phone("(11) 96123-4567"), "Brazil is not read by default");
    }

    #[test]
    fn not_inside_longer_digit_groups_nor_amounts() {
        let dump = "00 01 02 03 04 05 06 07";
        assert_eq!(validate(dump, 3, 17, Regions::default()), None);
        let dump = "d4 59 ba 05 44 90 37 e0 93";
        assert_eq!(validate(dump, 9, 20, Regions::default()), None);
        let amount = "612 345 678 € or EUR 912 345 678";
        assert_eq!(validate(amount, 0, 11, Regions::default()), None);
        let eur = amount.rfind("912").expect("digits");
        assert_eq!(
            validate(amount, eur, amount.len(), Regions::default()),
            None
        );
    }
}
