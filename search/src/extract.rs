//! Turning FHIR values into index rows, plus the value parsing shared with query parsing.

use crate::{IndexRow, ParamType};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Case- and accent-folds a string the same way for stored values and query values.
pub fn fold(s: &str) -> String {
    // ASCII has no marks to strip and lowercases byte by byte: the common case, and far cheaper.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// Appends `fold(s)` to `out`, so callers folding many words can reuse one buffer.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    out.extend(s.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase));
}

/// A reference split into its parts.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedRef {
    /// Resource type, when the reference ends in `Type/id`.
    pub target_type: Option<String>,
    /// Logical id, when the reference ends in `Type/id`.
    pub target_id: Option<String>,
    /// Version from `/_history/v`.
    pub target_version: Option<String>,
    /// The reference as written, kept for absolute URLs, URNs and canonicals.
    pub url: Option<String>,
}

fn is_type_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_uppercase()) && cs.all(|c| c.is_ascii_alphanumeric())
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Parses `Type/id`, `Type/id/_history/v`, absolute URLs ending in those, and other absolute URIs.
/// Local `#contained` references give None: they cannot be searched by target.
pub fn parse_reference(r: &str) -> Option<ParsedRef> {
    if r.is_empty() || r.starts_with('#') {
        return None;
    }
    // A canonical may carry `|version`; the index keeps the bare URL.
    let r = r.split('|').next().unwrap_or(r);
    let absolute = r.contains(':');
    let segs: Vec<&str> = r.split('/').collect();
    let mut out = ParsedRef { url: absolute.then(|| r.to_string()), ..Default::default() };
    let n = segs.len();
    let tail: Option<(usize, Option<&str>)> = if n >= 4 && segs[n - 2] == "_history" {
        Some((n - 4, Some(segs[n - 1])))
    } else if n >= 2 {
        Some((n - 2, None))
    } else {
        None
    };
    if let Some((i, ver)) = tail {
        if is_type_name(segs[i]) && is_id(segs[i + 1]) && (absolute || i == 0) {
            out.target_type = Some(segs[i].to_string());
            out.target_id = Some(segs[i + 1].to_string());
            out.target_version = ver.map(str::to_string);
        }
    }
    if out.target_id.is_none() && out.url.is_none() {
        return None;
    }
    Some(out)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Parses a FHIR date, dateTime or instant (or a search date value) into its inclusive
/// precision range in microseconds UTC. Values without a timezone are taken as UTC.
pub fn date_range(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let y = num(parts.first()?, 4)?;
    let m = match parts.get(1) {
        Some(p) => num(p, 2).filter(|m| (1..=12).contains(m)),
        None => None,
    };
    if parts.len() > 1 && m.is_none() || parts.len() > 3 {
        return None;
    }
    let d = match parts.get(2) {
        Some(p) => Some(num(p, 2).filter(|d| *d >= 1 && *d <= days_in_month(y, m.unwrap()))?),
        None => None,
    };
    let Some(time) = time else {
        return Some(match (m, d) {
            (None, _) => {
                let lo = days_from_civil(y, 1, 1) * MICROS_PER_DAY;
                (lo, days_from_civil(y + 1, 1, 1) * MICROS_PER_DAY - 1)
            }
            (Some(m), None) => {
                let lo = days_from_civil(y, m, 1) * MICROS_PER_DAY;
                (lo, lo + days_in_month(y, m) * MICROS_PER_DAY - 1)
            }
            (Some(m), Some(d)) => {
                let lo = days_from_civil(y, m, d) * MICROS_PER_DAY;
                (lo, lo + MICROS_PER_DAY - 1)
            }
        });
    };
    let d = d?;
    let day = days_from_civil(y, m?, d) * MICROS_PER_DAY;
    // Split off the timezone: Z, +hh:mm, -hh:mm (a space stands for a '+' lost to form decoding).
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.find(['+', '-', ' ']) {
        let (c, tz) = time.split_at(i);
        let sign = if tz.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = tz[1..].split_once(':')?;
        let (hh, mm) = (num(hh, 2)?, num(mm, 2)?);
        if hh > 14 || mm > 59 {
            return None;
        }
        (c, sign * (hh * 60 + mm) * 60_000_000)
    } else {
        (time, 0)
    };
    let cp: Vec<&str> = clock.split(':').collect();
    if cp.len() < 2 || cp.len() > 3 {
        return None;
    }
    let hh = num(cp[0], 2).filter(|h| *h < 24)?;
    let mi = num(cp[1], 2).filter(|m| *m < 60)?;
    let mut lo = day + (hh * 3600 + mi * 60) * 1_000_000 - offset;
    let width = match cp.get(2) {
        None => 60_000_000,
        Some(sec) => {
            let (whole, frac) = match sec.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (*sec, None),
            };
            let ss = num(whole, 2).filter(|s| *s < 60)?;
            lo += ss * 1_000_000;
            match frac {
                None => 1_000_000,
                Some(f) => {
                    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let digits = f.len().min(6);
                    let micros: i64 = f[..digits].parse().ok()?;
                    let scale = 10i64.pow(6 - digits as u32);
                    lo += micros * scale;
                    scale
                }
            }
        }
    };
    Some((lo, lo + width - 1))
}

