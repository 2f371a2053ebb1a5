//! Lexical rules of the R4 primitive types (datatypes.html) and their JSON representation.
//!
//! Hand-written checks rather than a regex crate: the rules are short, and calendar-free
//! shape checks are all the codec needs (semantic validation is the validator's job).

use std::str::FromStr;

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
    let ok = match ty {
        "boolean" => text == "true" || text == "false",
        "integer" => int_in(text, i32::MIN as i64, i32::MAX as i64, false),
        "positiveInt" => int_in(text, 1, i32::MAX as i64, true),
        "unsignedInt" => int_in(text, 0, i32::MAX as i64, false),
        "decimal" => is_decimal(text),
        "date" => is_date(text.as_bytes()).is_some_and(<[u8]>::is_empty),
        "dateTime" => is_date_time(text.as_bytes(), false),
        "instant" => is_date_time(text.as_bytes(), true),
        "time" => is_time(text.as_bytes()).is_some_and(<[u8]>::is_empty),
        "id" => text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
        "code" => is_code(text),
        "oid" => is_oid(text),
        "uuid" => is_uuid(text),
        "uri" | "url" | "canonical" => !text.bytes().any(|b| b.is_ascii_whitespace()),
        "base64Binary" => text.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/= \t\r\n".contains(&b)),
        _ => match kind {
            // A primitive not named above (none in R4): only the JSON shape can be checked.
            JsonKind::Bool => text == "true" || text == "false",
            JsonKind::Number => is_decimal(text),
            JsonKind::String => true,
        },
    };
    if !ok {
        return Err(format!("\"{}\" is not a valid {ty}", shorten(text)));
    }
    Ok(match kind {
        JsonKind::Bool => Value::Bool(text == "true"),
        // Built from the text so that arbitrary_precision keeps "1.50" as written.
        JsonKind::Number => {
            let digits = text.strip_prefix('+').unwrap_or(text);
            Value::Number(Number::from_str(digits).map_err(|e| format!("\"{}\" is not a number: {e}", shorten(text)))?)
        }
        JsonKind::String => Value::String(text.to_owned()),
    })
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

fn int_in(text: &str, min: i64, max: i64, plus_allowed: bool) -> bool {
    let body = match text.strip_prefix('+') {
        Some(rest) if plus_allowed => rest,
        Some(_) => return false,
        None => text,
    };
    let digits = body.strip_prefix('-').unwrap_or(body);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return false;
    }
    body.parse::<i64>().is_ok_and(|v| v >= min && v <= max)
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` — also exactly JSON's number grammar.
fn is_decimal(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

fn is_code(s: &str) -> bool {
    // `[^\s]+(\s[^\s]+)*`: no leading, trailing or doubled whitespace.
    let b = s.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_whitespace()
        && !b[b.len() - 1].is_ascii_whitespace()
        && !b.windows(2).any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
}

fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else { return false };
    let mut parts = rest.split('.');
    let first_ok = matches!(parts.next(), Some("0" | "1" | "2"));
    let mut n = 0;
    let rest_ok = parts.all(|p| {
        n += 1;
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    });
    first_ok && rest_ok && n > 0
}

fn is_uuid(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else { return false };
    let b = u.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        })
}

fn digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() < n || !b[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b[..n].iter().fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')))
}

/// `YYYY(-MM(-DD)?)?`; returns the unparsed rest.
fn is_date(b: &[u8]) -> Option<&[u8]> {
    digits(b, 4)?;
    let mut rest = &b[4..];
    if rest.first() == Some(&b'-') {
        let m = digits(&rest[1..], 2)?;
        if !(1..=12).contains(&m) {
            return None;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'-') {
            let d = digits(&rest[1..], 2)?;
            if !(1..=31).contains(&d) {
                return None;
            }
            rest = &rest[3..];
        }
    }
    Some(rest)
}

/// `hh:mm:ss(.fff)?`; returns the unparsed rest.
fn is_time(b: &[u8]) -> Option<&[u8]> {
    let h = digits(b, 2)?;
    if b.get(2) != Some(&b':') || h > 23 {
        return None;
    }
    let m = digits(&b[3..], 2)?;
    if b.get(5) != Some(&b':') || m > 59 {
        return None;
    }
    let s = digits(&b[6..], 2)?;
    if s > 60 {
        return None;
    }
    let mut rest = &b[8..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &rest[1 + n..];
    }
    Some(rest)
}

fn is_zone(b: &[u8]) -> bool {
    if b == b"Z" {
        return true;
    }
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return false;
    }
    matches!((digits(&b[1..], 2), digits(&b[4..], 2)), (Some(h), Some(m)) if (h < 14 && m < 60) || (h == 14 && m == 0))
}

/// dateTime: a (partial) date, and with a full date optionally `Thh:mm:ss(.f+)?zone`;
/// instant: full date, time and zone required.
fn is_date_time(b: &[u8], instant: bool) -> bool {
    let Some(rest) = is_date(b) else { return false };
    if rest.is_empty() {
        return !instant;
    }
    // A time needs a full date (YYYY-MM-DD is 10 bytes).
    if b.len() - rest.len() != 10 || rest[0] != b'T' {
        return false;
    }
    match is_time(&rest[1..]) {
        Some(zone) => is_zone(zone),
        None => false,
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
    }
}
