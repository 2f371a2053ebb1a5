//! Query-string parsing (R4 search.html) and translation to one SQL condition.

use crate::extract::{date_range, fold, number_range, parse_reference};
use crate::{ParamType, ParseEnv, Registry, Terminology};

/// A parsed type-level search: filters (ANDed) and result parameters kept verbatim.
#[derive(Debug, Clone)]
pub struct Query {
    /// Conditions a resource must all satisfy.
    pub filters: Vec<Filter>,
    /// Result parameters (_count, _sort, _include, ...) as given, in order.
    pub control: Vec<(String, String)>,
    resource_type: String,
}

/// One query parameter occurrence: its values are ORed.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The parameter code.
    pub param: String,
    /// The modifier after ':' if any.
    pub modifier: Option<String>,
    /// The raw value as given.
    pub value: String,
    cond: Cond,
}

/// A rejected query parameter; becomes a 400 OperationOutcome with expression = param.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchError {
    /// The offending parameter name as given (with modifier).
    pub param: String,
    /// What is wrong with it.
    pub message: String,
    /// The parameter is known but its index is still being built: a transient refusal, not a bad request.
    pub not_ready: bool,
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}

impl std::error::Error for SearchError {}

/// A bind value for a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlArg {
    /// TEXT
    Text(String),
    /// BIGINT
    Int(i64),
    /// DOUBLE PRECISION / REAL
    Float(f64),
}

/// A SQL boolean condition over `resource r` with its bind values in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    /// The condition, placeholders `$first_arg`, `$first_arg+1`, ...
    pub sql: String,
    /// Values for the placeholders, in order.
    pub args: Vec<SqlArg>,
}

/// SQL text with argument slots, numbered only when rendered.
#[derive(Debug, Clone, Default)]
struct Frag(Vec<Piece>);

#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Arg(SqlArg),
}

/// Stands for the alias of the resource row a condition is about; replaced when rendered (chains nest).
const ALIAS: &str = "\u{1}r";

impl Frag {
    fn sql(mut self, s: &str) -> Self {
        self.0.push(Piece::Sql(s.to_string()));
        self
    }
    fn with_alias(self, alias: &str) -> Self {
        Frag(self.0.into_iter().map(|p| if let Piece::Sql(s) = p { Piece::Sql(s.replace(ALIAS, alias)) } else { p }).collect())
    }
    fn text(mut self, s: impl Into<String>) -> Self {
        self.0.push(Piece::Arg(SqlArg::Text(s.into())));
        self
    }
    fn int(mut self, i: i64) -> Self {
        self.0.push(Piece::Arg(SqlArg::Int(i)));
        self
    }
    fn float(mut self, f: f64) -> Self {
        self.0.push(Piece::Arg(SqlArg::Float(f)));
        self
    }
    fn append(mut self, o: Frag) -> Self {
        self.0.extend(o.0);
        self
    }
    fn join(parts: Vec<Frag>, sep: &str) -> Frag {
        let mut out = Frag::default();
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                out = out.sql(sep);
            }
            out = out.sql("(").append(p).sql(")");
        }
        out
    }
}

