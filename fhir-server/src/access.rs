//! Authorization: what an access token grants, enforced inside every interaction.
//!
//! Without an authenticator every request is [`Access::Open`] and nothing here costs a query.
//! With one, every FHIR interaction takes an [`Access`] (no valid bearer token: 401 with
//! `WWW-Authenticate`), and the token's SMART scopes are compiled, per interaction and resource
//! type, into a search filter that the store applies in the same statement as the interaction's
//! own conditions, so no route has a path around it. docs/authorization.md, "Enforcement".
//!
//! What a grant means:
//! - `patient/` scopes reach the launch patient's compartment (R4 CompartmentDefinition Patient,
//!   the Patient itself included). Without a patient in the token they grant nothing, and they
//!   grant nothing of a type outside that compartment.
//! - Granular scopes (`patient/Observation.rs?category=laboratory`) are parsed as search
//!   parameters and ANDed to the compartment; scopes add up (OR). A scope query a type cannot be
//!   searched with grants nothing of that type (closed, not open, on doubt).
//! - The `fhirUser` scope is "permission to retrieve information about the current logged-in
//!   user": with it, the token may read (read, vread, instance history, `_include`) the one
//!   resource its `fhirUser` claim names, whatever its resource scopes, as an app must do to learn
//!   who signed in (SMART's OpenID Connect section; Inferno's `smart_openid_fhir_user_claim` reads
//!   a Practitioner with a `patient/*.rs` token). It adds nothing else: no search, no write.
//!
//! How refusals are answered:
//! - Type level: no scope gives the permission on the type: 403 `forbidden`, before anything is
//!   read or written.
//! - Instance level: a resource outside the grant is answered as if it did not exist: 404 for
//!   read, vread, instance history, update and patch; deleting it changes nothing and answers
//!   as deleting an absent resource does (204). Under a restricted grant a deleted resource is
//!   404 rather than 410 (its place in the grant died with its index rows), and update-as-create
//!   is 404 too: a 201 for an unknown id beside a 404 for an unseen one would tell them apart.
//! - New content: a create, update or patch whose result lies outside the grant is 403, checked
//!   inside the write's transaction, which is then dropped: nothing is kept.
//! - Search: only rows within the grant. Chains and `_has` test only what the token may search
//!   (chain targets it may not search drop out; a chain left with none, `_has` on such a type and
//!   `_list` without unrestricted search of List are 403). `_include`/`_revinclude`, `:iterate`
//!   too, return and follow only what it may read. Totals count what is seen. `_contained` returns
//!   containers of any type, so it needs unrestricted search of every type (403 otherwise).
//!   Terminology modifiers (`:in`, `:below`, …) use only stored definitions the token may read.
//! - History: type and system history list versions of resources the token may search now;
//!   instance history and vread need read of the current resource. A version is shown when its
//!   resource is within the grant now and, when every applicable scope is a `patient/` one, the
//!   version's own content is in the patient's compartment too, so versions from before a resource
//!   moved into the compartment stay hidden. Granular scope parameters are judged on the current
//!   version (older ones have no index rows).
//! - Conditional create/update/patch/delete and a transaction's conditional references match
//!   under the grant: search permission for If-None-Exist and references, the write's own for the others.
//! - Transactions check each entry by these rules and fail whole on the first refusal; batch
//!   entries fail one by one. `$reindex` needs the permission (read for GET, update for POST)
//!   on every type without condition. `/metadata` and the health probes need no token.

use crate::app::App;
use crate::error::{FhirError, FhirResult};
use crate::store::{Current, Tx};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub use smart_scopes::Permission;

/// Who is asking, as far as authorization goes.
#[derive(Debug, Clone)]
pub enum Access {
    /// No authorization configured (the server's default, on loopback): everything is allowed.
    Open,
    /// A verified access token.
    Token(Arc<TokenAccess>),
}

