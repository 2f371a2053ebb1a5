//! FHIRPath (N1, with the FHIR R4 additions) evaluated over borrowed `serde_json` values.
//!
//! Expressions are compiled once (and cached by text); evaluation walks the resource in
//! place, typed through an optional [`fhir_model::Model`], and returns [`Item`]s that point
//! into the input where they come from it.
//!
//! ```
//! use fhirpath::Engine;
//! let engine = Engine::new(None);
//! let patient = serde_json::json!({"resourceType": "Patient", "name": [{"given": ["Peter", "James"]}]});
//! let given = engine.eval("Patient.name.given.first()", &patient).unwrap();
//! assert_eq!(given[0].as_str(), Some("Peter"));
//! ```

#![warn(missing_docs)]

mod ast;
mod check;
mod datetime;
mod decimal;
mod error;
mod eval;
mod functions;
mod item;
mod lexer;
mod model;
mod navigate;
mod ops;
mod parser;
mod quantity;
mod ucum;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde_json::Value;

pub use check::CheckOptions;
pub use datetime::{Date, DateTime, Precision, Time};
pub use error::{Error, ErrorKind, Position, Result};
pub use item::{Item, Node, Str};
pub use quantity::Quantity;
pub use rust_decimal::Decimal;

/// A UCUM unit reduced to base units: the factor to multiply a value by, and a key naming the
/// dimension (equal keys are commensurable). None for units outside the supported subset and for
/// special units such as `Cel`, which are not ratios.
pub fn ucum_canonical(unit: &str) -> Option<(f64, String)> {
    let c = ucum::canonical(unit)?;
    let factor = decimal::to_f64(c.factor)?;
    let key = c.dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(".");
    Some((factor, key))
}

use eval::{one, Coll, Ctx, Frame};
use model::Glue;

/// Compiled expressions kept per engine; past this many the cache starts over, so
/// arbitrary user expressions cannot grow it without bound.
const CACHE_MAX: usize = 20_000;

/// Resolves references that are not inside the resource being evaluated (the store hook).
pub trait Resolver: Send + Sync {
    /// The resource a reference (`Patient/1`, an absolute URL, a canonical) points to.
    fn resolve(&self, reference: &str) -> Option<Value>;
}

/// Answers `memberOf()` (the terminology hook).
pub trait Terminology: Send + Sync {
    /// Whether `code` (of `system`, if known) is in the value set; `None` if it cannot tell.
    fn member_of(&self, system: Option<&str>, code: &str, value_set_url: &str) -> Option<bool>;
}

/// Answers `conformsTo()` for profiles (the validator hook).
pub trait Conformance: Send + Sync {
    /// Whether `resource` conforms to the profile; `None` to fall back to the core-type check.
    fn conforms_to(&self, resource: &Value, profile_url: &str) -> Option<bool>;
}

/// Receives `trace()` output.
pub trait Tracer: Send + Sync {
    /// Called with the trace name and the traced items.
    fn trace(&self, name: &str, items: &[Item<'_>]);
}

/// A user-supplied `%variable`.
pub enum VarValue<'a> {
    /// Ready-made items.
    Items(Vec<Item<'a>>),
    /// A JSON value borrowed for the evaluation (navigated in place).
    Ref(&'a Value),
    /// An owned JSON value (converted when read).
    Json(Value),
}

impl<'a> From<Vec<Item<'a>>> for VarValue<'a> {
    fn from(v: Vec<Item<'a>>) -> Self {
        VarValue::Items(v)
    }
}

impl<'a> From<Item<'a>> for VarValue<'a> {
    fn from(v: Item<'a>) -> Self {
        VarValue::Items(vec![v])
    }
}

impl From<Value> for VarValue<'_> {
    fn from(v: Value) -> Self {
        VarValue::Json(v)
    }
}

impl<'a> From<&'a Value> for VarValue<'a> {
    fn from(v: &'a Value) -> Self {
        VarValue::Ref(v)
    }
}

impl From<&str> for VarValue<'_> {
    fn from(v: &str) -> Self {
        VarValue::Items(vec![Item::string(v)])
    }
}

/// The evaluation environment: variables, `%context`, hooks and the clock.
#[derive(Default)]
pub struct Env<'a> {
    pub(crate) vars: Vec<(String, VarValue<'a>)>,
    pub(crate) context: Option<&'a Value>,
    pub(crate) resolver: Option<&'a dyn Resolver>,
    pub(crate) terminology: Option<&'a dyn Terminology>,
    pub(crate) conformance: Option<&'a dyn Conformance>,
    pub(crate) tracer: Option<&'a dyn Tracer>,
    pub(crate) now: Option<SystemTime>,
    pub(crate) tz_offset_minutes: i16,
}

