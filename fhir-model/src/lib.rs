//! The FHIR type model: every type of a package with its elements, their types and
//! cardinality, built from StructureDefinition JSON.
//!
//! Kept apart from `profiles` so that the FHIRPath engine, the XML codec and the
//! validator can all share it without depending on each other.

/// Lexical rules of the R4 primitive types, shared by the validator and the XML reader.
pub mod primitives;

use std::collections::HashMap;

use serde_json::Value;

/// What kind of type a [`TypeDef`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A FHIR primitive (`string`, `date`, ...).
    Primitive,
    /// A complex data type (`HumanName`, `Quantity`, ...).
    Complex,
    /// A resource, abstract or not.
    Resource,
    /// An anonymous element type declared inline (`Patient.contact`).
    Backbone,
}

/// One element of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Name without the `[x]` suffix.
    pub name: String,
    /// Type codes; a backbone element or contentReference names the synthetic type (`Questionnaire.item`).
    pub types: Vec<String>,
    /// Maximum cardinality above one.
    pub many: bool,
    /// Minimum cardinality.
    pub min: u32,
    /// A `[x]` choice element.
    pub choice: bool,
}

/// A type with the elements it declares (inherited ones live on its base).
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// Type name (`Patient`, `string`, `Patient.contact`).
    pub name: String,
    /// Kind of type.
    pub kind: Kind,
    /// Base type name (`DomainResource` for `Patient`).
    pub base: Option<String>,
    /// Abstract types (`Resource`, `Element`) have no instances of their own.
    pub is_abstract: bool,
    /// Elements declared by this type, in definition order.
    pub elements: Vec<Element>,
    by_name: HashMap<String, usize>,
    /// JSON key → (element index, index into its `types`); choice keys are expanded (`valueQuantity`).
    by_json: HashMap<String, (usize, usize)>,
}

/// The type model of a package; immutable and shareable.
#[derive(Debug, Default)]
pub struct Model {
    types: HashMap<String, TypeDef>,
}

const FHIR_TYPE_EXT: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const SYSTEM_PREFIX: &str = "http://hl7.org/fhirpath/System.";

