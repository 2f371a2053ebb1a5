//! FHIR R4 search: the SearchParameter registry, index-row extraction and query → SQL translation.
//!
//! Storage contract: on every create/update, delete the resource's idx_* rows and insert
//! `Registry::extract` of the new current version (after `id` and `meta.lastUpdated` are set);
//! on delete, remove them. `_id` and `_lastUpdated` are answered from `resource.res_id` and
//! `resource.last_updated`, so those columns must agree with the JSON.
#![warn(missing_docs)]

/// Value conversion from FHIR JSON to index rows, shared with query-value parsing.
pub mod extract;
mod filter;
mod fulltext;
mod implicit;
mod narrow;
mod near;
mod query;
mod sort;

pub use query::{contained_matches_sql, contained_sql, rid_source, scoped_sql, RidSource, ContainedMode, Filter, Query, Reach, SearchError, SqlArg, SqlFilter};
pub use sort::{KeyKind, SortKey};

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
    /// The expression's top-level branches for this resource type, compiled by the FHIRPath engine.
    compiled: Option<Arc<[Arc<fhirpath::Expression>]>>,
    /// Why the expression cannot be evaluated, when it cannot.
    unsupported: Option<String>,
    /// For a composite: its components, evaluated on each item the expression finds.
    pub components: Vec<Component>,
    /// Per compiled branch: the code system its `code` values implicitly belong to (token only).
    implicit_systems: Vec<Option<String>>,
    /// False while stored resources are being reindexed for it: queries are refused, not under-answered.
    pub ready: bool,
    /// Defined by a stored SearchParameter resource rather than the R4 package.
    pub custom: bool,
}

/// One component of a composite parameter (SearchParameter.component).
#[derive(Debug, Clone)]
pub struct Component {
    /// The type of the component's own SearchParameter (`definition`).
    pub kind: ParamType,
    /// That parameter's targets, for reference components.
    pub targets: Vec<String>,
    compiled: Arc<[Arc<fhirpath::Expression>]>,
    /// The `param` of its rows, `composite$index`, made once rather than for every value indexed.
    code: String,
}

impl SearchParam {
    /// Whether extraction produces rows for this parameter.
    pub fn is_evaluable(&self) -> bool {
        self.compiled.is_some()
    }
    /// How many of the expression's branches reach a `code` element with an implied code system.
    pub fn implicit_system_count(&self) -> usize {
        self.implicit_systems.iter().flatten().count()
    }
    /// Why the expression is not evaluated (None when it is).
    pub fn unsupported_reason(&self) -> Option<&str> {
        self.unsupported.as_deref()
    }
    /// The `param` values of the index rows this parameter writes (composites and `near` write one per component).
    pub fn row_params(&self) -> Vec<String> {
        let parts = match self.kind {
            ParamType::Composite => self.components.len(),
            ParamType::Special => 2,
            _ => 0,
        };
        std::iter::once(self.code.clone()).chain((0..parts).map(|i| format!("{}${i}", self.code))).collect()
    }
    /// Whether two definitions index the same rows (so switching between them needs no reindex).
    fn same_rows(&self, other: &SearchParam) -> bool {
        let branches = |p: &SearchParam| p.compiled.as_ref().map(|c| c.iter().map(|e| e.source().to_string()).collect::<Vec<_>>());
        self.kind == other.kind
            && branches(self) == branches(other)
            && self.components.len() == other.components.len()
            && self.components.iter().zip(&other.components).all(|(a, b)| a.kind == b.kind && a.sources() == b.sources())
            && self.implicit_systems == other.implicit_systems
            && self.unsupported == other.unsupported
    }
}

impl Component {
    fn sources(&self) -> Vec<&str> {
        self.compiled.iter().map(|e| e.source()).collect()
    }
}

/// The `patient` column of a token row whose resource's `patient` parameter names several
/// patients: never an id (FHIR ids are letters, digits, '-' and '.'), so `_has` reads such rows
/// through idx_reference. Written as the SQL literal '*' where SQL computes the column.
pub const SEVERAL_PATIENTS: &str = "*";

