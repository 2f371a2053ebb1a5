//! The compiled form of an expression: a tree whose names, literals and functions are resolved.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::datetime::{Date, DateTime, Time};
use crate::functions::Func;

/// A member name with its `_name` companion key precomputed, so navigation never formats strings.
#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub name: Box<str>,
    pub ext: Box<str>,
}

impl Name {
    pub fn new(name: &str) -> Name {
        Name { name: name.into(), ext: format!("_{name}").into() }
    }
}

/// A literal value.
#[derive(Debug, Clone)]
pub(crate) enum Literal {
    Boolean(bool),
    String(Arc<str>),
    Integer(i64),
    Decimal(Decimal),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Decimal, Arc<str>),
}

/// Namespace part of a type specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    Fhir,
    System,
    /// Unqualified: FHIR first, then System.
    Any,
}

/// A type named in `is`, `as`, `ofType`.
#[derive(Debug, Clone)]
pub(crate) struct TypeSpec {
    pub ns: Namespace,
    pub name: Box<str>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Mul => "*",
            Div => "/",
            IntDiv => "div",
            Mod => "mod",
            Add => "+",
            Sub => "-",
            Concat => "&",
            Union => "|",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "=",
            Ne => "!=",
            Equiv => "~",
            NotEquiv => "!~",
            In => "in",
            Contains => "contains",
            And => "and",
            Or => "or",
            Xor => "xor",
            Implies => "implies",
        }
    }
}

/// A node of the expression tree; `pos` is the byte offset of its text.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: u32,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// `{}`
    Empty,
    Literal(Literal),
    /// A name at the start of a path: a member of `$this`, or the focus' own type name.
    Ident(Name),
    /// `target.name`
    Member(Box<Node>, Name),
    /// `target.f(args)` or `f(args)` (target `None`: the focus).
    Call { target: Option<Box<Node>>, func: Func, args: Vec<Node>, types: Option<TypeSpec> },
    /// `target[index]`
    Index(Box<Node>, Box<Node>),
    /// Unary minus (plus is dropped at parse time).
    Negate(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `x is T`
    Is(Box<Node>, TypeSpec),
    /// `x as T`
    As(Box<Node>, TypeSpec),
    This,
    IndexVar,
    Total,
    /// `%name`
    Var(Box<str>),
}
