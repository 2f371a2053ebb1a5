//! Evaluation of one `compose.include.filter` against an indexed CodeSystem, as a membership
//! mask over its concepts (so several filters combine with a cheap AND).

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use crate::codesystem::CodeSystemIndex;
use crate::TxError;

/// The concepts of `cs` that satisfy `filter`, as a mask indexed like `cs.concepts`.
pub(crate) fn select(cs: &CodeSystemIndex<'_>, filter: &Value) -> Result<Vec<bool>, TxError> {
    let text = |key: &str| filter.get(key).and_then(Value::as_str);
    let (property, op, value) = (text("property").unwrap_or(""), text("op").unwrap_or(""), text("value"));
    let name = format!("{property} {op} {}", value.unwrap_or(""));
    let invalid = |reason: &str| TxError::InvalidFilter {
        system: cs.url.to_string(),
        filter: name.clone(),
        reason: reason.to_string(),
    };
    let unsupported = |reason: String| TxError::UnsupportedFilter {
        system: cs.url.to_string(),
        filter: name.clone(),
        reason,
    };
    if property.is_empty() || op.is_empty() {
        return Err(invalid("property and op are required"));
    }
    let value = value.ok_or_else(|| invalid("value is required"))?;
    if matches!(property, "concept" | "code") {
        if let Some(mask) = hierarchy_op(cs, op, value)? {
            return Ok(mask);
        }
    }
    let result = match property {
        "concept" | "code" => match_values(cs, op, value, |i| vec![Cow::Borrowed(cs.concepts[i].code)]),
        "display" => match_values(cs, op, value, |i| cs.concepts[i].display.map(Cow::Borrowed).into_iter().collect()),
        // The graph already merges nesting with explicit parent/child properties.
        "parent" => match_values(cs, op, value, |i| related_codes(cs, cs.hierarchy.parents(i))),
        "child" => match_values(cs, op, value, |i| related_codes(cs, cs.hierarchy.children(i))),
        _ if cs.knows_property(property) => match_values(cs, op, value, |i| cs.property_values(i, property)),
        _ if cs.declares_filter(property) => Err(FilterFault::Tx(unsupported(
            "it is a filter defined by the code system whose meaning is not computable here".into(),
        ))),
        _ => Err(FilterFault::Tx(unsupported(format!("'{property}' is not a property of the code system")))),
    };
    result
    .map_err(|e| match e {
        FilterFault::Op => unsupported(format!("operator '{op}' is not supported for property '{property}'")),
        FilterFault::Invalid(reason) => invalid(&reason),
        FilterFault::Tx(e) => e,
    })
}

/// Why a value comparison failed, before the filter's name is attached.
enum FilterFault {
    Op,
    Invalid(String),
    Tx(TxError),
}

impl From<TxError> for FilterFault {
    fn from(e: TxError) -> Self {
        FilterFault::Tx(e)
    }
}

/// Subsumption operators on `concept`; None when `op` is not one of them.
fn hierarchy_op(cs: &CodeSystemIndex<'_>, op: &str, value: &str) -> Result<Option<Vec<bool>>, TxError> {
    if !matches!(op, "is-a" | "descendent-of" | "is-not-a" | "generalizes" | "child-of" | "descendent-leaf") {
        return Ok(None);
    }
    let i = cs
        .index_of(value)
        .ok_or_else(|| TxError::UnknownCode { system: cs.url.to_string(), code: value.to_string() })?;
    let h = &cs.hierarchy;
    let mask = match op {
        "is-a" => h.descendants(i, true),
        "descendent-of" => h.descendants(i, false),
        "is-not-a" => h.descendants(i, true).into_iter().map(|b| !b).collect(),
        "generalizes" => h.ancestors(i, true),
        "child-of" => {
            let mut m = vec![false; cs.concepts.len()];
            for &c in h.children(i) {
                m[c as usize] = true;
            }
            m
        }
        _ => {
            let mut m = h.descendants(i, false);
            for (j, b) in m.iter_mut().enumerate() {
                *b = *b && h.children(j).is_empty();
            }
            m
        }
    };
    Ok(Some(mask))
}

fn related_codes<'a>(cs: &CodeSystemIndex<'a>, links: &[u32]) -> Vec<Cow<'a, str>> {
    links.iter().map(|&j| Cow::Borrowed(cs.concepts[j as usize].code)).collect()
}

/// A predicate over the text values one concept has for the filtered property.
type Test<'t> = Box<dyn Fn(&[Cow<str>]) -> bool + 't>;

/// Value operators (`=`, `in`, `not-in`, `regex`, `exists`) over whatever `values` yields per concept.
fn match_values<'a>(
    cs: &CodeSystemIndex<'a>,
    op: &str,
    value: &str,
    values: impl Fn(usize) -> Vec<Cow<'a, str>>,
) -> Result<Vec<bool>, FilterFault> {
    let n = cs.concepts.len();
    let test: Test<'_> = match op {
        // Exact, even for booleans: the HL7 tx test suite expects "True" not to match true.
        "=" => Box::new(move |vs| vs.iter().any(|v| v == value)),
        "in" | "not-in" => {
            let set: HashSet<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            let negate = op == "not-in";
            Box::new(move |vs| vs.iter().any(|v| set.contains(v.as_ref())) != negate)
        }
        "regex" => {
            // FHIR regex filters match the whole value, not a substring.
            let re = regex::Regex::new(&format!("^(?:{value})$"))
                .map_err(|e| FilterFault::Invalid(format!("bad regular expression: {e}")))?;
            Box::new(move |vs| vs.iter().any(|v| re.is_match(v)))
        }
        "exists" => {
            let want = match value {
                "true" => true,
                "false" => false,
                _ => return Err(FilterFault::Invalid("exists needs the value true or false".into())),
            };
            Box::new(move |vs| vs.is_empty() != want)
        }
        _ => return Err(FilterFault::Op),
    };
    Ok((0..n).map(|i| test(&values(i))).collect())
}