/// What the `patient` column of a resource's token rows holds, from all of its rows: the Patient
/// its `patient` parameter names, [`SEVERAL_PATIENTS`] when it names more than one, None for none.
pub fn token_patient(rows: &[IndexRow]) -> Option<&str> {
    let mut named = rows.iter().filter_map(|r| match r {
        IndexRow::Reference { param, target_type: Some(t), target_id: Some(id), .. } if param == "patient" && t == "Patient" => Some(id.as_str()),
        _ => None,
    });
    let first = named.next()?;
    Some(if named.all(|id| id == first) { first } else { SEVERAL_PATIENTS })
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
    /// idx_text: a folded word document for `_text` (narrative) or `_content` (all strings).
    Text { param: String, value: String },
    /// One component value of a composite: `row.param` is `composite$index`, and rows of the same
    /// element instance share `grp`, so a query can ask for values of one instance together.
    Composite { grp: u32, row: Box<IndexRow> },
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
            | IndexRow::Uri { param, .. }
            | IndexRow::Text { param, .. } => param,
            IndexRow::Composite { row, .. } => row.param(),
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
            IndexRow::Text { .. } => "idx_text",
            IndexRow::Composite { row, .. } => row.table(),
        }
    }
}

/// The terminology that token modifiers `:in`, `:not-in`, `:above` and `:below` need, answered by
/// the caller (the server resolves stored ValueSets and CodeSystems before parsing).
pub trait Terminology {
    /// The (system, code) pairs of a value set named by canonical URL (optionally `|version`) or `ValueSet/id`.
    fn value_set_codes(&self, reference: &str) -> Result<Vec<(String, String)>, String>;
    /// Codes of `system` subsumed by `code` (`below`) or subsuming it (not `below`), `code` included.
    fn related_codes(&self, system: &str, code: &str, below: bool) -> Result<Vec<String>, String>;
}

/// No terminology at hand: the modifiers that need it are refused, never answered as empty.
pub struct NoTerminology;

impl Terminology for NoTerminology {
    fn value_set_codes(&self, reference: &str) -> Result<Vec<(String, String)>, String> {
        Err(format!("no terminology is available to resolve value set '{reference}'"))
    }
    fn related_codes(&self, system: &str, _: &str, _: bool) -> Result<Vec<String>, String> {
        Err(format!("no terminology is available for code system '{system}'"))
    }
}

/// The format of the index rows [`Registry::extract`] writes. Raise it whenever a change makes rows
/// differ for the same resource (a store then reindexes what it holds): 2 added implied code
/// systems, composites, `near`, UCUM-canonical quantities and the `_text`/`_content` documents.
/// 3 indexes contained resources and leaves base64Binary values (attachment data) out of `_content`.
pub const INDEX_FORMAT: i64 = 3;

/// The index rows of one contained resource: its type, its local id and its rows.
pub type ContainedRows = (String, String, Vec<IndexRow>);

/// What parsing a query needs from the server around it.
#[derive(Clone, Copy)]
pub struct ParseEnv<'a> {
    /// Answers token `:in`, `:not-in`, `:above` and `:below`.
    pub terminology: &'a (dyn Terminology + Sync),
    /// The server's own base URL (no trailing slash): a reference value under it is a local `Type/id`.
    pub base: Option<&'a str>,
}

impl ParseEnv<'static> {
    /// No terminology and no known base.
    pub const NONE: ParseEnv<'static> = ParseEnv { terminology: &NoTerminology, base: None };
}

/// Parameters whose published expression we could evaluate but whose meaning we cannot honour yet.
const REFUSED_CODES: &[(&str, &str)] = &[("phonetic", "phonetic matching is not implemented")];

/// All search parameters, by resource type and code.
#[derive(Clone)]
pub struct Registry {
    by_type: HashMap<String, Vec<SearchParam>>,
    index: HashMap<(String, String), usize>,
    resource_types: Vec<String>,
    engine: Arc<fhirpath::Engine>,
    /// (compartment type, resource type) → the parameters that place a resource in the compartment.
    compartments: HashMap<(String, String), Vec<String>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("resource_types", &self.resource_types.len()).field("params", &self.index.len()).finish()
    }
}

/// `resolve()` while indexing: the store is not consulted, but a reference's own text tells
/// its type, which is all `where(resolve() is Patient)` needs.
struct TypeOfReference;

