//! Scope negotiation: what a client asks for, limited to what it is registered for, and the
//! narrowing a refresh may ask for.

use smart_scopes::{Context, Permission, ResourceScope, Scope};

/// A scope written back as a scope string.
pub fn text(scope: &Scope) -> String {
    match scope {
        Scope::Resource(r) => r.to_string(),
        Scope::Launch => "launch".into(),
        Scope::LaunchContext(c) => format!("launch/{c}"),
        Scope::OpenId => "openid".into(),
        Scope::FhirUser => "fhirUser".into(),
        Scope::OfflineAccess => "offline_access".into(),
        Scope::OnlineAccess => "online_access".into(),
        Scope::Other(s) => s.clone(),
    }
}

/// Scopes as a `scope` parameter value, each once, in order.
pub fn join(scopes: &[Scope]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for s in scopes.iter().map(text) {
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.join(" ")
}

/// Whether `granted` covers a resource scope with its context, type and query: same context,
/// `*` or the same type, and every search parameter of the granted scope also in the asked one
/// (a granular grant reaches only what it names).
fn covers(granted: &ResourceScope, asked: &ResourceScope) -> bool {
    granted.context == asked.context
        && granted.resource_type.as_ref().is_none_or(|t| Some(t) == asked.resource_type.as_ref())
        && granted.query.iter().all(|pair| asked.query.contains(pair))
}

/// The requested scopes the client may have: a resource scope keeps the permissions some
/// allowed scope covering it gives (`patient/*.cruds` asked, `patient/*.rs` allowed:
/// `patient/*.rs`), or is dropped when none is left; any other scope is kept only when allowed
/// as written. What is granted may be narrower than asked (SMART requirement 79).
pub fn limit(requested: &[Scope], allowed: &[Scope]) -> Vec<Scope> {
    let mut out = Vec::new();
    for scope in requested {
        match scope {
            Scope::Resource(asked) => {
                let mut permitted: Vec<Permission> = Vec::new();
                for a in allowed {
                    if let Scope::Resource(g) = a {
                        if covers(g, asked) {
                            permitted.extend(g.permissions.iter().copied());
                        }
                    }
                }
                let permissions: Vec<Permission> = asked.permissions.iter().copied().filter(|p| permitted.contains(p)).collect();
                if !permissions.is_empty() {
                    out.push(Scope::Resource(ResourceScope { permissions, ..asked.clone() }));
                }
            }
            other if allowed.contains(other) => out.push(other.clone()),
            _ => {}
        }
    }
    out
}

/// Whether every asked scope lies within `granted` (a refresh may narrow, never widen).
pub fn within(asked: &[Scope], granted: &[Scope]) -> bool {
    let kept = limit(asked, granted);
    asked.iter().all(|a| kept.contains(a))
}

/// Whether any resource scope is `patient/`: such a grant needs a patient in context
/// (SMART requirement 164).
pub fn needs_patient(scopes: &[Scope]) -> bool {
    scopes.iter().any(|s| matches!(s, Scope::Resource(r) if r.context == Context::Patient) || *s == Scope::LaunchContext("patient".into()))
}

/// Whether the scopes include a `system/` resource scope.
pub fn has_system(scopes: &[Scope]) -> bool {
    scopes.iter().any(|s| matches!(s, Scope::Resource(r) if r.context == Context::System))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smart_scopes::parse_scopes;

    fn lim(requested: &str, allowed: &str) -> String {
        join(&limit(&parse_scopes(requested).unwrap(), &parse_scopes(allowed).unwrap()))
    }

    #[test]
    fn resource_scopes_narrow_to_what_is_allowed() {
        assert_eq!(lim("patient/*.cruds", "patient/*.rs"), "patient/*.rs");
        assert_eq!(lim("patient/Observation.rs", "patient/*.rs"), "patient/Observation.rs");
        assert_eq!(lim("patient/Observation.read", "patient/*.rs"), "patient/Observation.read");
        assert_eq!(lim("patient/Observation.rs?category=laboratory", "patient/Observation.rs"), "patient/Observation.rs?category=laboratory");
        // Broader than a granular allowance: nothing.
        assert_eq!(lim("patient/Observation.rs", "patient/Observation.rs?category=laboratory"), "");
        assert_eq!(lim("user/Observation.rs", "patient/*.cruds"), "");
        assert_eq!(lim("patient/*.cruds", "patient/Observation.rs"), "");
        assert_eq!(lim("patient/Observation.cruds", "patient/Observation.r patient/*.s"), "patient/Observation.rs");
    }

    #[test]
    fn other_scopes_only_when_allowed_as_written() {
        assert_eq!(lim("openid fhirUser offline_access launch/patient", "openid fhirUser launch/patient"), "openid fhirUser launch/patient");
        assert_eq!(lim("launch/encounter profile", "launch/patient openid"), "");
    }

    #[test]
    fn refresh_may_narrow_not_widen() {
        let granted = parse_scopes("openid patient/Observation.rs patient/Patient.r offline_access").unwrap();
        let asked = |s: &str| parse_scopes(s).unwrap();
        assert!(within(&asked("patient/Observation.rs"), &granted));
        assert!(within(&asked("patient/Observation.r offline_access"), &granted));
        assert!(!within(&asked("patient/Observation.rs patient/Condition.rs"), &granted));
        assert!(!within(&asked("patient/Patient.rs"), &granted));
        assert!(!within(&asked("fhirUser"), &granted));
    }
}
