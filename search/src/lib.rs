//! FHIR R4 search: the SearchParameter registry, index-row extraction and query → SQL translation.
//!
//! Storage contract: on every create/update, delete the resource's idx_* rows and insert
//! `Registry::extract` of the new current version (after `id` and `meta.lastUpdated` are set);
//! on delete, remove them. `_id` and `_lastUpdated` are answered from `resource.res_id` and
//! `resource.last_updated`, so those columns must agree with the JSON.
#![warn(missing_docs)]

/// Value conversion from FHIR JSON to index rows, shared with query-value parsing.
pub mod extract;
/// The small FHIRPath subset used until the real engine lands.
pub mod path;
mod query;

pub use query::{Filter, Query, SearchError, SqlArg, SqlFilter};

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The kind of a search parameter (SearchParameter.type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    /// number
    Number,
    /// date
    Date,
    /// string
    String,
    /// token
    Token,
    /// reference
    Reference,
    /// composite
    Composite,
    /// quantity
    Quantity,
    /// uri
    Uri,
    /// special
    Special,
}

impl ParamType {
    /// Maps SearchParameter.type codes; unknown codes give None.
    pub fn from_code(code: &str) -> Option<ParamType> {
        Some(match code {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }
}

/// One search parameter as it applies to one resource type.
#[derive(Debug, Clone)]
pub struct SearchParam {
    /// The name used in queries (SearchParameter.code).
    pub code: String,
    /// SearchParameter.url.
    pub url: String,
    /// SearchParameter.type.
    pub kind: ParamType,
    /// The full FHIRPath expression as published (shared by every base type).
    pub expression: Option<String>,
    /// SearchParameter.target: resource types a reference parameter may point to.
    pub targets: Vec<String>,
    /// The expression narrowed to this resource type, when it is within the evaluator's subset.
    compiled: Option<Arc<path::Expr>>,
    /// Why the expression cannot be evaluated, when it cannot.
    unsupported: Option<String>,
}

impl SearchParam {
    /// Whether extraction produces rows for this parameter.
    pub fn is_evaluable(&self) -> bool {
        self.compiled.is_some()
    }
    /// Why the expression is not evaluated (None when it is).
    pub fn unsupported_reason(&self) -> Option<&str> {
        self.unsupported.as_deref()
    }
}

/// One row for the idx_* tables; `param` is the search parameter code.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each field is the idx_* column of the same name
pub enum IndexRow {
    /// idx_string
    String { param: String, value_norm: String, value_exact: String },
    /// idx_token
    Token {
        param: String,
        system: Option<String>,
        code: Option<String>,
        text_norm: Option<String>,
        type_system: Option<String>,
        type_code: Option<String>,
    },
    /// idx_reference
    Reference {
        param: String,
        target_type: Option<String>,
        target_id: Option<String>,
        target_version: Option<String>,
        url: Option<String>,
        ident_system: Option<String>,
        ident_value: Option<String>,
    },
    /// idx_date: inclusive microsecond range, UTC.
    Date { param: String, low: i64, high: i64 },
    /// idx_number
    Number { param: String, value: f64, low: f64, high: f64 },
    /// idx_quantity
    Quantity {
        param: String,
        value: f64,
        low: f64,
        high: f64,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
        canon_value: Option<f64>,
        canon_code: Option<String>,
    },
    /// idx_uri
    Uri { param: String, value: String },
}

impl IndexRow {
    /// The search parameter code this row belongs to.
    pub fn param(&self) -> &str {
        match self {
            IndexRow::String { param, .. }
            | IndexRow::Token { param, .. }
            | IndexRow::Reference { param, .. }
            | IndexRow::Date { param, .. }
            | IndexRow::Number { param, .. }
            | IndexRow::Quantity { param, .. }
            | IndexRow::Uri { param, .. } => param,
        }
    }
    /// The idx_* table this row goes to.
    pub fn table(&self) -> &'static str {
        match self {
            IndexRow::String { .. } => "idx_string",
            IndexRow::Token { .. } => "idx_token",
            IndexRow::Reference { .. } => "idx_reference",
            IndexRow::Date { .. } => "idx_date",
            IndexRow::Number { .. } => "idx_number",
            IndexRow::Quantity { .. } => "idx_quantity",
            IndexRow::Uri { .. } => "idx_uri",
        }
    }
}

/// Parameters whose published expression we could evaluate but whose meaning we cannot honour yet.
const REFUSED_CODES: &[(&str, &str)] = &[("phonetic", "phonetic matching is not implemented")];

/// All search parameters, by resource type and code.
#[derive(Debug, Default)]
pub struct Registry {
    by_type: HashMap<String, Vec<SearchParam>>,
    index: HashMap<(String, String), usize>,
    resource_types: Vec<String>,
}

impl Registry {
    /// The registry for the R4 core package, built once.
    pub fn r4() -> &'static Registry {
        static R4: OnceLock<Registry> = OnceLock::new();
        R4.get_or_init(|| {
            let pkg = profiles::Package::r4_core();
            Registry::from_search_parameters(pkg.resources("SearchParameter"), pkg.resource_types())
        })
    }

