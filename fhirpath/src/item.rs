//! The values an evaluation produces: nodes of the input resource (borrowed, typed by the
//! model) and System values made by the expression.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::datetime::{Date, DateTime, Time};
use crate::model::Sys;
use crate::quantity::Quantity;

/// A string that is either borrowed from the input or shared.
#[derive(Clone)]
pub enum Str<'a> {
    /// Borrowed from the input resource or the expression.
    Borrowed(&'a str),
    /// Made by the evaluation.
    Shared(Arc<str>),
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Shared(s.into())
    }
}

/// The JSON behind a node: borrowed from the input, or owned (a resource a [`crate::Resolver`] returned).
#[derive(Clone)]
pub(crate) enum NodeData<'a> {
    Borrowed { value: Option<&'a Value>, ext: Option<&'a Value> },
    Owned(Arc<(Option<Value>, Option<Value>)>),
}

/// An element of the input: its JSON value, the `_name` companion of a primitive, and its FHIR type.
#[derive(Clone)]
pub struct Node<'a> {
    pub(crate) data: NodeData<'a>,
    /// FHIR type name (`HumanName`, `date`, `Patient.contact`); empty when unknown.
    pub(crate) ty: &'a str,
    pub(crate) sys: Sys,
}

impl<'a> Node<'a> {
    pub(crate) fn borrowed(value: Option<&'a Value>, ext: Option<&'a Value>, ty: &'a str, sys: Sys) -> Node<'a> {
        Node { data: NodeData::Borrowed { value, ext }, ty, sys }
    }

    pub(crate) fn owned(value: Option<Value>, ext: Option<Value>, ty: &'a str, sys: Sys) -> Node<'a> {
        Node { data: NodeData::Owned(Arc::new((value, ext))), ty, sys }
    }

    /// The JSON value (object, string, number, bool); `None` for a primitive given only by `_name`.
    pub fn value(&self) -> Option<&Value> {
        match &self.data {
            NodeData::Borrowed { value, .. } => *value,
            NodeData::Owned(o) => o.0.as_ref(),
        }
    }

    /// The `_name` object of a primitive (its `id` and `extension`).
    pub fn ext(&self) -> Option<&Value> {
        match &self.data {
            NodeData::Borrowed { ext, .. } => *ext,
            NodeData::Owned(o) => o.1.as_ref(),
        }
    }

    /// FHIR type name, empty when unknown.
    pub fn fhir_type(&self) -> &str {
        self.ty
    }

    /// The value as a reference into the input, if it was borrowed.
    pub fn borrowed_value(&self) -> Option<&'a Value> {
        match &self.data {
            NodeData::Borrowed { value, .. } => *value,
            NodeData::Owned(_) => None,
        }
    }

    /// Whether this is a primitive (non-object) node.
    pub(crate) fn is_primitive(&self) -> bool {
        match self.sys {
            Sys::Complex | Sys::Quantity => false,
            Sys::Unknown => !matches!(self.value(), Some(Value::Object(_)) | Some(Value::Array(_))),
            _ => true,
        }
    }
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Node({}: {})", if self.ty.is_empty() { "?" } else { self.ty }, self.value().unwrap_or(&Value::Null))
    }
}

/// One item of a FHIRPath collection.
#[derive(Clone, Debug)]
pub enum Item<'a> {
    /// An element or resource of the input.
    Node(Node<'a>),
    /// System.Boolean
    Boolean(bool),
    /// System.Integer
    Integer(i64),
    /// System.Decimal
    Decimal(Decimal),
    /// System.String
    String(Str<'a>),
    /// System.Date
    Date(Date),
    /// System.DateTime
    DateTime(DateTime),
    /// System.Time
    Time(Time),
    /// System.Quantity
    Quantity(Quantity),
    /// The result of `type()`: namespace and name.
    Type {
        /// `FHIR` or `System`.
        namespace: &'static str,
        /// Type name.
        name: Str<'a>,
    },
}

/// A primitive view of an item, converting FHIR primitives to their System values.
#[derive(Debug, Clone)]
pub(crate) enum Prim<'x> {
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Str(&'x str),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Quantity),
}

/// The decimal of a JSON number, from its exact source text.
pub(crate) fn json_decimal(n: &serde_json::Number) -> Option<Decimal> {
    crate::decimal::parse(&n.to_string())
}

fn json_int(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        let d = json_decimal(n)?;
        (d.fract().is_zero()).then(|| i64::try_from(d.trunc().mantissa() / 10i128.pow(d.scale())).ok()).flatten()
    })
}