/// What a verified access token grants and in which launch context.
#[derive(Debug, Clone)]
pub struct TokenAccess {
    /// The resource scopes granted.
    pub grant: smart_scopes::Grant,
    /// The granted scope string, as the token response gave it.
    pub scope: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The end user (`sub`), None for a backend service.
    pub subject: Option<String>,
    /// The launch patient's id: `patient/` scopes reach this patient's compartment.
    pub patient: Option<String>,
    /// The launch encounter's id.
    pub encounter: Option<String>,
    /// The user's FHIR resource (`Practitioner/123`), when known.
    pub fhir_user: Option<String>,
}

/// Verifies a request's credentials (the server's own SMART tokens, an external OpenID provider's).
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync {
    /// The token's access, or a 401 (see [`FhirError::unauthorized`]) carrying `WWW-Authenticate`.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<TokenAccess, FhirError>;
}

impl FromRequestParts<Arc<App>> for Access {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Access, FhirError> {
        let Some(auth) = &app.authenticator else { return Ok(Access::Open) };
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(FhirError::token_required("this server needs an access token: Authorization: Bearer <token>"));
        };
        let bearer = value.to_str().ok().and_then(|v| v.split_once(' ')).filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty());
        if bearer.is_none() {
            return Err(FhirError::unauthorized("the Authorization header must be 'Bearer <token>'"));
        }
        match auth.authenticate(&parts.headers).await {
            Ok(t) => Ok(Access::Token(Arc::new(t))),
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED && e.challenge.is_none() => {
                let msg = e.issues.first().map(|i| i.diagnostics.clone()).unwrap_or_default();
                Err(FhirError { challenge: FhirError::unauthorized(msg).challenge, ..e })
            }
            Err(e) => Err(e),
        }
    }
}

/// The resources of one type an interaction may touch under a token's grant.
#[derive(Debug, Clone)]
pub struct Restriction {
    res_type: String,
    /// The grant's alternatives as one filter on the type.
    filter: search::Filter,
    /// The launch patient and the type's Patient-compartment parameters, when every alternative
    /// requires that compartment: a version's own content must then be in it too.
    compartment: Option<(String, Vec<String>)>,
    /// The signed-in user's own resource of this type (`fhirUser` scope), every version of which may be read.
    own: Option<String>,
}

/// What a grant makes of one permission on one type.
enum Compiled {
    Whole,
    Only(Restriction),
    Denied,
}

fn verb(p: Permission) -> &'static str {
    match p {
        Permission::Create => "create",
        Permission::Read => "read",
        Permission::Update => "update",
        Permission::Delete => "delete",
        Permission::Search => "search",
    }
}

fn denied(p: Permission, t: &str) -> FhirError {
    FhirError::forbidden(format!("the access token does not allow to {} {t} resources", verb(p)))
}

/// 404 as for a resource that does not exist (one outside the grant must look the same).
fn unknown(t: &str, id: &str) -> FhirError {
    FhirError::not_found(format!("{t}/{id} is not known"))
}

impl TokenAccess {
    /// The `(type, id)` of the signed-in user's own resource, when the token carries the `fhirUser`
    /// scope and its `fhirUser` claim names a resource of this server (`base`, or relative).
    fn own_resource(&self, base: &str) -> Option<(&str, &str)> {
        if !self.scope.split(' ').any(|s| s == "fhirUser") {
            return None;
        }
        let url = self.fhir_user.as_deref()?;
        let local = match url.strip_prefix(base) {
            Some(rest) => rest.strip_prefix('/')?,
            None if !url.contains("://") => url,
            None => return None,
        };
        match local.split('/').collect::<Vec<_>>().as_slice() {
            [t, id] if !t.is_empty() && !id.is_empty() => Some((t, id)),
            _ => None,
        }
    }
}

impl Access {
    /// Whether no authorization applies.
    pub fn is_open(&self) -> bool {
        matches!(self, Access::Open)
    }

