//! `iif`, tree navigation, `trace`, the clock, `type()`, and the precision functions.

use rust_decimal::Decimal;

use super::{single_arg, Func};
use crate::ast::Node;
use crate::datetime::DateOrDateTime;
use crate::decimal::boundary;
use crate::error::{Error, Result};
use crate::eval::{one, singleton_integer, to_boolean, Coll, Ctx, Frame};
use crate::item::{Item, Prim, Str};
use crate::navigate::all_children;
use crate::quantity::Quantity;

/// Nodes visited by `descendants()` before giving up (guards against pathological input).
const DESCENDANTS_LIMIT: usize = 1_000_000;

/// `iif(criterion, then, else)`: only the chosen branch is evaluated. With an explicit input
/// the branches see that input as `$this`.
pub(super) fn iif<'a>(cx: &Ctx<'a, '_>, input: Coll<'a>, explicit: bool, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    if explicit && input.len() > 1 {
        return Err(Error::eval(format!("iif() needs at most one input item, got {}", input.len())));
    }
    let frame = if explicit { Frame { focus: &input, index: f.index, total: f.total } } else { *f };
    let c = cx.eval(&args[0], &frame)?;
    let cond = to_boolean(&c, "iif() criterion")?;
    if cond == Some(true) {
        cx.eval(&args[1], &frame)
    } else if let Some(other) = args.get(2) {
        cx.eval(other, &frame)
    } else {
        Ok(Coll::new())
    }
}

fn digits_arg<'a>(cx: &Ctx<'a, '_>, args: &[Node], f: &Frame<'_, 'a>, func: Func) -> Result<Option<i64>> {
    let _ = func;
    match args.first() {
        Some(a) => singleton_integer(&cx.eval(a, f)?, func.name()),
        None => Ok(None),
    }
}

pub(super) fn call<'a>(cx: &Ctx<'a, '_>, func: Func, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use Func::*;
    match func {
        Children => {
            let mut out = Coll::new();
            for it in &input {
                all_children(&mut out, cx.glue, it);
            }
            Ok(out)
        }
        Descendants => {
            let mut out: Coll<'a> = Coll::new();
            let mut level: Coll<'a> = input;
            while !level.is_empty() {
                let mut next = Coll::new();
                for it in &level {
                    all_children(&mut next, cx.glue, it);
                }
                if out.len() + next.len() > DESCENDANTS_LIMIT {
                    return Err(Error::eval("descendants() visited too many nodes"));
                }
                out.extend(next.iter().cloned());
                level = next;
            }
            Ok(out)
        }
        Trace => {
            let name = single_arg(cx, args, 0, f, func)?.and_then(|n| n.as_str().map(str::to_owned)).unwrap_or_default();
            if let Some(tracer) = cx.env.tracer {
                match args.get(1) {
                    Some(proj) => {
                        let frame = Frame { focus: &input, index: None, total: f.total };
                        let v = cx.eval(proj, &frame)?;
                        tracer.trace(&name, &v);
                    }
                    None => tracer.trace(&name, &input),
                }
            }
            Ok(input)
        }
        Now => Ok(one(Item::DateTime(cx.now()))),
        Today => Ok(one(Item::Date(cx.now().date()))),
        TimeOfDay => Ok(cx.now().time().map(|t| one(Item::Time(t))).unwrap_or_default()),
        Type => Ok(input
            .iter()
            .map(|it| {
                let (ns, name) = it.type_parts();
                Item::Type { namespace: ns, name: Str::Shared(name.as_ref().into()) }
            })
            .collect()),
        LowBoundary | HighBoundary | Precision => {
            if input.len() > 1 {
                return Err(Error::eval(format!("{}() needs a single item", func.name())));
            }
            let Some(it) = input.first() else { return Ok(Coll::new()) };
            let Some(p) = it.prim() else { return Err(Error::eval(format!("{}() cannot apply to {}", func.name(), it.type_name()))) };
            if func == Precision {
                let n = match p {
                    Prim::Dec(d) => d.scale() as i64,
                    Prim::Int(_) => 0,
                    Prim::Date(d) => d.precision_digits(),
                    Prim::DateTime(d) => d.precision_digits(),
                    Prim::Time(t) => t.precision_digits(),
                    _ => return Err(Error::eval(format!("precision() cannot apply to {}", it.type_name()))),
                };
                return Ok(one(Item::Integer(n)));
            }
            let high = func == HighBoundary;
            let digits = digits_arg(cx, args, f, func)?;
            let r = match p {
                Prim::Int(i) => boundary(Decimal::from(i), high, digits).map(Item::Decimal),
                Prim::Dec(d) => boundary(d, high, digits).map(Item::Decimal),
                Prim::Quantity(q) => boundary(q.value, high, digits).map(|v| Item::Quantity(Quantity { value: v, unit: q.unit })),
                Prim::Date(d) => d.boundary(high, digits).map(|r| match r {
                    DateOrDateTime::Date(d) => Item::Date(d),
                    DateOrDateTime::DateTime(d) => Item::DateTime(d),
                }),
                Prim::DateTime(d) => d.boundary(high, digits).map(Item::DateTime),
                Prim::Time(t) => t.boundary(high, digits).map(Item::Time),
                _ => return Err(Error::eval(format!("{}() cannot apply to {}", func.name(), it.type_name()))),
            };
            Ok(r.map(one).unwrap_or_default())
        }
        Comparable => {
            if input.len() > 1 {
                return Err(Error::eval("comparable() needs a single quantity"));
            }
            let Some(it) = input.first() else { return Ok(Coll::new()) };
            let Some(other) = single_arg(cx, args, 0, f, func)? else { return Ok(Coll::new()) };
            match (it.prim(), other.prim()) {
                (Some(Prim::Quantity(a)), Some(Prim::Quantity(b))) => Ok(one(Item::Boolean(a.comparable(&b)))),
                _ => Err(Error::eval("comparable() needs quantities")),
            }
        }
        _ => Err(Error::eval(format!("{}() is not a utility function", func.name()))),
    }
}
