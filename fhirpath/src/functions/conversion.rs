//! `toX()` / `convertsToX()`: the conversion table of the specification.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::{single_arg, Func};
use crate::ast::Node;
use crate::datetime::{Date, DateTime, Time};
use crate::error::{Error, Result};
use crate::eval::{one, Coll, Ctx, Frame};
use crate::item::{Item, Prim};
use crate::quantity::{parse_quantity, Quantity};

fn to_boolean(p: &Prim<'_>) -> Option<bool> {
    match p {
        Prim::Bool(b) => Some(*b),
        Prim::Int(1) => Some(true),
        Prim::Int(0) => Some(false),
        Prim::Dec(d) if *d == Decimal::ONE => Some(true),
        Prim::Dec(d) if d.is_zero() => Some(false),
        Prim::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_integer_text(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())
}

fn is_decimal_text(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (a, b) = match t.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.is_none_or(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
}

fn convert<'a>(func: Func, p: &Prim<'_>, unit: Option<&str>) -> Option<Item<'a>> {
    use Func::*;
    Some(match func {
        ToBoolean | ConvertsToBoolean => Item::Boolean(to_boolean(p)?),
        ToInteger | ConvertsToInteger => Item::Integer(match p {
            Prim::Int(i) => *i,
            Prim::Bool(b) => *b as i64,
            Prim::Str(s) if is_integer_text(s) => i64::from_str(s.trim_start_matches('+')).ok()?,
            _ => return None,
        }),
        ToDecimal | ConvertsToDecimal => Item::Decimal(match p {
            Prim::Int(i) => Decimal::from(*i),
            Prim::Dec(d) => *d,
            Prim::Bool(b) => Decimal::from(*b as i64),
            Prim::Str(s) if is_decimal_text(s) => Decimal::from_str(s.trim_start_matches('+')).ok()?,
            _ => return None,
        }),
        ToStringF | ConvertsToString => Item::string(match p {
            Prim::Bool(b) => b.to_string(),
            Prim::Int(i) => i.to_string(),
            Prim::Dec(d) => d.to_string(),
            Prim::Str(s) => (*s).to_owned(),
            Prim::Date(d) => d.to_string(),
            Prim::DateTime(d) => d.to_string(),
            Prim::Time(t) => t.to_string(),
            Prim::Quantity(q) => q.to_string(),
        }),
        ToDate | ConvertsToDate => Item::Date(match p {
            Prim::Date(d) => *d,
            Prim::DateTime(d) => d.date(),
            Prim::Str(s) => match Date::parse(s) {
                Some(d) => d,
                None => DateTime::parse(s)?.date(),
            },
            _ => return None,
        }),
        ToDateTime | ConvertsToDateTime => Item::DateTime(match p {
            Prim::Date(d) => d.to_datetime(),
            Prim::DateTime(d) => *d,
            Prim::Str(s) => DateTime::parse(s)?,
            _ => return None,
        }),
        ToTime | ConvertsToTime => Item::Time(match p {
            Prim::Time(t) => *t,
            Prim::Str(s) => Time::parse(s.strip_prefix('T').unwrap_or(s))?,
            _ => return None,
        }),
        ToQuantity | ConvertsToQuantity => {
            let q = match p {
                Prim::Int(i) => Quantity::new(Decimal::from(*i), "1"),
                Prim::Dec(d) => Quantity::new(*d, "1"),
                Prim::Bool(b) => Quantity::new(if *b { Decimal::new(10, 1) } else { Decimal::new(0, 1) }, "1"),
                Prim::Quantity(q) => q.clone(),
                Prim::Str(s) => parse_quantity(s)?,
                _ => return None,
            };
            match unit {
                None => Item::Quantity(q),
                Some(u) if *u == *q.unit => Item::Quantity(q),
                Some(u) => {
                    // Conversion to another unit: the same amount in base units.
                    let from = crate::ucum::canonical(&q.unit)?;
                    let to = crate::ucum::canonical(u)?;
                    if from.dims != to.dims {
                        return None;
                    }
                    Item::Quantity(Quantity::new(q.value.checked_mul(from.factor)?.checked_div(to.factor)?, u))
                }
            }
        }
        _ => return None,
    })
}

pub(super) fn call<'a>(cx: &Ctx<'a, '_>, func: Func, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use Func::*;
    if input.len() > 1 {
        return Err(Error::eval(format!("{}() needs a single item, got {}", func.name(), input.len())));
    }
    let Some(it) = input.first() else { return Ok(Coll::new()) };
    let unit = match single_arg(cx, args, 0, f, func)? {
        Some(u) => Some(u.as_str().map(str::to_owned).ok_or_else(|| Error::eval("the unit must be a string"))?),
        None => None,
    };
    let converted = it.prim().and_then(|p| convert(func, &p, unit.as_deref()));
    let asks = matches!(
        func,
        ConvertsToBoolean
            | ConvertsToInteger
            | ConvertsToDecimal
            | ConvertsToString
            | ConvertsToDate
            | ConvertsToDateTime
            | ConvertsToTime
            | ConvertsToQuantity
    );
    Ok(if asks {
        one(Item::Boolean(converted.is_some()))
    } else {
        converted.map(one).unwrap_or_default()
    })
}
