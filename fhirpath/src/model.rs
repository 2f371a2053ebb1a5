//! Glue between the evaluator and `fhir_model`: a per-engine, read-only table of every
//! type's elements keyed by FHIRPath name and by JSON key, built once, so that navigation
//! costs two hash lookups and no locking. Type names are interned to `&'static str`
//! (bounded by the model's vocabulary) so nodes can carry them without lifetimes.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use fhir_model::{Kind, Model};
use once_cell::sync::Lazy;

/// FNV-1a: the keys are short trusted names from the model, so a simple fast hash is fine.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf29ce484222325 } else { self.0 };
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

static INTERNED: Lazy<Mutex<HashSet<&'static str>>> = Lazy::new(|| Mutex::new(HashSet::new()));

/// Returns a process-lifetime copy of `s`, shared by all engines (the set is bounded by the
/// type names of the models loaded).
fn intern(s: &str) -> &'static str {
    let mut set = match INTERNED.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(&x) = set.get(s) {
        return x;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

/// The System type a value of a type maps to when compared or converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sys {
    Boolean,
    Integer,
    Decimal,
    String,
    Date,
    DateTime,
    Time,
    /// FHIR Quantity and its profiles (Age, Duration...): compares as System.Quantity.
    Quantity,
    /// Any other complex type or resource.
    Complex,
    /// No model information: decided from the JSON value.
    Unknown,
}

/// One element of a type.
#[derive(Debug)]
pub(crate) struct ElemInfo {
    pub name: Box<str>,
    /// Possible types with their System mapping.
    pub types: Vec<(&'static str, Sys)>,
    pub choice: bool,
}

/// What a JSON key of an object stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonKey {
    pub elem: u32,
    pub ty: &'static str,
    pub sys: Sys,
}

/// A type with all its elements, inherited ones included.
#[derive(Debug)]
pub(crate) struct TypeInfo {
    pub kind: Kind,
    pub base: Option<&'static str>,
    pub is_abstract: bool,
    pub elems: Vec<ElemInfo>,
    by_name: FastMap<Box<str>, u32>,
    by_json: FastMap<Box<str>, JsonKey>,
}

impl TypeInfo {
    /// Element by FHIRPath name.
    pub fn element(&self, name: &str) -> Option<&ElemInfo> {
        self.by_name.get(name).map(|&i| &self.elems[i as usize])
    }

    /// Element index by FHIRPath name.
    pub fn element_index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// What a JSON key means (choice keys like `valueQuantity` included).
    pub fn json_key(&self, key: &str) -> Option<JsonKey> {
        self.by_json.get(key).copied()
    }
}

/// The engine's view of the model; empty when the engine runs untyped.
pub(crate) struct Glue {
    pub model: Option<Arc<Model>>,
    types: FastMap<&'static str, TypeInfo>,
}

fn system_of_code(code: &str) -> Option<Sys> {
    Some(match code.strip_prefix("System.")? {
        "Boolean" => Sys::Boolean,
        "Integer" | "Long" => Sys::Integer,
        "Decimal" => Sys::Decimal,
        "Date" => Sys::Date,
        "DateTime" => Sys::DateTime,
        "Time" => Sys::Time,
        "Quantity" => Sys::Quantity,
        _ => Sys::String,
    })
}

fn sys_of(model: &Model, ty: &str) -> Sys {
    if let Some(s) = system_of_code(ty) {
        return s;
    }
    match model.system_type(ty) {
        Some("Boolean") => Sys::Boolean,
        Some("Integer") => Sys::Integer,
        Some("Decimal") => Sys::Decimal,
        Some("Date") => Sys::Date,
        Some("DateTime") => Sys::DateTime,
        Some("Time") => Sys::Time,
        Some(_) => Sys::String,
        None if model.is_subtype_of(ty, "Quantity") => Sys::Quantity,
        None => Sys::Complex,
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Glue {
    /// A glue without a model: every navigation is untyped.
    pub fn untyped() -> Glue {
        Glue { model: None, types: FastMap::default() }
    }

    /// Builds the tables for every type of `model`.
    pub fn new(model: Arc<Model>) -> Glue {
        let mut types = FastMap::default();
        let names: Vec<&str> = model.type_names().collect();
        for name in names {
            let Some(td) = model.type_def(name) else { continue };
            let mut elems: Vec<ElemInfo> = Vec::new();
            let mut by_name: FastMap<Box<str>, u32> = FastMap::default();
            let mut by_json: FastMap<Box<str>, JsonKey> = FastMap::default();
            // Own elements first, then each base's, so a redefinition shadows the inherited one.
            let mut cur = Some(td);
            let mut guard = 0;
            while let Some(t) = cur {
                for el in &t.elements {
                    if by_name.contains_key(el.name.as_str()) {
                        continue;
                    }
                    let idx = elems.len() as u32;
                    let tys: Vec<(&'static str, Sys)> =
                        el.types.iter().map(|ty| (intern(ty), sys_of(&model, ty))).collect();
                    for &(ty, sys) in &tys {
                        let key = if el.choice { format!("{}{}", el.name, capitalized(ty)) } else { el.name.clone() };
                        by_json.entry(key.into()).or_insert(JsonKey { elem: idx, ty, sys });
                    }
                    by_name.insert(el.name.as_str().into(), idx);
                    elems.push(ElemInfo { name: el.name.as_str().into(), types: tys, choice: el.choice });
                }
                guard += 1;
                cur = if guard > 16 { None } else { t.base.as_deref().and_then(|b| model.type_def(b)) };
            }
            let iname = intern(name);
            types.insert(
                iname,
                TypeInfo {
                    kind: td.kind,
                    base: td.base.as_deref().map(intern),
                    is_abstract: td.is_abstract,
                    elems,
                    by_name,
                    by_json,
                },
            );
        }
        Glue { model: Some(model), types }
    }

    /// Whether a model is loaded.
    pub fn typed(&self) -> bool {
        self.model.is_some()
    }

    /// The table of a type.
    pub fn type_info(&self, name: &str) -> Option<&TypeInfo> {
        self.types.get(name)
    }

    /// The interned name of a model type.
    pub fn static_name(&self, name: &str) -> Option<&'static str> {
        self.types.get_key_value(name).map(|(k, _)| *k)
    }

    /// `ty` is `base` or derives from it. Without a model only resource names are known.
    pub fn is_subtype(&self, ty: &str, base: &str) -> bool {
        if ty == base {
            return true;
        }
        let mut cur = self.types.get(ty);
        let mut guard = 0;
        while let Some(t) = cur {
            match t.base {
                Some(b) if b == base => return true,
                Some(b) if guard < 16 => {
                    guard += 1;
                    cur = self.types.get(b);
                }
                _ => return false,
            }
        }
        false
    }

    /// Whether `name` names a FHIR type of the model.
    pub fn has_type(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// Whether a type is a FHIR primitive.
    pub fn is_primitive(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.kind == Kind::Primitive)
    }

    /// Whether a type is a resource type.
    pub fn is_resource(&self, ty: &str) -> bool {
        self.types.get(ty).is_some_and(|t| t.kind == Kind::Resource)
    }
}
