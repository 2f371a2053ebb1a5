//! A CodeSystem flattened once into a concept table with a code index and a subsumption graph,
//! so that every later question is a lookup instead of a walk over nested JSON.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::hierarchy::Hierarchy;
use crate::TxError;

const CONCEPT_PROPERTIES: &str = "http://hl7.org/fhir/concept-properties#";

/// One concept of the table; `json` is its first definition (repeats only add links).
#[derive(Debug)]
pub(crate) struct Concept<'a> {
    pub code: &'a str,
    pub display: Option<&'a str>,
    pub json: &'a Value,
}

/// What a concept property means to this library, resolved through the declared property URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Parent,
    Child,
    Inactive,
    Status,
    NotSelectable,
    Other,
}

/// An indexed CodeSystem borrowed from its JSON.
#[derive(Debug)]
pub(crate) struct CodeSystemIndex<'a> {
    pub url: &'a str,
    pub version: Option<&'a str>,
    pub content: &'a str,
    pub json: &'a Value,
    pub concepts: Vec<Concept<'a>>,
    pub hierarchy: Hierarchy,
    by_code: HashMap<&'a str, u32>,
    /// Only for `caseSensitive: false` systems, lower-cased code -> index.
    by_lower_code: Option<HashMap<String, u32>>,
    /// Declared property code -> declared URI.
    declared: HashMap<&'a str, Option<&'a str>>,
}

