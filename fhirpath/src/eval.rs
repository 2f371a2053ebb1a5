//! The tree-walking evaluator: collections in, collections out.

use std::cell::OnceCell;

use serde_json::Value;
use smallvec::SmallVec;

use crate::ast::{Literal, Namespace, Node, NodeKind, TypeSpec};
use crate::datetime::DateTime;
use crate::error::{Error, Result};
use crate::functions;
use crate::item::{Item, Str};
use crate::model::{Glue, Sys};
use crate::navigate::{children_named, owned_root, root_node};
use crate::ops;
use crate::{Env, VarValue};

/// A collection; one item stays inline.
pub(crate) type Coll<'a> = SmallVec<[Item<'a>; 1]>;

/// The iteration variables in scope.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'f, 'a> {
    /// `$this`: the focus collection (one item inside an iteration).
    pub focus: &'f [Item<'a>],
    pub index: Option<usize>,
    pub total: Option<&'f [Item<'a>]>,
}

/// Everything an evaluation reads besides the frame.
pub(crate) struct Ctx<'a, 'e> {
    pub glue: &'e Glue,
    pub env: &'e Env<'a>,
    pub src: &'e str,
    /// The resource the evaluation started on (`%resource`, `%rootResource`).
    pub resource: Option<&'a Value>,
    now: OnceCell<DateTime>,
}

impl<'a, 'e> Ctx<'a, 'e> {
    pub fn new(glue: &'e Glue, env: &'e Env<'a>, src: &'e str, resource: Option<&'a Value>) -> Self {
        Ctx { glue, env, src, resource, now: OnceCell::new() }
    }