#[derive(Debug, Clone)]
enum Cond {
    /// rid IN / NOT IN (rows of `table` for this param matching any alternative). `unit` is the
    /// canonical unit of a one-value UCUM quantity, whose rows can be read in rid order
    /// ([`RidSource::window_page`]); its canonical alternative is `alts[0]`.
    Rows { table: &'static str, negate: bool, alts: Vec<Frag>, unit: Option<String> },
    /// Any index row at all for the param (or none, for :missing=true).
    Missing { table: &'static str, missing: bool, stored_param: Option<String> },
    /// A composite: some instance whose component `i` (rows `param$i` of table `i`) matches frag `i`,
    /// all in one group; one such list per comma-separated alternative.
    Composite { alts: Vec<Vec<(&'static str, Frag)>> },
    /// A condition directly on the resource table (`_id`, `_lastUpdated`).
    Direct(Vec<Frag>),
    /// `ref.param=v`, `ref:Type.param=v`: the reference points at a resource of a target type matching the inner filter.
    Chain { targets: Vec<(String, Box<Filter>)> },
    /// `_has:Type:ref:param=v`: some resource of `source` whose `reference` points here matches the inner filter.
    Has { source: String, reference: String, inner: Box<Filter> },
    /// `near`: a position (latitude row `$0`, longitude row `$1` of one group) within the distance.
    Near(crate::near::Near),
    /// Any of the filters holds (compartment membership through one of several parameters).
    Any(Vec<Filter>),
    /// All of the filters hold (`_filter` and).
    All(Vec<Filter>),
    /// The filter does not hold (`_filter` not, ne on strings).
    Not(Box<Filter>),
}

/// Chains and `_has` nest at most this deep, so a query cannot build unbounded SQL.
const MAX_DEPTH: usize = 4;

/// search.html result parameters plus `_format`/`_pretty`, and the server's own paging cursor.
const RESULT_PARAMS: &[&str] = &[
    "_sort", "_count", "_include", "_revinclude", "_summary", "_total", "_elements", "_contained",
    "_containedType", "_format", "_pretty", "_cursor",
];

const NOT_YET_SPECIAL: &[&str] = &["_query"];

/// String tests only `_filter` can ask for (`ew`), as a modifier no query string can carry by accident.
const FILTER_ENDS_WITH: &str = "\u{1}ew";

fn err(param: &str, message: impl Into<String>) -> SearchError {
    SearchError { param: param.to_string(), message: message.into(), not_ready: false }
}

/// Splits on unescaped `sep`, leaving escapes in place for a later split or `unescape`.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.last_mut().unwrap().push(c);
            esc = false;
        } else if c == '\\' {
            out.last_mut().unwrap().push(c);
            esc = true;
        } else if c == sep {
            out.push(String::new());
        } else {
            out.last_mut().unwrap().push(c);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc || c != '\\' {
            out.push(c);
            esc = false;
        } else {
            esc = true;
        }
    }
    out
}

/// The smallest string greater than every string starting with `s` (codepoint order).
fn prefix_upper(s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    while let Some(c) = cs.pop() {
        let mut n = c as u32 + 1;
        if (0xD800..0xE000).contains(&n) {
            n = 0xE000;
        }
        if let Some(nc) = char::from_u32(n) {
            cs.push(nc);
            return cs.into_iter().collect();
        }
    }
    // Only reachable for a prefix made of U+10FFFF; nothing sorts above it, so match the prefix alone.
    s.to_string()
}

fn like_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

fn split_prefix(v: &str) -> (Prefix, &str) {
    let p = match v.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (Prefix::Eq, v),
    };
    (p, &v[2..])
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Date comparison of a stored range [lo, hi] against the search range [ql, qh] (search.html "Date").
fn date_cond(lo: &str, hi: &str, p: Prefix, ql: i64, qh: i64) -> Frag {
    let f = Frag::default();
    // `lo <= qh` follows from the other two (lo <= hi), but gives an index on `lo` both ends of
    // the range to seek: without it `birthdate=1995-10-27` read every birth date on one side
    // (×10 SQLite: 0.083 -> 0.005 ms). `hi + 0` keeps PostgreSQL off the index on `hi`, whose
    // one-sided range it costed as cheap from the statistics of every type's dates (Q04 at ×10:
    // every Patient born before the day, 273 buffers; 12 through `lo`). docs/performance.md,
    // "Search" and "Ninth round".
    let within = |f: Frag| {
        let f = f.sql(&format!("{lo} >= ")).int(ql);
        if lo == hi { f.sql(&format!(" AND {hi} <= ")).int(qh) } else { f.sql(&format!(" AND {hi} + 0 <= ")).int(qh).sql(&format!(" AND {lo} <= ")).int(qh) }
    };
    match p {
        Prefix::Eq => within(f),
        Prefix::Ne => within(f.sql("NOT (")).sql(")"),
        Prefix::Gt => f.sql(&format!("{hi} > ")).int(qh),
        Prefix::Lt => f.sql(&format!("{lo} < ")).int(ql),
        Prefix::Ge => within(f.sql(&format!("{hi} > ")).int(qh).sql(" OR (")).sql(")"),
        Prefix::Le => within(f.sql(&format!("{lo} < ")).int(ql).sql(" OR (")).sql(")"),
        Prefix::Sa => f.sql(&format!("{lo} > ")).int(qh),
        Prefix::Eb => f.sql(&format!("{hi} < ")).int(ql),
        Prefix::Ap => {
            // search.html: "10% of the gap between now and the date".
            let d = ((now_micros() as i128 - ql as i128).abs() / 10).min(i64::MAX as i128) as i64;
            f.sql(&format!("{lo} <= ")).int(qh.saturating_add(d)).sql(&format!(" AND {hi} >= ")).int(ql.saturating_sub(d))
        }
    }
}

/// Number comparison of a stored value (with its precision range) against a search value (search.html "Number").
fn number_cond(p: Prefix, v: f64, ql: f64, qh: f64) -> Frag {
    number_cond_on(["x.value", "x.low", "x.high"], p, v, ql, qh)
}

/// [`number_cond`] over named columns: the value, and the low and high ends of its precision range.
fn number_cond_on([val, low, high]: [&str; 3], p: Prefix, v: f64, ql: f64, qh: f64) -> Frag {
    let f = Frag::default();
    let c = |s: &str, op: &str| format!("{s} {op} ");
    match p {
        Prefix::Eq => f.sql(&c(val, ">=")).float(ql).sql(&format!(" AND {val} < ")).float(qh),
        Prefix::Ne => f.sql(&format!("NOT ({val} >= ")).float(ql).sql(&format!(" AND {val} < ")).float(qh).sql(")"),
        Prefix::Gt => f.sql(&c(val, ">")).float(v),
        Prefix::Lt => f.sql(&c(val, "<")).float(v),
        Prefix::Ge => f.sql(&c(val, ">=")).float(v),
        Prefix::Le => f.sql(&c(val, "<=")).float(v),
        Prefix::Sa => f.sql(&c(low, ">")).float(qh),
        Prefix::Eb => f.sql(&c(high, "<")).float(ql),
        Prefix::Ap => {
            let d = v.abs() / 10.0;
            f.sql(&c(val, ">=")).float(ql.min(v - d)).sql(&format!(" AND {val} <= ")).float(qh.max(v + d))
        }
    }
}

fn table_of(kind: ParamType) -> Option<&'static str> {
    Some(match kind {
        ParamType::String => "idx_string",
        ParamType::Token => "idx_token",
        ParamType::Reference => "idx_reference",
        ParamType::Date => "idx_date",
        ParamType::Number => "idx_number",
        ParamType::Quantity => "idx_quantity",
        ParamType::Uri => "idx_uri",
        ParamType::Composite | ParamType::Special => return None,
    })
}

pub(crate) fn parse(reg: &Registry, env: &ParseEnv, rt: &str, params: &[(String, String)]) -> Result<Query, SearchError> {
    let (q, mut errors) = parse_all(reg, env, rt, params);
    match errors.is_empty() {
        true => Ok(q),
        false => Err(errors.swap_remove(0)),
    }
}

/// Parses every parameter, keeping the good ones and returning the refusals beside them.
pub(crate) fn parse_all(reg: &Registry, env: &ParseEnv, rt: &str, params: &[(String, String)]) -> (Query, Vec<SearchError>) {
    let mut q = Query { filters: Vec::new(), control: Vec::new(), resource_type: rt.to_string() };
    let mut errors = Vec::new();
    for (name, value) in params {
        let code = name.split([':', '.']).next().unwrap_or_default();
        if RESULT_PARAMS.contains(&code) {
            q.control.push((name.clone(), value.clone()));
            continue;
        }
        match parse_filter(reg, env, rt, name, name, value, 0) {
            Ok(f) => q.filters.push(f),
            Err(e) => errors.push(e),
        }
    }
    (q, errors)
}

/// One parameter on `rt`; `top` is the parameter as the client wrote it, for error messages.
fn parse_filter(reg: &Registry, env: &ParseEnv, rt: &str, top: &str, name: &str, value: &str, depth: usize) -> Result<Filter, SearchError> {
    if depth > MAX_DEPTH {
        return Err(err(top, format!("chains and _has nest at most {MAX_DEPTH} deep")));
    }
    if let Some(rest) = name.strip_prefix("_has:") {
        return parse_has(reg, env, rt, top, rest, value, depth);
    }
    if name == "_has" {
        return Err(err(top, "_has takes the form _has:Type:reference:parameter"));
    }
    let code = name.split([':', '.']).next().unwrap_or_default();
    if RESULT_PARAMS.contains(&code) {
        return Err(err(top, format!("{code} cannot be chained")));
    }
    if NOT_YET_SPECIAL.contains(&code) {
        return Err(err(top, format!("{code} is not supported yet")));
    }
    if code == "_filter" {
        if name != code {
            return Err(err(top, "_filter takes no modifier"));
        }
        let expr = crate::filter::parse(value).map_err(|m| err(top, m))?;
        return filter_expr(reg, env, rt, top, &expr, depth);
    }
    if code == "_type" {
        return Err(err(top, "_type applies to system-level search ([base]?_type=...) only"));
    }
    if matches!(code, "_text" | "_content" | "_list") {
        if name != code {
            return Err(err(top, format!("{code} takes no modifier")));
        }
        if value.is_empty() {
            return Err(err(top, "empty value"));
        }
        let cond = if code == "_list" { parse_list(top, rt, value)? } else { parse_text(top, value)? };
        return Ok(Filter { param: code.to_string(), modifier: None, value: value.to_string(), cond });
    }
    if let Some((head, rest)) = name.split_once('.') {
        return parse_chain(reg, env, rt, top, head, rest, value, depth);
    }
    let modifier = name.split_once(':').map(|(_, m)| m);
    let Some(sp) = reg.usable(rt, code, top)? else {
        return Err(err(top, format!("unknown search parameter '{code}' for {rt}")));
    };
    if value.is_empty() {
        return Err(err(top, "empty value"));
    }
    let cond = if code == "_id" {
        parse_id(top, modifier, value)?
    } else if code == "_lastUpdated" {
        parse_last_updated(top, modifier, value)?
    } else {
        if !sp.is_evaluable() {
            return Err(err(top, format!("search parameter '{code}' is not supported yet")));
        }
        if sp.kind == ParamType::Composite {
            parse_composite(reg, env, top, sp, modifier, value)?
        } else if sp.kind == ParamType::Special {
            match modifier {
                Some("missing") => missing_cond(top, "idx_number", Some(format!("{code}$0")), value)?,
                Some(m) => return Err(err(top, format!("modifier ':{m}' does not apply to {code}"))),
                None if value.contains(',') => return Err(err(top, format!("{code} takes one position"))),
                None => Cond::Near(crate::near::parse(top, value)?),
            }
        } else {
            parse_cond(reg, env, top, sp.kind, &sp.targets, modifier, value)?
        }
    };
    Ok(Filter { param: code.to_string(), modifier: modifier.map(str::to_string), value: value.to_string(), cond })
}

/// `reference` or `reference:Type`, as the head of a chain.
fn split_type_hint(head: &str) -> (&str, Option<&str>) {
    match head.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (head, None),
    }
}

/// `head.rest` where head is `reference` or `reference:Type`.
fn parse_chain(reg: &Registry, env: &ParseEnv, rt: &str, top: &str, head: &str, rest: &str, value: &str, depth: usize) -> Result<Filter, SearchError> {
    let (code, type_hint) = split_type_hint(head);
    let Some(sp) = reg.usable(rt, code, top)? else {
        return Err(err(top, format!("unknown search parameter '{code}' for {rt}")));
    };
    if sp.kind != ParamType::Reference {
        return Err(err(top, format!("'{code}' is a {:?} parameter; only reference parameters can be chained", sp.kind)));
    }
    let candidates: Vec<String> = match type_hint {
        Some(t) if !reg.resource_types().iter().any(|x| x == t) => return Err(err(top, format!("'{t}' is not a resource type"))),
        Some(t) if !sp.targets.is_empty() && !sp.targets.iter().any(|x| x == t) => {
            return Err(err(top, format!("{t} is not a target type of '{code}'")))
        }
        Some(t) => vec![t.to_string()],
        None if sp.targets.is_empty() => return Err(err(top, format!("'{code}' can point at any type; name one as {code}:Type"))),
        None => sp.targets.clone(),
    };
    let inner_code = rest.split([':', '.']).next().unwrap_or_default();
    let mut targets = Vec::new();
    for t in &candidates {
        // Types without the chained parameter simply cannot match; other errors are the client's.
        if !inner_code.starts_with('_') && reg.param(t, inner_code).is_none() {
            continue;
        }
        targets.push((t.clone(), Box::new(parse_filter(reg, env, t, top, rest, value, depth + 1)?)));
    }
    if targets.is_empty() {
        return Err(err(top, format!("no target type of '{code}' ({}) has a search parameter '{inner_code}'", candidates.join(", "))));
    }
    Ok(Filter { param: code.to_string(), modifier: type_hint.map(str::to_string), value: value.to_string(), cond: Cond::Chain { targets } })
}

/// `Type:reference:parameter` after `_has:`.
fn parse_has(reg: &Registry, env: &ParseEnv, rt: &str, top: &str, rest: &str, value: &str, depth: usize) -> Result<Filter, SearchError> {
    let mut it = rest.splitn(3, ':');
    let (Some(source), Some(reference), Some(inner)) = (it.next(), it.next(), it.next()) else {
        return Err(err(top, "_has takes the form _has:Type:reference:parameter"));
    };
    if !reg.resource_types().iter().any(|t| t == source) {
        return Err(err(top, format!("'{source}' is not a resource type")));
    }
    let sp = reg.usable(source, reference, top)?.ok_or_else(|| err(top, format!("unknown search parameter '{reference}' for {source}")))?;
    if sp.kind != ParamType::Reference {
        return Err(err(top, format!("'{source}.{reference}' is not a reference parameter")));
    }
    if !sp.targets.is_empty() && !sp.targets.iter().any(|t| t == rt) {
        return Err(err(top, format!("'{source}.{reference}' never points at {rt}")));
    }
    let inner = parse_filter(reg, env, source, top, inner, value, depth + 1)?;
    Ok(Filter {
        param: "_has".into(),
        modifier: Some(format!("{source}:{reference}")),
        value: value.to_string(),
        cond: Cond::Has { source: source.to_string(), reference: reference.to_string(), inner: Box::new(inner) },
    })
}

