//! The consent page and `POST [base]/auth/consent`: the user approves (possibly deselecting
//! scopes) or denies, and the browser goes back to the app with a code or `access_denied`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use smart_auth::{ErrorCode, OAuthError};
use smart_scopes::{parse_scopes, Permission, Scope};

use super::authorize::Reply;
use super::clients::Client;
use super::pending::{self, Handle, Stage};
use super::users::User;
use super::{codes, form, html, launches, login, scopes, users, SmartAuth};

/// Context scopes say what the app is told, not what it may do: they are not offered for
/// deselection, the context chosen already answers them.
fn is_context(scope: &Scope) -> bool {
    matches!(scope, Scope::Launch | Scope::LaunchContext(_))
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::OpenId => "Know who you are (OpenID Connect)".into(),
        Scope::FhirUser => "Know which FHIR record represents you".into(),
        Scope::OfflineAccess => "Keep access after you leave (offline access)".into(),
        Scope::OnlineAccess => "Keep access while you are signed in (online access)".into(),
        Scope::Resource(r) => {
            let whose = match r.context {
                smart_scopes::Context::Patient => "the patient's",
                smart_scopes::Context::User => "your",
                smart_scopes::Context::System => "all",
            };
            let what = r.resource_type.as_deref().map_or("records of every type".to_string(), |t| format!("{t} records"));
            let reads = r.permissions.iter().any(|p| matches!(p, Permission::Read | Permission::Search));
            let changes = r.permissions.iter().any(|p| matches!(p, Permission::Create | Permission::Update | Permission::Delete));
            let verb = match (reads, changes) {
                (true, true) => "Read and change",
                (false, true) => "Change",
                _ => "Read",
            };
            let only = if r.query.is_empty() { String::new() } else { " (only those matching the app's filter)".to_string() };
            format!("{verb} {whose} {what}{only}")
        }
        other => scopes::text(other),
    }
}

/// The consent page for the scopes of a request.
pub fn page(handle: &Handle, client: &Client, scope: &[Scope], patient: Option<&str>, encounter: Option<&str>, user: &User) -> Response {
    let mut items = String::new();
    for s in scope.iter().filter(|s| !is_context(s)) {
        // A user with no FHIR resource cannot be named by fhirUser (SMART requirement 197).
        if *s == Scope::FhirUser && user.fhir_user.is_none() {
            continue;
        }
        let text = scopes::text(s);
        items.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"scope\" value=\"{v}\" checked> {d} <span class=\"muted\">{v}</span></label>",
            v = html::escape(&text),
            d = html::escape(&describe(s)),
        ));
    }
    let mut context = String::new();
    if let Some(p) = patient {
        context.push_str(&format!("<li>Patient/{}</li>", html::escape(p)));
    }
    if let Some(e) = encounter {
        context.push_str(&format!("<li>Encounter/{}</li>", html::escape(e)));
    }
    if !context.is_empty() {
        context = format!("<p>In the context of:</p><ul>{context}</ul>");
    }
    let body = format!(
        "<p>Signed in as <b>{user}</b>. <b>{app}</b> asks to:</p>{context}<form method=\"post\" action=\"consent\">{fields}{items}\
         <p class=\"muted\">Untick what you do not want to allow.</p>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        user = html::escape(&user.username),
        app = html::escape(&client.name),
        fields = handle.fields(),
    );
    html::page(StatusCode::OK, "Allow access?", &body)
}

/// `POST /auth/consent`.
pub async fn handle(state: super::AuthState, headers: HeaderMap, body: Bytes) -> Response {
    match decide(&state, &headers, &body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn decide(auth: &SmartAuth, headers: &HeaderMap, body: &[u8]) -> Result<Response, Response> {
    let params = form::form_body(headers, body).map_err(|e| html::error_page(StatusCode::BAD_REQUEST, &e.description))?;
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let (p, _) = pending::load(&auth.pool, field("request"), field("form_token"), Stage::Consent).await?;
    let client = login::client_of(auth, &p).await?;
    let reply = Reply { redirect_uri: &p.redirect_uri, state: Some(&p.state) };
    let fail = |e: sqlx::Error| pending::server_error(&e);
    let Some(user) = users::find(&auth.pool, p.username.as_deref().unwrap_or_default()).await.map_err(fail)? else {
        return Err(html::error_page(StatusCode::BAD_REQUEST, "The signed-in user no longer exists."));
    };
    let now = super::now();
    let mut tx = auth.pool.begin_outside_store().await.map_err(fail)?;
    if !pending::finish(&mut tx, &p.id).await.map_err(fail)? {
        return Err(html::error_page(StatusCode::BAD_REQUEST, "This sign-in page was already used. Start again from the app."));
    }
    if field("decision") != "approve" {
        tx.commit().await.map_err(fail)?;
        tracing::info!(client_id = %client.client_id, username = %user.username, "user denied access");
        return Ok(reply.error(&OAuthError::new(ErrorCode::AccessDenied, "the user denied access")));
    }
    let chosen = params.all("scope");
    let granted: Vec<Scope> = parse_scopes(&p.scope)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| is_context(s) || chosen.contains(&scopes::text(s).as_str()))
        .filter(|s| *s != Scope::FhirUser || user.fhir_user.is_some())
        // A context scope is granted only with its context: the response names what `scope` says.
        .filter(|s| match s {
            Scope::LaunchContext(c) if c == "patient" => p.patient.is_some(),
            Scope::LaunchContext(c) if c == "encounter" => p.encounter.is_some(),
            _ => true,
        })
        .collect();
    if let Some(hash) = &p.launch_hash {
        if !launches::consume(&mut tx, hash, now).await.map_err(fail)? {
            tx.commit().await.map_err(fail)?;
            return Ok(reply.error(&OAuthError::new(ErrorCode::InvalidRequest, "the launch expired or was used meanwhile")));
        }
    }
    let scope = scopes::join(&granted);
    let new = codes::NewCode {
        client_id: &client.client_id,
        redirect_uri: &p.redirect_uri,
        code_challenge: &p.code_challenge,
        scope: &scope,
        username: &user.username,
        patient: p.patient.as_deref(),
        encounter: p.encounter.as_deref(),
        nonce: p.nonce.as_deref(),
    };
    let code = codes::insert(&mut tx, &new, now).await.map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    tracing::info!(client_id = %client.client_id, username = %user.username, scope = %scope, "authorization code issued");
    Ok(reply.code(&code))
}
