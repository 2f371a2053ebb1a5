//! SMART App Launch scopes (scopes-and-launch-context.html, STU2.2, with 1.0 scopes): parsing each
//! scope strictly, and deciding for a set of granted scopes which interactions on which resource
//! types are allowed and under which conditions (patient compartment, granular search
//! parameters). The server turns the conditions into store filters; this crate knows no store.
#![warn(missing_docs)]

use std::fmt;

/// Whose data a resource scope reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// `patient/`: the launch patient's compartment.
    Patient,
    /// `user/`: what the user may see.
    User,
    /// `system/`: backend services, no user.
    System,
}

/// One of the five SMART v2 permissions (`c r u d s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// Type-level create.
    Create,
    /// Read, vread and instance history.
    Read,
    /// Update (including update-as-create) and patch.
    Update,
    /// Delete.
    Delete,
    /// Type and system search, type and system history.
    Search,
}

const LETTERS: [(char, Permission); 5] =
    [('c', Permission::Create), ('r', Permission::Read), ('u', Permission::Update), ('d', Permission::Delete), ('s', Permission::Search)];

/// A scope on FHIR resources: `patient/Observation.rs?category=laboratory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    /// `patient`, `user` or `system`.
    pub context: Context,
    /// The resource type, None for `*`.
    pub resource_type: Option<String>,
    /// What the scope allows, in `c r u d s` order.
    pub permissions: Vec<Permission>,
    /// Granular search parameters (v2 only): the scope reaches only resources matching them.
    pub query: Vec<(String, String)>,
    /// Written in the SMART 1.0 form (`.read`, `.write`, `.*`), so a grant can answer in kind.
    pub v1: bool,
}

/// One scope as requested or granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Access to resources.
    Resource(ResourceScope),
    /// `launch`: EHR launch context.
    Launch,
    /// `launch/patient`, `launch/encounter` (standalone launch asks for a context to be chosen).
    LaunchContext(String),
    /// `openid`.
    OpenId,
    /// `fhirUser`.
    FhirUser,
    /// `offline_access`.
    OfflineAccess,
    /// `online_access`.
    OnlineAccess,
    /// Any other scope (OAuth allows a server's own); it grants no resource access.
    Other(String),
}

/// Why a scope cannot be granted as written (OAuth `invalid_scope`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope '{scope}': {reason}")]
pub struct ScopeError {
    /// The scope as written.
    pub scope: String,
    /// What is wrong with it.
    pub reason: String,
}

fn is_type_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_uppercase()) && cs.all(|c| c.is_ascii_alphanumeric())
}

impl Scope {
    /// Parses one scope; resource scopes are checked strictly (out-of-order or unknown
    /// permission letters, v1 forms with a query, an empty query item are refused).
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let bad = |reason: &str| ScopeError { scope: s.to_string(), reason: reason.to_string() };
        Ok(match s {
            "launch" => Scope::Launch,
            "openid" => Scope::OpenId,
            "fhirUser" => Scope::FhirUser,
            "offline_access" => Scope::OfflineAccess,
            "online_access" => Scope::OnlineAccess,
            _ if s.starts_with("launch/") => Scope::LaunchContext(s["launch/".len()..].to_string()),
            _ => {
                let Some((ctx, rest)) = s.split_once('/') else { return Ok(Scope::Other(s.to_string())) };
                let context = match ctx {
                    "patient" => Context::Patient,
                    "user" => Context::User,
                    "system" => Context::System,
                    _ => return Ok(Scope::Other(s.to_string())),
                };
                let (head, query) = match rest.split_once('?') {
                    Some((h, q)) => (h, Some(q)),
                    None => (rest, None),
                };
                let (ty, perms) = head.split_once('.').ok_or_else(|| bad("a resource scope is context/Type.permissions"))?;
                let resource_type = match ty {
                    "*" => None,
                    t if is_type_name(t) => Some(t.to_string()),
                    _ => return Err(bad("the resource type must be a type name or *")),
                };
                let (permissions, v1) = match perms {
                    "read" => (vec![Permission::Read, Permission::Search], true),
                    "write" => (vec![Permission::Create, Permission::Update, Permission::Delete], true),
                    "*" => (LETTERS.iter().map(|(_, p)| *p).collect(), true),
                    _ => (v2_permissions(perms).map_err(|r| bad(&r))?, false),
                };
                let query = match query {
                    None => Vec::new(),
                    Some(_) if v1 => return Err(bad("search parameters belong to SMART v2 scopes (.rs?…), not to .read/.write/.*")),
                    Some(q) => {
                        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
                        if pairs.is_empty() || pairs.iter().any(|(k, v)| k.is_empty() || v.is_empty()) {
                            return Err(bad("the query must be param=value items joined by &"));
                        }
                        pairs
                    }
                };
                Scope::Resource(ResourceScope { context, resource_type, permissions, query, v1 })
            }
        })
    }
}

