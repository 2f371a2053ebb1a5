//! Hand-written matchers equivalent to the R4 primitive regexes (datatypes.html).
//! Hand-written rather than `regex` so validation does no regex work per call and
//! so calendar validity (e.g. 2019-02-30) can be checked, which no regex does.

use serde_json::Value;

/// The FHIR R4 primitive datatypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// boolean
    Boolean,
    /// integer
    Integer,
    /// positiveInt
    PositiveInt,
    /// unsignedInt
    UnsignedInt,
    /// decimal
    Decimal,
    /// string
    String,
    /// code
    Code,
    /// id
    Id,
    /// uri
    Uri,
    /// url
    Url,
    /// canonical
    Canonical,
    /// oid
    Oid,
    /// uuid
    Uuid,
    /// markdown
    Markdown,
    /// base64Binary
    Base64Binary,
    /// date
    Date,
    /// dateTime
    DateTime,
    /// instant
    Instant,
    /// time
    Time,
    /// xhtml (Narrative.div)
    Xhtml,
}

impl Prim {
    /// Maps a FHIR type code (or FHIRPath System type) to a primitive, if it is one.
    pub fn from_code(code: &str) -> Option<Prim> {
        Some(match code {
            "boolean" | "http://hl7.org/fhirpath/System.Boolean" => Prim::Boolean,
            "integer" | "http://hl7.org/fhirpath/System.Integer" => Prim::Integer,
            "positiveInt" => Prim::PositiveInt,
            "unsignedInt" => Prim::UnsignedInt,
            "decimal" | "http://hl7.org/fhirpath/System.Decimal" => Prim::Decimal,
            "string" | "http://hl7.org/fhirpath/System.String" => Prim::String,
            "code" => Prim::Code,
            "id" => Prim::Id,
            "uri" => Prim::Uri,
            "url" => Prim::Url,
            "canonical" => Prim::Canonical,
            "oid" => Prim::Oid,
            "uuid" => Prim::Uuid,
            "markdown" => Prim::Markdown,
            "base64Binary" => Prim::Base64Binary,
            "date" | "http://hl7.org/fhirpath/System.Date" => Prim::Date,
            "dateTime" | "http://hl7.org/fhirpath/System.DateTime" => Prim::DateTime,
            "instant" => Prim::Instant,
            "time" | "http://hl7.org/fhirpath/System.Time" => Prim::Time,
            "xhtml" => Prim::Xhtml,
            _ => return None,
        })
    }

    /// The FHIR type name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Prim::Boolean => "boolean",
            Prim::Integer => "integer",
            Prim::PositiveInt => "positiveInt",
            Prim::UnsignedInt => "unsignedInt",
            Prim::Decimal => "decimal",
            Prim::String => "string",
            Prim::Code => "code",
            Prim::Id => "id",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Canonical => "canonical",
            Prim::Oid => "oid",
            Prim::Uuid => "uuid",
            Prim::Markdown => "markdown",
            Prim::Base64Binary => "base64Binary",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Instant => "instant",
            Prim::Time => "time",
            Prim::Xhtml => "xhtml",
        }
    }
}

