//! `[base]/.well-known/smart-configuration`, `[base]/.well-known/openid-configuration`, the JWKS,
//! and the `security` element of the CapabilityStatement: what the server does, said once.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use smart_auth::{Capabilities, ServerMetadata};

use super::{AuthState, SmartAuth};

/// What this server supports, each backed by code and a test: both launches, the three client
/// profiles, OpenID Connect, EHR patient and encounter context, standalone patient context
/// (the picker), offline and online refresh tokens, v1 and v2 scopes, backend services.
/// Not listed: `context-banner`, `context-style`, `context-standalone-encounter`,
/// `smart-app-state`.
pub const CAPABILITIES: Capabilities = Capabilities {
    launch_ehr: true,
    launch_standalone: true,
    authorize_post: true,
    client_public: true,
    client_confidential_symmetric: true,
    client_confidential_asymmetric: true,
    sso_openid_connect: true,
    context_banner: false,
    context_style: false,
    context_ehr_patient: true,
    context_ehr_encounter: true,
    context_standalone_patient: true,
    context_standalone_encounter: false,
    permission_offline: true,
    permission_online: true,
    permission_patient: true,
    permission_user: true,
    permission_v1: true,
    permission_v2: true,
    smart_app_state: false,
    backend_services: true,
};

/// Scopes a client may ask for (any resource type may replace `*`, any `cruds` subset or v1
/// `read`/`write` the permissions, and v2 scopes may carry search parameters).
pub const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "system/*.cruds",
    "patient/*.rs",
    "user/*.rs",
    "system/*.rs",
    "patient/*.read",
    "user/*.read",
    "system/*.read",
    "patient/*.write",
    "user/*.write",
    "system/*.write",
];

/// The SMART `oauth-uris` extension's URL.
pub const OAUTH_URIS: &str = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

impl SmartAuth {
    /// The server as discovery describes it.
    pub fn metadata(&self) -> ServerMetadata {
        let e = &self.endpoints;
        ServerMetadata {
            issuer: e.issuer.clone(),
            jwks_uri: e.jwks.clone(),
            authorization_endpoint: e.authorize.clone(),
            token_endpoint: e.token.clone(),
            introspection_endpoint: Some(e.introspect.clone()),
            revocation_endpoint: Some(e.revoke.clone()),
            scopes_supported: SCOPES_SUPPORTED.iter().map(|s| s.to_string()).collect(),
            capabilities: CAPABILITIES,
        }
    }

    /// `CapabilityStatement.rest[0].security`: SMART-on-FHIR with our OAuth URLs, when we issue
    /// tokens; OAuth alone when only an external provider's are accepted.
    pub fn capability_security(&self) -> Value {
        if !self.is_issuing() {
            return json!({
                "cors": true,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth"}]}],
                "description": "Bearer access tokens of an external OpenID provider"
            });
        }
        let e = &self.endpoints;
        json!({
            "cors": true,
            "extension": [{
                "url": OAUTH_URIS,
                "extension": [
                    {"url": "authorize", "valueUri": e.authorize},
                    {"url": "token", "valueUri": e.token},
                    {"url": "introspect", "valueUri": e.introspect},
                    {"url": "revoke", "valueUri": e.revoke}
                ]
            }],
            "service": [{
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"
            }],
            "description": "SMART App Launch 2.x: discovery at [base]/.well-known/smart-configuration"
        })
    }
}

/// Plain JSON, whatever the `Accept` header asked (SMART requirements 374, 377).
fn json(body: Value) -> Response {
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// `GET [base]/.well-known/smart-configuration`.
pub async fn smart_configuration(state: AuthState) -> Response {
    json(state.metadata().smart_configuration())
}

/// `GET [base]/.well-known/openid-configuration`.
pub async fn openid_configuration(state: AuthState) -> Response {
    json(state.metadata().openid_configuration())
}

/// `GET [base]/auth/jwks`: the public keys of every key in use, bare JWKs (SMART requirement 207).
pub async fn jwks(state: AuthState) -> Response {
    json(state.keys.current().jwks_json())
}
