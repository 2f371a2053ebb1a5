//! Type-level search (GET and POST `_search`), strict: what the search engine does not understand is refused.

use super::bundle_text::{self, Entry};
use super::search_terminology;
use super::history::parse_count;
use super::write;
use crate::access::{Access, Permission};
use crate::app::App;
use crate::error::{FhirError, FhirResult};
use crate::rest::{self, format, subset};
use crate::store::{Cursor, PageRow};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;


/// Rounds of `:iterate` after the first; deep enough for realistic graphs, bounded against cycles.
const MAX_ITERATE: usize = 4;

/// One `_include` / `_revinclude` value.
struct IncludeSpec {
    rev: bool,
    iterate: bool,
    source: String,
    /// None for `*`: every reference parameter.
    param: Option<String>,
    target: Option<String>,
}

fn parse_include(reg: &search::Registry, types: &[String], key: &str, value: &str) -> FhirResult<IncludeSpec> {
    let bad = |m: String| FhirError::bad_request(m).at(key.to_string());
    let rev = key.starts_with("_revinclude");
    let iterate = key.ends_with(":iterate");
    let mut parts = value.split(':');
    let source = parts.next().unwrap_or_default();
    let searched = types.join(", ");
    let (source, param) = match (source, parts.next()) {
        ("*", None) if types.len() == 1 => (types[0].as_str(), None),
        ("*", None) => return Err(bad(format!("'*' alone needs one searched type; name the source as Type:*"))),
        (s, Some(p)) => (s, if p == "*" { None } else { Some(p) }),
        _ => return Err(bad(format!("'{value}' is not Source:parameter[:Target]"))),
    };
    let target = parts.next();
    if parts.next().is_some() {
        return Err(bad(format!("'{value}' is not Source:parameter[:Target]")));
    }
    if !reg.resource_types().iter().any(|t| t == source) {
        return Err(bad(format!("'{source}' is not a resource type")));
    }
    let targets: Vec<String> = match param {
        Some(p) => {
            let sp = reg.usable(source, p, key)?.ok_or_else(|| bad(format!("unknown search parameter '{p}' for {source}")))?;
            if sp.kind != search::ParamType::Reference {
                return Err(bad(format!("'{source}:{p}' is not a reference parameter")));
            }
            sp.targets.clone()
        }
        None => Vec::new(),
    };
    if let Some(t) = target {
        if !reg.resource_types().iter().any(|x| x == t) || (!targets.is_empty() && !targets.iter().any(|x| x == t)) {
            return Err(bad(format!("'{t}' is not a target type of '{source}:{}'", param.unwrap_or("*"))));
        }
    }
    // Without :iterate an include only starts from the matches, so it must fit the searched type.
    if !iterate {
        if !rev && !types.iter().any(|t| t == source) {
            return Err(bad(format!("_include starts from {searched} matches; '{source}' needs _include:iterate")));
        }
        if rev && !targets.is_empty() && !targets.iter().any(|t| types.contains(t)) {
            return Err(bad(format!("'{source}:{}' never points at {searched}", param.unwrap_or("*"))));
        }
    }
    Ok(IncludeSpec { rev, iterate, source: source.to_string(), param: param.map(str::to_string), target: target.map(str::to_string) })
}

/// What the result parameters ask for beyond `_count`, `_summary` and `_elements` (read together below).
#[derive(Default)]
struct ResultParams {
    /// The `_cursor` as given; it is read against the sort keys once every parameter is taken.
    cursor: Option<String>,
    sort: Vec<search::SortKey>,
    total_mode: Option<String>,
    specs: Vec<IncludeSpec>,
    /// `_contained`; None is `false`.
    contained: Option<search::ContainedMode>,
    /// `_containedType=contained`: the contained resources themselves rather than their containers.
    contained_alone: Option<bool>,
}