/// Checks a JSON value against a primitive type; Err carries a human-readable reason.
pub fn check(p: Prim, v: &Value) -> Result<(), String> {
    match p {
        Prim::Boolean => match v {
            Value::Bool(_) => Ok(()),
            _ => Err("boolean must be a JSON true/false".into()),
        },
        Prim::Integer | Prim::PositiveInt | Prim::UnsignedInt => {
            let Value::Number(n) = v else {
                return Err(format!("{} must be a JSON number", p.name()));
            };
            // arbitrary_precision: the literal text is kept, so "1.0" or "1e2" is visible here.
            let text = n.to_string();
            let digits = text.strip_prefix('-').unwrap_or(&text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{} must be a whole number, got {}", p.name(), text));
            }
            if digits.len() > 1 && digits.starts_with('0') {
                return Err(format!(
                    "{} must not have leading zeros: {}",
                    p.name(),
                    text
                ));
            }
            let val: i64 = match text.parse() {
                Ok(x) => x,
                Err(_) => return Err(format!("{} out of range: {}", p.name(), text)),
            };
            let min = match p {
                Prim::PositiveInt => 1,
                Prim::UnsignedInt => 0,
                _ => i32::MIN as i64,
            };
            if val < min || val > i32::MAX as i64 {
                return Err(format!("{} out of range: {}", p.name(), text));
            }
            Ok(())
        }
        Prim::Decimal => match v {
            // JSON number grammar is exactly the decimal regex.
            Value::Number(_) => Ok(()),
            _ => Err("decimal must be a JSON number".into()),
        },
        _ => {
            let Value::String(s) = v else {
                return Err(format!("{} must be a JSON string", p.name()));
            };
            if s.is_empty() {
                return Err(format!("{} must not be empty", p.name()));
            }
            // datatypes.html: strings SHALL NOT exceed 1MB; binary and narrative have no such cap.
            if s.len() > 1024 * 1024 && !matches!(p, Prim::Base64Binary | Prim::Xhtml) {
                return Err(format!(
                    "{} is longer than 1MB ({} bytes)",
                    p.name(),
                    s.len()
                ));
            }
            check_str(p, s)
        }
    }
}

fn check_str(p: Prim, s: &str) -> Result<(), String> {
    let ok = match p {
        // [ \r\n\t\S]+ : only these whitespace characters are allowed
        Prim::String => !s.bytes().any(|b| b == 0x0b || b == 0x0c),
        Prim::Markdown => true,
        Prim::Code => is_code(s),
        Prim::Id => {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        Prim::Uri | Prim::Url | Prim::Canonical => !s.bytes().any(is_ws),
        Prim::Oid => is_oid(s),
        Prim::Uuid => is_uuid(s),
        Prim::Base64Binary => is_base64(s),
        Prim::Date => is_date_time(s, Kind::Date),
        Prim::DateTime => is_date_time(s, Kind::DateTime),
        Prim::Instant => is_date_time(s, Kind::Instant),
        Prim::Time => is_time(s.as_bytes()).is_some_and(|rest| rest.is_empty()),
        Prim::Xhtml => s.trim_start().starts_with("<div"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {}: {:?}", p.name(), truncate(s)))
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `\s` of the spec regexes (Java/XSD flavour): ASCII whitespace only, so e.g. U+00A0 is allowed.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// [^\s]+(\s[^\s]+)*
fn is_code(s: &str) -> bool {
    let mut prev_ws = true; // disallows leading whitespace
    for c in s.chars() {
        let ws = c.is_ascii() && is_ws(c as u8);
        if ws && prev_ws {
            return false;
        }
        prev_ws = ws;
    }
    !prev_ws
}

/// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return false;
    };
    let mut parts = rest.split('.');
    match parts.next() {
        Some("0" | "1" | "2") => {}
        _ => return false,
    }
    let mut n = 0;
    for part in parts {
        n += 1;
        if part.is_empty()
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return false;
        }
    }
    n >= 1
}

/// urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
fn is_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        })
}

/// (\s*([0-9a-zA-Z\+/=]){4}\s*)+
fn is_base64(s: &str) -> bool {
    let mut n = 0usize;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=') {
            return false;
        }
        n += 1;
    }
    n > 0 && n.is_multiple_of(4)
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Date,
    DateTime,
    Instant,
}

fn digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() < n {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..n] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) {
                29
            } else {
                28
            }
        }
    }
}

