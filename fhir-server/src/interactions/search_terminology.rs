//! Terminology for token `:in`, `:not-in`, `:above` and `:below`: the ValueSets and CodeSystems a
//! query names are read from the store (the R4 package's own as a fallback) before the query is
//! parsed, because parsing is synchronous and the store is not. Under an access token only stored
//! definitions it may read take part, so a query cannot probe the others.

use crate::access::{Access, Permission};
use crate::app::App;
use crate::error::FhirResult;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use terminology::{InMemory, TxError};

/// Definitions pulled in while resolving one need; bounds a chain of imports and systems.
const MAX_FETCHES: usize = 32;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Need {
    ValueSet(String),
    Related { system: String, code: String, below: bool },
}

/// Records what a parse asks for and answers nothing, so one dry parse lists every need.
#[derive(Default)]
struct Recorder(Mutex<Vec<Need>>);

impl search::Terminology for Recorder {
    fn value_set_codes(&self, reference: &str) -> Result<Vec<(String, String)>, String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Need::ValueSet(reference.to_string()));
        Ok(Vec::new())
    }
    fn related_codes(&self, system: &str, code: &str, below: bool) -> Result<Vec<String>, String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Need::Related { system: system.into(), code: code.into(), below });
        Ok(Vec::new())
    }
}

/// The answers for one query, resolved ahead of the real parse.
#[derive(Default)]
pub struct Resolved {
    value_sets: HashMap<String, Result<Vec<(String, String)>, String>>,
    related: HashMap<(String, String, bool), Result<Vec<String>, String>>,
}

impl search::Terminology for Resolved {
    fn value_set_codes(&self, reference: &str) -> Result<Vec<(String, String)>, String> {
        self.value_sets.get(reference).cloned().unwrap_or_else(|| Err(format!("value set '{reference}' was not resolved")))
    }
    fn related_codes(&self, system: &str, code: &str, below: bool) -> Result<Vec<String>, String> {
        self.related
            .get(&(system.to_string(), code.to_string(), below))
            .cloned()
            .unwrap_or_else(|| Err(format!("{system}|{code} was not resolved")))
    }
}

/// Whether any parameter carries a modifier that may need terminology (the common case skips the dry parse).
pub fn needed(params: &[(String, String)]) -> bool {
    params.iter().any(|(k, _)| k.starts_with("_filter") || [":in", ":not-in", ":above", ":below"].iter().any(|m| k.contains(m)))
}

/// Resolves every terminology need of a search with `params` on the `types`, each need once.
pub async fn resolve(app: &App, access: &Access, types: &[String], params: &[(String, String)]) -> FhirResult<Resolved> {
    let recorder = Recorder::default();
    let reg = app.registry();
    for rt in types {
        let _ = reg.parse_query_lenient(&search::ParseEnv { terminology: &recorder, base: None }, rt, params);
    }
    let mut needs = recorder.0.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut seen = std::collections::HashSet::new();
    needs.retain(|n| seen.insert(n.clone()));
    let mut out = Resolved::default();
    for need in needs {
        let mut defs = InMemory::new(Vec::new());
        match need {
            Need::ValueSet(reference) => {
                let vs = match reference.strip_prefix("ValueSet/") {
                    Some(id) => read_value_set(app, access, id).await?,
                    None => canonical(app, access, "ValueSet", &reference).await?.into_iter().next(),
                };
                let answer = match vs {
                    None => Err(format!("value set '{reference}' is not known to this server")),
                    Some(vs) => with_fetching(app, access, &mut defs, |d| terminology::expand(&vs, d))
                        .await?
                        .map(|codes| codes.into_iter().map(|c| (c.system, c.code)).collect()),
                };
                out.value_sets.insert(reference, answer);
            }
            Need::Related { system, code, below } => {
                let answer = with_fetching(app, access, &mut defs, |d| {
                    if below {
                        terminology::descendants_or_self(&system, &code, d)
                    } else {
                        terminology::ancestors_or_self(&system, &code, d)
                    }
                })
                .await?;
                out.related.insert((system, code, below), answer);
            }
        }
    }
    Ok(out)
}