impl ResultParams {
    /// Checks one result parameter on its own and records what it asks for.
    fn take(&mut self, reg: &search::Registry, types: &[String], k: &str, v: &str) -> FhirResult<()> {
        let one = [(k.to_string(), v.to_string())];
        match k {
            "_include" | "_revinclude" | "_include:iterate" | "_revinclude:iterate" => self.specs.push(parse_include(reg, types, k, v)?),
            "_cursor" => self.cursor = Some(v.to_string()),
            "_sort" => self.sort = sort_keys(reg, types, v)?,
            "_total" if matches!(v, "none" | "estimate" | "accurate") => self.total_mode = Some(v.to_string()),
            "_total" => return Err(FhirError::bad_request(format!("_total must be none, estimate or accurate, not '{v}'")).at("_total")),
            "_contained" => {
                self.contained = Some(match v {
                    "false" => search::ContainedMode::Stored,
                    "true" => search::ContainedMode::Contained,
                    "both" => search::ContainedMode::Both,
                    _ => return Err(FhirError::bad_request(format!("_contained must be true, false or both, not '{v}'")).at("_contained")),
                })
            }
            "_containedType" => {
                self.contained_alone = Some(match v {
                    "container" => false,
                    "contained" => true,
                    _ => return Err(FhirError::bad_request(format!("_containedType must be container or contained, not '{v}'")).at("_containedType")),
                })
            }
            "_count" => {
                parse_count(&one)?;
            }
            "_summary" | "_elements" => {
                subset::from_params(&one)?;
            }
            "_format" | "_pretty" => {}
            _ => return Err(FhirError::bad_request(format!("search result parameter '{k}' is not supported yet")).at(k.to_string())),
        }
        Ok(())
    }
}

/// The `_sort` keys, which must mean the same on every searched type.
fn sort_keys(reg: &search::Registry, types: &[String], v: &str) -> FhirResult<Vec<search::SortKey>> {
    let mut keys: Option<Vec<search::SortKey>> = None;
    for t in types {
        let k = reg.parse_sort(t, v)?;
        match &keys {
            Some(first) if first.iter().map(|k| k.kind).ne(k.iter().map(|k| k.kind)) => {
                return Err(FhirError::bad_request(format!("'{v}' sorts differently on {t} than on {}", types[0])).at("_sort"))
            }
            Some(_) => {}
            None => keys = Some(k),
        }
    }
    Ok(keys.unwrap_or_default())
}

