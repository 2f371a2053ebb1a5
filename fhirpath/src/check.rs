//! A static check of an expression against a context type. It only reports what is
//! certain: an element that no possible (concrete) type has, a string function applied to a
//! complex type, a non-boolean `iif` criterion, date arithmetic with a plain number, and in
//! strict mode a path rooted at another resource type or order-dependent functions applied
//! to `children()`/`descendants()`.

use crate::ast::{BinOp, Literal, Namespace, Node, NodeKind, TypeSpec};
use crate::error::{Error, Result};
use crate::functions::Func;
use crate::model::Glue;

/// What the check enforces beyond the always-on rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Strict mode: a path must start at the context type.
    pub strict: bool,
    /// Reject order-dependent functions (`first()`, `skip()`, `[n]`...) on unordered collections.
    pub ordered_functions: bool,
}

/// What is known statically about a collection.
#[derive(Debug, Clone)]
enum St {
    Unknown,
    /// FHIR types it may hold.
    Fhir(Vec<&'static str>),
    /// A System type.
    System(&'static str),
}

#[derive(Debug, Clone)]
struct Ty {
    t: St,
    ordered: bool,
}

impl Ty {
    fn unknown() -> Ty {
        Ty { t: St::Unknown, ordered: true }
    }
    fn system(s: &'static str) -> Ty {
        Ty { t: St::System(s), ordered: true }
    }
}

struct Checker<'g> {
    glue: &'g Glue,
    src: &'g str,
    opts: CheckOptions,
}

/// Runs the check; `Ok` when nothing certain is wrong.
pub(crate) fn check(glue: &Glue, src: &str, root: &Node, context_type: &str, opts: &CheckOptions) -> Result<()> {
    if !glue.typed() {
        return Ok(());
    }
    let focus = match glue.static_name(context_type) {
        Some(t) => Ty { t: St::Fhir(vec![t]), ordered: true },
        None => Ty::unknown(),
    };
    let c = Checker { glue, src, opts: *opts };
    c.walk(root, &focus, true).map(|_| ())
}

fn literal_type(l: &Literal) -> &'static str {
    match l {
        Literal::Boolean(_) => "Boolean",
        Literal::String(_) => "String",
        Literal::Integer(_) => "Integer",
        Literal::Decimal(_) => "Decimal",
        Literal::Date(_) => "Date",
        Literal::DateTime(_) => "DateTime",
        Literal::Time(_) => "Time",
        Literal::Quantity(..) => "Quantity",
    }
}

