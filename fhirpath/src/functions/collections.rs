//! Existence, filtering and projection, subsetting, combining, aggregation, sorting and
//! the type functions: everything that works on the collection as a whole.

use std::cmp::Ordering;

use super::{arg, single_arg, Func};
use crate::ast::{Node, NodeKind, TypeSpec};
use crate::error::{Error, Result};
use crate::eval::{one, singleton_integer, to_boolean, Coll, Ctx, Frame};
use crate::item::Item;
use crate::ops::{compare_items, equal_items, union};

/// Iterations of `repeat` before it is considered runaway.
const REPEAT_LIMIT: usize = 20_000;

fn boolean<'a>(b: bool) -> Result<Coll<'a>> {
    Ok(one(Item::Boolean(b)))
}

fn contains(c: &[Item<'_>], it: &Item<'_>) -> bool {
    c.iter().any(|x| equal_items(x, it) == Some(true))
}

/// Runs `body` for each item with `$this` and `$index` set.
fn each<'a, T>(
    input: &[Item<'a>],
    f: &Frame<'_, 'a>,
    mut body: impl FnMut(usize, &Item<'a>, &Frame<'_, 'a>) -> Result<Option<T>>,
) -> Result<Option<T>> {
    for (i, it) in input.iter().enumerate() {
        let frame = Frame { focus: std::slice::from_ref(it), index: Some(i), total: f.total };
        if let Some(r) = body(i, it, &frame)? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

fn criterion<'a>(cx: &Ctx<'a, '_>, node: &Node, frame: &Frame<'_, 'a>, func: Func) -> Result<bool> {
    Ok(to_boolean(&cx.eval(node, frame)?, func.name())? == Some(true))
}

fn booleans(input: &[Item<'_>], func: Func) -> Result<Vec<bool>> {
    input
        .iter()
        .map(|it| it.as_bool().ok_or_else(|| Error::eval(format!("{}() needs booleans, got {}", func.name(), it.type_name()))))
        .collect()
}

pub(super) fn call<'a>(
    cx: &Ctx<'a, '_>,
    func: Func,
    input: Coll<'a>,
    args: &[Node],
    types: Option<&TypeSpec>,
    f: &Frame<'_, 'a>,
) -> Result<Coll<'a>> {
    use Func::*;
    match func {
        Empty => boolean(input.is_empty()),
        Exists => match args.first() {
            None => boolean(!input.is_empty()),
            Some(c) => boolean(each(&input, f, |_, _, fr| Ok(criterion(cx, c, fr, func)?.then_some(())))?.is_some()),
        },
        All => {
            let c = &args[0];
            boolean(each(&input, f, |_, _, fr| Ok((!criterion(cx, c, fr, func)?).then_some(())))?.is_none())
        }
        AllTrue => boolean(booleans(&input, func)?.iter().all(|b| *b)),
        AnyTrue => boolean(booleans(&input, func)?.iter().any(|b| *b)),
        AllFalse => boolean(booleans(&input, func)?.iter().all(|b| !*b)),
        AnyFalse => boolean(booleans(&input, func)?.iter().any(|b| !*b)),
        SubsetOf => {
            let other = arg(cx, args, 0, f)?;
            boolean(input.iter().all(|it| contains(&other, it)))
        }
        SupersetOf => {
            let other = arg(cx, args, 0, f)?;
            boolean(other.iter().all(|it| contains(&input, it)))
        }
        Count => Ok(one(Item::Integer(input.len() as i64))),
        Distinct => {
            let mut out = Coll::new();
            for it in input {
                if !contains(&out, &it) {
                    out.push(it);
                }
            }
            Ok(out)
        }
        IsDistinct => {
            let mut seen: Coll<'a> = Coll::new();
            for it in &input {
                if contains(&seen, it) {
                    return boolean(false);
                }
                seen.push(it.clone());
            }
            boolean(true)
        }
        Where => {
            let c = &args[0];
            let mut out = Coll::new();
            each(&input, f, |_, it, fr| {
                if criterion(cx, c, fr, func)? {
                    out.push(it.clone());
                }
                Ok(None::<()>)
            })?;
            Ok(out)
        }
        Select => {
            let c = &args[0];
            let mut out = Coll::new();
            each(&input, f, |_, _, fr| {
                out.extend(cx.eval(c, fr)?);
                Ok(None::<()>)
            })?;
            Ok(out)
        }
        Repeat => {
            let c = &args[0];
            let mut out: Coll<'a> = Coll::new();
            let mut queue: Vec<Item<'a>> = input.into_vec();
            let mut steps = 0;
            while !queue.is_empty() {
                let mut next = Vec::new();
                for it in &queue {
                    steps += 1;
                    if steps > REPEAT_LIMIT {
                        return Err(Error::eval("repeat() did not terminate"));
                    }
                    let frame = Frame { focus: std::slice::from_ref(it), index: None, total: f.total };
                    for r in cx.eval(c, &frame)? {
                        if !contains(&out, &r) {
                            out.push(r.clone());
                            next.push(r);
                        }
                    }
                }
                queue = next;
            }
            Ok(out)
        }
        OfType => {
            let ty = types.ok_or_else(|| Error::eval("ofType() needs a type"))?;
            let mut out = Coll::new();
            for it in input {
                if cx.is_exact_type(&it, ty)? {
                    out.push(it);
                }
            }
            Ok(out)
        }
        Is => {
            let ty = types.ok_or_else(|| Error::eval("is() needs a type"))?;
            match input.len() {
                0 => Ok(Coll::new()),
                1 => boolean(cx.is_type(&input[0], ty)?),
                n => Err(Error::eval(format!("is() needs a single item, got {n}"))),
            }
        }
        As => {
            let ty = types.ok_or_else(|| Error::eval("as() needs a type"))?;
            match input.len() {
                0 => Ok(Coll::new()),
                1 => Ok(if cx.is_exact_type(&input[0], ty)? { input } else { Coll::new() }),
                n => Err(Error::eval(format!("as() needs a single item, got {n}"))),
            }
        }
        Not => Ok(match to_boolean(&input, "not()")? {
            Some(b) => one(Item::Boolean(!b)),
            None => Coll::new(),
        }),
        Single => match input.len() {
            0 | 1 => Ok(input),
            n => Err(Error::eval(format!("single() found {n} items"))),
        },
        First => Ok(input.into_iter().take(1).collect()),
        Last => Ok(input.into_iter().last().into_iter().collect()),
        Tail => Ok(input.into_iter().skip(1).collect()),
        Skip => {
            let n = singleton_integer(&arg(cx, args, 0, f)?, "skip()")?.unwrap_or(0);
            Ok(input.into_iter().skip(n.max(0) as usize).collect())
        }
        Take => {
            let n = singleton_integer(&arg(cx, args, 0, f)?, "take()")?.unwrap_or(0);
            Ok(input.into_iter().take(n.max(0) as usize).collect())
        }
        Intersect => {
            let other = arg(cx, args, 0, f)?;
            let mut out = Coll::new();
            for it in input {
                if contains(&other, &it) && !contains(&out, &it) {
                    out.push(it);
                }
            }
            Ok(out)
        }
        Exclude => {
            let other = arg(cx, args, 0, f)?;
            Ok(input.into_iter().filter(|it| !contains(&other, it)).collect())
        }
        Union => Ok(union(input, arg(cx, args, 0, f)?)),
        Combine => {
            let mut out = input;
            out.extend(arg(cx, args, 0, f)?);
            Ok(out)
        }
        Aggregate => {
            let mut total: Coll<'a> = match args.get(1) {
                Some(init) => cx.eval(init, f)?,
                None => Coll::new(),
            };
            for (i, it) in input.iter().enumerate() {
                let frame = Frame { focus: std::slice::from_ref(it), index: Some(i), total: Some(&total) };
                total = cx.eval(&args[0], &frame)?;
            }
            Ok(total)
        }
        Sort => sort(cx, input, args, f),
        _ => {
            let _ = single_arg;
            Err(Error::eval(format!("{}() is not a collection function", func.name())))
        }
    }
}

/// `sort(key, -key2...)`: a leading minus on a key sorts that key descending.
fn sort<'a>(cx: &Ctx<'a, '_>, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    let mut keyed: Vec<(Vec<Option<Item<'a>>>, Item<'a>)> = Vec::with_capacity(input.len());
    let keys: Vec<(&Node, bool)> = args
        .iter()
        .map(|a| match &a.kind {
            NodeKind::Negate(inner) => (&**inner, true),
            _ => (a, false),
        })
        .collect();
    for (i, it) in input.into_iter().enumerate() {
        let mut ks = Vec::with_capacity(keys.len().max(1));
        if keys.is_empty() {
            ks.push(Some(it.clone()));
        }
        for (k, _) in &keys {
            let frame = Frame { focus: std::slice::from_ref(&it), index: Some(i), total: f.total };
            let mut v = cx.eval(k, &frame)?;
            if v.len() > 1 {
                return Err(Error::eval("sort() keys must be single items"));
            }
            ks.push(v.pop());
        }
        keyed.push((ks, it));
    }
    let mut err = None;
    keyed.sort_by(|(a, _), (b, _)| {
        for (j, (x, y)) in a.iter().zip(b).enumerate() {
            let desc = keys.get(j).is_some_and(|k| k.1);
            // Items without a key come first in either direction.
            let o = match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match compare_items(x, y) {
                    Ok(o) => o.unwrap_or(Ordering::Equal),
                    Err(e) => {
                        err.get_or_insert(e);
                        Ordering::Equal
                    }
                },
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if let Some(e) = err {
        return Err(e);
    }
    Ok(keyed.into_iter().map(|(_, it)| it).collect())
}