/// A decimal's value and the half-open range implied by its written precision
/// (search.html: "100" means [99.5, 100.5), "1.50" means [1.495, 1.505)).
pub fn number_range(text: &str) -> Option<(f64, f64, f64)> {
    let t = text.trim();
    let value: f64 = t.parse().ok()?;
    if !value.is_finite() || t.starts_with('+') && t.len() == 1 {
        return None;
    }
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let decimals = mant.split_once('.').map_or(0, |(_, f)| f.len() as i32);
    let half = 0.5 * 10f64.powi(exp - decimals);
    Some((value, value - half, value + half))
}

/// `o.get(k)`, for the small objects FHIR datatypes are: comparing a few short keys is cheaper
/// than hashing one (serde_json's ordered map hashes with SipHash).
fn field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    if o.len() > 8 {
        return o.get(k);
    }
    o.iter().find(|(key, _)| *key == k).map(|(_, v)| v)
}

/// `v.get(k)` for an object, through [`field`].
fn member<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.as_object().and_then(|o| field(o, k))
}

/// `o.contains_key(k)`, through [`field`].
fn has(o: &Map<String, Value>, k: &str) -> bool {
    field(o, k).is_some()
}

fn str_of<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    field(o, k).and_then(Value::as_str)
}

fn strings<'a>(o: &'a Map<String, Value>, k: &str) -> Vec<&'a str> {
    match field(o, k) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn opt_fold(s: Option<&str>) -> Option<String> {
    s.map(fold)
}

/// One value found by a parameter's expression, with its FHIR type when known.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// The JSON value.
    pub value: &'a Value,
    /// FHIR type name (`dateTime`, `instant`, `Quantity`, `HumanName`); None for computed values.
    pub ty: Option<&'a str>,
}

