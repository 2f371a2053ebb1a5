//! Narrows a published expression to the branches that can apply to one base type.
//!
//! Shared parameters such as `clinical-code` list one `|` branch per resource type
//! (`AllergyIntolerance.code | Condition.code | ...`); evaluating the other types' branches on
//! every write would be wasted work, so each base type keeps only its own.

/// The top-level `|` branches of `expression` that can match `base`.
///
/// They are evaluated one by one rather than as a union: FHIRPath's `|` drops items that are
/// equal, and `1.0 'g'` equals `1.00 'g'`, but the index keeps each element with its own precision.
pub fn for_type<'e>(expression: &'e str, base: &str, is_type: impl Fn(&str) -> bool) -> Vec<&'e str> {
    top_level_branches(expression)
        .into_iter()
        .filter(|b| match root_name(b) {
            Some(root) if is_type(root) => applies(root, base),
            _ => true,
        })
        .collect()
}

fn applies(root: &str, base: &str) -> bool {
    root == base || root == "Resource" || (root == "DomainResource" && !matches!(base, "Bundle" | "Binary" | "Parameters"))
}

/// Splits on `|` outside parentheses, brackets and string literals.
pub(crate) fn top_level_branches(expression: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    let mut chars = expression.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '`' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, '|') if depth == 0 => {
                out.push(expression[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(expression[start..].trim());
    out
}

/// The leading identifier of a branch, looking through opening parentheses.
fn root_name(branch: &str) -> Option<&str> {
    let b = branch.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    let end = b.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(b.len());
    (end > 0).then(|| &b[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_type(s: &str) -> bool {
        matches!(s, "Patient" | "Practitioner" | "Observation" | "Resource" | "DomainResource" | "Bundle")
    }

    #[test]
    fn keeps_own_and_untyped_branches() {
        let e = "Patient.name | Practitioner.name | (Observation.value as Quantity) | name.where(use = 'a|b')";
        assert_eq!(for_type(e, "Patient", is_type), ["Patient.name", "name.where(use = 'a|b')"]);
        assert_eq!(for_type(e, "Observation", is_type), ["(Observation.value as Quantity)", "name.where(use = 'a|b')"]);
        assert!(for_type("Patient.name | Practitioner.name", "Observation", is_type).is_empty());
        assert!(for_type("DomainResource.text", "Bundle", is_type).is_empty());
        assert_eq!(for_type("Resource.meta.tag", "Bundle", is_type), ["Resource.meta.tag"]);
    }
}
