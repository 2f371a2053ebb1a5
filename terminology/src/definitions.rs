use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

/// Looks up definitions by canonical URL; `url` may carry `|version` when `version` is None.
pub trait Definitions {
    /// The CodeSystem with this url (the given version, or the one the store considers current).
    fn code_system(&self, url: &str, version: Option<&str>) -> Option<&Value>;
    /// The ValueSet with this url (the given version, or the one the store considers current).
    fn value_set(&self, url: &str, version: Option<&str>) -> Option<&Value>;
}

/// A simple in-memory Definitions built from CodeSystem/ValueSet JSON, keyed by url and version.
///
/// Without a version the highest `version` wins (numeric-aware comparison), later additions
/// breaking ties, so reloading a resource replaces the earlier copy.
#[derive(Debug, Default, Clone)]
pub struct InMemory {
    resources: Vec<Value>,
    code_systems: HashMap<String, Vec<usize>>,
    value_sets: HashMap<String, Vec<usize>>,
}

impl InMemory {
    /// Builds the store from resources; Bundles are unpacked, other resource types ignored.
    pub fn new(resources: impl IntoIterator<Item = Value>) -> Self {
        let mut store = InMemory::default();
        for r in resources {
            store.add(r);
        }
        store
    }

    /// Adds one CodeSystem or ValueSet (or every one inside a Bundle); resources without url are ignored.
    pub fn add(&mut self, r: Value) {
        let kind = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
        if kind == "Bundle" {
            if let Value::Object(mut bundle) = r {
                if let Some(Value::Array(entries)) = bundle.remove("entry") {
                    for mut e in entries {
                        if let Some(res) = e.get_mut("resource") {
                            self.add(res.take());
                        }
                    }
                }
            }
            return;
        }
        let Some(url) = r.get("url").and_then(Value::as_str) else { return };
        let map = match kind {
            "CodeSystem" => &mut self.code_systems,
            "ValueSet" => &mut self.value_sets,
            _ => return,
        };
        map.entry(url.to_string()).or_default().push(self.resources.len());
        self.resources.push(r);
    }

    /// Number of CodeSystems and ValueSets held.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Every ValueSet held, in insertion order (handy for bulk checks).
    pub fn value_sets(&self) -> impl Iterator<Item = &Value> {
        self.resources
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("ValueSet"))
    }

    fn find(&self, map: &HashMap<String, Vec<usize>>, url: &str, version: Option<&str>) -> Option<&Value> {
        let (url, version) = match (version, url.split_once('|')) {
            (None, Some((u, v))) => (u, Some(v)),
            _ => (url, version),
        };
        let candidates = map.get(url)?;
        let version_of = |i: &usize| self.resources[*i].get("version").and_then(Value::as_str);
        let pick = match version {
            Some(v) if is_wildcard(v) => candidates
                .iter()
                .filter(|i| version_of(i).is_some_and(|have| wildcard_matches(v, have)))
                .max_by(|a, b| compare_versions(version_of(a), version_of(b))),
            Some(v) => candidates.iter().rev().find(|i| version_of(i) == Some(v)),
            // max_by returns the last of equal elements, so later additions win ties.
            None => candidates
                .iter()
                .max_by(|a, b| compare_versions(version_of(a), version_of(b))),
        };
        pick.map(|i| &self.resources[*i])
    }
}

impl Definitions for InMemory {
    fn code_system(&self, url: &str, version: Option<&str>) -> Option<&Value> {
        self.find(&self.code_systems, url, version)
    }

    fn value_set(&self, url: &str, version: Option<&str>) -> Option<&Value> {
        self.find(&self.value_sets, url, version)
    }
}

fn is_wildcard_segment(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn is_wildcard(version: &str) -> bool {
    version.split('.').any(is_wildcard_segment)
}

/// True if `version` fits a pattern such as `1.x.x`, `1.*` or `*` (a trailing wildcard covers the rest).
fn wildcard_matches(pattern: &str, version: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let version: Vec<&str> = version.split('.').collect();
    for (i, p) in pattern.iter().enumerate() {
        match version.get(i) {
            Some(v) if is_wildcard_segment(p) || p == v => {}
            _ => return false,
        }
    }
    pattern.len() == version.len() || pattern.last().is_some_and(|p| is_wildcard_segment(p))
}

/// Orders versions so that "1.10" > "1.9" and any version > none; non-numeric parts compare as text.
pub(crate) fn compare_versions(a: Option<&str>, b: Option<&str>) -> Ordering {
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(a), Some(b)) => (a, b),
    };
    let split = |s: &str| s.split(['.', '-']).map(str::to_string).collect::<Vec<_>>();
    let (pa, pb) = (split(a), split(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_version_order() {
        assert_eq!(compare_versions(Some("1.10"), Some("1.9")), Ordering::Greater);
        assert_eq!(compare_versions(Some("2.0"), Some("2.0.1")), Ordering::Less);
        assert_eq!(compare_versions(None, Some("0")), Ordering::Less);
        assert_eq!(compare_versions(Some("1.0.0"), Some("1.0.0")), Ordering::Equal);
    }

    #[test]
    fn lookup_by_url_and_version() {
        let cs = |v: &str| json!({"resourceType": "CodeSystem", "url": "http://x", "version": v});
        let store = InMemory::new([
            cs("1.9"),
            cs("1.10"),
            cs("1.2"),
            json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ValueSet", "url": "http://vs"}}]}),
            json!({"resourceType": "Patient", "url": "http://x"}),
        ]);
        assert_eq!(store.len(), 4);
        let version = |v: Option<&Value>| v.and_then(|r| r["version"].as_str()).map(str::to_string);
        assert_eq!(version(store.code_system("http://x", None)).as_deref(), Some("1.10"));
        assert_eq!(version(store.code_system("http://x", Some("1.9"))).as_deref(), Some("1.9"));
        assert_eq!(version(store.code_system("http://x|1.2", None)).as_deref(), Some("1.2"));
        assert!(store.code_system("http://x", Some("3")).is_none());
        assert_eq!(version(store.code_system("http://x", Some("1.x"))).as_deref(), Some("1.10"));
        assert_eq!(version(store.code_system("http://x|*", None)).as_deref(), Some("1.10"));
        assert!(store.code_system("http://x", Some("2.x")).is_none());
        assert!(store.value_set("http://vs", None).is_some());
        assert!(store.value_set("http://x", None).is_none());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("1.x.x", "1.2.0"));
        assert!(wildcard_matches("1.*", "1.2.0"));
        assert!(wildcard_matches("*", "7"));
        assert!(!wildcard_matches("1.x", "2.0"));
        assert!(!wildcard_matches("1.x.x", "1.2"));
        assert!(!wildcard_matches("1.x.1", "1.2.0"));
    }

    #[test]
    fn later_addition_wins_ties() {
        let mut store = InMemory::default();
        store.add(json!({"resourceType": "CodeSystem", "url": "http://x", "version": "1", "name": "old"}));
        store.add(json!({"resourceType": "CodeSystem", "url": "http://x", "version": "1", "name": "new"}));
        assert_eq!(store.code_system("http://x", None).unwrap()["name"], "new");
        assert_eq!(store.code_system("http://x", Some("1")).unwrap()["name"], "new");
    }
}
