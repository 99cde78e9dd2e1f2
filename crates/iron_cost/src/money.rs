//! `Money`: an amount of USD as an integer number of micro-dollars.
//!
//! Ledgers never hold floats: float sums drift, and a budget that must never be
//! overspent cannot be compared with drifting numbers. Values come in as float,
//! `Decimal` or string USD and are rounded to the nearest micro-dollar (half away
//! from zero) exactly once, at the boundary.

use std::fmt;

use crate::error::CostError;

/// Micro-dollars in one dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;

/// An amount of USD in micro-dollars (1e-6 USD). Never negative.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest amount accepted from users: one billion dollars. Larger values
    /// are almost certainly a unit mistake (cents or micro-dollars given as USD).
    pub const MAX: Money = Money(1_000_000_000 * MICROS_PER_USD);

    /// From a count of micro-dollars.
    #[must_use]
    pub const fn from_micros(micros: u64) -> Self {
        Money(micros)
    }

    /// The amount in micro-dollars.
    #[must_use]
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// The amount in USD as a float, for display and Python.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn to_usd_f64(self) -> f64 {
        // Split so that amounts above 2^53 micro-dollars still print sensibly.
        (self.0 / MICROS_PER_USD) as f64 + (self.0 % MICROS_PER_USD) as f64 / 1e6
    }

    /// From a float USD amount; `what` names the argument in the error.
    ///
    /// # Errors
    /// Negative, NaN, infinite, or above [`Money::MAX`].
    pub fn from_usd_f64(usd: f64, what: &str) -> Result<Self, CostError> {
        let invalid = |reason: &str| CostError::InvalidAmount {
            what: what.to_owned(),
            value: format!("{usd}"),
            reason: reason.to_owned(),
        };
        if usd.is_nan() {
            return Err(invalid("is NaN: pass a finite amount of USD such as 10.0"));
        }
        if usd.is_infinite() {
            return Err(invalid(
                "is infinite: budgets must be finite; pass a large finite amount instead",
            ));
        }
        if usd < 0.0 {
            return Err(invalid(
                "is negative: amounts of USD must be zero or positive",
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        let max = Money::MAX.0 as f64 / 1e6;
        if usd > max {
            return Err(invalid(
                "is above the 1,000,000,000 USD maximum: amounts are in USD, not cents or micro-dollars",
            ));
        }
        // |usd| <= 1e9 so usd * 1e6 <= 1e15 < 2^53: the product is exact to well
        // under half a micro-dollar and rounding yields the intended integer.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = (usd * 1e6).round() as u64;
        Ok(Money(micros))
    }

    /// From a whole number of dollars (Python `int`).
    ///
    /// # Errors
    /// Negative or above [`Money::MAX`].
    pub fn from_usd_i128(usd: i128, what: &str) -> Result<Self, CostError> {
        let invalid = |reason: &str| CostError::InvalidAmount {
            what: what.to_owned(),
            value: usd.to_string(),
            reason: reason.to_owned(),
        };
        if usd < 0 {
            return Err(invalid(
                "is negative: amounts of USD must be zero or positive",
            ));
        }
        let micros = usd.saturating_mul(i128::from(MICROS_PER_USD));
        if micros > i128::from(Money::MAX.0) {
            return Err(invalid(
                "is above the 1,000,000,000 USD maximum: amounts are in USD, not cents or micro-dollars",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Money(micros as u64))
    }

    /// From a decimal string of USD (`"12.5"`, `"0.000001"`, `"1E-3"`, what
    /// `str(Decimal)` produces). Exact: no float is involved.
    ///
    /// # Errors
    /// Not a decimal number, negative, NaN/infinite, or above [`Money::MAX`].
    pub fn parse_usd(text: &str, what: &str) -> Result<Self, CostError> {
        let invalid = |reason: &str| CostError::InvalidAmount {
            what: what.to_owned(),
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let s = text.trim().trim_start_matches('$');
        let lower = s.to_ascii_lowercase();
        let unsigned = lower.trim_start_matches(['+', '-']);
        if unsigned.starts_with("nan") || unsigned.starts_with("snan") {
            return Err(invalid(
                "is NaN: pass a finite amount of USD such as \"10.00\"",
            ));
        }
        if unsigned.starts_with("inf") {
            return Err(invalid("is infinite: budgets must be finite"));
        }
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => {
                let exp: i32 = body[i + 1..]
                    .parse()
                    .map_err(|_| invalid("is not a decimal number of USD such as \"12.50\""))?;
                (&body[..i], exp)
            }
            None => (body, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((a, b)) => (a, b),
            None => (mantissa, ""),
        };
        let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !digits_ok(int_part)
            || !digits_ok(frac_part)
        {
            return Err(invalid("is not a decimal number of USD such as \"12.50\""));
        }
        let all_digits = format!("{int_part}{frac_part}");
        let all_digits = all_digits.trim_start_matches('0');
        let is_zero = all_digits.is_empty();
        if negative && !is_zero {
            return Err(invalid(
                "is negative: amounts of USD must be zero or positive",
            ));
        }
        if is_zero {
            return Ok(Money::ZERO);
        }
        // value = digits * 10^(exponent - frac_len); micros = value * 10^6.
        let frac_len = i32::try_from(frac_part.len()).unwrap_or(i32::MAX);
        let shift = exponent.saturating_add(6).saturating_sub(frac_len);
        let too_big = || {
            invalid("is above the 1,000,000,000 USD maximum: amounts are in USD, not cents or micro-dollars")
        };
        if all_digits.len() > 30 && shift >= 0 {
            return Err(too_big());
        }
        let micros: u128 = if shift >= 0 {
            if shift > 30 {
                return Err(too_big());
            }
            let base: u128 = all_digits.parse().map_err(|_| too_big())?;
            base.checked_mul(10u128.pow(shift.unsigned_abs()))
                .ok_or_else(too_big)?
        } else {
            // Round half away from zero on the digits being dropped.
            let drop = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
            if drop > all_digits.len() {
                0
            } else {
                let (keep, dropped) = all_digits.split_at(all_digits.len() - drop);
                if keep.len() > 30 {
                    return Err(too_big());
                }
                let kept: u128 = if keep.is_empty() {
                    0
                } else {
                    keep.parse().map_err(|_| too_big())?
                };
                let round_up = dropped.as_bytes().first().is_some_and(|d| *d >= b'5');
                kept + u128::from(round_up)
            }
        };
        if micros > u128::from(Money::MAX.0) {
            return Err(too_big());
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(Money(micros as u64))
    }

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` if `other` is larger.
    #[must_use]
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `self - other`, floored at zero.
    #[must_use]
    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Money {
    /// `$12.50`, `$0.000123`: at least cents, at most micro-dollars, no trailing zeros beyond cents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_USD;
        let frac = format!("{:06}", self.0 % MICROS_PER_USD);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &frac[..2]
        } else {
            trimmed
        };
        write!(f, "${whole}.{shown}")
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_floats_to_the_nearest_micro() {
        assert_eq!(
            Money::from_usd_f64(0.1, "x").map(Money::micros),
            Ok(100_000)
        );
        assert_eq!(
            Money::from_usd_f64(12.345_678_9, "x").map(Money::micros),
            Ok(12_345_679)
        );
        assert_eq!(Money::from_usd_f64(0.0, "x"), Ok(Money::ZERO));
    }

    #[test]
    fn rejects_bad_floats_with_reasons() {
        for (v, needle) in [
            (-1.0, "negative"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "infinite"),
            (2e9, "maximum"),
        ] {
            let err = Money::from_usd_f64(v, "limit_usd")
                .expect_err("must reject")
                .to_string();
            assert!(err.contains(needle) && err.contains("limit_usd"), "{err}");
        }
    }

    #[test]
    fn parses_decimal_strings_exactly() {
        let m = |s: &str| Money::parse_usd(s, "x").map(Money::micros);
        assert_eq!(m("12.50"), Ok(12_500_000));
        assert_eq!(m("0.000001"), Ok(1));
        assert_eq!(m("0.0000015"), Ok(2));
        assert_eq!(m("0.0000004"), Ok(0));
        assert_eq!(m("1E-3"), Ok(1_000));
        assert_eq!(m("2.5e2"), Ok(250_000_000));
        assert_eq!(m("$3"), Ok(3_000_000));
        assert_eq!(m("-0.00"), Ok(0));
        assert_eq!(m(".5"), Ok(500_000));
        for bad in [
            "",
            "-1",
            "abc",
            "1.2.3",
            "NaN",
            "-Infinity",
            "1e40",
            "1000000001",
            "1e",
        ] {
            assert!(m(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn displays_cents_to_micros() {
        assert_eq!(Money::from_micros(12_500_000).to_string(), "$12.50");
        assert_eq!(Money::from_micros(123).to_string(), "$0.000123");
        assert_eq!(Money::from_micros(1_000_000).to_string(), "$1.00");
    }
}
