//! Builds Bundle JSON text around stored resource text, so listing resources never re-parses them.

use serde_json::{json, Value};

/// An entry under construction.
pub struct Entry {
    /// Entry fields other than `resource`.
    pub fields: Fields,
    /// Stored resource JSON text, spliced in verbatim.
    pub resource: Option<String>,
}

/// An entry's fields other than `resource`.
pub enum Fields {
    /// Any, as a JSON object.
    Json(Value),
    /// A search entry's `fullUrl` and `search.mode`, written as text: a page has up to hundreds
    /// of entries, and a JSON object each (a map, its keys and values, then their text) was a
    /// dozen allocations per entry.
    Search { full_url: String, mode: &'static str },
}

impl From<Value> for Fields {
    fn from(v: Value) -> Fields {
        Fields::Json(v)
    }
}

impl Entry {
    /// A search match at `full_url`.
    pub fn matched(full_url: String, resource: Option<String>) -> Entry {
        Entry { fields: Fields::Search { full_url, mode: "match" }, resource }
    }
    /// A resource included by `_include`/`_revinclude`, at `full_url`.
    pub fn included(full_url: String, resource: String) -> Entry {
        Entry { fields: Fields::Search { full_url, mode: "include" }, resource: Some(resource) }
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&Value::from(s).to_string());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Serialises `{"resourceType":"Bundle",...head..., "entry":[...]}`. Each resource's text is
/// copied once, into the answer: a page of 50 Patients is 170 kB, and copying it through a
/// per-entry string first cost a second copy and its growth.
pub fn bundle(head: Value, entries: &[Entry]) -> String {
    let mut out = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
    out.pop(); // the closing brace; entries follow
    let cap: usize = entries.iter().map(|e| e.resource.as_ref().map_or(0, String::len) + 200).sum();
    out.reserve(cap + 16);
    if !entries.is_empty() {
        out.push_str(",\"entry\":[");
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match &e.fields {
                Fields::Json(fields) => {
                    let fields = serde_json::to_string(fields).unwrap_or_else(|_| "{}".into());
                    out.push_str(&fields[..fields.len() - 1]); // without the closing brace
                    if fields.len() > 2 && e.resource.is_some() {
                        out.push(',');
                    }
                }
                Fields::Search { full_url, mode } => {
                    out.push_str("{\"fullUrl\":");
                    push_json_str(&mut out, full_url);
                    out.push_str(",\"search\":{\"mode\":");
                    push_json_str(&mut out, mode);
                    out.push('}');
                    if e.resource.is_some() {
                        out.push(',');
                    }
                }
            }
            if let Some(r) = &e.resource {
                out.push_str("\"resource\":");
                out.push_str(r);
            }
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// A `link` array entry.
pub fn link(relation: &str, url: &str) -> Value {
    json!({"relation": relation, "url": url})
}

/// A page link: `path` with the request's parameters echoed (any old `_cursor` replaced by `cursor`).
pub fn page_url(path: &str, params: &[(String, String)], cursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(k, _)| k != "_cursor") {
        s.append_pair(k, v);
    }
    if let Some(c) = cursor {
        s.append_pair("_cursor", c);
    }
    let qs = s.finish();
    if qs.is_empty() { path.to_string() } else { format!("{path}?{qs}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn splices_resources_into_valid_json() {
        let text = bundle(
            json!({"resourceType": "Bundle", "type": "history"}),
            &[
                Entry { fields: json!({"fullUrl": "x"}).into(), resource: Some("{\"resourceType\":\"Patient\",\"active\":true}".into()) },
                Entry { fields: json!({"request": {"method": "DELETE"}}).into(), resource: None },
                Entry { fields: json!({}).into(), resource: Some("{}".into()) },
                Entry::matched("http://h/a\"b\\c/Patient/1".into(), Some("{\"id\":\"1\"}".into())),
                Entry::included("http://h/Patient/2".into(), "{\"id\":\"2\"}".into()),
                Entry::matched("http://h/Patient/3".into(), None),
            ],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["entry"][0]["resource"]["active"], json!(true));
        assert_eq!(v["entry"][1]["request"]["method"], json!("DELETE"));
        assert_eq!(v["entry"][2], json!({"resource": {}}));
        assert_eq!(v["entry"][3], json!({"fullUrl": "http://h/a\"b\\c/Patient/1", "search": {"mode": "match"}, "resource": {"id": "1"}}));
        assert_eq!(v["entry"][4], json!({"fullUrl": "http://h/Patient/2", "search": {"mode": "include"}, "resource": {"id": "2"}}));
        assert_eq!(v["entry"][5], json!({"fullUrl": "http://h/Patient/3", "search": {"mode": "match"}}));
        assert_eq!(v["entry"].as_array().unwrap().len(), 6);
    }
}