impl Model {
    /// Builds the model from StructureDefinitions; constraint profiles and logical models are skipped.
    pub fn from_structure_definitions<'a>(sds: impl IntoIterator<Item = &'a Value>) -> Model {
        let mut model = Model::default();
        for sd in sds {
            if sd.get("derivation").and_then(Value::as_str) == Some("constraint") {
                continue;
            }
            let kind = match sd.get("kind").and_then(Value::as_str) {
                Some("primitive-type") => Kind::Primitive,
                Some("complex-type") => Kind::Complex,
                Some("resource") => Kind::Resource,
                _ => continue,
            };
            let Some(name) = sd.get("type").and_then(Value::as_str) else { continue };
            let base = sd
                .get("baseDefinition")
                .and_then(Value::as_str)
                .and_then(|u| u.rsplit('/').next())
                .map(str::to_owned);
            let is_abstract = sd.get("abstract").and_then(Value::as_bool).unwrap_or(false);
            let elements = sd
                .pointer("/snapshot/element")
                .or_else(|| sd.pointer("/differential/element"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            model.add_type(name, kind, base, is_abstract, elements);
        }
        model
    }

    fn add_type(&mut self, name: &str, kind: Kind, base: Option<String>, is_abstract: bool, elements: &[Value]) {
        // Elements are grouped by their parent path; each parent path with children becomes a type.
        let mut groups: Vec<(String, Vec<Element>)> = vec![(name.to_owned(), Vec::new())];
        let mut backbone_base: HashMap<String, String> = HashMap::new();
        for ed in elements {
            let Some(path) = ed.get("path").and_then(Value::as_str) else { continue };
            let Some((parent, last)) = path.rsplit_once('.') else { continue };
            // Only elements the type declares itself; inherited ones are found through `base`.
            if let Some(base_path) = ed.pointer("/base/path").and_then(Value::as_str) {
                let owner = base_path.split('.').next().unwrap_or("");
                if parent == name && owner != name && !(kind == Kind::Primitive && last == "value") {
                    continue;
                }
            }
            let (el_name, choice) = match last.strip_suffix("[x]") {
                Some(n) => (n.to_owned(), true),
                None => (last.to_owned(), false),
            };
            let mut types: Vec<String> = Vec::new();
            if let Some(r) = ed.get("contentReference").and_then(Value::as_str) {
                types.push(r.trim_start_matches('#').to_owned());
            } else if let Some(ts) = ed.get("type").and_then(Value::as_array) {
                for t in ts {
                    let code = t.get("code").and_then(Value::as_str).unwrap_or("");
                    let fhir_type = t
                        .get("extension")
                        .and_then(Value::as_array)
                        .and_then(|exts| {
                            exts.iter().find(|e| e.get("url").and_then(Value::as_str) == Some(FHIR_TYPE_EXT))
                        })
                        .and_then(|e| e.get("valueUrl").or_else(|| e.get("valueUri")))
                        .and_then(Value::as_str);
                    let code = match (code.strip_prefix(SYSTEM_PREFIX), fhir_type) {
                        // A primitive's own value stays a System type; element ids are FHIR strings.
                        (Some(sys), _) if kind == Kind::Primitive && last == "value" => format!("System.{sys}"),
                        (Some(_), Some(ft)) => ft.to_owned(),
                        (Some(sys), None) => format!("System.{sys}"),
                        (None, _) => code.to_owned(),
                    };
                    if !code.is_empty() && !types.contains(&code) {
                        types.push(code);
                    }
                }
            }
            if types.len() == 1 && (types[0] == "BackboneElement" || types[0] == "Element") && !parent.is_empty() {
                // Anonymous inline type, named by its path; its children follow in the snapshot.
                backbone_base.insert(path.to_owned(), types[0].clone());
                types[0] = path.to_owned();
            }
            let many = ed.get("max").and_then(Value::as_str).is_some_and(|m| m != "1" && m != "0");
            let min = ed.get("min").and_then(Value::as_u64).unwrap_or(0) as u32;
            let element = Element { name: el_name, types, many, min, choice };
            match groups.iter_mut().find(|(p, _)| p == parent) {
                Some((_, els)) => els.push(element),
                None => groups.push((parent.to_owned(), vec![element])),
            }
        }
        for (path, els) in groups {
            let (k, b, abs) = if path == name {
                (kind, base.clone(), is_abstract)
            } else {
                (Kind::Backbone, backbone_base.get(&path).cloned().or(Some("BackboneElement".into())), false)
            };
            self.types.insert(path.clone(), TypeDef::new(path, k, b, abs, els));
        }
    }

    /// The type named `name` (`Patient`, `string`, `Patient.contact`).
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// All type names in the model.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// Base chain of a type, starting with the type itself.
    fn lineage<'a>(&'a self, ty: &str) -> impl Iterator<Item = &'a TypeDef> + 'a {
        let mut next = self.types.get(ty);
        let mut guard = 0;
        std::iter::from_fn(move || {
            let cur = next?;
            guard += 1;
            next = if guard > 16 { None } else { cur.base.as_deref().and_then(|b| self.types.get(b)) };
            Some(cur)
        })
    }

    /// Element `name` (without `[x]`) of a type or one of its bases.
    pub fn element(&self, type_name: &str, name: &str) -> Option<&Element> {
        self.lineage(type_name).find_map(|t| t.by_name.get(name).map(|&i| &t.elements[i]))
    }

    /// Element behind a JSON key (`valueQuantity` → the `value[x]` element and `Quantity`).
    pub fn json_element(&self, type_name: &str, json_key: &str) -> Option<(&Element, &str)> {
        self.lineage(type_name).find_map(|t| {
            t.by_json.get(json_key).map(|&(i, ti)| {
                let el = &t.elements[i];
                (el, el.types[ti].as_str())
            })
        })
    }

    /// Whether `ty` is `base` or derives from it (`Patient` ⊂ `Resource`, `code` ⊂ `string`).
    pub fn is_subtype_of(&self, ty: &str, base: &str) -> bool {
        ty == base || self.lineage(ty).any(|t| t.name == base || t.base.as_deref() == Some(base))
    }

    /// Whether `ty` is a resource type (abstract ones included).
    pub fn is_resource(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.kind == Kind::Resource)
    }

    /// Whether `ty` is a FHIR primitive type.
    pub fn is_primitive(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.kind == Kind::Primitive)
    }

    /// The FHIRPath System type a FHIR primitive maps to (`code` → `String`, `positiveInt` → `Integer`).
    pub fn system_type(&self, primitive: &str) -> Option<&'static str> {
        if !self.is_primitive(primitive) {
            return None;
        }
        // By lineage, not by the declared `value` type: R4 declares positiveInt.value as System.String.
        for t in self.lineage(primitive) {
            let sys = match t.name.as_str() {
                "boolean" => "Boolean",
                "integer" => "Integer",
                "decimal" => "Decimal",
                "date" => "Date",
                "dateTime" | "instant" => "DateTime",
                "time" => "Time",
                "string" | "uri" | "base64Binary" | "xhtml" => "String",
                _ => continue,
            };
            return Some(sys);
        }
        Some("String")
    }
}

impl TypeDef {
    fn new(name: String, kind: Kind, base: Option<String>, is_abstract: bool, elements: Vec<Element>) -> TypeDef {
        let mut by_name = HashMap::new();
        let mut by_json = HashMap::new();
        for (i, el) in elements.iter().enumerate() {
            by_name.insert(el.name.clone(), i);
            if el.choice {
                for (ti, t) in el.types.iter().enumerate() {
                    let mut key = el.name.clone();
                    let mut chars = t.chars();
                    if let Some(first) = chars.next() {
                        key.extend(first.to_uppercase());
                        key.push_str(chars.as_str());
                    }
                    by_json.insert(key, (i, ti));
                }
            } else {
                by_json.insert(el.name.clone(), (i, 0));
            }
        }
        TypeDef { name, kind, base, is_abstract, elements, by_name, by_json }
    }
}