impl fhirpath::Resolver for TypeOfReference {
    fn resolve(&self, reference: &str) -> Option<Value> {
        let r = extract::parse_reference(reference)?;
        Some(serde_json::json!({"resourceType": r.target_type?, "id": r.target_id?}))
    }
}

impl Registry {
    /// The registry for the R4 core package, built once.
    pub fn r4() -> &'static Registry {
        static R4: OnceLock<Registry> = OnceLock::new();
        R4.get_or_init(|| {
            let pkg = profiles::Package::r4_core();
            let mut reg = Registry::from_search_parameters(pkg.resources("SearchParameter"), pkg.resource_types(), pkg.model());
            reg.add_compartments(pkg.resources("CompartmentDefinition"));
            reg.add_implicit_systems(pkg);
            reg
        })
    }

    /// Builds a registry from SearchParameter resources; Resource/DomainResource parameters go to every type.
    pub fn from_search_parameters(params: &[Value], resource_types: &[String], model: Arc<fhir_model::Model>) -> Registry {
        let mut reg = Registry {
            by_type: HashMap::new(),
            index: HashMap::new(),
            resource_types: resource_types.to_vec(),
            engine: Arc::new(fhirpath::Engine::new(Some(model))),
            compartments: HashMap::new(),
        };
        let by_url: HashMap<&str, &Value> = params.iter().filter_map(|p| Some((p.get("url")?.as_str()?, p))).collect();
        for sp in params {
            reg.define(sp, &by_url, false);
        }
        reg
    }

    /// Adds one SearchParameter resource for each of its base types and returns, per base, why it
    /// cannot be evaluated (None when it can). A `custom` definition replaces what the base had.
    fn define(&mut self, sp: &Value, by_url: &HashMap<&str, &Value>, custom: bool) -> Vec<(String, Option<String>)> {
        let s = |k: &str| sp.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(code), Some(kind)) = (s("code"), s("type").as_deref().and_then(ParamType::from_code)) else {
            return Vec::new();
        };
        let expression = s("expression");
        let strs = |k: &str| -> Vec<String> {
            sp.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
        };
        let resource_types = self.resource_types.clone();
        let bases: Vec<String> = strs("base")
            .into_iter()
            .flat_map(|b| match b.as_str() {
                "Resource" => resource_types.clone(),
                "DomainResource" => resource_types.iter().filter(|t| !matches!(t.as_str(), "Bundle" | "Binary" | "Parameters")).cloned().collect(),
                _ => vec![b],
            })
            .collect();
        let refused = REFUSED_CODES.iter().find(|(c, _)| *c == code).map(|(_, why)| why.to_string());
        let mut out = Vec::new();
        for base in bases {
            let key = (base.clone(), code.clone());
            if self.index.contains_key(&key) && !custom {
                continue;
            }
            let is_type = |t: &str| resource_types.iter().any(|r| r == t) || matches!(t, "Resource" | "DomainResource");
            let (compiled_for, unsupported) = match (&expression, &refused) {
                (_, Some(why)) => (None, Some(why.clone())),
                (None, None) => (None, Some("no expression".to_string())),
                _ if kind == ParamType::Special && code != "near" => (None, Some(format!("{kind:?} parameters are not indexed yet"))),
                (Some(e), None) => {
                    let e = &r4_errata(e);
                    let branches = narrow::for_type(e, &base, is_type);
                    match branches.iter().map(|b| self.engine.compile(b)).collect::<Result<Vec<_>, _>>() {
                        _ if branches.is_empty() => (None, Some(format!("expression has no branch for {base}"))),
                        Ok(c) => (Some(c.into()), None),
                        Err(err) => (None, Some(err.to_string())),
                    }
                }
            };
            let (components, unsupported) = match (kind, unsupported) {
                (ParamType::Composite, None) => match self.components(sp, by_url) {
                    Ok(c) => (c, None),
                    Err(why) => (Vec::new(), Some(why)),
                },
                (_, u) => (Vec::new(), u),
            };
            let compiled_for = if unsupported.is_some() { None } else { compiled_for };
            out.push((base.clone(), unsupported.clone()));
            let param = SearchParam {
                code: code.clone(),
                url: s("url").unwrap_or_default(),
                kind,
                expression: expression.clone(),
                targets: strs("target"),
                compiled: compiled_for,
                unsupported,
                components,
                implicit_systems: Vec::new(),
                ready: true,
                custom,
            };
            let list = self.by_type.entry(base.clone()).or_default();
            match self.index.get(&key) {
                Some(&i) => list[i] = param,
                None => {
                    self.index.insert(key, list.len());
                    list.push(param);
                }
            }
        }
        out
    }

    /// This registry with the custom SearchParameter resources added (each replacing a definition
    /// of the same code and base); parameters in `pending` refuse queries as not ready.
    pub fn with_custom(&self, customs: &[Value], pending: &std::collections::HashSet<(String, String)>) -> Registry {
        let mut reg = self.clone();
        let pkg = profiles::Package::r4_core();
        let by_url = definitions_by_url(customs);
        let mut defined = Vec::new();
        for sp in customs {
            let code = sp.get("code").and_then(Value::as_str).unwrap_or_default();
            defined.extend(reg.define(sp, &by_url, true).into_iter().map(|(base, _)| (base, code.to_string())));
        }
        reg.implicit_systems_for(pkg, &defined);
        reg.set_pending(pending);
        reg
    }

    /// This registry with exactly the parameters in `pending` marked not ready.
    pub fn with_pending(&self, pending: &std::collections::HashSet<(String, String)>) -> Registry {
        let mut reg = self.clone();
        reg.set_pending(pending);
        reg
    }

    fn set_pending(&mut self, pending: &std::collections::HashSet<(String, String)>) {
        for (rt, params) in self.by_type.iter_mut() {
            for sp in params.iter_mut() {
                sp.ready = !pending.contains(&(rt.clone(), sp.code.clone()));
            }
        }
    }

    /// Why a SearchParameter resource cannot be used here, as (element, message); Ok when every
    /// base type can evaluate it and it takes no code a different custom parameter already has.
    pub fn check_custom(&self, sp: &Value) -> Result<(), (String, String)> {
        let s = |k: &str| sp.get(k).and_then(Value::as_str);
        let Some(code) = s("code").filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')) else {
            return Err(("SearchParameter.code".into(), "a search parameter needs a code of letters, digits, '-' or '_'".into()));
        };
        if code.starts_with('_') {
            return Err(("SearchParameter.code".into(), format!("'{code}': codes starting with '_' are reserved for the common parameters")));
        }
        let bases: Vec<&str> = sp.get("base").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if bases.is_empty() {
            return Err(("SearchParameter.base".into(), "a search parameter needs at least one base type".into()));
        }
        for (i, b) in bases.iter().enumerate() {
            if !self.resource_types.iter().any(|t| t == b) && !matches!(*b, "Resource" | "DomainResource") {
                return Err((format!("SearchParameter.base[{i}]"), format!("'{b}' is not a resource type")));
            }
        }
        let url = s("url").unwrap_or_default();
        for b in &bases {
            if let Some(other) = self.param(b, code).filter(|p| p.custom && p.url != url) {
                return Err(("SearchParameter.code".into(), format!("{b} already has a custom search parameter '{code}' ({})", other.url)));
            }
        }
        if s("type").and_then(ParamType::from_code).is_none() {
            return Err(("SearchParameter.type".into(), format!("'{}' is not a search parameter type", s("type").unwrap_or_default())));
        }
        // The definition alone in an empty registry: `define` reports per base what cannot be
        // evaluated, without copying every parameter of this one (this runs for each stored
        // SearchParameter on every reload).
        let mut trial = Registry {
            by_type: HashMap::new(),
            index: HashMap::new(),
            resource_types: self.resource_types.clone(),
            engine: self.engine.clone(),
            compartments: HashMap::new(),
        };
        for (base, why) in trial.define(sp, &definitions_by_url(std::slice::from_ref(sp)), true) {
            if let Some(why) = why {
                return Err(("SearchParameter.expression".into(), format!("cannot be evaluated for {base}: {why}")));
            }
        }
        Ok(())
    }

    /// The (type, code) pairs whose index rows differ between this registry and `next`: defined
    /// anew or differently in `next` (these need reindexing), and defined here but gone in `next`
    /// (their rows can go), each with the row `param` values involved.
    pub fn changes_to(&self, next: &Registry) -> (Vec<(String, String)>, Vec<(String, Vec<String>)>) {
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for (rt, params) in &next.by_type {
            for sp in params.iter().filter(|sp| sp.is_evaluable()) {
                if !self.param(rt, &sp.code).is_some_and(|old| old.same_rows(sp)) {
                    changed.push((rt.clone(), sp.code.clone()));
                }
            }
        }
        for (rt, params) in &self.by_type {
            for sp in params.iter().filter(|sp| sp.is_evaluable()) {
                if !next.param(rt, &sp.code).is_some_and(|n| n.is_evaluable()) {
                    removed.push((rt.clone(), sp.row_params()));
                }
            }
        }
        changed.sort();
        removed.sort();
        (changed, removed)
    }

    /// Finds, for token parameters over `code` elements, the code system their required binding
    /// implies, so the index carries it (see `implicit`).
    pub fn add_implicit_systems(&mut self, pkg: &profiles::Package) {
        let all: Vec<(String, String)> = self.by_type.iter().flat_map(|(rt, ps)| ps.iter().map(|p| (rt.clone(), p.code.clone()))).collect();
        self.implicit_systems_for(pkg, &all);
    }

    /// [`Registry::add_implicit_systems`] for the token parameters among `params` (type, code).
    fn implicit_systems_for(&mut self, pkg: &profiles::Package, params: &[(String, String)]) {
        let defs = implicit::PackageDefs(pkg);
        let Some(model) = self.engine.model().cloned() else { return };
        // Many elements share a binding (every `status` of a kind); expand each value set once.
        let mut systems: HashMap<String, Option<String>> = HashMap::new();
        for (rt, code) in params {
            let Some(&i) = self.index.get(&(rt.clone(), code.clone())) else { continue };
            let Some(sp) = self.by_type.get_mut(rt).map(|l| &mut l[i]).filter(|sp| sp.kind == ParamType::Token) else { continue };
            let Some(branches) = &sp.compiled else { continue };
            sp.implicit_systems = branches
                .iter()
                .map(|b| {
                    let vs = implicit::required_value_set(b.source(), &model, pkg)?;
                    systems.entry(vs).or_insert_with_key(|vs| implicit::single_system(vs, &defs)).clone()
                })
                .collect();
        }
    }

    /// A composite's components, each typed by the SearchParameter its `definition` names.
    fn components(&self, sp: &Value, by_url: &HashMap<&str, &Value>) -> Result<Vec<Component>, String> {
        let mut out = Vec::new();
        for c in sp.get("component").and_then(Value::as_array).into_iter().flatten() {
            let def = c.get("definition").and_then(Value::as_str).ok_or("a component has no definition")?;
            let d = by_url.get(def).ok_or_else(|| format!("component definition {def} is unknown"))?;
            let kind = d.get("type").and_then(Value::as_str).and_then(ParamType::from_code).ok_or_else(|| format!("{def} has no type"))?;
            if matches!(kind, ParamType::Composite | ParamType::Special) {
                return Err(format!("component {def} is a {kind:?} parameter"));
            }
            let expr = c.get("expression").and_then(Value::as_str).ok_or_else(|| format!("component {def} has no expression"))?;
            let expr = &r4_errata(expr);
            let compiled = narrow::top_level_branches(expr).into_iter().map(|b| self.engine.compile(b)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
            let targets = d.get("target").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
            let code = format!("{}${}", sp.get("code").and_then(Value::as_str).unwrap_or_default(), out.len());
            out.push(Component { kind, targets, compiled: compiled.into(), code });
        }
        if out.len() < 2 {
            return Err("a composite needs at least two components".into());
        }
        Ok(out)
    }

    /// Adds CompartmentDefinitions (`Patient`, `Encounter`, ...): which parameters put a resource in a compartment.
    pub fn add_compartments(&mut self, defs: &[Value]) {
        for d in defs {
            let Some(ctype) = d.get("code").and_then(Value::as_str) else { continue };
            for r in d.get("resource").and_then(Value::as_array).into_iter().flatten() {
                let Some(rt) = r.get("code").and_then(Value::as_str) else { continue };
                // `{def}` stands for the owner itself, which the compartment query adds on its own.
                let params: Vec<String> =
                    r.get("param").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).filter(|p| !p.starts_with('{')).map(str::to_string).collect();
                if !params.is_empty() || rt == ctype {
                    self.compartments.insert((ctype.to_string(), rt.to_string()), params);
                }
            }
        }
    }

    /// Parameters placing `resource_type` in the `compartment` (None when it cannot be in it).
    pub fn compartment_params(&self, compartment: &str, resource_type: &str) -> Option<&[String]> {
        self.compartments.get(&(compartment.to_string(), resource_type.to_string())).map(Vec::as_slice)
    }

    /// Whether `name` is a compartment type (`Patient`, `Encounter`, `RelatedPerson`, `Practitioner`, `Device`).
    pub fn is_compartment(&self, name: &str) -> bool {
        self.compartments.keys().any(|(c, _)| c == name)
    }

    /// The FHIRPath engine the registry evaluates with (typed by the registry's model), for others to share.
    pub fn engine(&self) -> &fhirpath::Engine {
        &self.engine
    }

    /// The parameter `code` as defined for `resource_type`.
    pub fn param(&self, resource_type: &str, code: &str) -> Option<&SearchParam> {
        let i = *self.index.get(&(resource_type.to_string(), code.to_string()))?;
        self.by_type.get(resource_type).map(|l| &l[i])
    }

    /// The parameter `code` of `resource_type` for a query (`at` names it in errors): None when
    /// unknown, an error when its index is still being built.
    pub fn usable(&self, resource_type: &str, code: &str, at: &str) -> Result<Option<&SearchParam>, SearchError> {
        match self.param(resource_type, code) {
            Some(sp) if !sp.ready => Err(SearchError {
                param: at.to_string(),
                message: format!("search parameter '{code}' of {resource_type} is not ready: stored resources are being reindexed for it"),
                not_ready: true,
            }),
            found => Ok(found),
        }
    }

    /// Every parameter defined for `resource_type` (including the Resource-level ones).
    pub fn params_for(&self, resource_type: &str) -> impl Iterator<Item = &SearchParam> {
        self.by_type.get(resource_type).into_iter().flatten()
    }

    /// The resource types the registry was built with.
    pub fn resource_types(&self) -> &[String] {
        &self.resource_types
    }

    /// Index rows of each contained resource (`contained[]` entries with a type and an id), for
    /// `_contained` searches and chains through `#id` references.
    pub fn extract_contained(&self, resource: &Value) -> Vec<ContainedRows> {
        let mut out: Vec<ContainedRows> = Vec::new();
        for c in resource.get("contained").and_then(Value::as_array).into_iter().flatten() {
            let (Some(rt), Some(id)) = (c.get("resourceType").and_then(Value::as_str), c.get("id").and_then(Value::as_str)) else { continue };
            // Local ids are unique in a valid resource; a repeat would only confuse `#id` lookups.
            if out.iter().any(|(_, seen, _)| seen == id) {
                continue;
            }
            out.push((rt.to_string(), id.to_string(), self.extract(c)));
        }
        out
    }

    /// Index rows of the parameters `codes` only (a reindex for new or changed parameters).
    pub fn extract_only(&self, resource: &Value, codes: &[String]) -> Vec<IndexRow> {
        let mut rows = self.extract(resource);
        rows.retain(|r| {
            let p = r.param();
            codes.iter().any(|c| p == c || p.strip_prefix(c.as_str()).is_some_and(|rest| rest.starts_with('$')))
        });
        rows
    }

    /// Index rows for one resource (current version), every parameter of its type whose expression we can evaluate.
    pub fn extract(&self, resource: &Value) -> Vec<IndexRow> {
        let Some(rt) = resource.get("resourceType").and_then(Value::as_str) else { return vec![] };
        let env = fhirpath::Env::new().with_resolver(&TypeOfReference);
        let params = self.by_type.get(rt).map_or(&[][..], Vec::as_slice);
        // About one row per parameter (most find one value or none) spares most regrowing of rows this size.
        let mut out = Vec::with_capacity(params.len());
        // Whether the type has `_text` and `_content`, noted on the way rather than looked up
        // (two Strings and a hash each).
        let (mut text, mut content) = (false, false);
        for sp in params {
            text |= sp.code == "_text";
            content |= sp.code == "_content";
            let Some(branches) = &sp.compiled else { continue };
            let start = out.len();
            let mut grp = 0;
            for (b, expr) in branches.iter().enumerate() {
                // A branch that fails on odd data (a singleton function over a list) indexes nothing.
                let Ok(items) = self.engine.evaluate(expr, resource, &env) else { continue };
                let implicit = sp.implicit_systems.get(b).and_then(Option::as_deref);
                for item in &items {
                    let first = out.len();
                    if sp.kind == ParamType::Composite {
                        grp += self.composite_rows(sp, item, resource, &env, grp, &mut out) as u32;
                    } else if sp.kind == ParamType::Special {
                        grp += near::position_rows(&sp.code, item, grp, &mut out) as u32;
                    } else {
                        self.rows_for_item(&sp.code, sp.kind, item, &mut out);
                    }
                    if let Some(sys) = implicit {
                        for row in &mut out[first..] {
                            if let IndexRow::Token { system: s @ None, .. } = row {
                                *s = Some(sys.to_string());
                            }
                        }
                    }
                }
            }
            dedup_tail(&mut out, start);
        }
        fulltext::rows(resource, text, content, self.engine.model(), &mut out);
        out
    }

    /// The rows of one composite instance (`item`), all in group `grp`; none unless every component
    /// has a value, since only a complete instance can match. Returns whether it wrote any.
    fn composite_rows<'a>(&self, sp: &SearchParam, item: &fhirpath::Item<'a>, resource: &'a Value, env: &fhirpath::Env<'a>, grp: u32, out: &mut Vec<IndexRow>) -> bool {
        let mut rows = Vec::new();
        for c in &sp.components {
            let before = rows.len();
            for expr in c.compiled.iter() {
                let Ok(values) = self.engine.evaluate_from(expr, item, resource, env) else { continue };
                for v in &values {
                    self.rows_for_item(&c.code, c.kind, v, &mut rows);
                }
            }
            if rows.len() == before {
                return false;
            }
        }
        out.extend(rows.into_iter().map(|row| IndexRow::Composite { grp, row: Box::new(row) }));
        true
    }

    /// Index rows for one FHIRPath result: elements keep their FHIR type, computed values become JSON.
    fn rows_for_item(&self, code: &str, kind: ParamType, item: &fhirpath::Item<'_>, out: &mut Vec<IndexRow>) {
        let found = |value: &Value, ty: Option<&str>, out: &mut Vec<IndexRow>| {
            let item = extract::Item { value, ty };
            extract::rows_for(code, kind, &item, out);
        };
        match item {
            fhirpath::Item::Node(n) => {
                let Some(value) = n.value() else { return };
                let ty = n.fhir_type();
                // A parameter over an extension means its value[x], as servers index it.
                if ty == "Extension" {
                    let Some(obj) = value.as_object() else { return };
                    for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("value")) {
                        let vt = self.engine.model().and_then(|m| m.json_element("Extension", k)).map(|(_, t)| t);
                        found(v, vt, out);
                    }
                    return;
                }
                found(value, (!ty.is_empty()).then_some(ty), out);
            }
            fhirpath::Item::Date(_) => found(&item.to_json(), Some("date"), out),
            fhirpath::Item::DateTime(_) => found(&item.to_json(), Some("dateTime"), out),
            fhirpath::Item::Boolean(_) | fhirpath::Item::String(_) | fhirpath::Item::Integer(_) | fhirpath::Item::Decimal(_) => found(&item.to_json(), None, out),
            fhirpath::Item::Quantity(_) => found(&item.to_json(), Some("Quantity"), out),
            _ => {}
        }
    }

    /// Parse query parameters (already percent-decoded name/value pairs) for a type-level search.
    pub fn parse_query(&self, resource_type: &str, params: &[(String, String)]) -> Result<Query, SearchError> {
        query::parse(self, &ParseEnv::NONE, resource_type, params)
    }

    /// Like [`Registry::parse_query`], with what the server around the query knows (terminology, its base URL).
    pub fn parse_query_in(&self, env: &ParseEnv, resource_type: &str, params: &[(String, String)]) -> Result<Query, SearchError> {
        query::parse(self, env, resource_type, params)
    }

    /// Like [`Registry::parse_query_in`], for `Prefer: handling=lenient`: refused parameters are left
    /// out of the query and returned, so the caller can say what it ignored.
    pub fn parse_query_lenient(&self, env: &ParseEnv, resource_type: &str, params: &[(String, String)]) -> (Query, Vec<SearchError>) {
        query::parse_all(self, env, resource_type, params)
    }

    /// The keys of a `_sort` value (`a,-b`) for `resource_type`, in order.
    pub fn parse_sort(&self, resource_type: &str, value: &str) -> Result<Vec<SortKey>, SearchError> {
        sort::parse(self, resource_type, value)
    }
}

