//! IBAN: country code, check digits and BBAN, with the country's exact length
//! and the ISO 13616 mod-97 check. Printed compact or in groups of four
//! separated by spaces or by dashes (one separator style).

pub(crate) const PATTERNS: &[&str] = &[r"\b[A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]{1,4}){3,8}\b"];

/// IBAN lengths by country (SWIFT IBAN registry, release 101: every country).
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn mod97(compact: &str) -> bool {
    let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
    let mut rem: u32 = 0;
    for b in rearranged {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Accepts the longest prefix of the candidate (whole groups) that is a valid IBAN:
/// greedy matching can swallow a following word such as "THE".
pub(crate) fn validate(c: &str) -> Option<usize> {
    let want = LENGTHS
        .iter()
        .find(|(cc, _)| c.starts_with(cc))
        .map(|(_, n)| *n)?;
    let sep = c.bytes().find(|b| matches!(b, b' ' | b'-'));
    let mut compact = String::with_capacity(34);
    for (i, ch) in c.char_indices() {
        if ch == ' ' || ch == '-' {
            if Some(ch as u8) != sep {
                return None;
            }
        } else {
            compact.push(ch);
        }
        if compact.len() == want {
            let end = i + ch.len_utf8();
            let next_is_boundary = c[end..].bytes().next().is_none_or(|n| Some(n) == sep);
            return (next_is_boundary && mod97(&compact)).then_some(end);
        }
    }
    None
}

/// Whether an IBAN can start at `s`: two capitals and two digits.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let at = |i| super::byte(b, s + i);
    at(0).is_ascii_uppercase() && at(1).is_ascii_uppercase() && super::digits_at(b, s + 2, 2)
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn libya_dashes_and_one_separator_style() {
        for iban in [
            "LY03004217000031415926535",
            "LY38 1170 5000 0062 8318 5307 1",
            "DE89-3704-0044-0532-0130-00",
            "DE89 3704 0044 0532 0130 00",
        ] {
            assert_eq!(validate(iban), Some(iban.len()), "{iban}");
        }
        assert_eq!(validate("DE89-3704 0044-0532-0130-00"), None);
        assert_eq!(validate("DE89 3704 0044 0532 0130 00 THE"), Some(27));
        assert_eq!(validate("DE89-3704-0044-0532-0130-00-THE"), Some(27));
    }
}
