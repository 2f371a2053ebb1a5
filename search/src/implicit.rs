//! The implicit code system of `code` elements: `Patient.gender` holds `male`, but the element's
//! required binding says the code is `http://hl7.org/fhir/administrative-gender|male`. Indexing
//! that system lets `gender=http://hl7.org/fhir/administrative-gender|male` and `gender:in=...`
//! match, as search.html expects for tokens on `code` elements.

use serde_json::Value;
use terminology::Definitions;

/// The package's own CodeSystems and ValueSets, looked up in its canonical index (no copies).
pub(crate) struct PackageDefs<'a>(pub &'a profiles::Package);

impl PackageDefs<'_> {
    fn find(&self, rt: &str, url: &str, version: Option<&str>) -> Option<&Value> {
        let r = match version {
            Some(v) => self.0.by_url(&format!("{url}|{v}")),
            None => self.0.by_url(url),
        }?;
        (r.get("resourceType").and_then(Value::as_str) == Some(rt)).then_some(r)
    }
}

impl Definitions for PackageDefs<'_> {
    fn code_system(&self, url: &str, version: Option<&str>) -> Option<&Value> {
        self.find("CodeSystem", url, version)
    }
    fn value_set(&self, url: &str, version: Option<&str>) -> Option<&Value> {
        self.find("ValueSet", url, version)
    }
}

/// The value set of the required binding on the element `path` reaches (a plain
/// `Type.element.element` path ending at a `code`), if it has one.
pub(crate) fn required_value_set(path: &str, model: &fhir_model::Model, pkg: &profiles::Package) -> Option<String> {
    let mut segs = path.split('.');
    let mut owner = segs.next()?.to_string();
    let names: Vec<&str> = segs.collect();
    let (last, through) = names.split_last()?;
    if !names.iter().all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric())) {
        return None;
    }
    for n in through {
        let e = model.element(&owner, n)?;
        let [t] = e.types.as_slice() else { return None };
        owner = t.clone();
    }
    let e = model.element(&owner, last)?;
    if e.types.as_slice() != ["code"] {
        return None;
    }
    let root = owner.split('.').next()?;
    let sd = pkg.by_url(&format!("http://hl7.org/fhir/StructureDefinition/{root}"))?;
    let want = format!("{owner}.{last}");
    let el = sd.pointer("/snapshot/element")?.as_array()?.iter().find(|el| el.get("path").and_then(Value::as_str) == Some(want.as_str()))?;
    let binding = el.get("binding")?;
    if binding.get("strength").and_then(Value::as_str) != Some("required") {
        return None;
    }
    Some(binding.get("valueSet")?.as_str()?.to_string())
}

/// The code system every code of the value set `url` belongs to, if there is exactly one.
pub(crate) fn single_system(url: &str, defs: &PackageDefs) -> Option<String> {
    let vs = defs.value_set(url, None)?;
    let codes = terminology::expand(vs, defs).ok()?;
    let first = &codes.first()?.system;
    codes.iter().all(|c| &c.system == first).then(|| first.clone())
}