/// Whether a stored SearchParameter resource is to take effect: only `active` ones do (drafts and
/// retired ones are stored and ignored).
pub fn takes_effect(sp: &Value) -> bool {
    sp.get("status").and_then(Value::as_str) == Some("active")
}

/// SearchParameters by canonical URL, the R4 package's and `customs`: composites name their
/// components' definitions by URL.
fn definitions_by_url(customs: &[Value]) -> HashMap<&str, &Value> {
    let pkg = profiles::Package::r4_core();
    pkg.resources("SearchParameter").iter().chain(customs).filter_map(|p| Some((p.get("url")?.as_str()?, p))).collect()
}

/// R4's published expressions write `as(DateTime)` where they mean the FHIR type `dateTime`
/// (`code-value-date`); taken strictly, FHIRPath's System.DateTime never matches an element.
fn r4_errata(expression: &str) -> String {
    expression.replace("as(DateTime)", "as(dateTime)")
}

/// Unions such as `Patient.name | Patient.name.given` may find a value twice; duplicate rows add
/// nothing. The first of equal rows stays, in order.
fn dedup_tail(rows: &mut Vec<IndexRow>, start: usize) {
    // Comparing each row with all before it is cheapest for the few rows most parameters have, but
    // quadratic: a List of 255 items took most of the time of deduplicating the R4 examples.
    const FEW: usize = 16;
    if rows.len() - start <= FEW {
        let mut i = start;
        while i < rows.len() {
            if rows[start..i].contains(&rows[i]) {
                rows.remove(i);
            } else {
                i += 1;
            }
        }
        return;
    }
    // Equal rows hash alike, so only rows of one hash need comparing.
    fn hash(row: &IndexRow, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        // By value, as 0.0 and -0.0 are equal (NaN equals nothing, so any hash will do).
        let f = |x: &f64| if *x == 0.0 { 0 } else { x.to_bits() };
        std::mem::discriminant(row).hash(h);
        match row {
            IndexRow::String { param, value_norm, value_exact } => (param, value_norm, value_exact).hash(h),
            IndexRow::Token { param, system, code, text_norm, type_system, type_code } => (param, system, code, text_norm, type_system, type_code).hash(h),
            IndexRow::Reference { param, target_type, target_id, target_version, url, ident_system, ident_value } => {
                (param, target_type, target_id, target_version, url, ident_system, ident_value).hash(h)
            }
            IndexRow::Date { param, low, high } => (param, low, high).hash(h),
            IndexRow::Number { param, value, low, high } => (param, f(value), f(low), f(high)).hash(h),
            IndexRow::Quantity { param, value, low, high, system, code, unit, canon_value, canon_code } => {
                (param, f(value), f(low), f(high), system, code, unit, canon_value.as_ref().map(f), canon_code).hash(h)
            }
            IndexRow::Uri { param, value } | IndexRow::Text { param, value } => (param, value).hash(h),
            IndexRow::Composite { grp, row } => {
                grp.hash(h);
                hash(row, h);
            }
        }
    }
    let mut by_hash: Vec<(u64, usize)> = rows[start..]
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut h = std::hash::DefaultHasher::new();
            hash(row, &mut h);
            (std::hash::Hasher::finish(&h), i)
        })
        .collect();
    by_hash.sort_unstable();
    let mut keep = vec![true; by_hash.len()];
    for group in by_hash.chunk_by(|a, b| a.0 == b.0) {
        // In row order within a group: a row goes when it equals an earlier row that stays.
        for (j, &(_, i)) in group.iter().enumerate() {
            let dup = group[..j].iter().any(|&(_, e)| keep[e] && rows[start + e] == rows[start + i]);
            keep[i] = !dup;
        }
    }
    let mut i = 0;
    rows.retain(|_| {
        i += 1;
        i <= start || keep[i - 1 - start]
    });
}