/// The date / dateTime / instant regexes of R4, plus calendar validity.
fn is_date_time(s: &str, kind: Kind) -> bool {
    let b = s.as_bytes();
    let Some(year) = digits(b, 4) else {
        return false;
    };
    if year == 0 {
        return false;
    }
    let mut rest = &b[4..];
    if rest.is_empty() {
        return kind != Kind::Instant;
    }
    if rest[0] != b'-' {
        return false;
    }
    let Some(month) = digits(&rest[1..], 2) else {
        return false;
    };
    if !(1..=12).contains(&month) {
        return false;
    }
    rest = &rest[3..];
    if rest.is_empty() {
        return kind != Kind::Instant;
    }
    if rest[0] != b'-' {
        return false;
    }
    let Some(day) = digits(&rest[1..], 2) else {
        return false;
    };
    if day < 1 || day > days_in_month(year, month) {
        return false;
    }
    rest = &rest[3..];
    if rest.is_empty() {
        return kind != Kind::Instant;
    }
    if kind == Kind::Date || rest[0] != b'T' {
        return false;
    }
    let Some(after) = is_time(&rest[1..]) else {
        return false;
    };
    // A time part requires a zone in dateTime and instant alike.
    is_zone(after)
}

/// ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)? ; returns the unconsumed tail.
fn is_time(b: &[u8]) -> Option<&[u8]> {
    let h = digits(b, 2)?;
    if h > 23 || b.get(2) != Some(&b':') {
        return None;
    }
    let m = digits(&b[3..], 2)?;
    if m > 59 || b.get(5) != Some(&b':') {
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

/// Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)
fn is_zone(b: &[u8]) -> bool {
    if b == b"Z" {
        return true;
    }
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return false;
    }
    let (Some(h), Some(m)) = (digits(&b[1..], 2), digits(&b[4..], 2)) else {
        return false;
    };
    (h <= 13 && m <= 59) || (h == 14 && m == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(is_date_time("2019", Kind::Date));
        assert!(is_date_time("2019-02", Kind::Date));
        assert!(is_date_time("2020-02-29", Kind::Date));
        assert!(!is_date_time("2019-02-29", Kind::Date));
        assert!(!is_date_time("1980-13-01", Kind::Date));
        assert!(!is_date_time("0000", Kind::Date));
        assert!(!is_date_time("2019-1-01", Kind::Date));
        assert!(!is_date_time("2019-01-01T10:00:00Z", Kind::Date));
        assert!(is_date_time("2019-01-01T10:00:00Z", Kind::DateTime));
        assert!(is_date_time(
            "2019-01-01T10:00:00.123+05:30",
            Kind::DateTime
        ));
        assert!(!is_date_time("2019-01-01T10:00:00", Kind::DateTime));
        assert!(!is_date_time("2019-01-01T10:00Z", Kind::DateTime));
        assert!(!is_date_time("2019-01-01", Kind::Instant));
        assert!(!is_date_time("2019-01-01T24:00:00Z", Kind::Instant));
        assert!(is_date_time("2019-01-01T23:59:60-14:00", Kind::Instant));
        assert!(!is_date_time("2019-01-01T23:59:59+14:30", Kind::Instant));
        assert!(is_time(b"10:00:00").is_some_and(|r| r.is_empty()));
    }

    #[test]
    fn misc() {
        assert!(is_code("a b"));
        assert!(!is_code(" a"));
        assert!(!is_code("a  b"));
        assert!(!is_code("a "));
        assert!(is_oid("urn:oid:1.2.3"));
        assert!(!is_oid("urn:oid:1"));
        assert!(!is_oid("urn:oid:3.1"));
        assert!(is_uuid("urn:uuid:a76d9bbf-f293-4fb7-ad4c-2851cac77162"));
        assert!(!is_uuid("urn:uuid:A76D9BBF-f293-4fb7-ad4c-2851cac77162"));
        assert!(is_base64("SGVsbG8="));
        assert!(!is_base64("SGVsbG8"));
        let num = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(check(Prim::Integer, &num("12")).is_ok());
        assert!(check(Prim::Integer, &num("1.0")).is_err());
        assert!(check(Prim::Integer, &num("3000000000")).is_err());
        assert!(check(Prim::PositiveInt, &num("0")).is_err());
        assert!(check(Prim::UnsignedInt, &num("0")).is_ok());
        assert!(check(Prim::Decimal, &num("\"1.5\"")).is_err());
        assert!(check(Prim::Id, &num("\"a_b\"")).is_err());
    }
}