    fn compile(&self, app: &App, reg: &search::Registry, perm: Permission, t: &str) -> Compiled {
        let Access::Token(tok) = self else { return Compiled::Whole };
        // The user's own resource, readable under the `fhirUser` scope (see the module's notes).
        let own = match tok.own_resource(&app.base) {
            Some((ot, id)) if perm == Permission::Read && ot == t => reg.parse_query(t, &[("_id".to_string(), id.to_string())]).ok().map(|q| (id.to_string(), q.filters)),
            _ => None,
        };
        let conditions = match tok.grant.access(perm, t) {
            smart_scopes::Access::Denied => Vec::new(),
            a if a.is_unrestricted() => return Compiled::Whole,
            smart_scopes::Access::Allowed(c) => c,
        };
        let env = search::ParseEnv { terminology: &search::NoTerminology, base: Some(&app.base) };
        let mut alternatives = Vec::new();
        let mut compartment = None;
        let mut all_in_compartment = true;
        for c in conditions {
            let mut parts = Vec::new();
            if c.patient_compartment {
                let Some(pid) = tok.patient.as_deref() else { continue };
                let Some(params) = reg.compartment_params("Patient", t) else { continue };
                let Ok(mut q) = reg.parse_query(t, &[]) else { continue };
                if q.restrict_to_compartment(reg, "Patient", pid, params).is_err() {
                    continue;
                }
                parts.append(&mut q.filters);
                compartment = Some((pid.to_string(), params.to_vec()));
            }
            if !c.query.is_empty() {
                match reg.parse_query_in(&env, t, &c.query) {
                    Ok(q) if q.control.is_empty() => parts.extend(q.filters),
                    _ => continue,
                }
            }
            all_in_compartment &= c.patient_compartment;
            alternatives.push(parts);
        }
        let own = own.map(|(id, filters)| {
            alternatives.push(filters);
            id
        });
        if alternatives.is_empty() {
            return Compiled::Denied;
        }
        Compiled::Only(Restriction { res_type: t.to_string(), filter: search::Filter::any_of(alternatives), compartment: compartment.filter(|_| all_in_compartment), own })
    }

    /// What the grant leaves of `t` for `perm`: None when all of it (or no authorization applies),
    /// 403 when nothing.
    pub fn restriction(&self, app: &App, perm: Permission, t: &str) -> FhirResult<Option<Restriction>> {
        if self.is_open() {
            return Ok(None);
        }
        match self.compile(app, &app.registry(), perm, t) {
            Compiled::Whole => Ok(None),
            Compiled::Only(r) => Ok(Some(r)),
            Compiled::Denied => Err(denied(perm, t)),
        }
    }

    /// 403 unless the grant allows `perm` on some resources of `t`.
    pub fn require(&self, app: &App, perm: Permission, t: &str) -> FhirResult<()> {
        self.restriction(app, perm, t).map(drop)
    }

    /// 403 unless the grant allows `perm` on every resource of every type (`what` names the need).
    pub fn require_everything(&self, app: &App, perm: Permission, what: &str) -> FhirResult<()> {
        let Access::Token(tok) = self else { return Ok(()) };
        let reg = app.registry();
        match reg.resource_types().iter().find(|t| !tok.grant.access(perm, t).is_unrestricted()) {
            None => Ok(()),
            Some(t) => Err(FhirError::forbidden(format!("{what} needs permission to {} every resource of every type; the access token limits {t}", verb(perm)))),
        }
    }

    /// The types of a system-level search or history the grant lets `perm` reach: every named
    /// one must be (403 otherwise); unnamed ones it may not reach are left out (403 if none is left).
    pub fn reachable_types(&self, app: &App, perm: Permission, types: Vec<String>, named: bool) -> FhirResult<Vec<String>> {
        if self.is_open() {
            return Ok(types);
        }
        let reg = app.registry();
        let mut out = Vec::with_capacity(types.len());
        for t in types {
            match self.compile(app, &reg, perm, &t) {
                Compiled::Denied if named => return Err(denied(perm, &t)),
                Compiled::Denied => {}
                _ => out.push(t),
            }
        }
        if out.is_empty() {
            return Err(FhirError::forbidden(format!("the access token does not allow to {} any resource type", verb(perm))));
        }
        Ok(out)
    }

