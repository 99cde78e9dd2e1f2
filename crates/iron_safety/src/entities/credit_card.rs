//! CREDIT_CARD: 13 to 19 digits, compact or in the groups cards print
//! (fours, 4-6-5, 4-6-4), Luhn-valid, from a known issuer range.

pub(crate) const PATTERNS: &[&str] = &[r"\b[0-9](?:[ \-]?[0-9]){12,18}\b"];

pub(crate) fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

fn prefix(d: &[u8], n: usize) -> u32 {
    d.iter().take(n).fold(0, |acc, &x| acc * 10 + u32::from(x))
}

/// Issuer (IIN) ranges and lengths: Visa, Mastercard (51-55 and 2221-2720),
/// Amex, Discover, Diners, JCB, UnionPay, Maestro.
fn known_issuer(d: &[u8]) -> bool {
    let len = d.len();
    let (p1, p2, p3, p4, p6) = (
        prefix(d, 1),
        prefix(d, 2),
        prefix(d, 3),
        prefix(d, 4),
        prefix(d, 6),
    );
    (p1 == 4 && matches!(len, 13 | 16 | 19))
        || ((51..=55).contains(&p2) && len == 16)
        || ((2221..=2720).contains(&p4) && len == 16)
        || ((p2 == 34 || p2 == 37) && len == 15)
        || ((p4 == 6011
            || (644..=649).contains(&p3)
            || p2 == 65
            || (622_126..=622_925).contains(&p6))
            && (16..=19).contains(&len))
        || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
            && (14..=19).contains(&len))
        || ((3528..=3589).contains(&p4) && (16..=19).contains(&len))
        || (p2 == 62 && (16..=19).contains(&len))
        || ((p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&len))
}

/// Whether the digit groups are laid out as cards print them: fours with a
/// shorter last group, 4-6-5 (Amex) or 4-6-4 (Diners), or no groups at all
/// (not a table of two-digit numbers that happens to pass Luhn).
fn card_groups(c: &str) -> bool {
    let lens: Vec<usize> = c
        .split(|x: char| !x.is_ascii_digit())
        .map(str::len)
        .collect();
    match lens.as_slice() {
        [_] | [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., last] => init.iter().all(|&n| n == 4) && (1..=4).contains(last),
        [] => false,
    }
}

pub(crate) fn validate(c: &str) -> Option<usize> {
    let d = super::digits(c);
    ((13..=19).contains(&d.len())
        && super::consistent_separators(c)
        && card_groups(c)
        && luhn(&d)
        && known_issuer(&d))
    .then_some(c.len())
}

/// Whether a card number can start at `s` (a word start): 13 or more digits
/// with at most one space or dash between them.
pub(crate) fn may_start(b: &[u8], s: usize) -> bool {
    let mut n = 0;
    let mut i = s;
    while n < 13 {
        match super::byte(b, i) {
            d if d.is_ascii_digit() => {
                n += 1;
                i += 1;
            }
            b' ' | b'-' if n > 0 && super::byte(b, i + 1).is_ascii_digit() => i += 1,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn grouped_as_cards_are() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "3782 822463 10005",
            "3056 930902 5904",
            "4222 2222 2222 2",
        ] {
            assert_eq!(validate(card), Some(card.len()), "{card}");
        }
        // Luhn-valid digits in a table of two-digit numbers.
        assert_eq!(validate("63 94 31 54 62 44 96 52 38"), None);
    }
}