/// `cruds` letters: at least one, each once, in that order.
fn v2_permissions(letters: &str) -> Result<Vec<Permission>, String> {
    let mut out = Vec::new();
    let mut next = 0;
    for ch in letters.chars() {
        let Some(i) = LETTERS.iter().position(|(c, _)| *c == ch) else {
            return Err(format!("'{ch}' is not a permission (c, r, u, d, s; or read, write, * in SMART 1.0)"));
        };
        if i < next {
            return Err("permissions must appear once each, in the order c r u d s".into());
        }
        next = i + 1;
        out.push(LETTERS[i].1);
    }
    if out.is_empty() {
        return Err("no permission after the '.'".into());
    }
    Ok(out)
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = match self.context {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        };
        write!(f, "{ctx}/{}.", self.resource_type.as_deref().unwrap_or("*"))?;
        let all = self.permissions.len() == LETTERS.len();
        match (self.v1, self.permissions.as_slice()) {
            (true, [Permission::Read, Permission::Search]) => f.write_str("read")?,
            (true, [Permission::Create, Permission::Update, Permission::Delete]) => f.write_str("write")?,
            (true, _) if all => f.write_str("*")?,
            _ => {
                for p in &self.permissions {
                    let c = LETTERS.iter().find(|(_, x)| x == p).map(|(c, _)| *c).unwrap_or('?');
                    write!(f, "{c}")?;
                }
            }
        }
        if !self.query.is_empty() {
            let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.query).finish();
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// A scope string (`scope` parameter: space-separated scopes), every scope parsed; the first bad
/// one is the error.
pub fn parse_scopes(s: &str) -> Result<Vec<Scope>, ScopeError> {
    s.split(' ').filter(|x| !x.is_empty()).map(Scope::parse).collect()
}

/// Under what a granted scope lets an interaction through: every part must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Only resources in the launch patient's compartment.
    pub patient_compartment: bool,
    /// Only resources matching these search parameters (all of them).
    pub query: Vec<(String, String)>,
}

impl Condition {
    /// Whether the condition restricts nothing.
    pub fn is_unrestricted(&self) -> bool {
        !self.patient_compartment && self.query.is_empty()
    }
}

/// What granted scopes allow for one interaction on one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No granted scope covers it.
    Denied,
    /// Allowed for resources meeting any one of the conditions (scopes add up).
    Allowed(Vec<Condition>),
}

impl Access {
    /// Allowed without any condition.
    pub fn is_unrestricted(&self) -> bool {
        matches!(self, Access::Allowed(c) if c.iter().any(Condition::is_unrestricted))
    }
}

/// The resource scopes of a token, as granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    scopes: Vec<ResourceScope>,
}

impl Grant {
    /// The resource scopes among `scopes` (the others grant no resource access).
    pub fn new(scopes: &[Scope]) -> Grant {
        Grant { scopes: scopes.iter().filter_map(|s| if let Scope::Resource(r) = s { Some(r.clone()) } else { None }).collect() }
    }