    /// Applies the grant to a parsed search for `perm` on its type: what it reaches through chains,
    /// `_has` and `_list` is narrowed to what the token may search, and its rows to what it may `perm`.
    pub fn restrict_query(&self, app: &App, perm: Permission, q: &mut search::Query) -> FhirResult<()> {
        if self.is_open() {
            return Ok(());
        }
        let reg = app.registry();
        q.restrict_links(&mut |t| match self.compile(app, &reg, Permission::Search, t) {
            Compiled::Whole => search::Reach::All,
            Compiled::Only(r) => search::Reach::Only(r.filter),
            Compiled::Denied => search::Reach::Nothing,
        })
        .map_err(|e| FhirError::forbidden(e.message).at(e.param))?;
        match self.compile(app, &reg, perm, q.resource_type()) {
            Compiled::Whole => Ok(()),
            Compiled::Only(r) => {
                q.filters.push(r.filter);
                Ok(())
            }
            Compiled::Denied => Err(denied(perm, q.resource_type())),
        }
    }

    /// The rows (rid, type, id, content) the grant lets the token read, in their order.
    pub async fn readable(&self, app: &App, rows: Vec<(i64, String, String, String)>) -> FhirResult<Vec<(i64, String, String, String)>> {
        if self.is_open() || rows.is_empty() {
            return Ok(rows);
        }
        let reg = app.registry();
        let mut keep: HashMap<String, Option<Vec<i64>>> = HashMap::new();
        for (_, t, _, _) in &rows {
            if keep.contains_key(t) {
                continue;
            }
            let seen = match self.compile(app, &reg, Permission::Read, t) {
                Compiled::Whole => None,
                Compiled::Denied => Some(Vec::new()),
                Compiled::Only(r) => {
                    let rids: Vec<i64> = rows.iter().filter(|x| &x.1 == t).map(|x| x.0).collect();
                    Some(r.visible_rids(app, &rids).await?)
                }
            };
            keep.insert(t.clone(), seen);
        }
        Ok(rows.into_iter().filter(|(rid, t, _, _)| keep.get(t).is_some_and(|k| k.as_ref().is_none_or(|v| v.contains(rid)))).collect())
    }

    /// After writing `ids` of `t` in `tx`: 403 unless each lies within what `perm` allows, so the
    /// caller drops the transaction and nothing is kept.
    pub async fn check_written(&self, app: &App, tx: &mut Tx, perm: Permission, t: &str, ids: &[String]) -> FhirResult<()> {
        match self.restriction(app, perm, t)? {
            None => Ok(()),
            Some(r) => r.require_written(app, tx, perm, ids).await,
        }
    }

    /// For type history (`types` is the one type) and system history (every type, since None
    /// below means every version of every type): the condition on current resources whose
    /// versions may be listed (None: every one), and the restrictions to judge each version by.
    pub fn history_scope(&self, app: &App, types: &[String]) -> FhirResult<(Option<search::SqlFilter>, HashMap<String, Restriction>)> {
        if self.is_open() {
            return Ok((None, HashMap::new()));
        }
        let reg = app.registry();
        let mut queries = Vec::new();
        let mut restricted = HashMap::new();
        for t in types {
            match self.compile(app, &reg, Permission::Search, t) {
                Compiled::Denied => {}
                Compiled::Whole => queries.push(reg.parse_query(t, &[]).map_err(FhirError::internal)?),
                Compiled::Only(r) => {
                    queries.push(r.query(&reg)?);
                    restricted.insert(t.clone(), r);
                }
            }
        }
        if queries.is_empty() {
            return Err(match types {
                [t] => denied(Permission::Search, t),
                _ => FhirError::forbidden("the access token does not allow to search any resource type"),
            });
        }
        if restricted.is_empty() && queries.len() == types.len() {
            return Ok((None, restricted));
        }
        Ok((Some(search::scoped_sql(&queries)), restricted))
    }
}

