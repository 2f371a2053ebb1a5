//! Precedence-climbing parser from tokens to the expression tree.
//!
//! Precedence, loosest first: implies; or xor; and; in contains; = ~ != !~; < > <= >=; |;
//! is as; + - &; * / div mod; unary + -; postfix `.` and `[]`.

use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::ast::{BinOp, Literal, Name, Namespace, Node, NodeKind, TypeSpec};
use crate::datetime::{Date, DateTime, Time};
use crate::error::{Error, Result};
use crate::functions::{Func, FuncInfo};
use crate::lexer::{lex, Tok, Token};
use crate::quantity::is_calendar_unit;

/// Deepest tree accepted; deeper input is rejected while parsing (before a deep tree is
/// built), so neither evaluation nor dropping the tree can overflow the stack. Every level
/// of recursion and every link of a left-leaning chain (`a.b.c`, `1+2+3`) counts.
const MAX_DEPTH: usize = 300;

/// Parses a whole expression.
pub(crate) fn parse(src: &str) -> Result<Node> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0, depth: 0 };
    let node = p.expr(0)?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.unexpected());
    }
    Ok(node)
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn binop(tok: &Tok) -> Option<(BinOp, u8)> {
    use BinOp::*;
    Some(match tok {
        Tok::Ident(s) => match s.as_str() {
            "implies" => (Implies, 1),
            "or" => (Or, 2),
            "xor" => (Xor, 2),
            "and" => (And, 3),
            "in" => (In, 4),
            "contains" => (Contains, 4),
            "div" => (IntDiv, 10),
            "mod" => (Mod, 10),
            _ => return None,
        },
        Tok::Sym(s) => match *s {
            "=" => (Eq, 5),
            "~" => (Equiv, 5),
            "!=" => (Ne, 5),
            "!~" => (NotEquiv, 5),
            "<" => (Lt, 6),
            ">" => (Gt, 6),
            "<=" => (Le, 6),
            ">=" => (Ge, 6),
            "|" => (Union, 7),
            "+" => (Add, 9),
            "-" => (Sub, 9),
            "&" => (Concat, 9),
            "*" => (Mul, 10),
            "/" => (Div, 10),
            _ => return None,
        },
        _ => return None,
    })
}

/// Precedence of the type operators `is` / `as`.
const TYPE_PREC: u8 = 8;