/// Appends the rows for one value found by a parameter's expression.
pub fn rows_for(param: &str, kind: ParamType, item: &Item, out: &mut Vec<IndexRow>) {
    let p = || param.to_string();
    let v = item.value;
    let ty = item.ty;
    match kind {
        ParamType::String => match v {
            Value::String(s) => out.push(IndexRow::String { param: p(), value_norm: fold(s), value_exact: s.clone() }),
            Value::Object(o) if matches!(ty, None | Some("HumanName") | Some("Address")) => {
                for k in ["family", "given", "prefix", "suffix", "text", "line", "city", "district", "state", "postalCode", "country"] {
                    for s in strings(o, k) {
                        out.push(IndexRow::String { param: p(), value_norm: fold(s), value_exact: s.to_string() });
                    }
                }
            }
            _ => {}
        },
        ParamType::Token => token_rows(param, item, out),
        ParamType::Uri => {
            if let Value::String(s) = v {
                out.push(IndexRow::Uri { param: p(), value: s.clone() });
            }
        }
        ParamType::Reference => {
            if let Some(rt) = member(v, "resourceType").and_then(Value::as_str) {
                // A contained resource (Bundle.entry[0].resource) stands for a reference to itself.
                if let Some(id) = member(v, "id").and_then(Value::as_str) {
                    out.push(IndexRow::Reference {
                        param: p(),
                        target_type: Some(rt.to_string()),
                        target_id: Some(id.to_string()),
                        target_version: None,
                        url: None,
                        ident_system: None,
                        ident_value: None,
                    });
                }
                return;
            }
            let (refstr, o) = match v {
                Value::String(s) => (Some(s.as_str()), None),
                Value::Object(o) if matches!(ty, None | Some("Reference")) => (str_of(o, "reference"), Some(o)),
                _ => return,
            };
            let mut parsed = refstr.and_then(parse_reference).unwrap_or_default();
            // A reference to a contained resource is a value (for :missing), though not a searchable target.
            if let Some(local) = refstr.filter(|r| r.starts_with('#') && r.len() > 1) {
                parsed.url = Some(local.to_string());
            }
            if parsed.target_type.is_none() {
                parsed.target_type = o.and_then(|o| str_of(o, "type")).map(str::to_string);
            }
            let ident = o.and_then(|o| field(o, "identifier")).and_then(Value::as_object);
            let ident_system = ident.and_then(|i| str_of(i, "system")).map(str::to_string);
            let ident_value = ident.and_then(|i| str_of(i, "value")).map(str::to_string);
            if parsed.target_id.is_none() && parsed.url.is_none() && ident_value.is_none() {
                return;
            }
            out.push(IndexRow::Reference {
                param: p(),
                target_type: parsed.target_type,
                target_id: parsed.target_id,
                target_version: parsed.target_version,
                url: parsed.url,
                ident_system,
                ident_value,
            });
        }
        ParamType::Date => {
            let range = match v {
                // A choice typed string (CarePlan.activity.detail.scheduledString) is free text, not a date.
                Value::String(_) if matches!(ty, Some(t) if !matches!(t, "date" | "dateTime" | "instant")) => None,
                Value::String(s) => date_range(s).map(|(lo, hi)| if ty == Some("instant") { (lo, lo) } else { (lo, hi) }),
                Value::Object(o) if matches!(ty, None | Some("Period")) && (has(o, "start") || has(o, "end")) => {
                    let lo = match str_of(o, "start") {
                        Some(s) => date_range(s).map(|r| r.0),
                        None => Some(i64::MIN),
                    };
                    let hi = match str_of(o, "end") {
                        Some(s) => date_range(s).map(|r| r.1),
                        None => Some(i64::MAX),
                    };
                    lo.zip(hi)
                }
                Value::Object(o) if matches!(ty, None | Some("Timing")) => {
                    let ranges: Vec<(i64, i64)> = strings(o, "event").into_iter().filter_map(date_range).collect();
                    let lo = ranges.iter().map(|r| r.0).min();
                    let hi = ranges.iter().map(|r| r.1).max();
                    lo.zip(hi)
                }
                _ => None,
            };
            if let Some((low, high)) = range {
                out.push(IndexRow::Date { param: p(), low, high });
            }
        }
        ParamType::Number => {
            if let Value::Number(n) = v {
                if let Some((value, low, high)) = number_range(&n.to_string()) {
                    out.push(IndexRow::Number { param: p(), value, low, high });
                }
            }
        }
        ParamType::Quantity => {
            let Value::Object(o) = v else { return };
            if !matches!(ty, None | Some("Quantity" | "Age" | "Duration" | "Money" | "Distance" | "Count" | "SimpleQuantity")) {
                return;
            }
            let Some(Value::Number(n)) = field(o, "value") else { return };
            let Some((value, low, high)) = number_range(&n.to_string()) else { return };
            let (system, code) = if ty == Some("Money") || has(o, "currency") {
                (Some("urn:iso:std:iso:4217".to_string()), str_of(o, "currency").map(str::to_string))
            } else {
                (str_of(o, "system").map(str::to_string), str_of(o, "code").map(str::to_string))
            };
            let canon = ucum_canonical(system.as_deref(), code.as_deref());
            out.push(IndexRow::Quantity {
                param: p(),
                value,
                low,
                high,
                system,
                code,
                unit: str_of(o, "unit").map(str::to_string),
                canon_value: canon.as_ref().map(|(f, _)| value * f),
                canon_code: canon.map(|(_, k)| k),
            });
        }
        ParamType::Composite | ParamType::Special => {}
    }
}

/// The UCUM system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// For a UCUM code: the factor to base units and the dimension key (see `fhirpath::ucum_canonical`).
pub fn ucum_canonical(system: Option<&str>, code: Option<&str>) -> Option<(f64, String)> {
    match (system, code) {
        (Some(UCUM), Some(c)) => remembered_ucum(c),
        _ => None,
    }
}

/// Distinct units remembered per thread before starting over, so arbitrary units cannot grow it without bound.
const UCUM_MEMO_MAX: usize = 1024;

