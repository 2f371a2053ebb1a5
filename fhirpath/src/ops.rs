//! Operators: three-valued logic, equality and equivalence, ordering, arithmetic
//! (numbers, strings, quantities, calendar durations), union and membership.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::ast::{BinOp, Node};
use crate::datetime::{CalUnit, Date, DateTime, Time};
use crate::error::{Error, Result};
use crate::eval::{one, to_boolean, Coll, Ctx, Frame};
use crate::item::{Item, Prim};
use crate::model::Sys;
use crate::quantity::Quantity;

/// Evaluates a binary operator; `and`/`or`/`implies` skip the right side when the left decides.
pub(crate) fn binary<'a>(cx: &Ctx<'a, '_>, op: BinOp, l: &Node, r: &Node, f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use BinOp::*;
    match op {
        And | Or | Implies | Xor => {
            let a = to_boolean(&cx.eval(l, f)?, op.symbol())?;
            match (op, a) {
                (And, Some(false)) => return Ok(one(Item::Boolean(false))),
                (Or, Some(true)) => return Ok(one(Item::Boolean(true))),
                (Implies, Some(false)) => return Ok(one(Item::Boolean(true))),
                _ => {}
            }
            let b = to_boolean(&cx.eval(r, f)?, op.symbol())?;
            let res = match op {
                And => match (a, b) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
                Or => match (a, b) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
                Xor => match (a, b) {
                    (Some(x), Some(y)) => Some(x != y),
                    _ => None,
                },
                _ => match (a, b) {
                    (None, Some(true)) => Some(true),
                    (Some(true), x) => x,
                    _ => None,
                },
            };
            return Ok(res.map(|b| one(Item::Boolean(b))).unwrap_or_default());
        }
        _ => {}
    }
    let a = cx.eval(l, f)?;
    let b = cx.eval(r, f)?;
    match op {
        Union => Ok(union(a, b)),
        Eq | Ne => {
            let r = equal_colls(&a, &b);
            Ok(r.map(|x| one(Item::Boolean(if op == Eq { x } else { !x }))).unwrap_or_default())
        }
        Equiv | NotEquiv => {
            let x = equivalent_colls(&a, &b);
            Ok(one(Item::Boolean(if op == Equiv { x } else { !x })))
        }
        Lt | Le | Gt | Ge => compare_op(op, &a, &b),
        In | Contains => {
            let (item, coll) = if op == In { (&a, &b) } else { (&b, &a) };
            match item.len() {
                0 => Ok(Coll::new()),
                1 => Ok(one(Item::Boolean(coll.iter().any(|x| equal_items(&item[0], x) == Some(true))))),
                n => Err(Error::eval(format!("'{}' needs a single item, got {n}", op.symbol()))),
            }
        }
        Concat => {
            let s1 = concat_side(&a)?;
            let s2 = concat_side(&b)?;
            Ok(one(Item::string(format!("{s1}{s2}"))))
        }
        _ => arithmetic(cx, op, &a, &b),
    }
}