/// Resources the include specs reach from the matches: (type, id, content), each once and never a
/// match; only those the token may read are returned or followed further.
async fn includes(app: &App, access: &Access, specs: &[IncludeSpec], matches: &[(i64, String, String)]) -> FhirResult<Vec<(String, String, String)>> {
    let mut seen: std::collections::HashSet<(String, String)> = matches.iter().map(|(_, t, id)| (t.clone(), id.clone())).collect();
    let mut frontier: Vec<(i64, String, String)> = matches.to_vec();
    let mut out = Vec::new();
    for round in 0..=MAX_ITERATE {
        let mut next = Vec::new();
        for spec in specs.iter().filter(|s| round == 0 || s.iterate) {
            let rows = if spec.rev {
                let targets: Vec<(String, String)> = frontier.iter().map(|(_, t, id)| (t.clone(), id.clone())).collect();
                app.store.revincluded(&targets, &spec.source, spec.param.as_deref()).await?
            } else {
                let from: Vec<i64> = frontier.iter().filter(|(_, t, _)| *t == spec.source).map(|(rid, _, _)| *rid).collect();
                app.store.included(&from, &spec.source, spec.param.as_deref(), spec.target.as_deref()).await?
            };
            for (rid, t, id, content) in access.readable(app, rows).await? {
                if seen.insert((t.clone(), id.clone())) {
                    next.push((rid, t.clone(), id.clone()));
                    out.push((t, id, content));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(out)
}

/// A compartment search's owner: `Patient/123/Observation` is `("Patient", "123")`.
type Compartment = Option<(String, String)>;

/// Where a search looks.
enum Scope {
    /// `[type]?...`, or `[compartment]/[id]/[type]?...` with an owner.
    Type(String, Compartment),
    /// `[base]?...`: the types `_type` names, or every type.
    System,
}

/// The parsed queries, one per searched type, or the first refusal.
fn parse_all(reg: &search::Registry, types: &[String], params: &[(String, String)], env: &search::ParseEnv) -> Result<Vec<search::Query>, search::SearchError> {
    types.iter().map(|t| reg.parse_query_in(env, t, params)).collect()
}

async fn run(app: &App, access: &Access, scope: Scope, params: Vec<(String, String)>, headers: &HeaderMap) -> FhirResult<Response> {
    let render = format::negotiate(headers, &params)?;
    let registry = app.registry();
    let reg = registry.as_ref();
    let lenient = format::prefer_lenient(headers);
    let (types, mut params, type_params) = match &scope {
        Scope::Type(res_type, _) => {
            write::check_type(res_type)?;
            access.require(app, Permission::Search, res_type)?;
            (vec![res_type.clone()], params, Vec::new())
        }
        Scope::System => {
            let (types, rest, named) = system_types(reg, params)?;
            (access.reachable_types(app, Permission::Search, types, !named.is_empty())?, rest, named)
        }
    };
    let resolved = if search_terminology::needed(&params) { search_terminology::resolve(app, access, &types, &params).await? } else { Default::default() };
    // A parameter refused on any searched type is refused for the search; lenient mode drops it
    // everywhere and says so, so every type answers the same query.
    let mut ignored: Vec<search::SearchError> = Vec::new();
    let env = search::ParseEnv { terminology: &resolved, base: Some(&app.base) };
    let mut queries = loop {
        match parse_all(reg, &types, &params, &env) {
            Ok(q) => break q,
            Err(e) if lenient && !e.not_ready && !ignored.iter().any(|i| i.param == e.param) => {
                params.retain(|(k, _)| *k != e.param);
                ignored.push(e);
            }
            Err(e) if matches!(scope, Scope::System) && type_params.is_empty() && !e.not_ready => {
                return Err(FhirError::bad_request(format!("{} (a search of every type takes only parameters every type has; name the types with _type)", e.message)).at(e.param))
            }
            Err(e) => return Err(FhirError::from(e)),
        }
    };
    if let Scope::Type(res_type, Some((ctype, cid))) = &scope {
        if !reg.is_compartment(ctype) {
            return Err(FhirError::not_found(format!("{ctype} is not a compartment type (Patient, Encounter, RelatedPerson, Practitioner, Device)")));
        }
        let within = reg.compartment_params(ctype, res_type).unwrap_or(&[]);
        queries[0].restrict_to_compartment(reg, ctype, cid, within)?;
    }
    for q in &mut queries {
        access.restrict_query(app, Permission::Search, q)?;
    }
    // Result parameters are taken one by one, so lenient mode can drop just the bad ones.
    let mut result = ResultParams::default();
    let mut control = Vec::new();
    for (k, v) in queries.first().map(|q| q.control.clone()).unwrap_or_default() {
        match result.take(reg, &types, &k, &v) {
            Ok(()) => control.push((k, v)),
            Err(e) if lenient => ignored.push(search::SearchError { param: k, message: e.issues[0].diagnostics.clone(), not_ready: false }),
            Err(e) => return Err(e),
        }
    }
    // Links echo exactly what was applied.
    let params: Vec<(String, String)> = type_params.into_iter().chain(params).filter(|(k, _)| !ignored.iter().any(|e| &e.param == k)).collect();
    let ResultParams { cursor, sort, total_mode, specs, contained, contained_alone } = result;
    let contained = contained.unwrap_or(search::ContainedMode::Stored);
    if contained == search::ContainedMode::Stored {
        if contained_alone.is_some() {
            return Err(FhirError::bad_request("_containedType applies only with _contained=true or both").at("_containedType"));
        }
    } else if let Err(e) = access.require_everything(app, Permission::Search, "_contained") {
        return Err(e.at("_contained"));
    } else if !sort.is_empty() {
        // The matches' keys would be the containers', which are of other types.
        return Err(FhirError::bad_request("_sort cannot be combined with _contained").at("_sort"));
    } else if !specs.is_empty() {
        return Err(FhirError::bad_request("_include and _revinclude cannot be combined with _contained").at("_include"));
    }
    let cursor = match cursor {
        Some(c) => Some(Cursor::decode(&c, &sort).ok_or_else(|| FhirError::bad_request("_cursor is malformed or belongs to another _sort").at("_cursor"))?),
        None => None,
    };
    let count = parse_count(&control)?;
    let sub = subset::from_params(&control)?;
    let filter = search::contained_sql(&queries, contained);
    let only_count = sub == Some(subset::Subset::Count);
    let source = search::rid_source(&queries, contained);
    let mut rows = if only_count { Vec::new() } else { app.store.search_page(&filter, source.as_ref(), &sort, cursor.as_ref(), count + 1).await? };
    let forward = cursor.as_ref().map_or(true, |c| c.forward);
    // The extra row tells whether the page's far side has more: after it going forward, before it going back.
    let more = rows.len() as i64 > count;
    if more {
        if forward {
            rows.truncate(count as usize);
        } else {
            rows.remove(0);
        }
    }
    let total = if only_count || matches!(total_mode.as_deref(), Some("accurate" | "estimate")) {
        Some(app.store.search_count(&filter).await?)
    } else if cursor.is_none() && !more {
        Some(rows.len() as i64)
    } else {
        None
    };
    let search_path = match &scope {
        Scope::Type(res_type, Some((ctype, cid))) => format!("{}/{ctype}/{cid}/{res_type}", app.base),
        Scope::Type(res_type, None) => format!("{}/{res_type}", app.base),
        Scope::System => app.base.clone(),
    };
    let link = |rel: &str, c: Option<Cursor>| bundle_text::link(rel, &bundle_text::page_url(&search_path, &params, c.map(|c| c.encode()).as_deref()));
    let mut links = vec![link("self", cursor.clone())];
    if cursor.is_some() {
        links.push(link("first", None));
    }
    let (has_next, has_previous) = match &cursor {
        None => (more, false),
        Some(c) if c.forward => (more, true),
        Some(_) => (true, more),
    };
    if let (true, Some(first)) = (has_previous, rows.first()) {
        links.push(link("previous", Some(first.cursor(false))));
    }
    if let (true, Some(last)) = (has_next, rows.last()) {
        links.push(link("next", Some(last.cursor(true))));
    }
    let mut head = json!({"resourceType": "Bundle", "type": "searchset"});
    if let Some(t) = total {
        head["total"] = json!(t);
    }
    head["link"] = Value::Array(links);
    let included = if specs.is_empty() {
        Vec::new()
    } else {
        let typed: Vec<(i64, String, String)> = rows.iter().map(|r| (r.rid, r.res_type.clone(), r.id.clone())).collect();
        includes(app, access, &specs, &typed).await?
    };
    let mut entries = Vec::with_capacity(rows.len() + included.len());
    if contained != search::ContainedMode::Stored && contained_alone == Some(true) {
        entries.extend(contained_entries(app, &queries, contained, rows, &sub).await?);
    } else {
        for PageRow { res_type, id, content, .. } in rows {
            let resource = subsetted(content, &sub)?;
            entries.push(Entry::matched(format!("{}/{res_type}/{id}", app.base), Some(resource)));
        }
    }
    if !ignored.is_empty() {
        let issues: Vec<Value> = ignored
            .iter()
            .map(|e| json!({"severity": "warning", "code": "not-supported", "diagnostics": format!("ignored: {}", e.message), "expression": [e.param]}))
            .collect();
        let outcome = json!({"resourceType": "OperationOutcome", "issue": issues});
        entries.push(Entry { fields: json!({"search": {"mode": "outcome"}}).into(), resource: Some(outcome.to_string()) });
    }
    for (t, id, text) in included {
        let resource = subsetted(text, &sub)?;
        entries.push(Entry::included(format!("{}/{t}/{id}", app.base), resource));
    }
    Ok(format::stored_response(StatusCode::OK, bundle_text::bundle(head, &entries), render))
}

/// `_containedType=contained`: for a page of containers, the contained resources that matched
/// (fullUrl `[container URL]#[local id]`), and with `_contained=both` the page's resources that
/// matched themselves.
async fn contained_entries(app: &App, queries: &[search::Query], mode: search::ContainedMode, rows: Vec<PageRow>, sub: &Option<subset::Subset>) -> FhirResult<Vec<Entry>> {
    let rids: Vec<i64> = rows.iter().map(|r| r.rid).collect();
    let matches = app.store.contained_matches(&search::contained_matches_sql(queries), &rids).await?;
    let themselves = if mode == search::ContainedMode::Both { app.store.matching_rids(&search::scoped_sql(queries), &rids).await? } else { Vec::new() };
    let mut out = Vec::new();
    for PageRow { rid, res_type, id, content, .. } in rows {
        let url = format!("{}/{res_type}/{id}", app.base);
        let mine: Vec<&(i64, String, String)> = matches.iter().filter(|m| m.0 == rid).collect();
        if !mine.is_empty() {
            let container: Value = serde_json::from_str(&content).map_err(FhirError::internal)?;
            for (_, _, local) in mine {
                let found = container["contained"].as_array().into_iter().flatten().find(|c| c["id"].as_str() == Some(local));
                if let Some(c) = found {
                    let resource = subsetted(c.to_string(), sub)?;
                    out.push(Entry::matched(format!("{url}#{local}"), Some(resource)));
                }
            }
        }
        if themselves.contains(&rid) {
            out.push(Entry::matched(url, Some(subsetted(content, sub)?)));
        }
    }
    Ok(out)
}

/// The types of a system search (`_type`, or every type when absent), the other parameters, and
/// the `_type` parameters as given (for links).
#[allow(clippy::type_complexity)]
fn system_types(reg: &search::Registry, params: Vec<(String, String)>) -> FhirResult<(Vec<String>, Vec<(String, String)>, Vec<(String, String)>)> {
    let (named, rest): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "_type");
    let mut types: Vec<String> = Vec::new();
    for (_, v) in &named {
        for t in v.split(',') {
            if !reg.resource_types().iter().any(|x| x == t) {
                return Err(FhirError::bad_request(format!("'{t}' is not a resource type")).at("_type"));
            }
            if !types.iter().any(|x| x == t) {
                types.push(t.to_string());
            }
        }
    }
    if types.is_empty() {
        types = reg.resource_types().to_vec();
    }
    Ok((types, rest, named))
}

/// The stored JSON text, reduced when `_summary`/`_elements` ask for it.
fn subsetted(text: String, sub: &Option<subset::Subset>) -> FhirResult<String> {
    match sub {
        None | Some(subset::Subset::Count) => Ok(text),
        Some(s) => {
            let mut v: Value = serde_json::from_str(&text).map_err(FhirError::internal)?;
            subset::apply(&mut v, s);
            Ok(v.to_string())
        }
    }
}

/// `GET [type]?params`.
pub async fn get(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(run(&app, &access, Scope::Type(res_type, None), rest::query_pairs(&q), &headers).await)
}

/// `GET [base]?params`: system-level search over the `_type` types, or all.
pub async fn system_get(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    rest::respond(run(&app, &access, Scope::System, rest::query_pairs(&q), &headers).await)
}

/// `POST [base]/_search` with form-encoded parameters.
pub async fn system_post(State(app): State<Arc<App>>, access: Access, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(match form_params(&q, &headers, &body) {
        Ok(params) => run(&app, &access, Scope::System, params, &headers).await,
        Err(e) => Err(e),
    })
}

/// `POST [type]/_search` with form-encoded parameters (URL parameters are merged in).
pub async fn post(State(app): State<Arc<App>>, access: Access, Path(res_type): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    rest::respond(match form_params(&q, &headers, &body) {
        Ok(params) => run(&app, &access, Scope::Type(res_type, None), params, &headers).await,
        Err(e) => Err(e),
    })
}

/// URL parameters followed by the form-encoded body's.
fn form_params(q: &Option<String>, headers: &HeaderMap, body: &Bytes) -> FhirResult<Vec<(String, String)>> {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(FhirError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported", "POST _search takes application/x-www-form-urlencoded parameters"));
    }
    let mut params = rest::query_pairs(q);
    params.extend(form_urlencoded::parse(body).into_owned());
    Ok(params)
}

/// `GET [compartment]/[id]/[type]?params`: a search within a compartment (R4 CompartmentDefinitions).
pub async fn compartment(
    State(app): State<Arc<App>>,
    access: Access,
    Path((ctype, cid, res_type)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    rest::respond(run(&app, &access, Scope::Type(res_type, Some((ctype, cid))), rest::query_pairs(&q), &headers).await)
}