/// Parses the criteria of one query for `rt` as a search would (this server's base, terminology
/// resolved first): conditional operations and Bundle searches mean what a search means.
pub async fn parse_criteria(app: &App, access: &Access, rt: &str, params: &[(String, String)]) -> FhirResult<search::Query> {
    let types = [rt.to_string()];
    let resolved = if needed(params) { resolve(app, access, &types, params).await? } else { Resolved::default() };
    let env = search::ParseEnv { terminology: &resolved, base: Some(&app.base) };
    Ok(app.registry().parse_query_in(&env, rt, params)?)
}

/// Runs `op`, fetching each CodeSystem or ValueSet it reports missing and trying again.
async fn with_fetching<T>(app: &App, access: &Access, defs: &mut InMemory, op: impl Fn(&InMemory) -> Result<T, TxError>) -> FhirResult<Result<T, String>> {
    for _ in 0..MAX_FETCHES {
        let (rt, url, version) = match op(defs) {
            Ok(v) => return Ok(Ok(v)),
            Err(TxError::UnknownCodeSystem { url, version }) => ("CodeSystem", url, version),
            Err(TxError::UnknownValueSet { url, version }) => ("ValueSet", url, version),
            Err(e) => return Ok(Err(e.to_string())),
        };
        let canonical_ref = match &version {
            Some(v) => format!("{url}|{v}"),
            None => url.clone(),
        };
        let found = canonical(app, access, rt, &canonical_ref).await?;
        if found.is_empty() {
            return Ok(Err(format!("{} {canonical_ref} is not known to this server", if rt == "ValueSet" { "value set" } else { "code system" })));
        }
        for r in found {
            defs.add(r);
        }
    }
    Ok(Err(format!("resolving needs more than {MAX_FETCHES} definitions")))
}

/// A stored ValueSet by id; one the token may not read is not there.
async fn read_value_set(app: &App, access: &Access, id: &str) -> FhirResult<Option<Value>> {
    let Ok(restriction) = access.restriction(app, Permission::Read, "ValueSet") else { return Ok(None) };
    let current = app.store.read("ValueSet", id).await?;
    if let Some(r) = restriction {
        if r.require_visible(app, id, current.as_ref()).await.is_err() {
            return Ok(None);
        }
    }
    Ok(current.filter(|c| !c.deleted).and_then(|c| c.content).and_then(|t| serde_json::from_str(&t).ok()))
}

/// Every stored version of the `rt` with canonical `url[|version]` the token may search, else the
/// R4 package's copy.
async fn canonical(app: &App, access: &Access, rt: &str, reference: &str) -> FhirResult<Vec<Value>> {
    let (url, version) = match reference.split_once('|') {
        Some((u, v)) => (u, Some(v)),
        None => (reference, None),
    };
    let mut params = vec![("url".to_string(), url.to_string())];
    if let Some(v) = version {
        params.push(("version".to_string(), v.to_string()));
    }
    // Stored definitions the token may not search stay out; the package's copy still answers.
    // A URL the query syntax cannot carry cannot be stored under it either.
    let query = app.registry().parse_query(rt, &params).ok().and_then(|mut q| access.restrict_query(app, Permission::Search, &mut q).ok().map(|()| q));
    let found = match query {
        Some(q) => app.store.search_page(&search::scoped_sql(std::slice::from_ref(&q)), None, &[], None, 50).await?,
        None => Vec::new(),
    };
    let mut out: Vec<Value> = found.into_iter().filter_map(|r| serde_json::from_str(&r.content).ok()).collect();
    if out.is_empty() {
        if let Some(r) = profiles::Package::r4_core().by_url(reference).filter(|r| r["resourceType"] == rt) {
            out.push(r.clone());
        }
    }
    Ok(out)
}