    /// Builds a registry from SearchParameter resources; Resource/DomainResource parameters go to every type.
    pub fn from_search_parameters(params: &[Value], resource_types: &[String]) -> Registry {
        let mut reg = Registry { resource_types: resource_types.to_vec(), ..Default::default() };
        for sp in params {
            let s = |k: &str| sp.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(code), Some(kind)) = (s("code"), s("type").as_deref().and_then(ParamType::from_code)) else {
                continue;
            };
            let expression = s("expression");
            let compiled = expression.as_deref().map(path::compile);
            let strs = |k: &str| -> Vec<String> {
                sp.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let bases: Vec<String> = strs("base")
                .into_iter()
                .flat_map(|b| match b.as_str() {
                    "Resource" => resource_types.to_vec(),
                    "DomainResource" => resource_types
                        .iter()
                        .filter(|t| !matches!(t.as_str(), "Bundle" | "Binary" | "Parameters"))
                        .cloned()
                        .collect(),
                    _ => vec![b],
                })
                .collect();
            let refused = REFUSED_CODES.iter().find(|(c, _)| *c == code).map(|(_, why)| why.to_string());
            for base in bases {
                let key = (base.clone(), code.clone());
                if reg.index.contains_key(&key) {
                    continue;
                }
                let (compiled_for, unsupported) = match (&compiled, &refused) {
                    (_, Some(why)) => (None, Some(why.clone())),
                    (None, None) => (None, Some("no expression".to_string())),
                    (Some(Err(e)), None) => (None, Some(e.clone())),
                    (Some(Ok(e)), None) => match e.for_type(&base) {
                        Some(e) if matches!(kind, ParamType::Composite | ParamType::Special) => {
                            let _ = e;
                            (None, Some(format!("{kind:?} parameters are not indexed yet")))
                        }
                        Some(e) => (Some(Arc::new(e)), None),
                        None => (None, Some(format!("expression has no branch for {base}"))),
                    },
                };
                let list = reg.by_type.entry(base.clone()).or_default();
                reg.index.insert(key, list.len());
                list.push(SearchParam {
                    code: code.clone(),
                    url: s("url").unwrap_or_default(),
                    kind,
                    expression: expression.clone(),
                    targets: strs("target"),
                    compiled: compiled_for,
                    unsupported,
                });
            }
        }
        reg
    }

    /// The parameter `code` as defined for `resource_type`.
    pub fn param(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        let i = *self.index.get(&(resource_type.to_string(), code.to_string()))?;
        self.by_type.get(resource_type).map(|l| &l[i])
    }

    /// Every parameter defined for `resource_type` (including the Resource-level ones).
    pub fn params_for(&self, resource_type: &str) -> impl Iterator<Item = &SearchParam> {
        self.by_type.get(resource_type).into_iter().flatten()
    }

    /// The resource types the registry was built with.
    pub fn resource_types(&self) -> &[String] {
        &self.resource_types
    }

    /// Index rows for one resource (current version), every parameter of its type whose expression we can evaluate.
    pub fn extract(&self, resource: &Value) -> Vec<IndexRow> {
        let Some(rt) = resource.get("resourceType").and_then(Value::as_str) else { return vec![] };
        let mut out = Vec::new();
        for sp in self.params_for(rt) {
            let Some(expr) = &sp.compiled else { continue };
            let start = out.len();
            for item in path::evaluate(expr, resource) {
                extract::rows_for(&sp.code, sp.kind, &item, rt, &mut out);
            }
            dedup_tail(&mut out, start);
        }
        out
    }

    /// Parse query parameters (already percent-decoded name/value pairs) for a type-level search.
    pub fn parse_query(&self, resource_type: &str, params: &[(String, String)]) -> Result<Query, SearchError> {
        query::parse(self, resource_type, params)
    }
}

/// Unions such as `Patient.name | Patient.name.given` may find a value twice; duplicate rows add nothing.
fn dedup_tail(rows: &mut Vec<IndexRow>, start: usize) {
    let mut i = start;
    while i < rows.len() {
        if rows[start..i].contains(&rows[i]) {
            rows.remove(i);
        } else {
            i += 1;
        }
    }
}
