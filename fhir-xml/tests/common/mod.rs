//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

/// The R4 core type model.
pub fn model() -> Arc<fhir_model::Model> {
    profiles::Package::r4_core().model()
}

/// Root of the shared, read-only test corpora.
pub fn corpora() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora"))
}

/// First difference between two JSON values (objects compared as sets of keys, arrays in
/// order, numbers by their text), as `path: description`; `None` when equal.
pub fn json_diff(a: &Value, b: &Value) -> Option<String> {
    diff_at("", a, b)
}

fn diff_at(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    None => return Some(format!("{p}: missing on the right")),
                    Some(w) => {
                        if let Some(d) = diff_at(&p, v, w) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{path}.{k}: missing on the left"))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = diff_at(&format!("{path}[{i}]"), v, w) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: {} items vs {}", x.len(), y.len()))
        }
        // arbitrary_precision keeps the text, so this compares 1.50 and 1.5 as different.
        (Value::Number(x), Value::Number(y)) => (x.to_string() != y.to_string()).then(|| format!("{path}: {x} vs {y}")),
        _ => (a != b).then(|| format!("{path}: {} vs {}", short(a), short(b))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(117).collect::<String>())
    } else {
        s
    }
}

/// Every difference between two JSON values, like [`json_diff`] but exhaustive; values under
/// a `div` key are compared as XHTML by [`xhtml_canonical`] rather than as text.
pub fn json_diffs_xhtml_aware(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    all_diffs("", a, b, &mut out);
    out
}

fn all_diffs(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match (y.get(k), v) {
                    (None, _) => out.push(format!("{p}: missing on the right")),
                    (Some(Value::String(w)), Value::String(s)) if k == "div" => {
                        let (cs, cw) = (xhtml_canonical(s), xhtml_canonical(w));
                        if cs.iter().chain(&cw).any(|t| t.starts_with("error ")) {
                            out.push(format!("{p}: XHTML does not parse"));
                        } else if cs != cw {
                            let i = cs.iter().zip(&cw).position(|(p, q)| p != q).unwrap_or(cs.len().min(cw.len()));
                            out.push(format!("{p}: XHTML differs at token {i}: {:?} vs {:?}", cs.get(i), cw.get(i)));
                        }
                    }
                    (Some(w), _) => all_diffs(&p, v, w, out),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}.{k}: missing on the left"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                all_diffs(&format!("{path}[{i}]"), v, w, out);
            }
            if x.len() != y.len() {
                out.push(format!("{path}: {} items vs {}", x.len(), y.len()));
            }
        }
        _ => {
            if let Some(d) = diff_at(path, a, b) {
                out.push(d);
            }
        }
    }
}

/// XHTML as a token list that ignores how it was serialized: entities and character
/// references resolved, attributes sorted, whitespace-only text and comments dropped.
pub fn xhtml_canonical(s: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(s);
    let mut tokens = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, tokens: &mut Vec<String>| {
        if !text.trim().is_empty() {
            tokens.push(format!("text {text}"));
        }
        text.clear();
    };
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => {
                flush(&mut text, &mut tokens);
                tokens.push(start_token(&e));
            }
            Ok(Event::Empty(e)) => {
                // An empty element is the same as start + end.
                flush(&mut text, &mut tokens);
                tokens.push(start_token(&e));
                tokens.push(format!("</{}>", e.name().as_ref()));
            }
            Ok(Event::End(e)) => {
                flush(&mut text, &mut tokens);
                tokens.push(format!("</{}>", e.name().as_ref()));
            }
            Ok(Event::Text(t)) => text.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => text.push_str(&t),
            Ok(Event::GeneralRef(g)) => match (g.resolve_char_ref(), &*g) {
                (Ok(Some(c)), _) => text.push(c),
                (_, "lt") => text.push('<'),
                (_, "gt") => text.push('>'),
                (_, "amp") => text.push('&'),
                (_, "quot") => text.push('"'),
                (_, "apos") => text.push('\''),
                (_, other) => text.push_str(&format!("&{other};")),
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                tokens.push(format!("error {e}"));
                break;
            }
        }
    }
    flush(&mut text, &mut tokens);
    tokens
}

fn start_token(e: &quick_xml::events::BytesStart) -> String {
    let mut attrs: Vec<String> = e
        .attributes()
        .flatten()
        .map(|a| {
            let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|v| v.into_owned()).unwrap_or_default();
            format!("{}={v}", a.key.as_ref())
        })
        .collect();
    attrs.sort();
    format!("<{} {}>", e.name().as_ref(), attrs.join(" "))
}
