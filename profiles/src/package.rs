use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::validator::Validator;

static R4_CORE_TGZ: &[u8] = include_bytes!("../data/hl7.fhir.r4.core-4.0.1.tgz");

/// The embedded hl7.fhir.r4.core 4.0.1 package, parsed once.
pub struct Package {
    by_type: HashMap<String, Vec<Value>>,
    by_url: HashMap<String, (String, usize)>,
    resource_types: Vec<String>,
    top: HashMap<String, Vec<TopElement>>,
    validator: OnceLock<Validator>,
    model: OnceLock<Arc<fhir_model::Model>>,
}

/// A top-level element of a resource type, as needed for `_summary` / `_elements`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopElement {
    /// Name as it appears in JSON; for choice elements the prefix (e.g. "deceased").
    pub name: String,
    /// True for `[x]` choice elements.
    pub is_choice: bool,
    /// ElementDefinition.isSummary.
    pub is_summary: bool,
    /// Minimum cardinality.
    pub min: u32,
}

static R4: OnceLock<Package> = OnceLock::new();

impl Package {
    /// The R4 core package, parsed on first use.
    pub fn r4_core() -> &'static Package {
        R4.get_or_init(|| {
            Package::from_tgz(R4_CORE_TGZ).expect("embedded hl7.fhir.r4.core package is readable")
        })
    }

    /// Parses an NPM-style FHIR package (`package/<Type>-<id>.json` entries).
    pub fn from_tgz(bytes: &[u8]) -> std::io::Result<Package> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        let mut by_type: HashMap<String, Vec<Value>> = HashMap::new();
        let mut buf = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.to_string_lossy().into_owned();
            // Only top-level files: package/other and package/openapi are not FHIR resources we serve.
            let Some(name) = path.strip_prefix("package/") else {
                continue;
            };
            if name.contains('/') || !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            buf.clear();
            entry.read_to_end(&mut buf)?;
            let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                continue;
            };
            let Some(rt) = v.get("resourceType").and_then(Value::as_str) else {
                continue;
            };
            by_type.entry(rt.to_string()).or_default().push(v);
        }
        // Deterministic order regardless of tar order.
        for list in by_type.values_mut() {
            list.sort_by(|a, b| id_of(a).cmp(id_of(b)));
        }
        let mut by_url = HashMap::new();
        let mut types: Vec<&String> = by_type.keys().collect();
        types.sort();
        for rt in types {
            let list = &by_type[rt];
            for (i, r) in list.iter().enumerate() {
                if let Some(url) = r.get("url").and_then(Value::as_str) {
                    by_url
                        .entry(url.to_string())
                        .or_insert_with(|| (rt.clone(), i));
                }
            }
        }
        let mut resource_types = Vec::new();
        let mut top = HashMap::new();
        for sd in by_type
            .get("StructureDefinition")
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let s = |k: &str| sd.get(k).and_then(Value::as_str);
            if s("kind") != Some("resource")
                || sd.get("abstract").and_then(Value::as_bool) == Some(true)
                || s("derivation") != Some("specialization")
            {
                continue;
            }
            let Some(ty) = s("type") else { continue };
            resource_types.push(ty.to_string());
            top.insert(ty.to_string(), top_elements_of(sd, ty));
        }
        resource_types.sort();
        Ok(Package {
            by_type,
            by_url,
            resource_types,
            top,
            validator: OnceLock::new(),
            model: OnceLock::new(),
        })
    }

    /// All resources of one type in the package, e.g. "SearchParameter".
    pub fn resources(&self, resource_type: &str) -> &[Value] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Looks up a canonical resource by url, with or without `|version`.
    pub fn by_url(&self, url: &str) -> Option<&Value> {
        let hit = self
            .by_url
            .get(url)
            .or_else(|| self.by_url.get(url.split('|').next()?))?;
        let r = self.by_type.get(&hit.0)?.get(hit.1)?;
        // A requested version must match the resource's own version.
        if let Some((_, ver)) = url.split_once('|') {
            if r.get("version").and_then(Value::as_str) != Some(ver) {
                return None;
            }
        }
        Some(r)
    }

    /// Concrete resource type names, sorted.
    pub fn resource_types(&self) -> &[String] {
        &self.resource_types
    }

    /// True if `name` is a concrete resource type of this package.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types
            .binary_search_by(|t| t.as_str().cmp(name))
            .is_ok()
    }

    /// Top-level elements of a resource type (inherited ones included).
    pub fn top_elements(&self, resource_type: &str) -> Option<&[TopElement]> {
        self.top.get(resource_type).map(Vec::as_slice)
    }

    /// The type model of this package's StructureDefinitions (built once, shared).
    pub fn model(&self) -> Arc<fhir_model::Model> {
        self.model
            .get_or_init(|| Arc::new(fhir_model::Model::from_structure_definitions(self.resources("StructureDefinition"))))
            .clone()
    }

    /// The structural validator over this package (built once, cached).
    pub fn validator(&self) -> &Validator {
        self.validator.get_or_init(|| Validator::build(self))
    }
}

fn id_of(v: &Value) -> &str {
    v.get("id").and_then(Value::as_str).unwrap_or("")
}

fn top_elements_of(sd: &Value, ty: &str) -> Vec<TopElement> {
    let mut out = Vec::new();
    let elements = sd
        .pointer("/snapshot/element")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for e in elements {
        let Some(path) = e.get("path").and_then(Value::as_str) else {
            continue;
        };
        let Some(rest) = path.strip_prefix(ty).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        if rest.contains('.') {
            continue;
        }
        let (name, is_choice) = match rest.strip_suffix("[x]") {
            Some(p) => (p.to_string(), true),
            None => (rest.to_string(), false),
        };
        out.push(TopElement {
            name,
            is_choice,
            is_summary: e.get("isSummary").and_then(Value::as_bool).unwrap_or(false),
            min: e.get("min").and_then(Value::as_u64).unwrap_or(0) as u32,
        });
    }
    out
}