impl<'s> Parser<'s> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.i].pos
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self) -> Error {
        let what = match self.peek() {
            Tok::Eof => "end of expression".to_owned(),
            Tok::Ident(s) | Tok::Delimited(s) => format!("'{s}'"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Number(n) | Tok::Long(n) => format!("number {n}"),
            Tok::Percent => "'%'".into(),
            Tok::Special(s) => format!("'${s}'"),
            Tok::Date(s) | Tok::DateTime(s) => format!("'@{s}'"),
            Tok::Time(s) => format!("'@T{s}'"),
        };
        Error::syntax(self.src, self.pos(), format!("unexpected {what}"))
    }

    fn expect(&mut self, sym: &str) -> Result<()> {
        if matches!(self.peek(), Tok::Sym(s) if *s == sym) {
            self.bump();
            Ok(())
        } else {
            Err(Error::syntax(self.src, self.pos(), format!("expected '{sym}'")).with_found(self))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::syntax(self.src, self.pos(), "expression nested too deeply"));
        }
        Ok(())
    }

    fn expr(&mut self, min_prec: u8) -> Result<Node> {
        let saved = self.depth;
        self.enter()?;
        let mut lhs = self.unary()?;
        loop {
            self.enter()?;
            let pos = self.pos();
            if let Tok::Ident(s) = self.peek() {
                if (s == "is" || s == "as") && TYPE_PREC >= min_prec {
                    let is = s == "is";
                    self.bump();
                    let ty = self.type_spec()?;
                    let b = Box::new(lhs);
                    lhs = Node { pos: pos as u32, kind: if is { NodeKind::Is(b, ty) } else { NodeKind::As(b, ty) } };
                    continue;
                }
            }
            let Some((op, prec)) = binop(self.peek()) else { break };
            if prec < min_prec {
                break;
            }
            self.bump();
            let rhs = self.expr(prec + 1)?;
            lhs = Node { pos: pos as u32, kind: NodeKind::Binary(op, Box::new(lhs), Box::new(rhs)) };
        }
        self.depth = saved;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node> {
        let pos = self.pos();
        match self.peek() {
            Tok::Sym("-") => {
                self.bump();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                // Fold negative numeric literals so `-1` is an Integer literal, not an operation.
                let kind = match inner.kind {
                    NodeKind::Literal(Literal::Integer(n)) => NodeKind::Literal(Literal::Integer(-n)),
                    NodeKind::Literal(Literal::Decimal(d)) if !d.is_zero() => NodeKind::Literal(Literal::Decimal(-d)),
                    NodeKind::Literal(Literal::Quantity(d, u)) => NodeKind::Literal(Literal::Quantity(-d, u)),
                    other => NodeKind::Negate(Box::new(Node { pos: inner.pos, kind: other })),
                };
                Ok(Node { pos: pos as u32, kind })
            }
            Tok::Sym("+") => {
                self.bump();
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(inner)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Node> {
        let saved = self.depth;
        self.enter()?;
        let mut node = self.term()?;
        loop {
            self.enter()?;
            match self.peek() {
                Tok::Sym(".") => {
                    self.bump();
                    node = self.invocation(Some(node))?;
                }
                Tok::Sym("[") => {
                    let pos = self.pos();
                    self.bump();
                    let idx = self.expr(0)?;
                    self.expect("]")?;
                    node = Node { pos: pos as u32, kind: NodeKind::Index(Box::new(node), Box::new(idx)) };
                }
                _ => break,
            }
        }
        self.depth = saved;
        Ok(node)
    }

    /// An identifier, a function call or a `$` variable after `.` (target given) or as a term.
    fn invocation(&mut self, target: Option<Node>) -> Result<Node> {
        let pos = self.pos();
        let name = match self.peek().clone() {
            Tok::Ident(s) | Tok::Delimited(s) => {
                self.bump();
                s
            }
            Tok::Special(s) if target.is_none() || s == "this" => {
                self.bump();
                let kind = match s.as_str() {
                    "this" => NodeKind::This,
                    "index" => NodeKind::IndexVar,
                    _ => NodeKind::Total,
                };
                // `x.$this` is x itself.
                return Ok(match target {
                    Some(t) => t,
                    None => Node { pos: pos as u32, kind },
                });
            }
            _ => return Err(Error::syntax(self.src, pos, "expected a name or function").with_found(self)),
        };
        if matches!(self.peek(), Tok::Sym("(")) {
            self.bump();
            let mut args = Vec::new();
            if !matches!(self.peek(), Tok::Sym(")")) {
                loop {
                    args.push(self.expr(0)?);
                    if matches!(self.peek(), Tok::Sym(",")) {
                        self.bump();
                        continue;
                    }
                    break;
                }
            }
            self.expect(")")?;
            return self.call(pos, target, &name, args);
        }
        let n = Name::new(&name);
        Ok(match target {
            Some(t) => Node { pos: pos as u32, kind: NodeKind::Member(Box::new(t), n) },
            None => Node { pos: pos as u32, kind: NodeKind::Ident(n) },
        })
    }

    fn call(&mut self, pos: usize, target: Option<Node>, name: &str, mut args: Vec<Node>) -> Result<Node> {
        let Some(info) = FuncInfo::lookup(name) else {
            return Err(Error::semantic(self.src, pos, format!("unknown function '{name}'")));
        };
        if args.len() < info.min || args.len() > info.max {
            let expected = if info.min == info.max {
                format!("{}", info.min)
            } else if info.max == usize::MAX {
                format!("at least {}", info.min)
            } else {
                format!("{} to {}", info.min, info.max)
            };
            return Err(Error::semantic(
                self.src,
                pos,
                format!("function '{name}' takes {expected} argument(s), {} given", args.len()),
            ));
        }
        let mut types = None;
        if matches!(info.func, Func::Is | Func::As | Func::OfType) {
            let arg = args.remove(0);
            types = Some(self.node_to_type(&arg)?);
        }
        Ok(Node { pos: pos as u32, kind: NodeKind::Call { target: target.map(Box::new), func: info.func, args, types } })
    }

    /// Reads a type specifier written as an argument (`Quantity`, `FHIR.Patient`).
    fn node_to_type(&self, node: &Node) -> Result<TypeSpec> {
        let parts: Vec<&str> = match &node.kind {
            NodeKind::Ident(n) => vec![&n.name],
            NodeKind::Member(t, n) => match &t.kind {
                NodeKind::Ident(q) => vec![&q.name, &n.name],
                _ => return Err(Error::semantic(self.src, node.pos as usize, "expected a type name")),
            },
            _ => return Err(Error::semantic(self.src, node.pos as usize, "expected a type name")),
        };
        Ok(type_from_parts(&parts))
    }

    fn type_spec(&mut self) -> Result<TypeSpec> {
        let mut parts = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Ident(s) | Tok::Delimited(s) => {
                    self.bump();
                    parts.push(s);
                }
                _ => return Err(Error::syntax(self.src, self.pos(), "expected a type name").with_found(self)),
            }
            if matches!(self.peek(), Tok::Sym(".")) && matches!(self.peek_at(1), Tok::Ident(_) | Tok::Delimited(_)) && parts.len() == 1 {
                self.bump();
                continue;
            }
            break;
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(type_from_parts(&refs))
    }

    fn term(&mut self) -> Result<Node> {
        let pos = self.pos();
        let lit = |kind| Ok(Node { pos: pos as u32, kind: NodeKind::Literal(kind) });
        match self.peek().clone() {
            Tok::Sym("(") => {
                self.bump();
                self.enter()?;
                let e = self.expr(0)?;
                self.depth -= 1;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Sym("{") => {
                self.bump();
                self.expect("}")?;
                Ok(Node { pos: pos as u32, kind: NodeKind::Empty })
            }
            Tok::Str(s) => {
                self.bump();
                lit(Literal::String(Arc::from(s)))
            }
            Tok::Number(n) => {
                self.bump();
                let value = self.number(pos, &n)?;
                // A number followed by a unit is a quantity.
                let unit = match self.peek() {
                    Tok::Str(u) => Some(u.clone()),
                    Tok::Ident(u) if is_calendar_unit(u) => Some(u.clone()),
                    _ => None,
                };
                match unit {
                    Some(u) => {
                        self.bump();
                        let d = match value {
                            Literal::Integer(i) => Decimal::from(i),
                            Literal::Decimal(d) => d,
                            _ => Decimal::ZERO,
                        };
                        lit(Literal::Quantity(d, Arc::from(u)))
                    }
                    None => lit(value),
                }
            }
            Tok::Long(n) => {
                self.bump();
                match i64::from_str(&n) {
                    Ok(v) => lit(Literal::Integer(v)),
                    Err(_) => Err(Error::syntax(self.src, pos, "long literal out of range")),
                }
            }
            Tok::Date(s) => {
                self.bump();
                match Date::parse(&s) {
                    Some(d) => lit(Literal::Date(d)),
                    None => Err(Error::syntax(self.src, pos, format!("invalid date @{s}"))),
                }
            }
            Tok::DateTime(s) => {
                self.bump();
                match DateTime::parse_literal(&s) {
                    Some(d) => lit(Literal::DateTime(d)),
                    None => Err(Error::syntax(self.src, pos, format!("invalid date-time @{s}"))),
                }
            }
            Tok::Time(s) => {
                self.bump();
                match Time::parse(&s) {
                    Some(t) => lit(Literal::Time(t)),
                    None => Err(Error::syntax(self.src, pos, format!("invalid time @T{s}"))),
                }
            }
            Tok::Percent => {
                self.bump();
                let name = match self.peek().clone() {
                    Tok::Ident(s) | Tok::Delimited(s) | Tok::Str(s) => s,
                    _ => return Err(Error::syntax(self.src, self.pos(), "expected a constant name after '%'").with_found(self)),
                };
                self.bump();
                Ok(Node { pos: pos as u32, kind: NodeKind::Var(name.into()) })
            }
            Tok::Ident(s) if (s == "true" || s == "false") && !matches!(self.peek_at(1), Tok::Sym("(")) => {
                self.bump();
                lit(Literal::Boolean(s == "true"))
            }
            Tok::Ident(ref s) if matches!(s.as_str(), "and" | "or" | "xor" | "implies") && !matches!(self.peek_at(1), Tok::Sym("(")) => {
                Err(self.unexpected())
            }
            Tok::Ident(_) | Tok::Delimited(_) | Tok::Special(_) => self.invocation(None),
            _ => Err(self.unexpected()),
        }
    }

    fn number(&self, pos: usize, n: &str) -> Result<Literal> {
        if n.contains('.') {
            Decimal::from_str(n)
                .map(Literal::Decimal)
                .map_err(|_| Error::syntax(self.src, pos, format!("decimal literal {n} out of range")))
        } else {
            match i64::from_str(n) {
                Ok(v) => Ok(Literal::Integer(v)),
                // Beyond 64 bits the value is kept as a decimal rather than rejected.
                Err(_) => Decimal::from_str(n)
                    .map(Literal::Decimal)
                    .map_err(|_| Error::syntax(self.src, pos, format!("number {n} out of range"))),
            }
        }
    }
}

fn type_from_parts(parts: &[&str]) -> TypeSpec {
    match parts {
        [ns, name] if *ns == "FHIR" => TypeSpec { ns: Namespace::Fhir, name: (*name).into() },
        [ns, name] if *ns == "System" => TypeSpec { ns: Namespace::System, name: (*name).into() },
        _ => TypeSpec { ns: Namespace::Any, name: parts.join(".").into() },
    }
}

impl Error {
    /// Appends what was found instead, for "expected X" messages.
    fn with_found(mut self, p: &Parser<'_>) -> Error {
        let found = p.unexpected().message;
        self.message = format!("{}, found {}", self.message, found.trim_start_matches("unexpected "));
        self
    }
}