impl<'a> CodeSystemIndex<'a> {
    /// Flattens the nested concepts (definition order, depth first) and links parents/children
    /// from nesting and from `parent`/`child`/`subsumedBy` properties.
    pub(crate) fn build(json: &'a Value) -> Result<Self, TxError> {
        let url = json.get("url").and_then(Value::as_str).ok_or_else(|| TxError::Invalid {
            url: json.get("id").and_then(Value::as_str).map_or("CodeSystem".into(), |id| format!("CodeSystem/{id}")),
            reason: "code system has no url".into(),
        })?;
        let declared: HashMap<&str, Option<&str>> = array(json, "property")
            .iter()
            .filter_map(|p| Some((p.get("code")?.as_str()?, p.get("uri").and_then(Value::as_str))))
            .collect();
        let mut index = CodeSystemIndex {
            url,
            version: json.get("version").and_then(Value::as_str),
            content: json.get("content").and_then(Value::as_str).unwrap_or("complete"),
            json,
            concepts: Vec::new(),
            hierarchy: Hierarchy::default(),
            by_code: HashMap::new(),
            by_lower_code: None,
            declared,
        };

        let mut edges: Vec<(u32, u32)> = Vec::new();
        // (from, to-code, from-is-child): property links are resolved once every code is known.
        let mut pending: Vec<(u32, &'a str, bool)> = Vec::new();
        // Explicit stack instead of recursion: nesting depth comes from untrusted data.
        let mut stack: Vec<(std::slice::Iter<'a, Value>, Option<u32>)> =
            vec![(array(json, "concept").iter(), None)];
        while let Some((iter, parent)) = stack.last_mut() {
            let parent = *parent;
            let Some(c) = iter.next() else {
                stack.pop();
                continue;
            };
            // A concept without a code is malformed; its children still hang under the parent.
            let own = c.get("code").and_then(Value::as_str).map(|code| index.intern(code, c));
            if let (Some(p), Some(me)) = (parent, own) {
                edges.push((p, me));
            }
            if let Some(me) = own {
                for p in array(c, "property") {
                    let Some(code) = p.get("code").and_then(Value::as_str) else { continue };
                    let Some(target) = p.get("valueCode").and_then(Value::as_str) else { continue };
                    match index.role(code) {
                        Role::Parent => pending.push((me, target, true)),
                        Role::Child => pending.push((me, target, false)),
                        _ => {}
                    }
                }
            }
            let kids = array(c, "concept");
            if !kids.is_empty() {
                stack.push((kids.iter(), own.or(parent)));
            }
        }
        for (me, target, me_is_child) in pending {
            // Links to codes outside the system cannot be followed; they are dropped.
            if let Some(&other) = index.by_code.get(target) {
                edges.push(if me_is_child { (other, me) } else { (me, other) });
            }
        }
        index.hierarchy = Hierarchy::new(index.concepts.len(), edges);
        if json.get("caseSensitive").and_then(Value::as_bool) == Some(false) {
            let mut lower = HashMap::new();
            for (i, c) in index.concepts.iter().enumerate() {
                lower.entry(c.code.to_lowercase()).or_insert(i as u32);
            }
            index.by_lower_code = Some(lower);
        }
        Ok(index)
    }

    fn intern(&mut self, code: &'a str, json: &'a Value) -> u32 {
        if let Some(&i) = self.by_code.get(code) {
            return i;
        }
        let i = self.concepts.len() as u32;
        self.concepts.push(Concept { code, display: json.get("display").and_then(Value::as_str), json });
        self.by_code.insert(code, i);
        i
    }

    fn role(&self, code: &str) -> Role {
        let name = self
            .declared
            .get(code)
            .copied()
            .flatten()
            .and_then(|uri| uri.strip_prefix(CONCEPT_PROPERTIES))
            .unwrap_or(code);
        match name {
            "parent" | "subsumedBy" => Role::Parent,
            "child" => Role::Child,
            "inactive" => Role::Inactive,
            "status" => Role::Status,
            "notSelectable" | "abstract" => Role::NotSelectable,
            _ => Role::Other,
        }
    }

    /// The index of a code, honouring `caseSensitive: false`.
    pub(crate) fn index_of(&self, code: &str) -> Option<usize> {
        if let Some(&i) = self.by_code.get(code) {
            return Some(i as usize);
        }
        self.by_lower_code.as_ref()?.get(&code.to_lowercase()).map(|&i| i as usize)
    }

    /// Fails unless the resource lists every code of the system.
    pub(crate) fn require_enumerable(&self) -> Result<(), TxError> {
        if self.content == "complete" {
            Ok(())
        } else {
            Err(TxError::NotEnumerable { url: self.url.to_string(), content: self.content.to_string() })
        }
    }

    /// True if a concept is retired/inactive; FHIR's "deprecated" still counts as active.
    pub(crate) fn is_inactive(&self, i: usize) -> bool {
        array(self.concepts[i].json, "property").iter().any(|p| {
            let code = p.get("code").and_then(Value::as_str).unwrap_or("");
            match self.role(code) {
                Role::Inactive => p.get("valueBoolean").and_then(Value::as_bool) == Some(true),
                Role::Status => matches!(p.get("valueCode").and_then(Value::as_str), Some("retired" | "inactive")),
                _ => false,
            }
        })
    }

    /// True if a concept is a grouper that should not be chosen (notSelectable/abstract).
    pub(crate) fn is_not_selectable(&self, i: usize) -> bool {
        array(self.concepts[i].json, "property").iter().any(|p| {
            let code = p.get("code").and_then(Value::as_str).unwrap_or("");
            self.role(code) == Role::NotSelectable && p.get("valueBoolean").and_then(Value::as_bool) == Some(true)
        })
    }

    /// True if the property is declared or used by at least one concept.
    pub(crate) fn knows_property(&self, property: &str) -> bool {
        self.declared.contains_key(property)
            || self.concepts.iter().any(|c| {
                array(c.json, "property").iter().any(|p| p.get("code").and_then(Value::as_str) == Some(property))
            })
    }

    /// True if the code system declares a filter with this code (CodeSystem.filter).
    pub(crate) fn declares_filter(&self, code: &str) -> bool {
        array(self.json, "filter").iter().any(|f| f.get("code").and_then(Value::as_str) == Some(code))
    }

    /// The values of a concept property as text (codes, strings, booleans, numbers, Coding.code).
    pub(crate) fn property_values(&self, i: usize, property: &str) -> Vec<Cow<'a, str>> {
        array(self.concepts[i].json, "property")
            .iter()
            .filter(|p| p.get("code").and_then(Value::as_str) == Some(property))
            .filter_map(|p| {
                let obj = p.as_object()?;
                let (_, v) = obj.iter().find(|(k, _)| k.starts_with("value"))?;
                value_text(v)
            })
            .collect()
    }
}

fn value_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Object(o) => o.get("code").and_then(Value::as_str).map(Cow::Borrowed),
        _ => None,
    }
}