fn concat_side(c: &[Item<'_>]) -> Result<String> {
    match c {
        [] => Ok(String::new()),
        [it] => it.to_fhirpath_string().ok_or_else(|| Error::eval("'&' needs strings")),
        _ => Err(Error::eval(format!("'&' needs a single item, got {}", c.len()))),
    }
}

/// Union: items of both, duplicates removed, order kept.
pub(crate) fn union<'a>(a: Coll<'a>, b: Coll<'a>) -> Coll<'a> {
    let mut out = Coll::new();
    for it in a.into_iter().chain(b) {
        if !out.iter().any(|x| equal_items(x, &it) == Some(true)) {
            out.push(it);
        }
    }
    out
}

/// Unary minus.
pub(crate) fn negate(v: Coll<'_>) -> Result<Coll<'_>> {
    match v.len() {
        0 => Ok(Coll::new()),
        1 => Ok(one(match v[0].prim() {
            Some(Prim::Int(i)) => Item::Integer(i.checked_neg().ok_or_else(|| Error::eval("integer overflow"))?),
            Some(Prim::Dec(d)) => Item::Decimal(if d.is_zero() { d.abs() } else { -d }),
            Some(Prim::Quantity(q)) => Item::Quantity(Quantity { value: -q.value, unit: q.unit }),
            _ => return Err(Error::eval(format!("unary '-' cannot apply to {}", v[0].type_name()))),
        })),
        n => Err(Error::eval(format!("unary '-' needs a single item, got {n}"))),
    }
}

/// Both sides as comparable primitives; an untyped JSON string meeting a date is parsed as one.
fn coerce<'x>(a: &'x Item<'_>, b: &'x Item<'_>) -> Option<(Prim<'x>, Prim<'x>)> {
    let pa = a.prim()?;
    let pb = b.prim()?;
    Some(match (pa, pb) {
        (Prim::Str(s), other @ (Prim::Date(_) | Prim::DateTime(_) | Prim::Time(_))) if a.is_untyped_node() => {
            (parse_like(s, &other)?, other)
        }
        (other @ (Prim::Date(_) | Prim::DateTime(_) | Prim::Time(_)), Prim::Str(s)) if b.is_untyped_node() => {
            let p = parse_like(s, &other)?;
            (other, p)
        }
        x => x,
    })
}

fn parse_like<'x>(s: &str, like: &Prim<'_>) -> Option<Prim<'x>> {
    match like {
        Prim::Time(_) => Time::parse(s).map(Prim::Time),
        _ => match Date::parse(s) {
            Some(d) if matches!(like, Prim::Date(_)) => Some(Prim::Date(d)),
            _ => DateTime::parse(s).map(Prim::DateTime),
        },
    }
}

/// `=` on single items: `None` when undecidable (dates of different precision, incomparable units).
pub(crate) fn equal_items(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    if structural(a, b) {
        if let (Item::Node(x), Item::Node(y)) = (a, b) {
            return Some(nodes_equal(x.value(), y.value()));
        }
    }
    if let (Item::Type { namespace: n1, name: a1 }, Item::Type { namespace: n2, name: a2 }) = (a, b) {
        return Some(n1 == n2 && **a1 == **a2);
    }
    let Some((pa, pb)) = coerce(a, b) else { return Some(false) };
    prim_equal(&pa, &pb)
}

/// Two nodes of which one is complex compare by their JSON; two FHIR Quantities compare
/// as System.Quantity (unit conversion).
fn structural(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a, b) {
        (Item::Node(x), Item::Node(y)) => {
            let quantities = x.sys == Sys::Quantity && y.sys == Sys::Quantity;
            !(x.is_primitive() && y.is_primitive() || quantities)
        }
        _ => false,
    }
}

fn nodes_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => json_equal(x, y),
        _ => false,
    }
}

/// Structural equality where numbers compare by value (1.0 = 1.00).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            crate::item::json_decimal(x).zip(crate::item::json_decimal(y)).is_some_and(|(x, y)| x == y)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_equal(v, w)),
        _ => a == b,
    }
}