/// `fhirpath::ucum_canonical`, remembered per thread: parsing a unit costs more than the rest of
/// a quantity's rows (each Observation value is indexed up to three times, once per composite),
/// and a server sees few distinct units.
fn remembered_ucum(code: &str) -> Option<(f64, String)> {
    thread_local! {
        static MEMO: RefCell<HashMap<String, Option<(f64, String)>>> = RefCell::new(HashMap::new());
    }
    MEMO.with_borrow_mut(|memo| {
        if let Some(known) = memo.get(code) {
            return known.clone();
        }
        let canon = fhirpath::ucum_canonical(code);
        if memo.len() >= UCUM_MEMO_MAX {
            memo.clear();
        }
        memo.insert(code.to_string(), canon.clone());
        canon
    })
}

fn coding_row(param: &str, o: &Map<String, Value>, fallback_text: Option<&str>) -> Option<IndexRow> {
    let system = str_of(o, "system").map(str::to_string);
    let code = str_of(o, "code").map(str::to_string);
    let text_norm = opt_fold(str_of(o, "display").or(fallback_text));
    (system.is_some() || code.is_some() || text_norm.is_some()).then(|| IndexRow::Token {
        param: param.to_string(),
        system,
        code,
        text_norm,
        type_system: None,
        type_code: None,
    })
}