/// The array under `key`, or an empty slice, because absent and empty mean the same in FHIR.
pub(crate) fn array<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_nesting_and_property_links() {
        let cs = json!({
            "resourceType": "CodeSystem", "url": "http://x", "content": "complete",
            "property": [{"code": "kid", "uri": "http://hl7.org/fhir/concept-properties#child", "type": "code"}],
            "concept": [
                {"code": "a", "concept": [{"code": "b", "concept": [{"code": "c"}]}]},
                {"code": "d", "property": [{"code": "parent", "valueCode": "a"}, {"code": "kid", "valueCode": "c"}]},
                {"code": "b", "concept": [{"code": "e"}]},
                {"display": "no code", "concept": [{"code": "f"}]}
            ]
        });
        let idx = CodeSystemIndex::build(&cs).unwrap();
        let codes: Vec<&str> = idx.concepts.iter().map(|c| c.code).collect();
        assert_eq!(codes, ["a", "b", "c", "d", "e", "f"]);
        let code = |i: &u32| idx.concepts[*i as usize].code;
        let parents = |c: &str| idx.hierarchy.parents(idx.index_of(c).unwrap()).iter().map(code).collect::<Vec<_>>();
        assert_eq!(parents("c"), ["b", "d"]);
        assert_eq!(parents("d"), ["a"]);
        assert_eq!(parents("e"), ["b"], "a repeated concept adds links to the first one");
        assert!(parents("f").is_empty(), "children of a codeless concept hang under its parent (none)");
    }

    #[test]
    fn inactive_and_not_selectable() {
        let cs = json!({
            "resourceType": "CodeSystem", "url": "http://x",
            "property": [{"code": "retired", "uri": "http://hl7.org/fhir/concept-properties#inactive", "type": "boolean"}],
            "concept": [
                {"code": "a", "property": [{"code": "status", "valueCode": "retired"}]},
                {"code": "b", "property": [{"code": "status", "valueCode": "deprecated"}]},
                {"code": "c", "property": [{"code": "retired", "valueBoolean": true}]},
                {"code": "d", "property": [{"code": "notSelectable", "valueBoolean": true}]}
            ]
        });
        let idx = CodeSystemIndex::build(&cs).unwrap();
        let inactive: Vec<bool> = (0..4).map(|i| idx.is_inactive(i)).collect();
        assert_eq!(inactive, [true, false, true, false]);
        let abstract_: Vec<bool> = (0..4).map(|i| idx.is_not_selectable(i)).collect();
        assert_eq!(abstract_, [false, false, false, true]);
        assert_eq!(idx.property_values(3, "notSelectable"), ["true"]);
    }

    #[test]
    fn case_insensitive_lookup_only_when_declared() {
        let mut cs = json!({"resourceType": "CodeSystem", "url": "http://x", "concept": [{"code": "Abc"}]});
        assert_eq!(CodeSystemIndex::build(&cs).unwrap().index_of("abc"), None);
        cs["caseSensitive"] = json!(false);
        assert_eq!(CodeSystemIndex::build(&cs).unwrap().index_of("abc"), Some(0));
    }

    #[test]
    fn missing_url_is_an_error() {
        let err = CodeSystemIndex::build(&json!({"resourceType": "CodeSystem", "id": "x"})).unwrap_err();
        assert_eq!(err.kind(), "invalid");
        assert!(err.to_string().contains("CodeSystem/x"));
    }
}
