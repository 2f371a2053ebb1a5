//! `GET /metadata`: a CapabilityStatement generated from what this server really does.

use crate::app::App;
use crate::rest::{self, format};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn resource_entry(reg: &search::Registry, res_type: &str) -> Value {
    let interactions: Vec<Value> = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"]
        .iter()
        .map(|c| json!({"code": c}))
        .collect();
    let params: Vec<Value> = reg
        .params_for(res_type)
        .filter(|p| p.is_evaluable() || matches!(p.code.as_str(), "_text" | "_content"))
        .map(|p| {
            json!({"name": p.code, "definition": p.url, "type": format!("{:?}", p.kind).to_lowercase(), "documentation": modifiers(p.kind)})
        })
        .collect();
    let reference = |p: &&search::SearchParam| p.kind == search::ParamType::Reference && p.is_evaluable();
    let mut includes: Vec<String> = vec!["*".into(), format!("{res_type}:*")];
    includes.extend(reg.params_for(res_type).filter(reference).map(|p| format!("{res_type}:{}", p.code)));
    let mut revincludes = Vec::new();
    for source in reg.resource_types() {
        for p in reg.params_for(source).filter(reference) {
            if p.targets.is_empty() || p.targets.iter().any(|t| t == res_type) {
                revincludes.push(format!("{source}:{}", p.code));
            }
        }
    }
    json!({
        "type": res_type,
        "profile": format!("http://hl7.org/fhir/StructureDefinition/{res_type}"),
        "interaction": interactions,
        "versioning": "versioned-update",
        "readHistory": true,
        "updateCreate": true,
        "conditionalCreate": true,
        "conditionalRead": "not-supported",
        "conditionalUpdate": true,
        "conditionalDelete": "multiple",
        "searchInclude": includes,
        "searchRevInclude": revincludes,
        "searchParam": params
    })
}

/// What a parameter of this type accepts beyond a plain value (R4 has no structured field for it).
fn modifiers(kind: search::ParamType) -> &'static str {
    use search::ParamType::*;
    match kind {
        String => "modifiers :missing :exact :contains",
        Token => "modifiers :missing :not :text :of-type :in :not-in :above :below (against stored ValueSets and CodeSystems)",
        Reference => "modifiers :missing :identifier :[type]; chaining (any depth) and _has",
        Uri => "modifiers :missing :below :above",
        Date | Number | Quantity => "modifier :missing; prefixes eq ne gt lt ge le sa eb ap",
        Composite => "components joined by $, each with its own type's prefixes; modifier :missing",
        Special => "near: latitude|longitude|distance|units (km, m, [mi_i], [mi_us], [nmi_i]; 50 km when no distance); modifier :missing",
    }
}

fn statement(reg: &search::Registry, base: &str) -> Value {
    let resources: Vec<Value> = profiles::Package::r4_core().resource_types().iter().map(|t| resource_entry(reg, t)).collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": crate::clock::fhir_instant(crate::clock::now_micros()),
        "kind": "instance",
        "software": {"name": "fhir-server", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "FHIR R4 server and interoperability hub", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}, {"code": "search-system"}],
            // Beyond each type's own: what every search (and system search) also takes.
            "searchParam": [
                {"name": "_type", "type": "token", "documentation": "system search: the types to search"},
                {"name": "_list", "type": "token", "documentation": "resources a stored List names in entry.item"},
                {"name": "_text", "type": "string", "documentation": "narrative words: terms ANDed, \"phrases\", OR"},
                {"name": "_content", "type": "string", "documentation": "every string in the resource: terms ANDed, \"phrases\", OR"},
                {"name": "_contained", "type": "token", "documentation": "true | false | both: match resources contained in others (chains always look into contained resources)"},
                {"name": "_containedType", "type": "token", "documentation": "container (default) | contained: return the containers or the contained resources (fullUrl [container]#[id])"},
                {"name": "_sort", "type": "special", "documentation": "several parameters, - for descending; missing values last"},
                {"name": "_filter", "type": "special", "documentation": "search_filter.html: and/or/not, parentheses, chains; operators eq ne co sw ew gt lt ge le ap sa eb pr ss sb in ni re (not po, not [filter] paths)"}
            ]
        }]
    })
}

/// `GET /metadata`.
pub async fn handle(State(app): State<Arc<App>>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    // Rebuilt only when the registry changes (a custom SearchParameter came or went).
    static CACHE: Mutex<Option<(Arc<search::Registry>, String)>> = Mutex::new(None);
    rest::respond(
        async {
            let params = rest::query_pairs(&q);
            rest::only_params(&params, &["_format", "_pretty", "mode"])?;
            let render = format::negotiate(&headers, &params)?;
            let reg = app.registry();
            let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
            let text = match cache.as_ref() {
                Some((r, text)) if Arc::ptr_eq(r, &reg) => text.clone(),
                _ => {
                    let mut doc = statement(&reg, &app.base);
                    if let Some(auth) = &app.auth {
                        doc["rest"][0]["security"] = auth.capability_security();
                    }
                    let text = doc.to_string();
                    *cache = Some((reg, text.clone()));
                    text
                }
            };
            drop(cache);
            Ok(format::stored_response(StatusCode::OK, text, render))
        }
        .await,
    )
}