fn token_rows(param: &str, item: &Item, out: &mut Vec<IndexRow>) {
    let tok = |system: Option<String>, code: Option<String>, text_norm: Option<String>| IndexRow::Token {
        param: param.to_string(),
        system,
        code,
        text_norm,
        type_system: None,
        type_code: None,
    };
    let ty = item.ty;
    match item.value {
        Value::String(s) => out.push(tok(None, Some(s.clone()), None)),
        Value::Bool(b) => out.push(tok(None, Some(b.to_string()), None)),
        // A Reference or a Quantity in a token expression is not a token; leave it out rather than guess.
        Value::Object(o) if has(o, "reference") || field(o, "value").is_some_and(|v| !v.is_string()) => {}
        Value::Object(o) => {
            let kind = match ty {
                Some(t) => t,
                None if has(o, "coding") => "CodeableConcept",
                None if has(o, "value") => {
                    // Identifier.system is a URI; ContactPoint.system is a bare code such as "phone".
                    let sys_is_code = str_of(o, "system").is_some_and(|s| !s.contains(':'));
                    if sys_is_code || has(o, "rank") {
                        "ContactPoint"
                    } else {
                        "Identifier"
                    }
                }
                None if has(o, "code") || has(o, "display") => "Coding",
                None if has(o, "text") => "CodeableConcept",
                None => return,
            };
            match kind {
                "CodeableConcept" => {
                    let text = str_of(o, "text");
                    if let Some(Value::Array(cs)) = field(o, "coding") {
                        out.extend(cs.iter().filter_map(Value::as_object).filter_map(|c| coding_row(param, c, None)));
                    }
                    if let Some(t) = text {
                        out.push(tok(None, None, Some(fold(t))));
                    }
                }
                "Coding" => out.extend(coding_row(param, o, None)),
                "Identifier" => {
                    let system = str_of(o, "system").map(str::to_string);
                    let Some(value) = str_of(o, "value") else { return };
                    let type_codings: Vec<&Map<String, Value>> = field(o, "type")
                        .and_then(|t| member(t, "coding"))
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_object).collect())
                        .unwrap_or_default();
                    let text_norm = opt_fold(field(o, "type").and_then(|t| member(t, "text")).and_then(Value::as_str));
                    if type_codings.is_empty() {
                        out.push(tok(system.clone(), Some(value.to_string()), text_norm.clone()));
                    }
                    for tc in type_codings {
                        out.push(IndexRow::Token {
                            param: param.to_string(),
                            system: system.clone(),
                            code: Some(value.to_string()),
                            text_norm: text_norm.clone(),
                            type_system: str_of(tc, "system").map(str::to_string),
                            type_code: str_of(tc, "code").map(str::to_string),
                        });
                    }
                }
                "ContactPoint" => {
                    if let Some(value) = str_of(o, "value") {
                        out.push(tok(None, Some(value.to_string()), None));
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_precision() {
        let (lo, hi) = date_range("2021").unwrap();
        assert_eq!(lo, 1_609_459_200_000_000);
        assert_eq!(hi, 1_640_995_200_000_000 - 1);
        let (lo, hi) = date_range("2020-02").unwrap();
        assert_eq!(hi - lo + 1, 29 * MICROS_PER_DAY);
        let (lo, hi) = date_range("2015-02-07T13:28:17-05:00").unwrap();
        assert_eq!(lo, date_range("2015-02-07T18:28:17Z").unwrap().0);
        assert_eq!(hi - lo, 999_999);
        let (lo, hi) = date_range("2015-02-07T13:28:17.239+02:00").unwrap();
        assert_eq!(hi - lo, 999);
        assert_eq!(lo % 1_000_000, 239_000);
        assert!(date_range("2015-13").is_none());
        assert!(date_range("2015-02-30").is_none());
        assert!(date_range("15-02-03").is_none());
        assert!(date_range("1969-12-31").unwrap().0 < 0);
    }

    #[test]
    fn number_precision() {
        assert_eq!(number_range("100"), Some((100.0, 99.5, 100.5)));
        let (v, lo, hi) = number_range("1.50").unwrap();
        assert_eq!(v, 1.5);
        assert!((lo - 1.495).abs() < 1e-12 && (hi - 1.505).abs() < 1e-12);
        let (_, lo, hi) = number_range("1e2").unwrap();
        assert_eq!((lo, hi), (50.0, 150.0));
        assert!(number_range("abc").is_none());
    }

    #[test]
    fn references() {
        let p = parse_reference("Patient/123").unwrap();
        assert_eq!((p.target_type.as_deref(), p.target_id.as_deref(), p.url), (Some("Patient"), Some("123"), None));
        let p = parse_reference("http://ex.org/fhir/Patient/1/_history/2").unwrap();
        assert_eq!(p.target_version.as_deref(), Some("2"));
        assert_eq!(p.url.as_deref(), Some("http://ex.org/fhir/Patient/1/_history/2"));
        let p = parse_reference("urn:uuid:abc").unwrap();
        assert_eq!((p.target_id, p.url.as_deref()), (None, Some("urn:uuid:abc")));
        assert!(parse_reference("#p1").is_none());
        assert!(parse_reference("foo/bar/baz").is_none());
    }

    #[test]
    fn remembered_units_agree_with_fhirpath() {
        for code in ["mg", "mm[Hg]", "kg/m2", "mg", "no such unit", "mm[Hg]"] {
            assert_eq!(ucum_canonical(Some(UCUM), Some(code)), fhirpath::ucum_canonical(code), "{code}");
        }
        assert_eq!(ucum_canonical(Some("urn:iso:std:iso:4217"), Some("mg")), None);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Ångström ÉCOLE"), "angstrom ecole");
    }

    /// Deduplication of a parameter's rows (in lib.rs) agrees with comparing each row with all
    /// before it, both for few rows and for the many that it hashes.
    #[test]
    fn duplicate_rows_go_and_order_stays() {
        let quadratic = |rows: &[IndexRow]| {
            let mut out: Vec<IndexRow> = Vec::new();
            for r in rows {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
            out
        };
        let number = |value: f64| IndexRow::Number { param: "n".into(), value, low: value, high: value };
        let token = |code: &str| IndexRow::Token { param: "t".into(), system: None, code: Some(code.into()), text_norm: None, type_system: None, type_code: None };
        for n in [3, 16, 17, 60] {
            let mut rows = vec![IndexRow::Uri { param: "before".into(), value: "x".into() }];
            for i in 0..n {
                rows.push(match i % 6 {
                    0 => token(&(i % 4).to_string()),
                    1 => number(0.0),
                    2 => number(-0.0),
                    3 => number(f64::NAN),
                    4 => IndexRow::Composite { grp: (i % 3) as u32, row: Box::new(token("c")) },
                    _ => token(&i.to_string()),
                });
            }
            let mut deduped = rows.clone();
            crate::dedup_tail(&mut deduped, 1);
            let expected: Vec<IndexRow> = rows[..1].iter().cloned().chain(quadratic(&rows[1..])).collect();
            // Debug, as rows with NaN are not equal to themselves.
            assert_eq!(format!("{deduped:?}"), format!("{expected:?}"), "{n} rows");
        }
    }

    #[test]
    fn a_long_list_keeps_each_item_once() {
        let entries: Vec<serde_json::Value> = (0..300).map(|i| serde_json::json!({"item": {"reference": format!("Patient/p{}", i % 200)}})).collect();
        let list = serde_json::json!({"resourceType": "List", "status": "current", "mode": "working", "entry": entries});
        let rows = crate::Registry::r4().extract(&list);
        assert_eq!(rows.iter().filter(|r| r.param() == "item").count(), 200);
    }
}