impl Checker<'_> {
    fn err(&self, node: &Node, msg: String) -> Error {
        Error::semantic(self.src, node.pos as usize, msg)
    }

    fn member(&self, node: &Node, input: &Ty, name: &str) -> Result<Ty> {
        let St::Fhir(types) = &input.t else { return Ok(Ty { t: St::Unknown, ordered: input.ordered }) };
        let mut out: Vec<&'static str> = Vec::new();
        let mut certain = true;
        for t in types {
            let Some(ti) = self.glue.type_info(t) else {
                certain = false;
                continue;
            };
            match ti.element(name) {
                Some(el) => {
                    for (ty, _) in &el.types {
                        if !out.contains(ty) {
                            out.push(ty);
                        }
                    }
                }
                None => {
                    // An abstract type (Resource) may stand for a subtype that has the element.
                    if ti.is_abstract || matches!(*t, "Element" | "BackboneElement" | "DomainResource" | "Resource") {
                        certain = false;
                    }
                }
            }
        }
        if out.is_empty() {
            if certain && !types.is_empty() {
                return Err(self.err(node, format!("'{name}' is not an element of {}", types.join(" | "))));
            }
            return Ok(Ty { t: St::Unknown, ordered: input.ordered });
        }
        if !certain || out.iter().any(|t| t.starts_with("System.")) {
            return Ok(Ty { t: St::Unknown, ordered: input.ordered });
        }
        Ok(Ty { t: St::Fhir(out), ordered: input.ordered })
    }

    fn type_of_spec(&self, ty: &TypeSpec) -> St {
        match ty.ns {
            Namespace::System => St::Unknown,
            _ => match self.glue.static_name(&ty.name) {
                Some(t) => St::Fhir(vec![t]),
                None => St::Unknown,
            },
        }
    }

    fn is_complex(&self, t: &Ty) -> Option<&'static str> {
        match &t.t {
            St::Fhir(ts) if !ts.is_empty() => {
                let all_complex = ts.iter().all(|x| self.glue.has_type(x) && !self.glue.is_primitive(x));
                all_complex.then_some(ts[0])
            }
            _ => None,
        }
    }

    fn walk(&self, node: &Node, focus: &Ty, at_root: bool) -> Result<Ty> {
        Ok(match &node.kind {
            NodeKind::Empty => Ty::unknown(),
            NodeKind::Literal(l) => Ty::system(literal_type(l)),
            NodeKind::Ident(name) => {
                let n = &*name.name;
                if n.starts_with(|c: char| c.is_ascii_uppercase()) {
                    if let St::Fhir(ts) = &focus.t {
                        if ts.iter().any(|t| self.glue.is_subtype(t, n)) {
                            return Ok(focus.clone());
                        }
                        if self.glue.is_resource(n) {
                            let downcast = ts.iter().any(|t| self.glue.is_subtype(n, t));
                            if self.opts.strict && at_root && !downcast {
                                return Err(self.err(node, format!("the expression is about {n} but the context is {}", ts.join(" | "))));
                            }
                            return Ok(Ty::unknown());
                        }
                    }
                }
                self.member(node, focus, n)?
            }
            NodeKind::Member(t, name) => {
                let input = self.walk(t, focus, at_root)?;
                self.member(node, &input, &name.name)?
            }
            NodeKind::Index(t, i) => {
                let input = self.walk(t, focus, at_root)?;
                self.walk(i, focus, false)?;
                if self.opts.ordered_functions && !input.ordered {
                    return Err(self.err(node, "indexing an unordered collection".into()));
                }
                input
            }
            NodeKind::Negate(inner) => self.walk(inner, focus, false)?,
            NodeKind::Binary(op, l, r) => {
                let a = self.walk(l, focus, at_root)?;
                let b = self.walk(r, focus, at_root)?;
                match op {
                    BinOp::Add | BinOp::Sub => {
                        if let (St::System(x), St::System(y)) = (&a.t, &b.t) {
                            if matches!(*x, "Date" | "DateTime" | "Time") && matches!(*y, "Integer" | "Decimal") {
                                return Err(self.err(node, format!("cannot add a {y} to a {x}; use a duration")));
                            }
                        }
                        Ty::unknown()
                    }
                    BinOp::Union => match (a.t, b.t) {
                        (St::Fhir(mut x), St::Fhir(y)) => {
                            for t in y {
                                if !x.contains(&t) {
                                    x.push(t);
                                }
                            }
                            Ty { t: St::Fhir(x), ordered: false }
                        }
                        _ => Ty { t: St::Unknown, ordered: false },
                    },
                    BinOp::Mul | BinOp::Div | BinOp::IntDiv | BinOp::Mod | BinOp::Concat => Ty::unknown(),
                    _ => Ty::system("Boolean"),
                }
            }
            NodeKind::Is(inner, _) => {
                self.walk(inner, focus, at_root)?;
                Ty::system("Boolean")
            }
            NodeKind::As(inner, ty) => {
                let i = self.walk(inner, focus, at_root)?;
                Ty { t: self.type_of_spec(ty), ordered: i.ordered }
            }
            NodeKind::This => focus.clone(),
            NodeKind::IndexVar => Ty::system("Integer"),
            NodeKind::Total | NodeKind::Var(_) => Ty::unknown(),
            NodeKind::Call { target, func, args, types } => {
                let input = match target {
                    Some(t) => self.walk(t, focus, at_root)?,
                    None => focus.clone(),
                };
                self.call(node, *func, &input, args, types.as_ref(), focus)?
            }
        })
    }

    fn call(&self, node: &Node, func: Func, input: &Ty, args: &[Node], types: Option<&TypeSpec>, focus: &Ty) -> Result<Ty> {
        use Func::*;
        let item_focus = Ty { t: input.t.clone(), ordered: true };
        let iterates = matches!(func, Where | Select | Exists | All | Repeat | Sort | Aggregate | Trace);
        let mut arg_types = Vec::with_capacity(args.len());
        for a in args {
            let f = if iterates || func == Iif { &item_focus } else { focus };
            arg_types.push(self.walk(a, f, false)?);
        }
        if self.opts.ordered_functions && !input.ordered && matches!(func, First | Last | Tail | Skip | Take | Single) {
            return Err(self.err(node, format!("{}() needs an ordered collection", func.name())));
        }
        if matches!(
            func,
            StartsWith | EndsWith | Contains | Matches | MatchesFull | ReplaceMatches | Replace | IndexOf | LastIndexOf
                | Substring | Upper | Lower | Length | ToChars | Trim | Split
        ) {
            if let Some(t) = self.is_complex(input) {
                return Err(self.err(node, format!("{}() applies to strings, not {t}", func.name())));
            }
        }
        if func == Iif {
            let crit = &arg_types[0];
            let not_boolean = match &crit.t {
                St::System(s) => *s != "Boolean",
                St::Fhir(ts) => ts.iter().all(|t| *t != "boolean" && self.glue.has_type(t)),
                St::Unknown => false,
            };
            if not_boolean {
                return Err(self.err(&args[0], "the criterion of iif() must be a boolean".into()));
            }
        }
        Ok(match func {
            Where | First | Last | Tail | Skip | Take | Single | Distinct | Intersect | Exclude | Trace => input.clone(),
            Select => Ty { t: arg_types[0].t.clone(), ordered: input.ordered },
            OfType | As => Ty { t: types.map(|t| self.type_of_spec(t)).unwrap_or(St::Unknown), ordered: input.ordered },
            Extension => Ty { t: St::Fhir(self.glue.static_name("Extension").into_iter().collect()), ordered: input.ordered },
            Children | Descendants => Ty { t: St::Unknown, ordered: false },
            Empty | Exists | All | AllTrue | AnyTrue | AllFalse | AnyFalse | SubsetOf | SupersetOf | IsDistinct | Is | Not
            | StartsWith | EndsWith | Contains | Matches | MatchesFull | HasValue | HtmlChecks | ConformsTo | MemberOf => {
                Ty::system("Boolean")
            }
            Count | Length | IndexOf | LastIndexOf => Ty::system("Integer"),
            ToStringF | Upper | Lower | Substring | Replace | ReplaceMatches | Trim | Join => Ty::system("String"),
            _ => Ty::unknown(),
        })
    }
}
