//! An exact decimal number: a 128-bit mantissa and a scale.
//!
//! `DECIMAL(p, s)` values are stored as `mantissa / 10^scale`. 128 bits hold the 38 significant digits that SQL
//! engines commonly allow. Two decimals with the same numeric value but different scales (`1.5` and `1.50`) compare
//! equal in value order but are distinct values; the engine normalises every column to its declared scale so that
//! rows compare as users expect.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The largest scale (and precision) a [`Decimal`] supports.
pub const MAX_DIGITS: u8 = 38;

/// An exact decimal number.
///
/// The mantissa is kept as two 64-bit halves rather than an `i128`: an `i128` field would raise the alignment of
/// [`crate::Value`] to 16 bytes and its size from 32 to 48 bytes, and every row of every type would pay for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "DecimalParts", into = "DecimalParts")]
pub struct Decimal {
    hi: i64,
    lo: u64,
    scale: u8,
}

/// The serialized form of a [`Decimal`]: the mantissa as one integer.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct DecimalParts {
    mantissa: i128,
    scale: u8,
}

impl From<DecimalParts> for Decimal {
    fn from(p: DecimalParts) -> Self {
        Decimal::of(p.mantissa, p.scale)
    }
}

impl From<Decimal> for DecimalParts {
    fn from(d: Decimal) -> Self {
        DecimalParts {
            mantissa: d.mantissa(),
            scale: d.scale,
        }
    }
}

/// Why a string or a pair of integers is not a valid [`Decimal`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not a decimal number.
    #[error("'{0}' is not a decimal number")]
    Syntax(String),
    /// More than 38 digits, or a scale above 38.
    #[error("'{0}' has more than 38 digits")]
    TooManyDigits(String),
}

impl Decimal {
    /// `mantissa / 10^scale`. Fails when the scale is above 38.
    pub fn new(mantissa: i128, scale: u8) -> Result<Self, DecimalError> {
        if scale > MAX_DIGITS {
            return Err(DecimalError::TooManyDigits(format!("{mantissa}e-{scale}")));
        }
        Ok(Decimal::of(mantissa, scale))
    }

    /// Builds from parts already known to be valid.
    fn of(mantissa: i128, scale: u8) -> Self {
        Decimal {
            hi: (mantissa >> 64) as i64,
            lo: mantissa as u64,
            scale,
        }
    }

    /// The unscaled integer.
    pub fn mantissa(&self) -> i128 {
        (i128::from(self.hi) << 64) | i128::from(self.lo)
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// The same value with exactly `scale` fractional digits, rounding half away from zero when digits are
    /// dropped. `None` when the result does not fit in 128 bits.
    pub fn rescale(&self, scale: u8) -> Option<Decimal> {
        if scale > MAX_DIGITS {
            return None;
        }
        let m = self.mantissa();
        let mantissa = match scale.cmp(&self.scale) {
            Ordering::Equal => m,
            Ordering::Greater => {
                m.checked_mul(10i128.checked_pow(u32::from(scale - self.scale))?)?
            }
            Ordering::Less => {
                let div = 10i128.pow(u32::from(self.scale - scale));
                let (q, r) = (m / div, m % div);
                if r.unsigned_abs() * 2 >= div.unsigned_abs() {
                    q + m.signum()
                } else {
                    q
                }
            }
        };
        Some(Decimal::of(mantissa, scale))
    }

    /// The value as the nearest `f64` (for approximate comparisons and statistics only).
    pub fn to_f64(&self) -> f64 {
        self.mantissa() as f64 / 10f64.powi(i32::from(self.scale))
    }

    /// Writes the exact value with trailing fractional zeros removed, as the JSON encoder needs it: `10.50` is
    /// `10.5`, `10000.00` is `10000`, `0.00` is `0`.
    pub fn write_trimmed(&self, out: &mut String) {
        let mut mantissa = self.mantissa();
        let mut scale = self.scale;
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        write_digits(mantissa, scale, out);
    }
}

fn write_digits(mantissa: i128, scale: u8, out: &mut String) {
    let digits = mantissa.unsigned_abs().to_string();
    if mantissa < 0 {
        out.push('-');
    }
    let scale = usize::from(scale);
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
}

impl fmt::Display for Decimal {
    /// The exact value with all `scale` fractional digits: `DECIMAL(4,2)` 10.5 prints as `10.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_digits(self.mantissa(), self.scale, &mut s);
        f.write_str(&s)
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    /// Parses `-12.340`, `+5`, `.5` and `1e3`-free plain notation; the scale is the number of fractional digits
    /// written.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || DecimalError::Syntax(s.to_string());
        let t = s.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(syntax());
        }
        let significant = int.trim_start_matches('0').len() + frac.len();
        if significant > usize::from(MAX_DIGITS) || frac.len() > usize::from(MAX_DIGITS) {
            return Err(DecimalError::TooManyDigits(s.to_string()));
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + i128::from(b - b'0');
        }
        Ok(Decimal::of(
            if neg { -mantissa } else { mantissa },
            frac.len() as u8,
        ))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// Numeric order; equal values of different scales order by scale so that the order agrees with `Eq`.
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        let numeric = match (self.rescale(scale), other.rescale(scale)) {
            (Some(a), Some(b)) => a.mantissa().cmp(&b.mantissa()),
            // Only reachable for values near 10^38 at a high scale; the float order is exact enough there
            // because such values differ in their leading digits.
            _ => self.to_f64().total_cmp(&other.to_f64()),
        };
        numeric.then(self.scale.cmp(&other.scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(d("10.50").to_string(), "10.50");
        assert_eq!(d("-0.05").to_string(), "-0.05");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("+7").to_string(), "7");
    }

    #[test]
    fn trimmed_form_drops_trailing_fraction_zeros_only() {
        let trimmed = |s: &str| {
            let mut out = String::new();
            d(s).write_trimmed(&mut out);
            out
        };
        assert_eq!(trimmed("10.50"), "10.5");
        assert_eq!(trimmed("10000.00"), "10000");
        assert_eq!(trimmed("0.00"), "0");
        assert_eq!(trimmed("-120"), "-120");
        assert_eq!(trimmed("0.001"), "0.001");
    }

    #[test]
    fn rejects_garbage_and_excess_digits() {
        assert!(matches!(
            "1.2.3".parse::<Decimal>(),
            Err(DecimalError::Syntax(_))
        ));
        assert!(matches!(
            "".parse::<Decimal>(),
            Err(DecimalError::Syntax(_))
        ));
        let long = "1".repeat(39);
        assert!(matches!(
            long.parse::<Decimal>(),
            Err(DecimalError::TooManyDigits(_))
        ));
    }

    #[test]
    fn orders_numerically_across_scales() {
        assert!(d("1.5") < d("1.51"));
        assert!(d("-2") < d("-1.99"));
        assert!(
            d("1.5") < d("1.50"),
            "equal values order by scale so that Ord agrees with Eq"
        );
        assert_eq!(d("2.345").rescale(2), Some(d("2.35")));
        assert_eq!(d("-2.345").rescale(2), Some(d("-2.35")));
    }
}