impl Restriction {
    /// 404, as for an unknown resource, unless the current resource `id` (as read, through the
    /// pool) is within the restriction; a deleted one is not (its index rows are gone).
    pub async fn require_visible(&self, app: &App, id: &str, cur: Option<&Current>) -> FhirResult<()> {
        match cur {
            Some(c) if !c.deleted && !self.visible_rids(app, &[c.rid]).await?.is_empty() => Ok(()),
            _ => Err(unknown(&self.res_type, id)),
        }
    }

    /// Inside a write: whether the current resource `id` (read in `tx`) is within the restriction.
    pub async fn sees_in(&self, app: &App, tx: &mut Tx, id: &str, cur: Option<&Current>) -> FhirResult<bool> {
        match cur {
            Some(c) if !c.deleted => Ok(!self.visible_ids_in(app, tx, &[id.to_string()]).await?.is_empty()),
            _ => Ok(false),
        }
    }

    /// After writing `ids` in `tx`: 403 unless each lies within the restriction (for `perm`).
    pub async fn require_written(&self, app: &App, tx: &mut Tx, perm: Permission, ids: &[String]) -> FhirResult<()> {
        let seen = self.visible_ids_in(app, tx, ids).await?;
        match ids.iter().find(|id| !seen.contains(id)) {
            None => Ok(()),
            Some(id) => Err(FhirError::forbidden(format!(
                "the access token does not allow to {} {}/{id} with this content: it would lie outside what the token grants",
                verb(perm),
                self.res_type
            ))),
        }
    }

    /// A query of the type holding only the restriction.
    fn query(&self, reg: &search::Registry) -> FhirResult<search::Query> {
        let mut q = reg.parse_query(&self.res_type, &[]).map_err(FhirError::internal)?;
        q.filters.push(self.filter.clone());
        Ok(q)
    }

    /// Which of `rids` (current resources of the type) lie within the restriction.
    pub async fn visible_rids(&self, app: &App, rids: &[i64]) -> FhirResult<Vec<i64>> {
        let q = self.query(&app.registry())?;
        Ok(app.store.matching_rids(&search::scoped_sql(std::slice::from_ref(&q)), rids).await?)
    }

    /// Which of `ids` lie within the restriction as `tx` sees them (writes of its own included).
    pub async fn visible_ids_in(&self, app: &App, tx: &mut Tx, ids: &[String]) -> FhirResult<Vec<String>> {
        let reg = app.registry();
        let mut q = match reg.parse_query(&self.res_type, &[("_id".to_string(), ids.join(","))]) {
            Ok(q) => q,
            // Not an id any resource can have: nothing of it is within anything.
            Err(_) => return Ok(Vec::new()),
        };
        q.filters.push(self.filter.clone());
        let limit = ids.len() as i64;
        Ok(app.store.search_ids_in(tx, &search::scoped_sql(std::slice::from_ref(&q)), limit).await?)
    }

    /// Whether a version's own content may be shown, its current resource being within the
    /// restriction: when the restriction is the patient's compartment, the version must be in it too.
    pub fn version_visible(&self, reg: &search::Registry, content: Option<&str>) -> bool {
        let Some((pid, params)) = &self.compartment else { return true };
        let Some(doc) = content.and_then(|c| serde_json::from_str::<Value>(c).ok()) else { return true };
        let id = doc.get("id").and_then(Value::as_str);
        if (self.res_type == "Patient" && id == Some(pid)) || (id.is_some() && id == self.own.as_deref()) {
            return true;
        }
        reg.extract_only(&doc, params).iter().any(|row| {
            matches!(row, search::IndexRow::Reference { param, target_type: Some(tt), target_id: Some(ti), .. }
                if params.contains(param) && tt == "Patient" && ti == pid)
        })
    }
}

/// The permission a FHIR request method asks for: `instance` when it names a resource.
pub fn permission_of(method: &str, instance: bool) -> Permission {
    match method {
        "POST" => Permission::Create,
        "PUT" | "PATCH" => Permission::Update,
        "DELETE" => Permission::Delete,
        _ if instance => Permission::Read,
        _ => Permission::Search,
    }
}