/// A FHIR Quantity object as a System.Quantity (UCUM code preferred, else the unit text).
pub(crate) fn quantity_of(obj: &Value) -> Option<Quantity> {
    let value = match obj.get("value")? {
        Value::Number(n) => json_decimal(n)?,
        _ => return None,
    };
    let code = obj.get("code").and_then(Value::as_str);
    let system = obj.get("system").and_then(Value::as_str);
    let unit = match (code, system) {
        (Some(c), Some("http://unitsofmeasure.org")) | (Some(c), None) => c,
        _ => obj.get("unit").and_then(Value::as_str).or(code).unwrap_or("1"),
    };
    Some(Quantity::new(value, unit))
}

impl<'a> Item<'a> {
    /// A string item.
    pub fn string(s: impl Into<String>) -> Item<'a> {
        Item::String(Str::Shared(s.into().into()))
    }

    pub(crate) fn prim(&self) -> Option<Prim<'_>> {
        Some(match self {
            Item::Boolean(b) => Prim::Bool(*b),
            Item::Integer(i) => Prim::Int(*i),
            Item::Decimal(d) => Prim::Dec(*d),
            Item::String(s) => Prim::Str(s),
            Item::Date(d) => Prim::Date(*d),
            Item::DateTime(d) => Prim::DateTime(*d),
            Item::Time(t) => Prim::Time(*t),
            Item::Quantity(q) => Prim::Quantity(q.clone()),
            Item::Type { .. } => return None,
            Item::Node(n) => {
                let v = n.value()?;
                match (n.sys, v) {
                    (Sys::Boolean, Value::Bool(b)) => Prim::Bool(*b),
                    (Sys::Integer, Value::Number(x)) => Prim::Int(json_int(x)?),
                    (Sys::Decimal, Value::Number(x)) => Prim::Dec(json_decimal(x)?),
                    (Sys::String, Value::String(s)) => Prim::Str(s),
                    (Sys::Date, Value::String(s)) => match Date::parse(s) {
                        Some(d) => Prim::Date(d),
                        None => Prim::Str(s),
                    },
                    (Sys::DateTime, Value::String(s)) => match DateTime::parse(s) {
                        Some(d) => Prim::DateTime(d),
                        None => Prim::Str(s),
                    },
                    (Sys::Time, Value::String(s)) => match Time::parse(s) {
                        Some(t) => Prim::Time(t),
                        None => Prim::Str(s),
                    },
                    (Sys::Quantity, obj @ Value::Object(_)) => Prim::Quantity(quantity_of(obj)?),
                    (Sys::Unknown, Value::Bool(b)) => Prim::Bool(*b),
                    (Sys::Unknown, Value::Number(x)) => match x.as_i64() {
                        Some(i) if !x.to_string().contains(['.', 'e', 'E']) => Prim::Int(i),
                        _ => Prim::Dec(json_decimal(x)?),
                    },
                    (Sys::Unknown, Value::String(s)) => Prim::Str(s),
                    // A value that does not match its declared type is still usable by its JSON kind.
                    (_, Value::String(s)) => Prim::Str(s),
                    (_, Value::Bool(b)) => Prim::Bool(*b),
                    (_, Value::Number(x)) => Prim::Dec(json_decimal(x)?),
                    _ => return None,
                }
            }
        })
    }

    /// Whether the item came from untyped JSON (its string may stand for a date).
    pub(crate) fn is_untyped_node(&self) -> bool {
        matches!(self, Item::Node(n) if n.sys == Sys::Unknown)
    }

    /// The FHIRPath type: `FHIR.HumanName`, `FHIR.date`, `System.Boolean`...
    pub fn type_name(&self) -> String {
        let (ns, name) = self.type_parts();
        format!("{ns}.{name}")
    }

    /// Namespace and name of the item's type.
    pub(crate) fn type_parts(&self) -> (&'static str, std::borrow::Cow<'_, str>) {
        use std::borrow::Cow;
        let sys = |n: &'static str| ("System", Cow::Borrowed(n));
        match self {
            Item::Boolean(_) => sys("Boolean"),
            Item::Integer(_) => sys("Integer"),
            Item::Decimal(_) => sys("Decimal"),
            Item::String(_) => sys("String"),
            Item::Date(_) => sys("Date"),
            Item::DateTime(_) => sys("DateTime"),
            Item::Time(_) => sys("Time"),
            Item::Quantity(_) => sys("Quantity"),
            Item::Type { .. } => sys("TypeInfo"),
            Item::Node(n) => {
                if !n.ty.is_empty() {
                    return ("FHIR", Cow::Borrowed(n.ty));
                }
                // Untyped JSON: guess from the JSON kind.
                let guess = match n.value() {
                    Some(Value::Bool(_)) => "boolean",
                    Some(Value::Number(x)) if !x.to_string().contains(['.', 'e', 'E']) => "integer",
                    Some(Value::Number(_)) => "decimal",
                    Some(Value::String(_)) => "string",
                    _ => "Element",
                };
                ("FHIR", Cow::Borrowed(guess))
            }
        }
    }

    /// The FHIR JSON form: the element itself for nodes; System values as JSON primitives;
    /// a System.Quantity as a Quantity object; dates and times as strings.
    pub fn to_json(&self) -> Value {
        match self {
            Item::Node(n) => n.value().cloned().or_else(|| n.ext().cloned()).unwrap_or(Value::Null),
            Item::Boolean(b) => Value::Bool(*b),
            Item::Integer(i) => Value::from(*i),
            Item::Decimal(d) => decimal_json(*d),
            Item::String(s) => Value::String(s.to_string()),
            Item::Date(d) => Value::String(d.to_string()),
            Item::DateTime(d) => Value::String(d.to_string()),
            Item::Time(t) => Value::String(t.to_string()),
            Item::Quantity(q) => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), decimal_json(q.value));
                m.insert("unit".into(), Value::String(q.unit.to_string()));
                if !q.is_calendar() && crate::ucum::is_known(&q.unit) {
                    m.insert("system".into(), Value::String("http://unitsofmeasure.org".into()));
                    m.insert("code".into(), Value::String(q.unit.to_string()));
                }
                Value::Object(m)
            }
            Item::Type { namespace, name } => {
                let mut m = serde_json::Map::new();
                m.insert("namespace".into(), Value::String((*namespace).into()));
                m.insert("name".into(), Value::String(name.to_string()));
                Value::Object(m)
            }
        }
    }

    /// For a node of the input resource: the reference into it (the primitive's value for
    /// primitives, never the `_name` object). `None` for computed values.
    pub fn json(&self) -> Option<&'a Value> {
        match self {
            Item::Node(n) => n.borrowed_value(),
            _ => None,
        }
    }

    /// The boolean value, for a Boolean item or a FHIR boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.prim()? {
            Prim::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The string value, for a String item or a FHIR string-like primitive.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Item::String(s) => Some(s),
            Item::Node(n) => n.value().and_then(Value::as_str),
            _ => None,
        }
    }

    /// The integer value.
    pub fn as_integer(&self) -> Option<i64> {
        match self.prim()? {
            Prim::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The decimal value (integers widen).
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self.prim()? {
            Prim::Dec(d) => Some(d),
            Prim::Int(i) => Some(Decimal::from(i)),
            _ => None,
        }
    }

    /// The node, if this item is one.
    pub fn as_node(&self) -> Option<&Node<'a>> {
        match self {
            Item::Node(n) => Some(n),
            _ => None,
        }
    }

    /// The FHIRPath string form (`toString()`), if the item has one.
    pub fn to_fhirpath_string(&self) -> Option<String> {
        Some(match self.prim()? {
            Prim::Bool(b) => b.to_string(),
            Prim::Int(i) => i.to_string(),
            Prim::Dec(d) => d.to_string(),
            Prim::Str(s) => s.to_owned(),
            Prim::Date(d) => d.to_string(),
            Prim::DateTime(d) => d.to_string(),
            Prim::Time(t) => t.to_string(),
            Prim::Quantity(q) => q.to_string(),
        })
    }
}

/// A decimal as a JSON number with its exact digits.
pub(crate) fn decimal_json(d: Decimal) -> Value {
    serde_json::Number::from_str(&d.to_string()).map(Value::Number).unwrap_or(Value::Null)
}
