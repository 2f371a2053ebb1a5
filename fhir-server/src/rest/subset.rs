//! `_summary` and `_elements`: subsets of a resource, marked SUBSETTED as the spec requires.

use crate::error::{FhirError, FhirResult};
use serde_json::{json, Map, Value};

/// A requested subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Subset {
    Summary,
    Text,
    Data,
    Count,
    Elements(Vec<String>),
}

/// Reads `_summary` / `_elements` from query parameters (`_summary=false` means none).
pub fn from_params(params: &[(String, String)]) -> FhirResult<Option<Subset>> {
    let summary = params.iter().find(|(k, _)| k == "_summary").map(|(_, v)| v.as_str());
    let elements = params.iter().find(|(k, _)| k == "_elements").map(|(_, v)| v.as_str());
    if summary.is_some() && elements.is_some() {
        return Err(FhirError::bad_request("_summary and _elements cannot be combined").at("_elements"));
    }
    if let Some(e) = elements {
        let names: Vec<String> = e.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if names.is_empty() {
            return Err(FhirError::bad_request("_elements names no element").at("_elements"));
        }
        return Ok(Some(Subset::Elements(names)));
    }
    Ok(match summary {
        None | Some("false") => None,
        Some("true") => Some(Subset::Summary),
        Some("text") => Some(Subset::Text),
        Some("data") => Some(Subset::Data),
        Some("count") => Some(Subset::Count),
        Some(other) => return Err(FhirError::bad_request(format!("unknown _summary value '{other}' (true, text, data, count, false)")).at("_summary")),
    })
}

fn keep(res_type: &str, name: &str, pred: impl Fn(&profiles::TopElement) -> bool) -> bool {
    if matches!(name, "resourceType" | "id" | "meta") {
        return true;
    }
    let Some(elems) = profiles::Package::r4_core().top_elements(res_type) else { return true };
    let base = name.strip_prefix('_').unwrap_or(name);
    elems.iter().any(|e| (e.name == base || (e.is_choice && base.starts_with(&e.name) && base[e.name.len()..].starts_with(|c: char| c.is_ascii_uppercase()))) && pred(e))
}

/// Applies a subset to a resource in place; `Count` leaves it unchanged (it only affects search).
pub fn apply(resource: &mut Value, subset: &Subset) {
    let res_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
    let Some(obj) = resource.as_object_mut() else { return };
    let before = obj.len();
    let mut out = Map::new();
    for (k, v) in std::mem::take(obj) {
        let keep_it = match subset {
            Subset::Summary => keep(&res_type, &k, |e| e.is_summary),
            Subset::Text => k == "text" || keep(&res_type, &k, |e| e.min > 0),
            Subset::Data => k != "text",
            Subset::Count => true,
            Subset::Elements(names) => {
                let base = k.strip_prefix('_').unwrap_or(&k);
                // `effective` names the choice element, so it keeps `effectiveDateTime` too.
                names.iter().any(|n| n == base) || keep(&res_type, &k, |e| e.min > 0 || (e.is_choice && names.iter().any(|n| *n == e.name)))
            }
        };
        if keep_it {
            out.insert(k, v);
        }
    }
    let subsetted = out.len() != before || matches!(subset, Subset::Summary | Subset::Elements(_) | Subset::Text);
    *obj = out;
    if subsetted && !matches!(subset, Subset::Count) {
        let meta = obj.entry("meta").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            let tags = m.entry("tag").or_insert_with(|| json!([]));
            if let Some(arr) = tags.as_array_mut() {
                arr.push(json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED", "display": "subsetted"}));
            }
        }
    }
}