fn values(name: &str, value: &str) -> Result<Vec<String>, SearchError> {
    let vs = split_unescaped(value, ',');
    if vs.iter().any(String::is_empty) {
        return Err(err(name, "empty value in list"));
    }
    Ok(vs)
}

/// One `_filter` (sub)expression on `rt` as a filter.
fn filter_expr(reg: &Registry, env: &ParseEnv, rt: &str, top: &str, e: &crate::filter::Expr, depth: usize) -> Result<Filter, SearchError> {
    use crate::filter::Expr;
    let group = |param: &str, cond: Cond| Filter { param: param.to_string(), modifier: None, value: String::new(), cond };
    match e {
        Expr::And(es) => Ok(group("_filter", Cond::All(es.iter().map(|e| filter_expr(reg, env, rt, top, e, depth)).collect::<Result<_, _>>()?))),
        Expr::Or(es) => Ok(group("_filter", Cond::Any(es.iter().map(|e| filter_expr(reg, env, rt, top, e, depth)).collect::<Result<_, _>>()?))),
        Expr::Not(e) => Ok(group("_filter", Cond::Not(Box::new(filter_expr(reg, env, rt, top, e, depth)?)))),
        Expr::Test { path, op, value } => {
            let kind = path_kind(reg, rt, path).ok_or_else(|| err(top, format!("'{path}' is not a search parameter of {rt}")))?;
            let ordered = matches!(kind, ParamType::Date | ParamType::Number | ParamType::Quantity);
            let escaped = value.replace('\\', "\\\\").replace(',', "\\,").replace('$', "\\$");
            let plain = |modifier: Option<&str>, v: String| {
                let name = match modifier {
                    Some(m) => format!("{path}:{m}"),
                    None => path.clone(),
                };
                parse_filter(reg, env, rt, top, &name, &v, depth)
            };
            let bad = || err(top, format!("'{op}' does not apply to '{path}' ({kind:?})"));
            match (op.as_str(), kind) {
                ("eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb" | "ap", _) if ordered => plain(None, format!("{op}{escaped}")),
                ("eq", ParamType::String) => plain(Some("exact"), escaped),
                ("ne", ParamType::String) => Ok(group("_filter", Cond::Not(Box::new(plain(Some("exact"), escaped)?)))),
                ("sw", ParamType::String) => plain(None, escaped),
                ("co", ParamType::String) => plain(Some("contains"), escaped),
                ("ew", ParamType::String) => plain(Some(FILTER_ENDS_WITH), escaped),
                ("eq", ParamType::Token | ParamType::Uri) | ("eq" | "re", ParamType::Reference) => plain(None, escaped),
                ("ne", ParamType::Token) => plain(Some("not"), escaped),
                ("ne", ParamType::Uri | ParamType::Reference) => Ok(group("_filter", Cond::Not(Box::new(plain(None, escaped)?)))),
                ("sw", ParamType::Uri) => plain(Some("below"), escaped),
                ("ss", ParamType::Token) => plain(Some("below"), escaped),
                ("sb", ParamType::Token) => plain(Some("above"), escaped),
                ("in", ParamType::Token) => plain(Some("in"), escaped),
                ("ni", ParamType::Token) => plain(Some("not-in"), escaped),
                ("pr", _) => match value.as_str() {
                    "true" => plain(Some("missing"), "false".into()),
                    "false" => plain(Some("missing"), "true".into()),
                    _ => Err(err(top, format!("'pr' takes true or false, not '{value}'"))),
                },
                _ => Err(bad()),
            }
        }
    }
}

/// The type of the parameter a `_filter` path ends at (`subject.name` follows `subject`'s targets).
fn path_kind(reg: &Registry, rt: &str, path: &str) -> Option<ParamType> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (code, hint) = split_type_hint(head);
    let sp = reg.param(rt, code)?;
    let Some(rest) = rest else { return Some(sp.kind) };
    let targets: Vec<&str> = match hint {
        Some(t) => vec![t],
        None => sp.targets.iter().map(String::as_str).collect(),
    };
    targets.into_iter().find_map(|t| path_kind(reg, t, rest))
}

/// `_text` / `_content`: every term of one alternative must start a word of the document.
fn parse_text(name: &str, value: &str) -> Result<Cond, SearchError> {
    let alts = crate::fulltext::parse(value).map_err(|m| err(name, m))?;
    let alts = alts
        .into_iter()
        .map(|terms| {
            let likes = terms.into_iter().map(|t| Frag::default().sql("x.value LIKE ").text(format!("% {}%", like_escape(&t))).sql(" ESCAPE '\\'")).collect();
            Frag::join(likes, " AND ")
        })
        .collect();
    Ok(Cond::Rows { table: "idx_text", negate: false, alts, unit: None })
}

/// `_list=id`: resources an existing List names in `entry.item`. Functional lists (`$current-allergies`) are not kept.
fn parse_list(name: &str, rt: &str, value: &str) -> Result<Cond, SearchError> {
    let mut alts = Vec::new();
    for v in values(name, value)? {
        let id = unescape(&v);
        let id = id.strip_prefix("List/").unwrap_or(&id);
        if id.starts_with('$') {
            return Err(err(name, format!("functional list '{id}' is not supported")));
        }
        if !valid_id(id) {
            return Err(err(name, format!("'{v}' is not a List id")));
        }
        alts.push(
            Frag::default()
                .sql(&format!("{ALIAS}.res_id IN (SELECT x.target_id FROM idx_reference x JOIN resource l ON l.rid = x.rid WHERE l.res_type = 'List' AND l.res_id = "))
                .text(id)
                .sql(" AND NOT l.deleted AND x.param = 'item' AND x.target_type = ")
                .text(rt)
                .sql(")"),
        );
    }
    Ok(Cond::Direct(vec![Frag::join(alts, " OR ")]))
}

fn parse_id(name: &str, modifier: Option<&str>, value: &str) -> Result<Cond, SearchError> {
    let negate = match modifier {
        None => false,
        Some("not") => true,
        Some(m) => return Err(err(name, format!("modifier ':{m}' is not supported on _id (only :not)"))),
    };
    let mut alts = Vec::new();
    for v in values(name, value)? {
        let v = unescape(&v);
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') || v.len() > 64 {
            return Err(err(name, format!("'{v}' is not a valid id")));
        }
        alts.push(Frag::default().sql(&format!("{ALIAS}.res_id = ")).text(v));
    }
    let any = Frag::join(alts, " OR ");
    Ok(Cond::Direct(vec![if negate { Frag::default().sql("NOT (").append(any).sql(")") } else { any }]))
}

fn parse_last_updated(name: &str, modifier: Option<&str>, value: &str) -> Result<Cond, SearchError> {
    if let Some(m) = modifier {
        return Err(err(name, format!("modifier ':{m}' is not supported on _lastUpdated")));
    }
    let mut alts = Vec::new();
    for v in values(name, value)? {
        let (p, d) = split_prefix(&v);
        let (ql, qh) = date_range(d).ok_or_else(|| err(name, format!("'{v}' is not a valid date")))?;
        // last_updated is an instant: a point, so low = high = the column.
        let col = format!("{ALIAS}.last_updated");
        alts.push(date_cond(&col, &col, p, ql, qh));
    }
    Ok(Cond::Direct(vec![Frag::join(alts, " OR ")]))
}

/// `:missing=true|false` over the rows of `table` (stored under `stored_param`, else the parameter's own code).
fn missing_cond(name: &str, table: &'static str, stored_param: Option<String>, value: &str) -> Result<Cond, SearchError> {
    match value.as_str_bool() {
        Some(missing) => Ok(Cond::Missing { table, missing, stored_param }),
        None => Err(err(name, ":missing takes true or false")),
    }
}