fn prim_equal(a: &Prim<'_>, b: &Prim<'_>) -> Option<bool> {
    use Prim::*;
    Some(match (a, b) {
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (Int(x), Dec(y)) | (Dec(y), Int(x)) => Decimal::from(*x) == *y,
        (Dec(x), Dec(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Date(x), Date(y)) => x.compare(y)? == Ordering::Equal,
        (Date(x), DateTime(y)) | (DateTime(y), Date(x)) => x.to_datetime().compare(y)? == Ordering::Equal,
        (DateTime(x), DateTime(y)) => x.compare(y)? == Ordering::Equal,
        (Time(x), Time(y)) => x.compare(y)? == Ordering::Equal,
        (Quantity(x), Quantity(y)) => x.compare(y)? == Ordering::Equal,
        // A quantity of unit 1 equals a plain number.
        (Quantity(q), Int(i)) | (Int(i), Quantity(q)) if &*q.unit == "1" => q.value == Decimal::from(*i),
        (Quantity(q), Dec(d)) | (Dec(d), Quantity(q)) if &*q.unit == "1" => q.value == *d,
        _ => false,
    })
}

/// `=` on collections: same size and pairwise equal in order.
pub(crate) fn equal_colls(a: &[Item<'_>], b: &[Item<'_>]) -> Option<bool> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a.len() != b.len() {
        return Some(false);
    }
    let mut undecided = false;
    for (x, y) in a.iter().zip(b) {
        match equal_items(x, y) {
            Some(false) => return Some(false),
            None => undecided = true,
            Some(true) => {}
        }
    }
    if undecided {
        None
    } else {
        Some(true)
    }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// `~` on single items.
pub(crate) fn equivalent_items(a: &Item<'_>, b: &Item<'_>) -> bool {
    if structural(a, b) {
        if let (Item::Node(x), Item::Node(y)) = (a, b) {
            return nodes_equal(x.value(), y.value());
        }
    }
    let Some((pa, pb)) = coerce(a, b) else { return false };
    use Prim::*;
    match (&pa, &pb) {
        (Str(x), Str(y)) => normalize_ws(x) == normalize_ws(y),
        (Dec(_) | Int(_), Dec(_) | Int(_)) => {
            let (x, y) = (dec_of(&pa), dec_of(&pb));
            let s = x.scale().min(y.scale());
            crate::decimal::round(x, s) == crate::decimal::round(y, s)
        }
        (Date(x), Date(y)) => x.precision() == y.precision() && x.compare(y) == Some(Ordering::Equal),
        (Date(x), DateTime(y)) | (DateTime(y), Date(x)) => x.to_datetime().equivalent(y),
        (DateTime(x), DateTime(y)) => x.equivalent(y),
        (Time(x), Time(y)) => x.precision() == y.precision() && x.compare(y) == Some(Ordering::Equal),
        (Quantity(x), Quantity(y)) => x.equivalent(y).unwrap_or(false),
        _ => prim_equal(&pa, &pb).unwrap_or(false),
    }
}

fn dec_of(p: &Prim<'_>) -> Decimal {
    match p {
        Prim::Int(i) => Decimal::from(*i),
        Prim::Dec(d) => *d,
        _ => Decimal::ZERO,
    }
}

/// `~` on collections: same size and each item has an equivalent partner, in any order.
pub(crate) fn equivalent_colls(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && equivalent_items(x, y) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Ordering of two single items; `Ok(None)` if undecidable, an error if not comparable types.
pub(crate) fn compare_items(a: &Item<'_>, b: &Item<'_>) -> Result<Option<Ordering>> {
    let err = || Error::eval(format!("cannot compare {} with {}", a.type_name(), b.type_name()));
    let Some((pa, pb)) = coerce(a, b) else { return Err(err()) };
    use Prim::*;
    Ok(match (&pa, &pb) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(_) | Dec(_), Int(_) | Dec(_)) => Some(dec_of(&pa).cmp(&dec_of(&pb))),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => x.compare(y),
        (Date(x), DateTime(y)) => x.to_datetime().compare(y),
        (DateTime(x), Date(y)) => x.compare(&y.to_datetime()),
        (DateTime(x), DateTime(y)) => x.compare(y),
        (Time(x), Time(y)) => x.compare(y),
        (Quantity(x), Quantity(y)) => x.compare(y),
        _ => return Err(err()),
    })
}

fn compare_op<'a>(op: BinOp, a: &[Item<'a>], b: &[Item<'a>]) -> Result<Coll<'a>> {
    if a.is_empty() || b.is_empty() {
        return Ok(Coll::new());
    }
    if a.len() > 1 || b.len() > 1 {
        return Err(Error::eval(format!("'{}' needs single items", op.symbol())));
    }
    let Some(o) = compare_items(&a[0], &b[0])? else { return Ok(Coll::new()) };
    let r = match op {
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    };
    Ok(one(Item::Boolean(r)))
}

fn overflow() -> Error {
    Error::eval("arithmetic overflow")
}

/// Adds a calendar duration to a date/time value.
fn add_duration<'a>(p: &Prim<'_>, q: &Quantity, negate: bool) -> Result<Item<'a>> {
    let unit = CalUnit::from_unit(&q.unit)
        .ok_or_else(|| Error::eval(format!("'{}' is not a calendar duration usable in date arithmetic", q.unit)))?;
    let n = q.value.trunc();
    let n: i64 = i64::try_from(n).map_err(|_| overflow())?;
    let n = if negate { -n } else { n };
    let r = match p {
        Prim::Date(d) => d.add(n, unit).map(Item::Date),
        Prim::DateTime(d) => d.add(n, unit).map(Item::DateTime),
        Prim::Time(t) => t.add(n, unit).map(Item::Time),
        _ => None,
    };
    r.ok_or_else(|| Error::eval("date arithmetic out of range or unit not applicable"))
}

