//! Expansion of the package's value sets into plain code sets, for required bindings.
//! Only what can be expanded from the package alone is expanded; anything needing
//! filters or an external terminology (UCUM, BCP-13 mime types, BCP-47 languages...)
//! is reported as unexpandable and not checked.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::Package;

/// The codes of one expanded value set, grouped by code system.
#[derive(Debug, Default, Clone)]
pub struct Expansion {
    /// system url -> codes
    pub systems: HashMap<String, HashSet<String>>,
}

impl Expansion {
    /// True if any system of the value set has this code (for `code` elements).
    pub fn has_code(&self, code: &str) -> bool {
        self.systems.values().any(|c| c.contains(code))
    }

    /// None if the system is not one of the value set's systems (not checked), else membership.
    pub fn check_coding(&self, system: &str, code: &str) -> Option<bool> {
        self.systems.get(system).map(|c| c.contains(code))
    }

    fn union(&mut self, other: &Expansion) {
        for (sys, codes) in &other.systems {
            self.systems
                .entry(sys.clone())
                .or_default()
                .extend(codes.iter().cloned());
        }
    }

    fn intersect(&self, other: &Expansion) -> Expansion {
        let mut out = Expansion::default();
        for (sys, codes) in &self.systems {
            if let Some(o) = other.systems.get(sys) {
                out.systems
                    .insert(sys.clone(), codes.intersection(o).cloned().collect());
            }
        }
        out
    }
}

/// Expands value sets by canonical url, memoised; None = cannot expand from the package.
pub struct Expander<'a> {
    pkg: &'a Package,
    cache: HashMap<String, Option<Expansion>>,
}

impl<'a> Expander<'a> {
    /// A new expander over a package.
    pub fn new(pkg: &'a Package) -> Self {
        Expander {
            pkg,
            cache: HashMap::new(),
        }
    }

    /// Expands the value set with this canonical (version suffix ignored).
    pub fn expand(&mut self, url: &str) -> Option<Expansion> {
        let url = url.split('|').next().unwrap_or(url);
        if let Some(hit) = self.cache.get(url) {
            return hit.clone();
        }
        // Cycle guard: an import loop counts as unexpandable.
        self.cache.insert(url.to_string(), None);
        let result = self.compute(url);
        self.cache.insert(url.to_string(), result.clone());
        result
    }

    fn compute(&mut self, url: &str) -> Option<Expansion> {
        let vs = self.pkg.by_url(url)?;
        if vs.get("resourceType").and_then(Value::as_str) != Some("ValueSet") {
            return None;
        }
        let compose = vs.get("compose")?;
        let mut out = Expansion::default();
        for inc in compose.get("include")?.as_array()? {
            let part = self.include(inc)?;
            out.union(&part);
        }
        if let Some(excludes) = compose.get("exclude").and_then(Value::as_array) {
            for exc in excludes {
                let part = self.include(exc)?;
                for (sys, codes) in &part.systems {
                    if let Some(mine) = out.systems.get_mut(sys) {
                        mine.retain(|c| !codes.contains(c));
                    }
                }
            }
        }
        Some(out)
    }

    fn include(&mut self, inc: &Value) -> Option<Expansion> {
        if inc.get("filter").is_some() {
            return None;
        }
        let system = inc.get("system").and_then(Value::as_str);
        let mut result: Option<Expansion> = None;
        if let Some(system) = system {
            let mut codes = HashSet::new();
            if let Some(concepts) = inc.get("concept").and_then(Value::as_array) {
                for c in concepts {
                    codes.insert(c.get("code")?.as_str()?.to_string());
                }
            } else {
                let cs = self.pkg.by_url(system)?;
                if cs.get("resourceType").and_then(Value::as_str) != Some("CodeSystem")
                    || cs.get("content").and_then(Value::as_str) != Some("complete")
                {
                    return None;
                }
                collect_concepts(cs.get("concept")?, &mut codes);
            }
            let mut e = Expansion::default();
            e.systems.insert(system.to_string(), codes);
            result = Some(e);
        }
        if let Some(imports) = inc.get("valueSet").and_then(Value::as_array) {
            for vs in imports {
                let e = self.expand(vs.as_str()?)?;
                result = Some(match result {
                    None => e,
                    Some(r) => r.intersect(&e),
                });
            }
        }
        result
    }
}

fn collect_concepts(concepts: &Value, out: &mut HashSet<String>) {
    let Some(list) = concepts.as_array() else {
        return;
    };
    for c in list {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            out.insert(code.to_string());
        }
        if let Some(children) = c.get("concept") {
            collect_concepts(children, out);
        }
    }
}
