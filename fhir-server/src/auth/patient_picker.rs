//! The patient picker of a standalone launch (`launch/patient`, or `patient/` scopes without an
//! EHR context) and `POST [base]/auth/patient`.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use smart_scopes::parse_scopes;

use super::clients::Client;
use super::pending::{self, Handle, Stage};
use super::{consent, form, html, login, records, users, SmartAuth};

/// The picker, listing the patients whose name contains `filter`.
pub async fn page(auth: &SmartAuth, handle: &Handle, client: &Client, filter: &str) -> Result<Response, Response> {
    let patients = records::patients(&auth.pool, filter).await.map_err(|e| pending::server_error(&e))?;
    let mut list = String::new();
    for (i, p) in patients.iter().enumerate() {
        let born = p.birth_date.as_deref().map(|d| format!(", born {}", html::escape(d))).unwrap_or_default();
        list.push_str(&format!(
            "<label><input type=\"radio\" name=\"patient\" value=\"{id}\"{checked}> {name}{born} <span class=\"muted\">Patient/{id}</span></label>",
            id = html::escape(&p.id),
            checked = if i == 0 { " checked" } else { "" },
            name = html::escape(&p.name),
        ));
    }
    if patients.is_empty() {
        list.push_str("<p class=\"muted\">No patient matches.</p>");
    }
    let body = format!(
        "<p>Choose the patient whose record <b>{app}</b> will work with.</p>\
         <form method=\"post\" action=\"patient\">{fields}\
         <label>Name contains <input type=\"text\" name=\"filter\" value=\"{filter}\"></label>\
         <button type=\"submit\" name=\"action\" value=\"filter\">Search</button>\
         {list}<button type=\"submit\" name=\"action\" value=\"choose\">Continue</button></form>",
        app = html::escape(&client.name),
        fields = handle.fields(),
        filter = html::escape(filter),
    );
    Ok(html::page(StatusCode::OK, "Choose a patient", &body))
}

/// `POST /auth/patient`: filters the list, or takes the choice and moves on to the consent.
pub async fn handle(state: super::AuthState, headers: HeaderMap, body: Bytes) -> Response {
    match choose(&state, &headers, &body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn choose(auth: &SmartAuth, headers: &HeaderMap, body: &[u8]) -> Result<Response, Response> {
    let params = form::form_body(headers, body).map_err(|e| html::error_page(StatusCode::BAD_REQUEST, &e.description))?;
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let (p, handle) = pending::load(&auth.pool, field("request"), field("form_token"), Stage::Patient).await?;
    let client = login::client_of(auth, &p).await?;
    if field("action") == "filter" {
        return page(auth, &handle, &client, field("filter")).await;
    }
    let patient = field("patient");
    let known = !patient.is_empty() && records::exists(&auth.pool, "Patient", patient).await.map_err(|e| pending::server_error(&e))?;
    if !known {
        return page(auth, &handle, &client, field("filter")).await;
    }
    let username = p.username.clone().unwrap_or_default();
    let Some(user) = users::find(&auth.pool, &username).await.map_err(|e| pending::server_error(&e))? else {
        return Err(html::error_page(StatusCode::BAD_REQUEST, "The signed-in user no longer exists."));
    };
    pending::advance(&auth.pool, &p.id, Stage::Consent, Some(&username), Some(patient)).await.map_err(|e| pending::server_error(&e))?;
    let scope = parse_scopes(&p.scope).unwrap_or_default();
    Ok(consent::page(&handle, &client, &scope, Some(patient), p.encounter.as_deref(), &user))
}