/// `code-value-quantity=http://loinc.org|8480-6$lt60`: one value per component, joined by `$`.
fn parse_composite(reg: &Registry, env: &ParseEnv, name: &str, sp: &crate::SearchParam, modifier: Option<&str>, value: &str) -> Result<Cond, SearchError> {
    let first = table_of(sp.components[0].kind).expect("components are never composite or special");
    match modifier {
        Some("missing") => return missing_cond(name, first, Some(format!("{}$0", sp.code)), value),
        Some(m) => return Err(err(name, format!("modifier ':{m}' does not apply to a composite parameter"))),
        None => {}
    }
    let mut alts = Vec::new();
    for v in values(name, value)? {
        let parts = split_unescaped(&v, '$');
        if parts.len() != sp.components.len() {
            return Err(err(name, format!("'{v}' has {} part(s); '{}' takes {} joined by '$'", parts.len(), sp.code, sp.components.len())));
        }
        let mut comps = Vec::new();
        for (part, c) in parts.iter().zip(&sp.components) {
            if part.is_empty() {
                return Err(err(name, format!("'{v}' has an empty part")));
            }
            // A part is one value: a ',' inside it was split off above, so the cond's alternatives
            // are the forms of that one value (a UCUM quantity's canonical and as-written ones).
            match parse_cond(reg, env, name, c.kind, &c.targets, None, part)? {
                Cond::Rows { table, alts, .. } if !alts.is_empty() => comps.push((table, Frag::join(alts, " OR "))),
                _ => return Err(err(name, format!("'{part}' is not a single value"))),
            }
        }
        alts.push(comps);
    }
    Ok(Cond::Composite { alts })
}

fn parse_cond(
    reg: &Registry,
    env: &ParseEnv,
    name: &str,
    kind: ParamType,
    targets: &[String],
    modifier: Option<&str>,
    value: &str,
) -> Result<Cond, SearchError> {
    let table = table_of(kind).ok_or_else(|| err(name, format!("{kind:?} search parameters are not supported yet")))?;
    if modifier == Some("missing") {
        return missing_cond(name, table, None, value);
    }
    let bad_mod = |m: &str| err(name, format!("unknown modifier ':{m}' for a {kind:?} parameter"));
    let not_yet = |m: &str| err(name, format!("modifier ':{m}' is not supported yet"));
    let vals = values(name, value)?;
    let n_vals = vals.len();
    let mut negate = false;
    let mut alts = Vec::new();
    let mut unit = None;
    match kind {
        ParamType::String => {
            for v in vals {
                let v = unescape(&v);
                alts.push(match modifier {
                    None => {
                        let n = fold(&v);
                        Frag::default().sql("x.value_norm >= ").text(n.clone()).sql(" AND x.value_norm < ").text(prefix_upper(&n))
                    }
                    Some("exact") => Frag::default().sql("x.value_exact = ").text(v),
                    Some(FILTER_ENDS_WITH) => Frag::default().sql("x.value_norm LIKE ").text(format!("%{}", like_escape(&fold(&v)))).sql(" ESCAPE '\\'"),
                    Some("contains") => Frag::default()
                        .sql("x.value_norm LIKE ")
                        .text(format!("%{}%", like_escape(&fold(&v))))
                        .sql(" ESCAPE '\\'"),
                    Some(m @ ("text" | "above" | "below")) => return Err(not_yet(m)),
                    Some(m) => return Err(bad_mod(m)),
                });
            }
        }
        ParamType::Token => {
            match modifier {
                None | Some("not") | Some("text") | Some("of-type") => {}
                Some("in" | "not-in" | "above" | "below") => {}
                Some(m) => return Err(bad_mod(m)),
            }
            negate = matches!(modifier, Some("not" | "not-in"));
            for v in vals {
                if let Some(m @ ("in" | "not-in" | "above" | "below")) = modifier {
                    alts.push(terminology_alt(env.terminology, name, m, &v)?);
                    continue;
                }
                if modifier == Some("text") {
                    let n = fold(&unescape(&v));
                    alts.push(Frag::default().sql("x.text_norm >= ").text(n.clone()).sql(" AND x.text_norm < ").text(prefix_upper(&n)));
                    continue;
                }
                let parts: Vec<String> = split_unescaped(&v, '|').iter().map(|s| unescape(s)).collect();
                if modifier == Some("of-type") {
                    let [ts, tc, val] = parts.as_slice() else {
                        return Err(err(name, ":of-type takes system|code|value"));
                    };
                    if ts.is_empty() || tc.is_empty() || val.is_empty() {
                        return Err(err(name, ":of-type takes system|code|value, all three non-empty"));
                    }
                    alts.push(
                        Frag::default()
                            .sql("x.type_system = ")
                            .text(ts.clone())
                            .sql(" AND x.type_code = ")
                            .text(tc.clone())
                            .sql(" AND x.code = ")
                            .text(val.clone()),
                    );
                    continue;
                }
                alts.push(match parts.as_slice() {
                    [code] => Frag::default().sql("x.code = ").text(code.clone()),
                    [sys, code] if sys.is_empty() && code.is_empty() => return Err(err(name, "empty system and code")),
                    [sys, code] if sys.is_empty() => Frag::default().sql("x.system IS NULL AND x.code = ").text(code.clone()),
                    [sys, code] if code.is_empty() => Frag::default().sql("x.system = ").text(sys.clone()),
                    [sys, code] => Frag::default().sql("x.system = ").text(sys.clone()).sql(" AND x.code = ").text(code.clone()),
                    _ => return Err(err(name, format!("'{v}' has more than one unescaped '|'"))),
                });
            }
        }
        ParamType::Reference => {
            let type_mod = match modifier {
                None | Some("identifier") => None,
                Some(m @ ("above" | "below")) => return Err(not_yet(m)),
                Some(m) if reg.resource_types().iter().any(|t| t == m) => {
                    if !targets.is_empty() && !targets.iter().any(|t| t == m) {
                        return Err(err(name, format!("{m} is not a target type of this parameter")));
                    }
                    Some(m)
                }
                Some(m) => return Err(bad_mod(m)),
            };
            for v in vals {
                let v = unescape(&v);
                if modifier == Some("identifier") {
                    let parts: Vec<String> = split_unescaped(&v, '|').iter().map(|s| unescape(s)).collect();
                    alts.push(match parts.as_slice() {
                        [val] => Frag::default().sql("x.ident_value = ").text(val.clone()),
                        [sys, val] if sys.is_empty() && !val.is_empty() => {
                            Frag::default().sql("x.ident_system IS NULL AND x.ident_value = ").text(val.clone())
                        }
                        [sys, val] if val.is_empty() && !sys.is_empty() => Frag::default().sql("x.ident_system = ").text(sys.clone()),
                        [sys, val] if !sys.is_empty() => {
                            Frag::default().sql("x.ident_system = ").text(sys.clone()).sql(" AND x.ident_value = ").text(val.clone())
                        }
                        _ => return Err(err(name, format!("'{v}' is not system|value"))),
                    });
                    continue;
                }
                if v.contains('|') {
                    return Err(err(name, "versioned canonical references are not supported yet"));
                }
                // search.html: an absolute URL resolving to this server means its relative `Type/id`.
                let v = match env.base.and_then(|b| v.strip_prefix(b)).and_then(|rest| rest.strip_prefix('/')) {
                    Some(local) => local.to_string(),
                    None => v,
                };
                if let Some(t) = type_mod {
                    let id = v.strip_prefix(&format!("{t}/")).unwrap_or(&v);
                    if !valid_id(id) {
                        return Err(err(name, format!("'{v}' is not a valid id")));
                    }
                    alts.push(Frag::default().sql("x.target_type = ").text(t).sql(" AND x.target_id = ").text(id));
                    continue;
                }
                if v.contains(':') {
                    alts.push(Frag::default().sql("x.url = ").text(v));
                    continue;
                }
                if valid_id(&v) {
                    alts.push(Frag::default().sql("x.target_id = ").text(v));
                    continue;
                }
                match parse_reference(&v) {
                    Some(p) if p.target_id.is_some() && reg.resource_types().iter().any(|t| Some(t) == p.target_type.as_ref()) => {
                        let mut f = Frag::default()
                            .sql("x.target_type = ")
                            .text(p.target_type.unwrap())
                            .sql(" AND x.target_id = ")
                            .text(p.target_id.unwrap());
                        if let Some(ver) = p.target_version {
                            f = f.sql(" AND x.target_version = ").text(ver);
                        }
                        alts.push(f);
                    }
                    _ => return Err(err(name, format!("'{v}' is not a reference (Type/id, id or absolute URL)"))),
                }
            }
        }
        ParamType::Uri => {
            for v in vals {
                let v = unescape(&v);
                alts.push(match modifier {
                    None => Frag::default().sql("x.value = ").text(v),
                    Some("below") => Frag::default().sql("x.value >= ").text(v.clone()).sql(" AND x.value < ").text(prefix_upper(&v)),
                    Some("above") => Frag::default()
                        .sql("substr(CAST(")
                        .text(v)
                        .sql(" AS TEXT), 1, length(x.value)) = x.value"),
                    Some(m @ ("contains" | "exact")) => return Err(not_yet(m)),
                    Some(m) => return Err(bad_mod(m)),
                });
            }
        }
        ParamType::Date => {
            if let Some(m) = modifier {
                return Err(bad_mod(m));
            }
            for v in vals {
                let (p, d) = split_prefix(&v);
                let (ql, qh) = date_range(d).ok_or_else(|| err(name, format!("'{v}' is not a valid date")))?;
                alts.push(date_cond("x.low", "x.high", p, ql, qh));
            }
        }
        ParamType::Number => {
            if let Some(m) = modifier {
                return Err(bad_mod(m));
            }
            for v in vals {
                let (p, n) = split_prefix(&v);
                let (val, ql, qh) = number_range(n).ok_or_else(|| err(name, format!("'{v}' is not a valid number")))?;
                alts.push(number_cond(p, val, ql, qh));
            }
        }
        ParamType::Quantity => {
            if let Some(m) = modifier {
                return Err(bad_mod(m));
            }
            for v in vals {
                let parts: Vec<String> = split_unescaped(&v, '|').iter().map(|s| unescape(s)).collect();
                let (num, sys, code) = match parts.as_slice() {
                    [n] => (n.clone(), String::new(), String::new()),
                    [n, s, c] => (n.clone(), s.clone(), c.clone()),
                    _ => return Err(err(name, format!("'{v}' is not number or number|system|code"))),
                };
                let (p, n) = split_prefix(&num);
                let (val, ql, qh) = number_range(n).ok_or_else(|| err(name, format!("'{v}' has no valid number")))?;
                let mut f = number_cond(p, val, ql, qh);
                if !sys.is_empty() && code.is_empty() {
                    return Err(err(name, "a quantity system needs a code"));
                }
                if let Some((factor, key)) = crate::extract::ucum_canonical(Some(&sys), Some(&code)) {
                    // UCUM: compare in base units, so 5.4 mg finds 5400 ug; a stored UCUM value whose
                    // unit has no canonical form can still match by its own code.
                    // The stored canonical value has no precision range, so sa/eb compare the value itself.
                    let canon = number_cond_on(["x.canon_value"; 3], p, val * factor, ql * factor, qh * factor);
                    // Two alternatives, each read from its own index.
                    unit = Some(key.clone());
                    alts.push(Frag::default().sql("x.canon_code = ").text(key).sql(" AND ").append(canon));
                    alts.push(Frag::default().sql("x.canon_code IS NULL AND x.system = ").text(sys).sql(" AND x.code = ").text(code).sql(" AND ").append(f));
                    continue;
                }
                if !sys.is_empty() {
                    f = f.sql(" AND x.system = ").text(sys).sql(" AND x.code = ").text(code);
                } else if !code.is_empty() {
                    // search.html: with no system, the code matches either the code or the unit.
                    f = f.sql(" AND (x.code = ").text(code.clone()).sql(" OR x.unit = ").text(code).sql(")");
                }
                alts.push(f);
            }
        }
        ParamType::Composite | ParamType::Special => unreachable!(),
    }
    let unit = if n_vals == 1 { unit } else { None };
    Ok(Cond::Rows { table, negate, alts, unit })
}