    /// The evaluation's clock: fixed by the environment or read once per evaluation.
    pub fn now(&self) -> DateTime {
        *self.now.get_or_init(|| {
            let t = self.env.now.unwrap_or_else(std::time::SystemTime::now);
            let ms = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            };
            DateTime::from_unix_millis(ms, self.env.tz_offset_minutes)
        })
    }

    /// Evaluates `node` in `frame`, attaching the node's position to an error that has none.
    pub fn eval(&self, node: &Node, frame: &Frame<'_, 'a>) -> Result<Coll<'a>> {
        self.eval_inner(node, frame).map_err(|mut e| {
            if e.position.is_none() {
                e.position = Some(crate::error::Position::at(self.src, node.pos as usize));
            }
            e
        })
    }

    fn eval_inner(&self, node: &Node, frame: &Frame<'_, 'a>) -> Result<Coll<'a>> {
        Ok(match &node.kind {
            NodeKind::Empty => Coll::new(),
            NodeKind::Literal(l) => {
                let mut c = Coll::new();
                c.push(literal(l));
                c
            }
            NodeKind::Ident(name) => {
                let mut out = Coll::new();
                for it in frame.focus {
                    // A path may start with the type of its context: `Patient.name` on a Patient.
                    if name.name.starts_with(|c: char| c.is_ascii_uppercase()) && self.is_type_name_of(it, &name.name) {
                        out.push(it.clone());
                        continue;
                    }
                    children_named(&mut out, self.glue, it, &name.name, &name.ext);
                }
                out
            }
            NodeKind::Member(target, name) => {
                let input = self.eval(target, frame)?;
                let mut out = Coll::new();
                for it in &input {
                    children_named(&mut out, self.glue, it, &name.name, &name.ext);
                }
                out
            }
            NodeKind::Call { target, func, args, types } => {
                let input = match target {
                    Some(t) => self.eval(t, frame)?,
                    None => frame.focus.iter().cloned().collect(),
                };
                functions::call(self, *func, input, target.is_some(), args, types.as_ref(), frame)?
            }
            NodeKind::Index(target, idx) => {
                let input = self.eval(target, frame)?;
                let i = self.eval(idx, frame)?;
                let Some(i) = singleton_integer(&i, "indexer")? else { return Ok(Coll::new()) };
                let mut out = Coll::new();
                if i >= 0 {
                    if let Some(it) = input.into_iter().nth(i as usize) {
                        out.push(it);
                    }
                }
                out
            }
            NodeKind::Negate(inner) => {
                let v = self.eval(inner, frame)?;
                ops::negate(v)?
            }
            NodeKind::Binary(op, l, r) => ops::binary(self, *op, l, r, frame)?,
            NodeKind::Is(inner, ty) => {
                let v = self.eval(inner, frame)?;
                match v.len() {
                    0 => Coll::new(),
                    1 => one(Item::Boolean(self.is_type(&v[0], ty)?)),
                    n => return Err(Error::eval(format!("'is' needs a single item, got {n}"))),
                }
            }
            NodeKind::As(inner, ty) => {
                // The operator filters (R4 search parameters apply it to collections, e.g.
                // `(Observation.component.value as Quantity)`); the `as()` function is strict.
                let v = self.eval(inner, frame)?;
                let mut out = Coll::new();
                for it in v {
                    if self.is_exact_type(&it, ty)? {
                        out.push(it);
                    }
                }
                out
            }
            NodeKind::This => frame.focus.iter().cloned().collect(),
            NodeKind::IndexVar => match frame.index {
                Some(i) => one(Item::Integer(i as i64)),
                None => Coll::new(),
            },
            NodeKind::Total => match frame.total {
                Some(t) => t.iter().cloned().collect(),
                None => Coll::new(),
            },
            NodeKind::Var(name) => self.variable(name)?,
        })
    }

    /// `%name`.
    fn variable(&self, name: &str) -> Result<Coll<'a>> {
        let s = |v: &'static str| Ok(one(Item::String(Str::Borrowed(v))));
        if let Some(v) = self.env.vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(match &v.1 {
                VarValue::Items(items) => items.iter().cloned().collect(),
                VarValue::Ref(v) => one(Item::Node(root_node(self.glue, v))),
                VarValue::Json(v) => json_items(self.glue, v),
            });
        }
        match name {
            "resource" | "rootResource" => Ok(self.resource.map(|r| one(Item::Node(root_node(self.glue, r)))).unwrap_or_default()),
            "context" => {
                let c = self.env.context.or(self.resource);
                Ok(c.map(|r| one(Item::Node(root_node(self.glue, r)))).unwrap_or_default())
            }
            "ucum" => s("http://unitsofmeasure.org"),
            "sct" => s("http://snomed.info/sct"),
            "loinc" => s("http://loinc.org"),
            _ => {
                if let Some(rest) = name.strip_prefix("vs-") {
                    return Ok(one(Item::string(format!("http://hl7.org/fhir/ValueSet/{rest}"))));
                }
                if let Some(rest) = name.strip_prefix("ext-") {
                    return Ok(one(Item::string(format!("http://hl7.org/fhir/StructureDefinition/{rest}"))));
                }
                Err(Error::eval(format!("unknown variable %{name}")))
            }
        }
    }

    /// Whether a path's leading `name` is the type of `it` (or a supertype of it).
    fn is_type_name_of(&self, it: &Item<'a>, name: &str) -> bool {
        let Item::Node(n) = it else { return false };
        if n.ty.is_empty() {
            return false;
        }
        if self.glue.typed() {
            self.glue.is_subtype(n.ty, name)
        } else {
            n.ty == name || ((name == "Resource" || name == "DomainResource") && n.value().is_some_and(|v| v.get("resourceType").is_some()))
        }
    }

    /// Checks that a FHIR type name exists, when a model can tell.
    fn known_fhir(&self, name: &str) -> bool {
        !self.glue.typed() || self.glue.has_type(name)
    }

    fn unknown_type(&self, ty: &TypeSpec) -> Result<bool> {
        let known = match ty.ns {
            // `System.Patient` is a well-formed name that no value has: false, not an error.
            Namespace::System => true,
            Namespace::Fhir => self.known_fhir(&ty.name),
            Namespace::Any => system_type_name(&ty.name) || self.known_fhir(&ty.name),
        };
        if known {
            Ok(false)
        } else {
            Err(Error::eval(format!("unknown type '{}'", ty.name)))
        }
    }

    /// `is`: the item's type is the named type or derives from it.
    pub fn is_type(&self, it: &Item<'a>, ty: &TypeSpec) -> Result<bool> {
        self.type_test(it, ty, false)
    }

    /// `as` / `ofType`: like `is`, except that FHIR primitive specialisations (`code` for
    /// `string`) do not count as the base primitive, as the suite expects.
    pub fn is_exact_type(&self, it: &Item<'a>, ty: &TypeSpec) -> Result<bool> {
        self.type_test(it, ty, true)
    }

    fn type_test(&self, it: &Item<'a>, ty: &TypeSpec, exact_primitive: bool) -> Result<bool> {
        self.unknown_type(ty)?;
        let (ns, name) = it.type_parts();
        let fhir_ok = matches!(ty.ns, Namespace::Fhir | Namespace::Any);
        let system_ok = matches!(ty.ns, Namespace::System | Namespace::Any);
        if ns == "FHIR" {
            if !fhir_ok {
                return Ok(false);
            }
            if !self.glue.typed() {
                let n = it.as_node();
                return Ok(name == *ty.name
                    || (matches!(&*ty.name, "Resource" | "DomainResource") && n.is_some_and(|n| n.value().is_some_and(|v| v.get("resourceType").is_some()))));
            }
            if exact_primitive && self.glue.is_primitive(&name) {
                return Ok(name == *ty.name);
            }
            return Ok(self.glue.is_subtype(&name, &ty.name));
        }
        Ok(system_ok && name == *ty.name)
    }
}

