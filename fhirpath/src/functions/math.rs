//! Math functions. Exact operations stay in decimals; exp/ln/log/power/sqrt go through f64.

use rust_decimal::Decimal;

use super::{single_arg, Func};
use crate::ast::Node;
use crate::decimal::{from_f64, round, to_f64};
use crate::error::{Error, Result};
use crate::eval::{one, Coll, Ctx, Frame};
use crate::item::{Item, Prim};
use crate::quantity::Quantity;

fn int_of(d: Decimal) -> Result<Item<'static>> {
    i64::try_from(d).map(Item::Integer).map_err(|_| Error::eval("result out of integer range"))
}

fn number(p: &Prim<'_>) -> Option<Decimal> {
    match p {
        Prim::Int(i) => Some(Decimal::from(*i)),
        Prim::Dec(d) => Some(*d),
        _ => None,
    }
}

pub(super) fn call<'a>(cx: &Ctx<'a, '_>, func: Func, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use Func::*;
    if input.len() > 1 {
        return Err(Error::eval(format!("{}() needs a single number, got {} items", func.name(), input.len())));
    }
    let Some(it) = input.first() else { return Ok(Coll::new()) };
    let bad = || Error::eval(format!("{}() needs a number, got {}", func.name(), it.type_name()));
    let p = it.prim().ok_or_else(bad)?;
    if func == Abs {
        return Ok(one(match p {
            Prim::Int(i) => Item::Integer(i.checked_abs().ok_or_else(|| Error::eval("integer overflow"))?),
            Prim::Dec(d) => Item::Decimal(d.abs()),
            Prim::Quantity(q) => Item::Quantity(Quantity { value: q.value.abs(), unit: q.unit }),
            _ => return Err(bad()),
        }));
    }
    let x = number(&p).ok_or_else(bad)?;
    let arg_num = |i: usize| -> Result<Option<Decimal>> {
        match single_arg(cx, args, i, f, func)? {
            None => Ok(None),
            Some(a) => a.prim().as_ref().and_then(number).map(Some).ok_or_else(|| Error::eval(format!("{}() needs a numeric argument", func.name()))),
        }
    };
    let float = |v: Option<f64>| -> Coll<'a> { v.and_then(from_f64).map(|d| one(Item::Decimal(d))).unwrap_or_default() };
    let fx = to_f64(x);
    Ok(match func {
        Ceiling => one(int_of(x.ceil())?),
        Floor => one(int_of(x.floor())?),
        Truncate => one(int_of(x.trunc())?),
        Round => {
            let dp = match arg_num(0)? {
                Some(d) if d >= Decimal::ZERO && d <= Decimal::from(28) => u32::try_from(d.trunc()).unwrap_or(0),
                Some(_) => return Err(Error::eval("round() precision must be between 0 and 28")),
                None => 0,
            };
            one(Item::Decimal(round(x, dp)))
        }
        Exp => float(fx.map(f64::exp)),
        Ln => float(fx.filter(|v| *v > 0.0).map(f64::ln)),
        Sqrt => float(fx.filter(|v| *v >= 0.0).map(f64::sqrt)),
        Log => {
            let Some(base) = arg_num(0)? else { return Ok(Coll::new()) };
            let b = to_f64(base).filter(|b| *b > 0.0 && *b != 1.0);
            float(fx.filter(|v| *v > 0.0).zip(b).map(|(v, b)| v.ln() / b.ln()))
        }
        Power => {
            let Some(e) = arg_num(0)? else { return Ok(Coll::new()) };
            if let (Prim::Int(base), true) = (&p, e.fract().is_zero() && e >= Decimal::ZERO) {
                if let Ok(exp) = u32::try_from(e.trunc()) {
                    return Ok(base.checked_pow(exp).map(|v| one(Item::Integer(v))).unwrap_or_default());
                }
            }
            let r = fx.zip(to_f64(e)).map(|(b, e)| b.powf(e)).filter(|r| r.is_finite());
            float(r)
        }
        _ => return Err(Error::eval(format!("{}() is not a math function", func.name()))),
    })
}