impl<'a> Env<'a> {
    /// An empty environment.
    pub fn new() -> Env<'a> {
        Env::default()
    }

    /// Adds `%name` (without the `%`).
    pub fn with_variable(mut self, name: impl Into<String>, value: impl Into<VarValue<'a>>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Sets `%context` (default: the resource being evaluated); also searched by `resolve()`.
    pub fn with_context(mut self, context: &'a Value) -> Self {
        self.context = Some(context);
        self
    }

    /// Sets the store hook used by `resolve()` for references outside the resource.
    pub fn with_resolver(mut self, r: &'a dyn Resolver) -> Self {
        self.resolver = Some(r);
        self
    }

    /// Sets the terminology hook used by `memberOf()`.
    pub fn with_terminology(mut self, t: &'a dyn Terminology) -> Self {
        self.terminology = Some(t);
        self
    }

    /// Sets the profile hook used by `conformsTo()`.
    pub fn with_conformance(mut self, c: &'a dyn Conformance) -> Self {
        self.conformance = Some(c);
        self
    }

    /// Receives `trace()` output (discarded by default).
    pub fn with_tracer(mut self, t: &'a dyn Tracer) -> Self {
        self.tracer = Some(t);
        self
    }

    /// Fixes the instant `now()`, `today()` and `timeOfDay()` see.
    pub fn with_now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// The UTC offset (minutes) in which `now()` and `today()` are expressed (default 0).
    pub fn with_timezone_offset(mut self, minutes: i16) -> Self {
        self.tz_offset_minutes = minutes;
        self
    }
}

/// A compiled expression.
#[derive(Debug)]
pub struct Expression {
    src: String,
    root: ast::Node,
}

impl Expression {
    /// The source text.
    pub fn source(&self) -> &str {
        &self.src
    }
}

/// The FHIRPath engine: compiles (with a cache) and evaluates. `Send + Sync`; share it in an `Arc`.
pub struct Engine {
    glue: Glue,
    cache: RwLock<HashMap<String, Arc<Expression>>>,
}

impl Engine {
    /// An engine typed by `model`, or untyped (types guessed from JSON) with `None`.
    pub fn new(model: Option<Arc<fhir_model::Model>>) -> Engine {
        let glue = match model {
            Some(m) => Glue::new(m),
            None => Glue::untyped(),
        };
        Engine { glue, cache: RwLock::new(HashMap::new()) }
    }

    /// The model the engine was built with.
    pub fn model(&self) -> Option<&Arc<fhir_model::Model>> {
        self.glue.model.as_ref()
    }

    /// Parses an expression without touching the cache.
    pub fn parse(expression: &str) -> Result<Expression> {
        let root = parser::parse(expression)?;
        Ok(Expression { src: expression.to_owned(), root })
    }

    /// Compiles an expression, reusing an earlier compilation of the same text.
    pub fn compile(&self, expression: &str) -> Result<Arc<Expression>> {
        if let Ok(cache) = self.cache.read() {
            if let Some(e) = cache.get(expression) {
                return Ok(e.clone());
            }
        }
        let e = Arc::new(Engine::parse(expression)?);
        let mut cache = match self.cache.write() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(expression.to_owned(), e.clone());
        Ok(e)
    }

    /// Evaluates `expr` with `resource` as the input (a JSON `null` is the empty collection).
    pub fn evaluate<'a>(&self, expr: &Expression, resource: &'a Value, env: &Env<'a>) -> Result<Vec<Item<'a>>> {
        let input: Option<&'a Value> = (!resource.is_null()).then_some(resource);
        let root: Coll<'a> = match input {
            Some(r) => one(Item::Node(navigate::root_node(&self.glue, r))),
            None => Coll::new(),
        };
        let cx = Ctx::new(&self.glue, env, &expr.src, input);
        let frame = Frame { focus: &root, index: None, total: None };
        cx.eval(&expr.root, &frame).map(Coll::into_vec)
    }

    /// Evaluates `expr` with `focus`, an item an earlier evaluation over `resource` returned, as the
    /// input; `%resource` stays `resource`. Composite search parameters evaluate their components so.
    pub fn evaluate_from<'a>(&self, expr: &Expression, focus: &Item<'a>, resource: &'a Value, env: &Env<'a>) -> Result<Vec<Item<'a>>> {
        let root: Coll<'a> = one(focus.clone());
        let cx = Ctx::new(&self.glue, env, &expr.src, Some(resource));
        let frame = Frame { focus: &root, index: None, total: None };
        cx.eval(&expr.root, &frame).map(Coll::into_vec)
    }

    /// Compiles (cached) and evaluates with a default environment.
    pub fn eval<'a>(&self, expression: &str, resource: &'a Value) -> Result<Vec<Item<'a>>> {
        let e = self.compile(expression)?;
        self.evaluate(&e, resource, &Env::default())
    }

    /// Static check against a context type (`Patient`): unknown elements of known types,
    /// wrong argument types where they are evident, resource type mismatch at the root.
    pub fn check(&self, expr: &Expression, context_type: &str) -> Result<()> {
        self.check_with(expr, context_type, &CheckOptions::default())
    }

    /// [`Engine::check`] with options.
    pub fn check_with(&self, expr: &Expression, context_type: &str, options: &CheckOptions) -> Result<()> {
        check::check(&self.glue, &expr.src, &expr.root, context_type, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<Engine>();
        assert::<Expression>();
        assert::<Item<'static>>();
        assert::<Env<'static>>();
    }
}