fn system_type_name(n: &str) -> bool {
    matches!(n, "Boolean" | "String" | "Integer" | "Long" | "Decimal" | "Date" | "DateTime" | "Time" | "Quantity" | "Any")
}

/// A one-item collection.
pub(crate) fn one(it: Item<'_>) -> Coll<'_> {
    let mut c = Coll::new();
    c.push(it);
    c
}

pub(crate) fn literal<'a>(l: &Literal) -> Item<'a> {
    match l {
        Literal::Boolean(b) => Item::Boolean(*b),
        Literal::String(s) => Item::String(Str::Shared(s.clone())),
        Literal::Integer(i) => Item::Integer(*i),
        Literal::Decimal(d) => Item::Decimal(*d),
        Literal::Date(d) => Item::Date(*d),
        Literal::DateTime(d) => Item::DateTime(*d),
        Literal::Time(t) => Item::Time(*t),
        Literal::Quantity(v, u) => Item::Quantity(crate::quantity::Quantity { value: *v, unit: u.clone() }),
    }
}

/// Items of an owned JSON variable.
pub(crate) fn json_items<'a>(glue: &Glue, v: &Value) -> Coll<'a> {
    match v {
        Value::Null => Coll::new(),
        Value::Array(a) => a.iter().flat_map(|x| json_items(glue, x)).collect(),
        Value::Bool(b) => one(Item::Boolean(*b)),
        Value::String(s) => one(Item::string(s.clone())),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !n.to_string().contains(['.', 'e', 'E']) => one(Item::Integer(i)),
            _ => crate::item::json_decimal(n).map(|d| one(Item::Decimal(d))).unwrap_or_default(),
        },
        Value::Object(_) => one(Item::Node(owned_root(glue, v.clone()))),
    }
}

/// The single integer of a collection, `None` when empty; an error for several items or another type.
pub(crate) fn singleton_integer(c: &[Item<'_>], what: &str) -> Result<Option<i64>> {
    match c {
        [] => Ok(None),
        [it] => match it.as_integer() {
            Some(i) => Ok(Some(i)),
            None => Err(Error::eval(format!("{what} needs an integer"))),
        },
        _ => Err(Error::eval(format!("{what} needs a single integer, got {} items", c.len()))),
    }
}

/// Singleton evaluation of a collection as a boolean: empty → None; one Boolean → it;
/// one other item → true; several → error.
pub(crate) fn to_boolean(c: &[Item<'_>], what: &str) -> Result<Option<bool>> {
    match c {
        [] => Ok(None),
        [it] => Ok(Some(it.as_bool().unwrap_or(true))),
        _ => Err(Error::eval(format!("{what} needs a single boolean, got {} items", c.len()))),
    }
}

/// Whether the system mapping makes `it` a String (for string functions).
pub(crate) fn is_stringish(it: &Item<'_>) -> bool {
    match it {
        Item::String(_) => true,
        Item::Node(n) => matches!(n.sys, Sys::String | Sys::Unknown) && n.value().is_some_and(Value::is_string),
        _ => false,
    }
}
