//! Lexical rules of the R4 primitive types (datatypes.html) and their JSON representation.
//!
//! The lexical checks are `fhir_model::primitives`, the ones the validator applies to JSON,
//! so a value is accepted or refused the same way whichever format it arrives in.

use std::str::FromStr;

use fhir_model::primitives::{self, Prim};
use fhir_model::Model;
use serde_json::{Number, Value};

/// How a primitive is represented in FHIR JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Bool,
    Number,
    String,
}

/// The JSON representation of primitive type `ty`.
pub(crate) fn json_kind(model: &Model, ty: &str) -> JsonKind {
    match model.system_type(ty) {
        Some("Boolean") => JsonKind::Bool,
        Some("Integer") | Some("Decimal") => JsonKind::Number,
        _ => JsonKind::String,
    }
}

/// Checks an XML `value` attribute against the rules of `ty` and turns it into its JSON value.
pub(crate) fn parse_value(ty: &str, kind: JsonKind, text: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Err(format!("empty value is not a valid {ty} (FHIR forbids empty attributes)"));
    }
    let invalid = || format!("\"{}\" is not a valid {ty}", shorten(text));
    let value = match kind {
        JsonKind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid()),
        },
        // Built from the text so that arbitrary_precision keeps "1.50" as written; the XML
        // schema lets positiveInt carry a leading '+', JSON does not.
        JsonKind::Number => {
            let digits = if ty == "positiveInt" { text.strip_prefix('+').unwrap_or(text) } else { text };
            Value::Number(Number::from_str(digits).map_err(|_| invalid())?)
        }
        JsonKind::String => Value::String(text.to_owned()),
    };
    // The same rules the validator applies to JSON; a primitive R4 does not name keeps its JSON shape check only.
    if let Some(p) = Prim::from_code(ty) {
        primitives::check(p, &value).map_err(|why| format!("{} ({why})", invalid()))?;
    }
    Ok(value)
}

/// The XML attribute text of a JSON primitive value, if its JSON type fits `kind`.
pub(crate) fn value_text(kind: JsonKind, value: &Value) -> Option<String> {
    match (kind, value) {
        (JsonKind::Bool, Value::Bool(b)) => Some(if *b { "true" } else { "false" }.to_owned()),
        // With arbitrary_precision the number prints exactly as it was parsed.
        (JsonKind::Number, Value::Number(n)) => Some(n.to_string()),
        (JsonKind::String, Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Whether XML 1.0 can carry `c` at all, even as a character reference (the `Char` production).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(57).collect();
        t.push_str("...");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ty: &str, kind: JsonKind, s: &str) -> bool {
        parse_value(ty, kind, s).is_ok()
    }

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(parse_value("decimal", JsonKind::Number, "1.50").unwrap().to_string(), "1.50");
        assert_eq!(parse_value("positiveInt", JsonKind::Number, "+5").unwrap().to_string(), "5");
        assert!(!ok("integer", JsonKind::Number, "01"));
        assert!(!ok("integer", JsonKind::Number, "2147483648"));
        assert!(!ok("unsignedInt", JsonKind::Number, "-1"));
        assert!(!ok("decimal", JsonKind::Number, ".5"));
        assert!(ok("decimal", JsonKind::Number, "-0.5e-3"));
    }

    #[test]
    fn booleans_and_dates() {
        assert!(!ok("boolean", JsonKind::Bool, "yes"));
        assert_eq!(parse_value("boolean", JsonKind::Bool, "true").unwrap(), Value::Bool(true));
        assert!(ok("dateTime", JsonKind::String, "2015"));
        assert!(ok("dateTime", JsonKind::String, "2015-02-07T13:28:17.239+02:00"));
        assert!(!ok("dateTime", JsonKind::String, "2015-02-07T13:28:17"));
        assert!(!ok("instant", JsonKind::String, "2015-02-07"));
        assert!(ok("time", JsonKind::String, "13:28:17"));
        assert!(!ok("date", JsonKind::String, "2015-13"));
        // The validator's calendar and base64 rules apply to XML too.
        assert!(!ok("date", JsonKind::String, "2019-02-30"));
        assert!(ok("date", JsonKind::String, "2020-02-29"));
        assert!(!ok("base64Binary", JsonKind::String, "abc"));
    }
}