/// Codes a query may list through terminology; beyond this a statement gets too long to be sensible.
const MAX_TERMINOLOGY_CODES: usize = 10_000;

/// `:in`/`:not-in` (a value set) or `:above`/`:below` (`system|code`) as one condition on token rows.
fn terminology_alt(tx: &dyn Terminology, name: &str, modifier: &str, v: &str) -> Result<Frag, SearchError> {
    let pairs: Vec<(String, String)> = if matches!(modifier, "in" | "not-in") {
        tx.value_set_codes(&unescape(v)).map_err(|m| err(name, m))?
    } else {
        let parts: Vec<String> = split_unescaped(v, '|').iter().map(|s| unescape(s)).collect();
        let [system, code] = parts.as_slice() else {
            return Err(err(name, format!(":{modifier} takes system|code, not '{v}'")));
        };
        if system.is_empty() || code.is_empty() {
            return Err(err(name, format!(":{modifier} needs both a system and a code: '{v}'")));
        }
        let codes = tx.related_codes(system, code, modifier == "below").map_err(|m| err(name, m))?;
        codes.into_iter().map(|c| (system.clone(), c)).collect()
    };
    if pairs.len() > MAX_TERMINOLOGY_CODES {
        return Err(err(name, format!("'{v}' stands for {} codes; :{modifier} handles at most {MAX_TERMINOLOGY_CODES}", pairs.len())));
    }
    // One `system = s AND code IN (...)` per system keeps the statement short and index-friendly.
    let mut by_system: Vec<(String, Vec<String>)> = Vec::new();
    for (system, code) in pairs {
        match by_system.iter_mut().find(|(s, _)| *s == system) {
            Some((_, codes)) => codes.push(code),
            None => by_system.push((system, vec![code])),
        }
    }
    if by_system.is_empty() {
        return Ok(Frag::default().sql("1=0"));
    }
    let groups = by_system
        .into_iter()
        .map(|(system, codes)| {
            let mut f = Frag::default().sql("x.system = ").text(system).sql(" AND x.code IN (");
            for (i, c) in codes.into_iter().enumerate() {
                f = if i == 0 { f.text(c) } else { f.sql(", ").text(c) };
            }
            f.sql(")")
        })
        .collect();
    Ok(Frag::join(groups, " OR "))
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

trait StrBool {
    fn as_str_bool(&self) -> Option<bool>;
}

impl StrBool for str {
    fn as_str_bool(&self) -> Option<bool> {
        match self {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// How much of a type an access restriction lets a search see where a query reaches it through a
/// link (a chain's target, a `_has` source, the List of `_list`).
#[derive(Debug, Clone)]
pub enum Reach {
    /// Every resource of the type.
    All,
    /// Only the resources matching the filter (of that type).
    Only(Filter),
    /// None of them.
    Nothing,
}

impl Filter {
    /// Rows meeting one of the `alternatives`, each a list of filters that must all hold; no
    /// alternative matches no row, an empty alternative matches every row.
    pub fn any_of(mut alternatives: Vec<Vec<Filter>>) -> Filter {
        let group = |cond: Cond| Filter { param: "_access".into(), modifier: None, value: String::new(), cond };
        if alternatives.is_empty() {
            return group(Cond::Direct(vec![Frag::default().sql("1=0")]));
        }
        if alternatives.iter().any(Vec::is_empty) {
            return group(Cond::Direct(vec![Frag::default().sql("1=1")]));
        }
        let mut alts: Vec<Filter> = alternatives
            .drain(..)
            .map(|mut all| if all.len() == 1 { all.remove(0) } else { group(Cond::All(all)) })
            .collect();
        if alts.len() == 1 {
            return alts.remove(0);
        }
        group(Cond::Any(alts))
    }
}

impl Query {
    /// Narrows every type the query reaches through a link to what `reach` (called with the
    /// linked type) allows, so a chain or `_has` cannot test resources a restricted search may not
    /// see. A chain keeps the target types it may see; the error names the parameter when a chain
    /// reaches no type it may see, a `_has` source is unseen, or `_list` is used while the List
    /// type is not wholly seen.
    pub fn restrict_links(&mut self, reach: &mut dyn FnMut(&str) -> Reach) -> Result<(), SearchError> {
        for f in &mut self.filters {
            restrict_links(f, reach)?;
        }
        Ok(())
    }
}

fn restrict_links(f: &mut Filter, reach: &mut dyn FnMut(&str) -> Reach) -> Result<(), SearchError> {
    let both = |inner: Filter, only: Filter| Filter { param: "_access".into(), modifier: None, value: String::new(), cond: Cond::All(vec![inner, only]) };
    let name = match &f.modifier {
        Some(m) => format!("{}:{m}", f.param),
        None => f.param.clone(),
    };
    match &mut f.cond {
        Cond::Chain { targets } => {
            let mut kept = Vec::with_capacity(targets.len());
            let mut unseen = Vec::new();
            for (t, mut inner) in std::mem::take(targets) {
                restrict_links(&mut inner, reach)?;
                match reach(&t) {
                    Reach::All => kept.push((t, inner)),
                    Reach::Only(only) => kept.push((t, Box::new(both(*inner, only)))),
                    Reach::Nothing => unseen.push(t),
                }
            }
            if kept.is_empty() {
                return Err(err(&name, format!("the chain reaches only {}, which this access may not search", unseen.join(", "))));
            }
            *targets = kept;
        }
        Cond::Has { source, inner, .. } => {
            restrict_links(inner, reach)?;
            match reach(source) {
                Reach::All => {}
                Reach::Only(only) => {
                    let old = std::mem::replace(inner.as_mut(), Filter::any_of(Vec::new()));
                    **inner = both(old, only);
                }
                Reach::Nothing => return Err(err(&name, format!("_has tests {source} resources, which this access may not search"))),
            }
        }
        Cond::Any(fs) | Cond::All(fs) => {
            for inner in fs {
                restrict_links(inner, reach)?;
            }
        }
        Cond::Not(inner) => restrict_links(inner, reach)?,
        // `_list` tests a List's entries by a direct join, which no narrower filter can enter.
        Cond::Direct(_) if f.param == "_list" && !matches!(reach("List"), Reach::All) => {
            return Err(err("_list", "_list reads a List's entries; this access may not search every List"));
        }
        _ => {}
    }
    Ok(())
}

impl Query {
    /// Restricts the query to the compartment `ctype/cid` (`Patient/123/Observation`): a resource is in
    /// it when one of `params` references the compartment owner, or it is the owner itself.
    pub fn restrict_to_compartment(&mut self, reg: &Registry, ctype: &str, cid: &str, params: &[String]) -> Result<(), SearchError> {
        let at = format!("{ctype}/{cid}/{}", self.resource_type);
        if !valid_id(cid) {
            return Err(err(&at, format!("'{cid}' is not a valid id")));
        }
        let mut any = Vec::new();
        for p in params {
            any.push(parse_filter(reg, &ParseEnv::NONE, &self.resource_type, &at, p, &format!("{ctype}/{cid}"), 0)?);
        }
        if self.resource_type == ctype {
            any.push(parse_filter(reg, &ParseEnv::NONE, ctype, &at, "_id", cid, 0)?);
        }
        if any.is_empty() {
            return Err(err(&at, format!("{} is not in the {ctype} compartment", self.resource_type)));
        }
        self.filters.push(Filter { param: format!("{ctype}-compartment"), modifier: None, value: cid.to_string(), cond: Cond::Any(any) });
        Ok(())
    }

    /// The resource type this query searches.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// One boolean SQL condition over the resource table aliased `r`, placeholders from `$first_arg`.
    pub fn to_sql(&self, first_arg: usize) -> SqlFilter {
        self.frag().render(first_arg)
    }

    fn frag(&self) -> Frag {
        if self.filters.is_empty() {
            return Frag::default().sql("1=1");
        }
        conjunction(&self.filters, &self.resource_type, "r", 1)
    }
}

/// The condition for a search over one or several types (system search with `_type`): the row is
/// of one of the queries' types and matches that type's query. Placeholders start at `$1`.
/// Contained resources as rows shaped like `resource` (rid, res_type, res_id, last_updated,
/// deleted) plus their container's rid; their index rows carry rid = -crid.
const CONTAINED_ROWS: &str = "(SELECT -c.crid AS rid, c.res_type AS res_type, c.local_id AS res_id, k.last_updated AS last_updated, \
     k.deleted AS deleted, c.container_rid AS container_rid FROM contained_resource c JOIN resource k ON k.rid = c.container_rid)";

/// What `_contained` asks a search to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainedMode {
    /// `false` (the default): stored resources only.
    Stored,
    /// `true`: resources contained in others only.
    Contained,
    /// `both`.
    Both,
}

/// Like [`scoped_sql`], for `_contained`: the rows are containers (any type) whose contained
/// resources match, plus (with `both`) the stored resources that match themselves.
pub fn contained_sql(queries: &[Query], mode: ContainedMode) -> SqlFilter {
    let inner = scoped_frag(queries);
    // The inner alias is `r` too, so each query's conditions apply to the contained row.
    let containers = Frag::default().sql(&format!("r.rid IN (SELECT r.container_rid FROM {CONTAINED_ROWS} r WHERE NOT r.deleted AND (")).append(inner.clone()).sql("))");
    match mode {
        ContainedMode::Stored => inner.render(1),
        ContainedMode::Contained => containers.render(1),
        ContainedMode::Both => Frag::default().sql("(").append(inner).sql(") OR ").append(containers).render(1),
    }
}

/// The matching contained resources of some containers: a statement over (container_rid,
/// res_id) with binds from `$1`, to be followed by `AND r.container_rid IN (...)`.
pub fn contained_matches_sql(queries: &[Query]) -> SqlFilter {
    Frag::default()
        .sql(&format!("SELECT r.container_rid, r.res_type, r.res_id FROM {CONTAINED_ROWS} r WHERE NOT r.deleted AND ("))
        .append(scoped_frag(queries))
        .sql(")")
        .render(1)
}

fn scoped_frag(queries: &[Query]) -> Frag {
    let parts: Vec<Frag> = queries
        .iter()
        .map(|q| Frag::default().sql("r.res_type = ").text(q.resource_type.clone()).sql(" AND (").append(q.frag()).sql(")"))
        .collect();
    if parts.is_empty() {
        return Frag::default().sql("1=0");
    }
    Frag::join(parts, " OR ")
}

/// The condition on `r` for matches of the `queries` (one per searched type), binds from `$1`.
pub fn scoped_sql(queries: &[Query]) -> SqlFilter {
    scoped_frag(queries).render(1)
}

impl Frag {
    fn render(self, first_arg: usize) -> SqlFilter {
        let mut sql = String::new();
        let mut args = Vec::new();
        for p in self.0 {
            match p {
                Piece::Sql(s) => sql.push_str(&s),
                Piece::Arg(a) => {
                    sql.push_str(&format!("${}", first_arg + args.len()));
                    args.push(a);
                }
            }
        }
        SqlFilter { sql, args }
    }
}

/// Filters that must all hold for the row `alias`. The index-row conditions among them become one
/// join of their row sets on rid, so the planner starts from the most selective one and probes the
/// others by rid; separate `rid IN (...)` lists would each be read in full (a patient's 300
/// Observations against 12,720 `vital-signs` rows). docs/performance.md, "Search".
fn conjunction(filters: &[Filter], rt: &str, alias: &str, depth: usize) -> Frag {
    let sets: Vec<Frag> = filters.iter().filter_map(|f| row_set(f, rt)).collect();
    if sets.len() < 2 {
        return Frag::join(filters.iter().map(|f| render(f, rt, alias, depth)).collect(), " AND ");
    }
    let joined = Frag::default().sql(&format!("{alias}.rid IN (")).append(rows_join(sets)).sql(")");
    let mut parts = vec![joined];
    parts.extend(filters.iter().filter(|f| row_set(f, rt).is_none()).map(|f| render(f, rt, alias, depth)));
    Frag::join(parts, " AND ")
}

/// `SELECT DISTINCT s1.rid FROM (set1) s1 JOIN (set2) s2 ON s2.rid = s1.rid ...`: the rids in
/// every one of the row sets.
fn rows_join(sets: Vec<Frag>) -> Frag {
    let mut joined = Frag::default().sql("SELECT DISTINCT s1.rid FROM (");
    for (i, set) in sets.into_iter().enumerate() {
        if i > 0 {
            joined = joined.sql(" JOIN (");
        }
        joined = joined.append(set).sql(&format!(") s{}", i + 1));
        if i > 0 {
            joined = joined.sql(&format!(" ON s{}.rid = s1.rid", i + 1));
        }
    }
    joined
}

/// The matches of a one-type search read from its index rows alone, when every filter is a
/// positive index-row condition (None otherwise), for a page to take its LIMIT inside the
/// statement that finds them ([`RidSource::page`]). Index rows exist only for current,
/// non-deleted resources (a contained resource's rows carry a negative rid); as a condition on
/// `resource`, SQLite builds the whole match list first (Q08 at x10, 2,540 matches of a code
/// probed for a date: 7 ms instead of 0.8 ms). docs/performance.md, "Search".
pub fn rid_source(queries: &[Query], mode: ContainedMode) -> Option<RidSource> {
    let [q] = queries else { return None };
    if mode != ContainedMode::Stored || q.filters.is_empty() {
        return None;
    }
    if let [f] = q.filters.as_slice() {
        if let Some(arms) = has_patient_token(f, &q.resource_type) {
            return Some(RidSource { arms, one_set: false, window: None });
        }
    }
    // References first: SQLite plans from averages (the query planner stability guarantee) and
    // favours the first set, whose rid order the page needs; a reference names particular
    // resources, where a token as common as category=vital-signs averages like a rare code
    // (Q12 at x1 read every vital sign: 0.84 ms instead of 0.09). The plan then also no longer
    // depends on the order of the parameters in the URL.
    let mut filters: Vec<&Filter> = q.filters.iter().collect();
    filters.sort_by_key(|f| !matches!(&f.cond, Cond::Rows { table, .. } if *table == "idx_reference"));
    let window = match filters.as_slice() {
        [Filter { cond: Cond::Rows { table: "idx_quantity", negate: false, alts, unit: Some(unit) }, param, .. }] => {
            Some(Window { rt: q.resource_type.clone(), param: param.clone(), unit: unit.clone(), alts: alts.clone() })
        }
        _ => None,
    };
    let sets: Option<Vec<Frag>> = filters.into_iter().map(|f| row_set(f, &q.resource_type)).collect();
    let sets = sets?;
    let one_set = sets.len() == 1;
    Some(RidSource { arms: vec![(rows_join(sets).sql(" WHERE s1.rid > 0"), "s1.rid")], one_set, window })
}

/// A one-value UCUM quantity search (`value-quantity=gt5|http://unitsofmeasure.org|mg`): its
/// matches among the unit's rows, which SQLite can read in rid order (index
/// `idx_quantity_canon_rid`), and its other alternatives (`alts[1..]`, values stored without a
/// canonical form).
#[derive(Debug, Clone)]
struct Window {
    rt: String,
    param: String,
    unit: String,
    alts: Vec<Frag>,
}

/// A search's matches as rids from index rows alone ([`rid_source`]): SELECTs whose union is the
/// match set, each with the expression its rid is selected as. A rid may be of a deleted
/// resource (a `_has` Patient's rid stays in the token rows of resources that name it), which
/// the page leaves out.
#[derive(Debug, Clone)]
pub struct RidSource {
    arms: Vec<(Frag, &'static str)>,
    /// Whether the matches are one parameter's index rows (no join of row sets).
    one_set: bool,
    /// The same matches as a window of a unit's rows ([`RidSource::window_page`]), when they are one UCUM quantity value's.
    window: Option<Window>,
}

impl RidSource {
    /// Whether one plan serves every value of the search: its matches are one parameter's index
    /// rows, read through that parameter's index whatever the values (its alternatives each
    /// through their own). A join of row sets is not: which set to read first depends on how
    /// common each value is (`category=vital-signs&patient=X` reads the patient's rows first).
    pub fn plan_fits_all_values(&self) -> bool {
        self.one_set
    }

    /// The statement selecting up to `limit` match rids (column `rid`) after (`forward`) or
    /// before `from`, nearest first. Several arms are one `UNION ... ORDER BY 1 LIMIT n`, which
    /// SQLite runs as a merge of the arms, each read in rid order from its index, so that the
    /// statement stops at the page's end. Binds from `$1`.
    pub fn page(&self, from: Option<i64>, forward: bool, limit: i64) -> SqlFilter {
        let arms = self.arms.iter().map(|(arm, rid)| match from {
            Some(from) => arm.clone().sql(&format!(" AND {rid} {} ", if forward { ">" } else { "<" })).int(from),
            None => arm.clone(),
        });
        compound(arms, " UNION ").sql(&format!(" ORDER BY 1 {} LIMIT ", if forward { "ASC" } else { "DESC" })).int(limit).render(1)
    }

    /// For SQLite, when the search is one UCUM quantity value: the statement selecting `(edge,
    /// rid)` for the next `size` of the unit's rows after (`forward`) or before `from` in rid
    /// order, nearest first: up to `limit` match rids within them, read in rid order so that it
    /// stops at the page's end, and `edge`, the last of those rows (NULL when fewer remain: the
    /// window then reaches the end). Always one row or more (`rid` NULL when none matched).
    ///
    /// [`RidSource::page`] reads the matches through the value index, all of them, then keeps
    /// the lowest rids: a common unit's range at ×10 is 2,160 matches for a page of 51 (Q11,
    /// docs/performance.md, "Thirteenth round"). In rid order a page costs its matches' share of
    /// the rows instead, whatever the data's size, but a rare value would read all the unit's
    /// rows: the window bounds that, and a page it does not fill goes on from `edge` with
    /// [`RidSource::page`]. SQLite plans once per statement, so the choice is made here.
    pub fn window_page(&self, from: Option<i64>, forward: bool, limit: i64, size: i64) -> Option<SqlFilter> {
        let w = self.window.as_ref()?;
        // Past `from` is `op`; up to the edge is `back`, and without one, as far as rids go.
        let (op, back, dir, far) = if forward { (">", "<", "ASC", "9223372036854775807") } else { ("<", ">", "DESC", "-9223372036854775808") };
        // Stored resources' rows past the cursor.
        let past = |f: Frag| {
            let f = f.sql(" AND x.rid > 0");
            match from {
                Some(from) => f.sql(&format!(" AND x.rid {op} ")).int(from),
                None => f,
            }
        };
        let bounded = |f: Frag| past(f).sql(&format!(" AND x.rid {back}= coalesce((SELECT edge FROM e), {far})"));
        let of_param = |index: &str| {
            Frag::default().sql(&format!("SELECT x.rid FROM idx_quantity x{index} WHERE x.res_type = ")).text(w.rt.clone()).sql(" AND x.param = ").text(w.param.clone())
        };
        let edge = past(of_param(" INDEXED BY idx_quantity_canon_rid").sql(" AND x.canon_code = ").text(w.unit.clone()));
        let edge = edge.sql(&format!(" ORDER BY x.rid {dir} LIMIT 1 OFFSET ")).int(size - 1);
        let arms = w.alts.iter().enumerate().map(|(i, alt)| {
            let index = if i == 0 { " INDEXED BY idx_quantity_canon_rid" } else { "" };
            bounded(of_param(index).sql(" AND (").append(alt.clone()).sql(")"))
        });
        let page = compound(arms, " UNION ").sql(&format!(" ORDER BY 1 {dir} LIMIT ")).int(limit);
        let sql = Frag::default()
            .sql("WITH e(edge) AS MATERIALIZED (")
            .append(edge)
            .sql(") SELECT (SELECT edge FROM e) AS edge, p.rid FROM (SELECT 1) o LEFT JOIN (")
            .append(page)
            .sql(") p ON 1");
        Some(sql.render(1))
    }
}

/// The rids of the index rows a positive row condition selects: a plain SELECT, so that it can be
/// flattened into a join.
fn row_set(f: &Filter, rt: &str) -> Option<Frag> {
    match &f.cond {
        Cond::Rows { table, negate: false, alts, .. } => Some(alts_rows(table, rt, &f.param, alts, false)),
        _ => has_patient_token(f, rt).map(union_all),
    }
}

/// SELECTs as one `UNION ALL` (a row set for a join or an IN).
fn union_all(arms: Vec<(Frag, &'static str)>) -> Frag {
    compound(arms.into_iter().map(|(arm, _)| arm), " UNION ALL ")
}

/// SELECTs joined by a compound operator (`" UNION "`, `" UNION ALL "`). Not [`Frag::join`]:
/// SQLite refuses a parenthesized SELECT in a compound one.
fn compound(selects: impl IntoIterator<Item = Frag>, op: &str) -> Frag {
    let mut q = Frag::default();
    for (i, select) in selects.into_iter().enumerate() {
        q = q.sql(if i > 0 { op } else { "" }).append(select);
    }
    q
}

/// The rids of one parameter's index rows that match any of `alts`. Several alternatives (a
/// quantity's canonical and as-written forms, `code=a,b`) are read one index scan each, as
/// `SELECT u.rid FROM (alt1 UNION ALL alt2 ...) u`: as one OR, PostgreSQL answers with a bitmap
/// scan, which cannot be index-only and visits the table row of every match (Q11 at x10, 2,160
/// mg/dL values: 1,396 table pages, 2.2 ms; as a UNION ALL 1.0 ms), and SQLite with a MULTI-INDEX
/// OR that reads every match's table row too (Q11 `cm` at x10: 5.3 ms; 0.3 ms).
fn alts_rows(table: &str, rt: &str, param: &str, alts: &[Frag], distinct: bool) -> Frag {
    if alts.len() < 2 || alts.len() > UNION_MAX {
        return rows_where(table, rt, param, distinct, Frag::join(alts.to_vec(), " OR "));
    }
    Frag::default()
        .sql(&format!("SELECT {}u.rid FROM (", if distinct { "DISTINCT " } else { "" }))
        .append(compound(alts.iter().map(|a| rows_where(table, rt, param, false, a.clone())), " UNION ALL "))
        .sql(") u")
}

/// `SELECT {what} FROM table x` restricted to one parameter of `rt`.
fn select_of(what: &str, table: &str, rt: &str, param: &str) -> Frag {
    Frag::default().sql(&format!("SELECT {what} FROM {table} x WHERE x.res_type = ")).text(rt).sql(" AND x.param = ").text(param)
}

/// `SELECT x.rid FROM table x` restricted to one parameter of `rt`.
fn rows_of(table: &str, rt: &str, param: &str, distinct: bool) -> Frag {
    select_of(if distinct { "DISTINCT x.rid" } else { "x.rid" }, table, rt, param)
}

/// [`rows_of`] further restricted by `cond` on the row `x`.
fn rows_where(table: &str, rt: &str, param: &str, distinct: bool, cond: Frag) -> Frag {
    rows_of(table, rt, param, distinct).sql(" AND (").append(cond).sql(")")
}

/// `Patient?_has:{source}:patient:{param}=...` on a token, as the Patients' rids (with the
/// expression each arm selects its rid as), when `f` is one: they come from the token rows'
/// own `patient_rid` column (the rid of the Patient the source's `patient` parameter names),
/// read from the code's index entries in rid order, instead of from one idx_reference probe per
/// matching source (Q20 at x10: 540 to 820) and one look-up by id per patient (300) to order
/// them. Rows without it (a source naming several patients holds `*` and is read through
/// idx_reference; a Patient written after the row is read by id) come from a second arm.
/// Contained resources' rows hold no patient, as they are never sources. A Patient's rid stays
/// in the rows after it is deleted: the first arm may name deleted Patients.
fn has_patient_token(f: &Filter, rt: &str) -> Option<Vec<(Frag, &'static str)>> {
    let Cond::Has { source, reference, inner } = &f.cond else { return None };
    let (Cond::Rows { table: "idx_token", negate: false, alts, .. }, "patient", "Patient") = (&inner.cond, reference.as_str(), rt) else { return None };
    let (param, cond) = (&inner.param, Frag::join(alts.clone(), " OR "));
    let several = crate::SEVERAL_PATIENTS;
    let of_code = |what: &str| select_of(what, "idx_token", source, param).sql(" AND (").append(cond.clone()).sql(")");
    let known = of_code("x.patient_rid AS rid").sql(" AND x.patient IS NOT NULL AND x.patient_rid IS NOT NULL");
    let by_id = Frag::default()
        .sql("SELECT p.rid FROM resource p WHERE p.res_type = ")
        .text(rt)
        .sql(" AND NOT p.deleted AND p.res_id IN (")
        .append(of_code("x.patient"))
        .sql(&format!(" AND x.patient IS NOT NULL AND x.patient_rid IS NULL AND x.patient <> '{several}'"))
        .sql(" UNION ALL SELECT y.target_id FROM idx_reference y WHERE y.res_type = ")
        .text(source.clone())
        .sql(" AND y.param = 'patient' AND y.target_type = 'Patient' AND y.rid IN (")
        .append(of_code("x.rid"))
        .sql(&format!(" AND x.patient IS NOT NULL AND x.patient_rid IS NULL AND x.patient = '{several}'))"));
    Some(vec![(known, "x.patient_rid"), (by_id, "p.rid")])
}

/// Alternatives of one condition read as a UNION ALL at most (SQLite allows 500 SELECTs in one
/// compound, each costs a plan step): more stay one OR, read however the planner chooses.
const UNION_MAX: usize = 32;

/// SQL for one filter about the row `alias` of type `rt`; nested rows get aliases `r1`, `r2`, ...
fn render(f: &Filter, rt: &str, alias: &str, depth: usize) -> Frag {
    let sub = |table: &str| rows_of(table, rt, &f.param, false);
    match &f.cond {
        Cond::Direct(alts) => Frag::join(alts.clone(), " OR ").with_alias(alias),
        Cond::Missing { table, missing, stored_param } => Frag::default()
            .sql(&format!("{alias}.rid {}IN (SELECT x.rid FROM {table} x WHERE x.res_type = ", if *missing { "NOT " } else { "" }))
            .text(rt)
            .sql(" AND x.param = ")
            .text(stored_param.clone().unwrap_or_else(|| f.param.clone()))
            .sql(")"),
        Cond::Composite { alts } => {
            let one = |comps: &[(&'static str, Frag)]| {
                // Innermost component first: each level keeps the (rid, grp) pairs the next level allows.
                let mut inner: Option<Frag> = None;
                for (i, (table, cond)) in comps.iter().enumerate().rev() {
                    let mut q = Frag::default()
                        .sql(&format!("SELECT x.rid{} FROM {table} x WHERE x.res_type = ", if i > 0 { ", x.grp" } else { "" }))
                        .text(rt)
                        .sql(" AND x.param = ")
                        .text(format!("{}${i}", f.param))
                        .sql(" AND (")
                        .append(cond.clone())
                        .sql(")");
                    if let Some(next) = inner.take() {
                        q = q.sql(" AND (x.rid, x.grp) IN (").append(next).sql(")");
                    }
                    inner = Some(q);
                }
                Frag::default().sql(&format!("{alias}.rid IN (")).append(inner.unwrap_or_default()).sql(")")
            };
            Frag::join(alts.iter().map(|c| one(c)).collect(), " OR ")
        }
        // DISTINCT: PostgreSQL then reads the rids in index order and stops at the page's end; a
        // plain IN makes it look up every match in `resource` before sorting (Q07: 0.6 vs 11 ms).
        // A NOT IN needs no DISTINCT.
        Cond::Rows { table, negate, alts, .. } => Frag::default()
            .sql(&format!("{alias}.rid {}IN (", if *negate { "NOT " } else { "" }))
            .append(alts_rows(table, rt, &f.param, alts, !*negate))
            .sql(")"),
        Cond::Chain { targets } => {
            let inner = format!("r{depth}");
            let stored = targets
                .iter()
                .map(|(t, filter)| {
                    Frag::default()
                        .sql("x.target_type = ")
                        .text(t.clone())
                        .sql(&format!(" AND x.target_id IN (SELECT {inner}.res_id FROM resource {inner} WHERE {inner}.res_type = "))
                        .text(t.clone())
                        .sql(&format!(" AND NOT {inner}.deleted AND "))
                        .append(render(filter, t, &inner, depth + 1))
                        .sql(")")
                })
                .collect();
            // search.html: a chain is also evaluated inside contained resources (`#id` references
            // of the resource to its own contained ones). Both row sets go in one IN: PostgreSQL
            // cannot turn `rid IN (...) OR rid IN (...)` into a join and would test every resource
            // of the type against both lists (Q13 at ×10: 1.7 ms instead of 0.5 ms).
            let contained = targets
                .iter()
                .map(|(t, filter)| {
                    if let Some(rows) = row_set(filter, t) {
                        // From the filter's own index rows (a contained resource's carry rid =
                        // -crid and exist only while its container is current), by crid: through
                        // CONTAINED_ROWS, SQLite read every contained resource, twice (Q13 at
                        // x10: 0.56 ms, of which 0.47 for 11,880 contained Medications).
                        return Frag::default()
                            .sql(&format!("(x.rid, substr(x.url, 2)) IN (SELECT {inner}.container_rid, {inner}.local_id FROM contained_resource {inner} WHERE {inner}.crid IN (SELECT -y.rid FROM ("))
                            .append(rows)
                            .sql(") y WHERE y.rid < 0))");
                    }
                    Frag::default()
                        .sql(&format!("(x.rid, substr(x.url, 2)) IN (SELECT {inner}.container_rid, {inner}.res_id FROM {CONTAINED_ROWS} {inner} WHERE {inner}.res_type = "))
                        .text(t.clone())
                        .sql(" AND ")
                        .append(render(filter, t, &inner, depth + 1))
                        .sql(")")
                })
                .collect();
            Frag::default()
                .sql(&format!("{alias}.rid IN ("))
                .append(sub("idx_reference"))
                .sql(" AND (")
                .append(Frag::join(stored, " OR "))
                .sql(") UNION ALL ")
                .append(sub("idx_reference"))
                .sql(" AND x.url LIKE '#%' AND (")
                .append(Frag::join(contained, " OR "))
                .sql("))")
        }
        Cond::Near(near) => {
            let b = near.bounds();
            let mut q = Frag::default()
                .sql(&format!("{alias}.rid IN (SELECT a.rid FROM idx_number a JOIN idx_number b ON b.rid = a.rid AND b.grp = a.grp AND b.param = "))
                .text(format!("{}$1", f.param))
                .sql(" WHERE a.res_type = ")
                .text(rt)
                .sql(" AND a.param = ")
                .text(format!("{}$0", f.param))
                .sql(" AND a.value BETWEEN ")
                .float(b.lat_range.0)
                .sql(" AND ")
                .float(b.lat_range.1);
            if let Some((lo, hi)) = b.long_range {
                q = q.sql(" AND b.value BETWEEN ").float(lo).sql(" AND ").float(hi);
            }
            q.sql(" AND (a.value - ")
                .float(near.lat)
                .sql(") * (a.value - ")
                .float(near.lat)
                .sql(") * ")
                .float(b.ky2)
                .sql(" + (b.value - ")
                .float(near.long)
                .sql(") * (b.value - ")
                .float(near.long)
                .sql(") * ")
                .float(b.kx2)
                .sql(" <= ")
                .float(b.d2)
                .sql(")")
        }
        Cond::Any(filters) => Frag::join(filters.iter().map(|f| render(f, rt, alias, depth)).collect(), " OR "),
        Cond::All(filters) => conjunction(filters, rt, alias, depth),
        Cond::Not(inner) => Frag::default().sql("NOT (").append(render(inner, rt, alias, depth)).sql(")"),
        Cond::Has { source, reference, inner: filter } => {
            if let Some(arms) = has_patient_token(f, rt) {
                return Frag::default().sql(&format!("{alias}.rid IN (")).append(union_all(arms)).sql(")");
            }
            let inner = format!("r{depth}");
            let refs = Frag::default()
                .sql(&format!("{alias}.res_id IN (SELECT x.target_id FROM idx_reference x WHERE x.res_type = "))
                .text(source.clone())
                .sql(" AND x.param = ")
                .text(reference.clone())
                .sql(" AND x.target_type = ")
                .text(rt);
            if let Cond::Rows { negate: false, .. } = &filter.cond {
                // Relies on the store's rule that index rows exist only for current, non-deleted
                // resources (they are deleted on update and delete) and that a contained resource's
                // rows carry rid = -(its crid): a source's own rows then stand for the source, and
                // its look-up in `resource` (one probe per source, 820 for a common LOINC code at
                // ×10, and a larger statement to plan) can go. docs/performance.md, "Search".
                return refs.sql(" AND x.rid > 0 AND ").append(render(filter, source, "x", depth + 1)).sql(")");
            }
            refs.sql(&format!(" AND x.rid IN (SELECT {inner}.rid FROM resource {inner} WHERE {inner}.res_type = "))
                .text(source.clone())
                .sql(&format!(" AND NOT {inner}.deleted AND "))
                .append(render(filter, source, &inner, depth + 1))
                .sql("))")
        }
    }
}
