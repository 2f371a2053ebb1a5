//! System.Quantity: a decimal with a UCUM unit or a calendar duration keyword.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::ucum::{canonical, Canonical};

/// A quantity value.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The amount.
    pub value: Decimal,
    /// UCUM code, or a calendar keyword (`week`, `days`...).
    pub unit: Arc<str>,
}

/// Whether `s` is a FHIRPath calendar duration keyword.
pub(crate) fn is_calendar_unit(s: &str) -> bool {
    matches!(
        s,
        "year" | "years" | "month" | "months" | "week" | "weeks" | "day" | "days" | "hour" | "hours" | "minute"
            | "minutes" | "second" | "seconds" | "millisecond" | "milliseconds"
    )
}

/// The UCUM code of a calendar keyword where one is definite (weeks and below).
fn ucum_of(unit: &str) -> &str {
    match unit {
        "week" | "weeks" => "wk",
        "day" | "days" => "d",
        "hour" | "hours" => "h",
        "minute" | "minutes" => "min",
        "second" | "seconds" => "s",
        "millisecond" | "milliseconds" => "ms",
        other => other,
    }
}

/// Both values in the same base units, or `None` if the units are not comparable.
fn common(a: &Quantity, b: &Quantity) -> Option<(Decimal, Decimal)> {
    if a.unit == b.unit {
        return Some((a.value, b.value));
    }
    let ca: Canonical = canonical(&a.unit)?;
    let cb: Canonical = canonical(&b.unit)?;
    if ca.dims != cb.dims {
        return None;
    }
    Some((a.value.checked_mul(ca.factor)?, b.value.checked_mul(cb.factor)?))
}

impl Quantity {
    /// A quantity from a value and unit.
    pub fn new(value: Decimal, unit: impl Into<Arc<str>>) -> Quantity {
        Quantity { value, unit: unit.into() }
    }

    /// Whether the unit is a calendar keyword (printed without quotes).
    pub fn is_calendar(&self) -> bool {
        is_calendar_unit(&self.unit)
    }

    /// Ordering after unit conversion; `None` if the units are not comparable.
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        let (a, b) = common(self, other)?;
        Some(a.cmp(&b))
    }

    /// Equivalence: equal after rounding both to the less precise of the two.
    pub fn equivalent(&self, other: &Quantity) -> Option<bool> {
        let (a, b) = common(self, other)?;
        let scale = a.normalize().scale().min(b.normalize().scale()).min(self.value.scale()).min(other.value.scale());
        Some(a.round_dp(scale) == b.round_dp(scale))
    }

    /// Whether the two units can be converted into each other.
    pub fn comparable(&self, other: &Quantity) -> bool {
        common(self, other).is_some()
    }

    /// Sum in this quantity's unit; `None` if not comparable.
    pub fn add(&self, other: &Quantity, negate: bool) -> Option<Quantity> {
        let o = if negate { -other.value } else { other.value };
        if self.unit == other.unit {
            return Some(Quantity { value: self.value.checked_add(o)?, unit: self.unit.clone() });
        }
        let ca = canonical(&self.unit)?;
        let cb = canonical(&other.unit)?;
        if ca.dims != cb.dims {
            return None;
        }
        let converted = o.checked_mul(cb.factor)?.checked_div(ca.factor)?;
        Some(Quantity { value: self.value.checked_add(converted)?, unit: self.unit.clone() })
    }

    /// Product (units multiply).
    pub fn mul(&self, other: &Quantity) -> Option<Quantity> {
        let (ua, ub) = (ucum_of(&self.unit), ucum_of(&other.unit));
        let unit: Arc<str> = match (ua, ub) {
            ("1", u) | (u, "1") => u.into(),
            (a, b) => format!("{a}.{b}").into(),
        };
        Some(Quantity { value: self.value.checked_mul(other.value)?, unit })
    }

    /// Quotient (units divide); `None` on division by zero.
    pub fn div(&self, other: &Quantity) -> Option<Quantity> {
        let (ua, ub) = (ucum_of(&self.unit), ucum_of(&other.unit));
        let unit: Arc<str> = if ua == ub {
            "1".into()
        } else if ub == "1" {
            ua.into()
        } else if ub.contains(['.', '/']) {
            format!("{ua}/({ub})").into()
        } else {
            format!("{ua}/{ub}").into()
        };
        Some(Quantity { value: self.value.checked_div(other.value)?, unit })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_calendar() {
            write!(f, "{} {}", self.value, self.unit)
        } else {
            write!(f, "{} '{}'", self.value, self.unit)
        }
    }
}

/// Parses the string form of a quantity: `1.5 'mg'`, `3 days`, `2` (unit `1`).
pub(crate) fn parse_quantity(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let (num, rest) = match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let value = crate::decimal::parse(num)?;
    if num.starts_with('.') || num.ends_with('.') || num.contains(['e', 'E']) {
        return None;
    }
    let unit = if rest.is_empty() {
        "1".to_owned()
    } else if let Some(q) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        q.to_owned()
    } else if is_calendar_unit(rest) {
        rest.to_owned()
    } else {
        return None;
    };
    Some(Quantity { value, unit: unit.into() })
}