    /// What the grant allows for `permission` on `resource_type`. Scopes add up: the answer is
    /// allowed under any of the conditions of the scopes that cover it; a scope without a query
    /// and outside `patient/` leaves the access unrestricted.
    pub fn access(&self, permission: Permission, resource_type: &str) -> Access {
        let mut conditions: Vec<Condition> = Vec::new();
        for s in &self.scopes {
            if !s.permissions.contains(&permission) || s.resource_type.as_deref().is_some_and(|t| t != resource_type) {
                continue;
            }
            let c = Condition { patient_compartment: s.context == Context::Patient, query: s.query.clone() };
            if c.is_unrestricted() {
                return Access::Allowed(vec![c]);
            }
            if !conditions.contains(&c) {
                conditions.push(c);
            }
        }
        if conditions.is_empty() {
            Access::Denied
        } else {
            Access::Allowed(conditions)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(s: &str) -> ResourceScope {
        match Scope::parse(s) {
            Ok(Scope::Resource(r)) => r,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn v2_scopes_parse_with_their_permissions_and_query() {
        let s = rs("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory");
        assert_eq!(s.context, Context::Patient);
        assert_eq!(s.resource_type.as_deref(), Some("Observation"));
        assert_eq!(s.permissions, [Permission::Read, Permission::Search]);
        assert_eq!(s.query, [("category".to_string(), "http://terminology.hl7.org/CodeSystem/observation-category|laboratory".to_string())]);
        assert_eq!(rs("system/*.cruds").permissions.len(), 5);
        assert_eq!(rs("user/Patient.u").permissions, [Permission::Update]);
        assert_eq!(rs("system/*.cruds").resource_type, None);
    }

    #[test]
    fn v1_scopes_mean_what_v2_says_they_mean() {
        assert_eq!(rs("patient/*.read").permissions, [Permission::Read, Permission::Search]);
        assert_eq!(rs("user/Observation.write").permissions, [Permission::Create, Permission::Update, Permission::Delete]);
        assert_eq!(rs("user/Observation.*").permissions.len(), 5);
        // Granted v1 scopes are returned in the v1 form; v2 scopes as written.
        for s in ["patient/*.read", "user/Observation.write", "system/*.*", "patient/Observation.rs", "user/Encounter.cud", "patient/Observation.rs?category=laboratory"] {
            assert_eq!(rs(s).to_string(), s);
        }
    }

    #[test]
    fn malformed_resource_scopes_are_refused() {
        for s in [
            "patient/Observation.sr",
            "patient/Observation.rr",
            "patient/Observation.x",
            "patient/Observation.",
            "patient/Observation",
            "patient/observation.rs",
            "patient/Observation.read?category=laboratory",
            "patient/Observation.rs?",
            "patient/Observation.rs?category=",
        ] {
            let e = Scope::parse(s).expect_err(s);
            assert_eq!(e.scope, s);
        }
    }

    #[test]
    fn other_scopes_are_recognised_or_kept() {
        let all = parse_scopes("launch launch/patient openid fhirUser offline_access online_access  custom:thing").unwrap();
        assert_eq!(
            all,
            [
                Scope::Launch,
                Scope::LaunchContext("patient".into()),
                Scope::OpenId,
                Scope::FhirUser,
                Scope::OfflineAccess,
                Scope::OnlineAccess,
                Scope::Other("custom:thing".into())
            ]
        );
        assert!(parse_scopes("openid patient/Observation.zz").is_err());
    }

    #[test]
    fn scopes_add_up_into_conditions() {
        let grant = Grant::new(&parse_scopes("patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs patient/Patient.r openid").unwrap());
        let lab = Condition { patient_compartment: true, query: vec![("category".into(), "laboratory".into())] };
        let vital = Condition { patient_compartment: true, query: vec![("category".into(), "vital-signs".into())] };
        assert_eq!(grant.access(Permission::Search, "Observation"), Access::Allowed(vec![lab, vital]));
        assert_eq!(grant.access(Permission::Read, "Patient"), Access::Allowed(vec![Condition { patient_compartment: true, query: vec![] }]));
        assert_eq!(grant.access(Permission::Search, "Patient"), Access::Denied, "r does not give s");
        assert_eq!(grant.access(Permission::Create, "Observation"), Access::Denied);
        assert_eq!(grant.access(Permission::Read, "Condition"), Access::Denied);
        // A broader scope makes the narrower ones moot.
        let wide = Grant::new(&parse_scopes("patient/Observation.rs?category=laboratory user/Observation.rs").unwrap());
        assert!(wide.access(Permission::Read, "Observation").is_unrestricted());
        assert!(!grant.access(Permission::Read, "Observation").is_unrestricted());
        assert!(Grant::new(&parse_scopes("system/*.cruds").unwrap()).access(Permission::Delete, "Claim").is_unrestricted());
    }
}
