//! `_sort`: one SQL key expression per sort parameter, over the same index rows searches use.
//!
//! A repeating element sorts by its lowest value ascending and its highest descending (search.html
//! "Sorting"). Resources without a value sort last in both directions: the key falls back to a
//! sentinel beyond every real value, so keys are never NULL and keyset paging can compare them.

use crate::query::SearchError;
use crate::{ParamType, Registry};

/// How a key's values compare, so a page cursor can carry and bind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Byte-ordered text.
    Text,
    /// 64-bit integer (dates as microseconds).
    Int,
    /// Double.
    Float,
}

/// One `_sort` parameter, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The parameter code as sorted on.
    pub param: String,
    /// `-param`: descending.
    pub desc: bool,
    /// The type of the key's values.
    pub kind: KeyKind,
    /// What the key is: a column of the resource row, or an aggregate over one index table.
    source: Source,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Column(&'static str),
    /// (table, ascending column expression, descending column expression)
    Index(&'static str, &'static str, &'static str),
}

/// Above every UTF-8 string in byte order: U+10FFFF encodes as F4 8F BF BF.
const TEXT_MAX: &str = "\u{10FFFF}";

impl SortKey {
    /// The key as a never-NULL SQL expression over the resource row aliased `alias`.
    pub fn sql(&self, alias: &str) -> String {
        let (sentinel_hi, sentinel_lo) = match self.kind {
            KeyKind::Text => (format!("'{TEXT_MAX}'"), "''".to_string()),
            KeyKind::Int => (i64::MAX.to_string(), i64::MIN.to_string()),
            KeyKind::Float => ("1e308".to_string(), "-1e308".to_string()),
        };
        let value = match &self.source {
            Source::Column(c) => return format!("{alias}.{c}"),
            // The parameter code is a registry code ([A-Za-z0-9_-]), checked at parse time, so it is inlined.
            Source::Index(table, asc, desc) => format!(
                "(SELECT {}({}) FROM {table} x WHERE x.rid = {alias}.rid AND x.param = '{}')",
                if self.desc { "MAX" } else { "MIN" },
                if self.desc { desc } else { asc },
                self.param
            ),
        };
        format!("COALESCE({value}, {})", if self.desc { sentinel_lo } else { sentinel_hi })
    }
}

fn err(message: impl Into<String>) -> SearchError {
    SearchError { param: "_sort".into(), message: message.into(), not_ready: false }
}

/// Parses a `_sort` value (`a,-b`) for `rt`.
pub(crate) fn parse(reg: &Registry, rt: &str, value: &str) -> Result<Vec<SortKey>, SearchError> {
    let mut keys: Vec<SortKey> = Vec::new();
    for part in value.split(',') {
        let (desc, code) = match part.strip_prefix('-') {
            Some(c) => (true, c),
            None => (false, part),
        };
        if code.is_empty() {
            return Err(err("empty sort parameter"));
        }
        if keys.iter().any(|k| k.param == code) {
            return Err(err(format!("'{code}' appears twice")));
        }
        let Some(sp) = reg.usable(rt, code, "_sort")? else {
            return Err(err(format!("unknown search parameter '{code}' for {rt}")));
        };
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(err(format!("'{code}' cannot be sorted on")));
        }
        let (kind, source) = match (code, sp.kind) {
            ("_id", _) => (KeyKind::Text, Source::Column("res_id")),
            ("_lastUpdated", _) => (KeyKind::Int, Source::Column("last_updated")),
            _ if !sp.is_evaluable() => return Err(err(format!("'{code}' is not indexed, so it cannot be sorted on"))),
            (_, ParamType::String) => (KeyKind::Text, Source::Index("idx_string", "x.value_norm", "x.value_norm")),
            (_, ParamType::Token) => (KeyKind::Text, Source::Index("idx_token", "x.code", "x.code")),
            (_, ParamType::Uri) => (KeyKind::Text, Source::Index("idx_uri", "x.value", "x.value")),
            (_, ParamType::Reference) => {
                (KeyKind::Text, Source::Index("idx_reference", REFERENCE_KEY, REFERENCE_KEY))
            }
            (_, ParamType::Date) => (KeyKind::Int, Source::Index("idx_date", "x.low", "x.high")),
            (_, ParamType::Number) => (KeyKind::Float, Source::Index("idx_number", "x.value", "x.value")),
            (_, ParamType::Quantity) => (KeyKind::Float, Source::Index("idx_quantity", "x.value", "x.value")),
            (_, k) => return Err(err(format!("'{code}' is a {k:?} parameter, which has no order"))),
        };
        keys.push(SortKey { param: code.to_string(), desc, kind, source });
    }
    Ok(keys)
}

/// A reference sorts by `Type/id` when it is local, else by its URL.
const REFERENCE_KEY: &str = "COALESCE(x.target_type || '/' || x.target_id, x.url)";