fn arithmetic<'a>(cx: &Ctx<'a, '_>, op: BinOp, a: &[Item<'a>], b: &[Item<'a>]) -> Result<Coll<'a>> {
    let _ = cx;
    if a.is_empty() || b.is_empty() {
        return Ok(Coll::new());
    }
    if a.len() > 1 || b.len() > 1 {
        return Err(Error::eval(format!("'{}' needs single items", op.symbol())));
    }
    let err = || Error::eval(format!("'{}' cannot apply to {} and {}", op.symbol(), a[0].type_name(), b[0].type_name()));
    let (Some(pa), Some(pb)) = (a[0].prim(), b[0].prim()) else { return Err(err()) };
    use BinOp::*;
    use Prim::*;
    let item = match (op, &pa, &pb) {
        (Add, Str(x), Str(y)) => Item::string(format!("{x}{y}")),
        (Add | Sub, Date(_) | DateTime(_) | Time(_), Quantity(q)) => add_duration(&pa, q, op == Sub)?,
        (Add | Sub | Mul, Int(x), Int(y)) => {
            let r = match op {
                Add => x.checked_add(*y),
                Sub => x.checked_sub(*y),
                _ => x.checked_mul(*y),
            };
            match r {
                Some(r) => Item::Integer(r),
                None => return Ok(Coll::new()),
            }
        }
        (Div, Int(_) | Dec(_), Int(_) | Dec(_)) => match dec_of(&pa).checked_div(dec_of(&pb)) {
            Some(r) => Item::Decimal(r),
            None => return Ok(Coll::new()),
        },
        (IntDiv, Int(x), Int(y)) => match x.checked_div(*y) {
            Some(r) => Item::Integer(r),
            None => return Ok(Coll::new()),
        },
        (IntDiv, Int(_) | Dec(_), Int(_) | Dec(_)) => match dec_of(&pa).checked_div(dec_of(&pb)) {
            Some(r) => Item::Integer(i64::try_from(r.trunc()).map_err(|_| overflow())?),
            None => return Ok(Coll::new()),
        },
        (Mod, Int(x), Int(y)) => match x.checked_rem(*y) {
            Some(r) => Item::Integer(r),
            None => return Ok(Coll::new()),
        },
        (Mod, Int(_) | Dec(_), Int(_) | Dec(_)) => match dec_of(&pa).checked_rem(dec_of(&pb)) {
            Some(r) => Item::Decimal(r),
            None => return Ok(Coll::new()),
        },
        (Add | Sub | Mul, Int(_) | Dec(_), Int(_) | Dec(_)) => {
            let (x, y) = (dec_of(&pa), dec_of(&pb));
            let r = match op {
                Add => x.checked_add(y),
                Sub => x.checked_sub(y),
                _ => x.checked_mul(y),
            };
            Item::Decimal(r.ok_or_else(overflow)?)
        }
        (Add | Sub, Quantity(x), Quantity(y)) => match x.add(y, op == Sub) {
            Some(q) => Item::Quantity(q),
            None => return Ok(Coll::new()),
        },
        (Mul, Quantity(x), Quantity(y)) => Item::Quantity(x.mul(y).ok_or_else(overflow)?),
        (Div, Quantity(x), Quantity(y)) => match x.div(y) {
            Some(q) => Item::Quantity(q),
            None => return Ok(Coll::new()),
        },
        (Mul, Quantity(q), Int(_) | Dec(_)) | (Mul, Int(_) | Dec(_), Quantity(q)) => {
            let n = if matches!(pa, Quantity(_)) { dec_of(&pb) } else { dec_of(&pa) };
            Item::Quantity(crate::quantity::Quantity { value: q.value.checked_mul(n).ok_or_else(overflow)?, unit: q.unit.clone() })
        }
        (Div, Quantity(q), Int(_) | Dec(_)) => match q.value.checked_div(dec_of(&pb)) {
            Some(v) => Item::Quantity(crate::quantity::Quantity { value: v, unit: q.unit.clone() }),
            None => return Ok(Coll::new()),
        },
        _ => return Err(err()),
    };
    Ok(one(item))
}
