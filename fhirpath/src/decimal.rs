//! Decimal helpers: parsing source text exactly, math through f64, and the
//! `lowBoundary`/`highBoundary` rules for decimals.

use std::str::FromStr;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

/// Parses a decimal keeping its scale (`1.50` stays `1.50`); accepts exponents as JSON may.
pub(crate) fn parse(s: &str) -> Option<Decimal> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'e' | b'E' | b'+')) {
        return None;
    }
    Decimal::from_str(t).ok().or_else(|| Decimal::from_scientific(t).ok())
}

/// Converts to f64 for the transcendental functions.
pub(crate) fn to_f64(d: Decimal) -> Option<f64> {
    d.to_f64()
}

/// Converts an f64 result back, dropping binary noise past 15 significant digits.
pub(crate) fn from_f64(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    let s = format!("{:.*e}", 14, f);
    let d = Decimal::from_scientific(&s).ok().or_else(|| Decimal::from_f64(f))?;
    Some(d.normalize())
}

/// Rounds half away from zero to `dp` places.
pub(crate) fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// Half a unit in the last place of `d`.
fn half_ulp(d: Decimal) -> Option<Decimal> {
    let s = d.scale();
    if s >= 28 {
        return None;
    }
    Some(Decimal::new(5, s + 1))
}

/// Boundary of a non-negative value; `high` picks the upper one.
fn boundary_abs(v: Decimal, high: bool, precision: u32) -> Option<Decimal> {
    let h = half_ulp(v)?;
    let mut r = if high {
        round(v.checked_add(h)?, precision)
    } else {
        v.checked_sub(h)?.round_dp_with_strategy(precision, RoundingStrategy::ToZero)
    };
    r.rescale(precision);
    Some(r)
}

/// `lowBoundary(precision)` / `highBoundary(precision)` of a decimal; `None` outside 0..=28.
pub(crate) fn boundary(v: Decimal, high: bool, precision: Option<i64>) -> Option<Decimal> {
    let p = precision.unwrap_or(8);
    if !(0..=28).contains(&p) {
        return None;
    }
    let p = p as u32;
    if v.is_sign_negative() && !v.is_zero() {
        // The lower boundary of -x is minus the upper boundary of x.
        let mut r = boundary_abs(-v, !high, p)?;
        r.set_sign_negative(true);
        Some(r)
    } else {
        boundary_abs(v, high, p)
    }
}
