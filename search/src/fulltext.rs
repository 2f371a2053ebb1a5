//! `_text` (the narrative) and `_content` (every string in the resource): a folded word document per
//! resource, and a small query language over it (search.html "Text search"): words are ANDed,
//! `OR` between words or phrases gives alternatives, `"two words"` is a phrase, and each word
//! matches the start of a word in the document, case- and accent-insensitively.

use crate::extract::fold;
use unicode_normalization::char::is_combining_mark;
use serde_json::Value;

/// A document as stored: folded words, one space apart, with a space at each end so a word start
/// is always `' ' || word`.
pub fn document(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    // Folding word by word keeps the (slow) Unicode decomposition to the words that need it;
    // marks stay with their word until folding strips them.
    for w in text.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c))).filter(|w| !w.is_empty()) {
        if w.is_ascii() {
            out.extend(w.chars().map(|c| c.to_ascii_lowercase()));
            out.push(' ');
            continue;
        }
        for part in fold(w).split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()) {
            out.push_str(part);
            out.push(' ');
        }
    }
    out
}

/// The narrative's text: the XHTML `text.div` without its markup.
pub fn narrative(resource: &Value) -> Option<String> {
    resource.pointer("/text/div")?.as_str().map(strip_markup)
}

/// XHTML as plain text: tags become spaces, the common entities their characters.
fn strip_markup(div: &str) -> String {
    let mut out = String::with_capacity(div.len());
    let mut in_tag = false;
    for c in div.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    // Other entities leave harmless fragments.
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
}

/// Every string value in the resource (the narrative without markup), space-separated.
pub fn content(resource: &Value) -> String {
    fn walk(v: &Value, key: &str, out: &mut String) {
        match v {
            Value::String(s) if key == "div" => {
                out.push_str(&strip_markup(s));
                out.push(' ');
            }
            Value::String(s) if key != "resourceType" => {
                out.push_str(s);
                out.push(' ');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(resource, "", &mut out);
    out
}

/// A parsed text query: alternatives (OR) of conjunctions (AND) of word sequences (a phrase, or one word).
pub(crate) fn parse(q: &str) -> Result<Vec<Vec<String>>, String> {
    let mut alts: Vec<Vec<String>> = vec![Vec::new()];
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (token, quoted, next) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').ok_or("unbalanced '\"'")?;
            (&r[..end], true, &r[end + 1..])
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        rest = next.trim_start();
        if !quoted && token == "OR" {
            if alts.last().is_none_or(Vec::is_empty) || rest.is_empty() {
                return Err("OR needs a term on each side".into());
            }
            alts.push(Vec::new());
            continue;
        }
        if !quoted && token == "AND" {
            continue;
        }
        let words = document(token);
        let words = words.trim();
        if words.is_empty() {
            return Err(format!("'{token}' has no searchable word"));
        }
        alts.last_mut().unwrap().push(words.to_string());
    }
    if alts.iter().any(Vec::is_empty) {
        return Err("empty text query".into());
    }
    Ok(alts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_fold_and_split_words() {
        assert_eq!(document("Héart-Attack, (acute)"), " heart attack acute ");
        // Decomposed accents stay with their word until folding removes them.
        assert_eq!(document("A\u{30a}ngstro\u{308}m x"), " angstrom x ");
        assert_eq!(document("Ångström x"), " angstrom x ");
        assert_eq!(narrative(&serde_json::json!({"text": {"div": "<div xmlns=\"x\"><p>Bob &amp; <b>Alice</b></p></div>"}})).map(|t| document(&t)), Some(" bob alice ".into()));
    }

    #[test]
    fn queries_parse_into_alternatives_of_terms() {
        assert_eq!(parse("heart attack").unwrap(), [vec!["heart".to_string(), "attack".to_string()]]);
        assert_eq!(parse("\"heart attack\" OR stroke").unwrap(), [vec!["heart attack".to_string()], vec!["stroke".to_string()]]);
        assert!(parse("heart OR").is_err());
        assert!(parse("\"open").is_err());
        assert!(parse("--").is_err());
    }
}
