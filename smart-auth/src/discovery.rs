//! Discovery documents: `/.well-known/smart-configuration` (SMART STU2.2 conformance,
//! requirements 372-394 and 285-289) and `/.well-known/openid-configuration` (OpenID Connect
//! Discovery 1.0). Everything that states what the server can do is derived from
//! [`Capabilities`], so the documents never claim more than the server does.

use serde_json::{json, Map, Value};

use crate::client_assertion::CLIENT_ASSERTION_ALGORITHMS;
use crate::keys::alg_name;
use crate::pkce::S256;
use crate::tokens::ID_TOKEN_ALGORITHMS;

/// What the server really supports; each flag is a SMART capability of the same name, except
/// `backend_services`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `launch-ehr`
    pub launch_ehr: bool,
    /// `launch-standalone`
    pub launch_standalone: bool,
    /// `authorize-post`
    pub authorize_post: bool,
    /// `client-public`
    pub client_public: bool,
    /// `client-confidential-symmetric` (client secret with HTTP Basic)
    pub client_confidential_symmetric: bool,
    /// `client-confidential-asymmetric` (`private_key_jwt`)
    pub client_confidential_asymmetric: bool,
    /// `sso-openid-connect`
    pub sso_openid_connect: bool,
    /// `context-banner`
    pub context_banner: bool,
    /// `context-style`
    pub context_style: bool,
    /// `context-ehr-patient`
    pub context_ehr_patient: bool,
    /// `context-ehr-encounter`
    pub context_ehr_encounter: bool,
    /// `context-standalone-patient`
    pub context_standalone_patient: bool,
    /// `context-standalone-encounter`
    pub context_standalone_encounter: bool,
    /// `permission-offline`
    pub permission_offline: bool,
    /// `permission-online`
    pub permission_online: bool,
    /// `permission-patient`
    pub permission_patient: bool,
    /// `permission-user`
    pub permission_user: bool,
    /// `permission-v1`
    pub permission_v1: bool,
    /// `permission-v2`
    pub permission_v2: bool,
    /// `smart-app-state`
    pub smart_app_state: bool,
    /// SMART Backend Services: the `client_credentials` grant with a client assertion.
    pub backend_services: bool,
}

impl Capabilities {
    /// The SMART capability strings of the flags that are set.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.launch_ehr, "launch-ehr"),
            (self.launch_standalone, "launch-standalone"),
            (self.authorize_post, "authorize-post"),
            (self.client_public, "client-public"),
            (self.client_confidential_symmetric, "client-confidential-symmetric"),
            (self.client_confidential_asymmetric, "client-confidential-asymmetric"),
            (self.sso_openid_connect, "sso-openid-connect"),
            (self.context_banner, "context-banner"),
            (self.context_style, "context-style"),
            (self.context_ehr_patient, "context-ehr-patient"),
            (self.context_ehr_encounter, "context-ehr-encounter"),
            (self.context_standalone_patient, "context-standalone-patient"),
            (self.context_standalone_encounter, "context-standalone-encounter"),
            (self.permission_offline, "permission-offline"),
            (self.permission_online, "permission-online"),
            (self.permission_patient, "permission-patient"),
            (self.permission_user, "permission-user"),
            (self.permission_v1, "permission-v1"),
            (self.permission_v2, "permission-v2"),
            (self.smart_app_state, "smart-app-state"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// `grant_types_supported`: only the grants some capability needs.
    pub fn grant_types(&self) -> Vec<&'static str> {
        let mut grants = Vec::new();
        if self.launch_ehr || self.launch_standalone {
            grants.push("authorization_code");
        }
        if self.permission_offline || self.permission_online {
            grants.push("refresh_token");
        }
        if self.backend_services {
            grants.push("client_credentials");
        }
        grants
    }

    /// `token_endpoint_auth_methods_supported`.
    pub fn token_endpoint_auth_methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.client_confidential_symmetric {
            methods.push("client_secret_basic");
        }
        if self.private_key_jwt() {
            methods.push("private_key_jwt");
        }
        methods
    }

    fn private_key_jwt(&self) -> bool {
        self.client_confidential_asymmetric || self.backend_services
    }
}

/// The authorization server as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMetadata {
    /// Issuer URL: `iss` of our tokens.
    pub issuer: String,
    /// JWKS URL.
    pub jwks_uri: String,
    /// Authorization endpoint URL.
    pub authorization_endpoint: String,
    /// Token endpoint URL: `aud` of client assertions.
    pub token_endpoint: String,
    /// Token introspection (RFC 7662) URL, if served.
    pub introspection_endpoint: Option<String>,
    /// Token revocation (RFC 7009) URL, if served.
    pub revocation_endpoint: Option<String>,
    /// Scopes a client may request.
    pub scopes_supported: Vec<String>,
    /// What the server supports.
    pub capabilities: Capabilities,
}

impl ServerMetadata {
    /// The `/.well-known/smart-configuration` document.
    pub fn smart_configuration(&self) -> Value {
        let caps = &self.capabilities;
        let mut doc = Map::new();
        doc.insert("issuer".into(), json!(self.issuer));
        doc.insert("jwks_uri".into(), json!(self.jwks_uri));
        doc.insert("authorization_endpoint".into(), json!(self.authorization_endpoint));
        doc.insert("token_endpoint".into(), json!(self.token_endpoint));
        doc.insert("grant_types_supported".into(), json!(caps.grant_types()));
        let auth_methods = caps.token_endpoint_auth_methods();
        if !auth_methods.is_empty() {
            doc.insert("token_endpoint_auth_methods_supported".into(), json!(auth_methods));
        }
        if caps.private_key_jwt() {
            doc.insert(
                "token_endpoint_auth_signing_alg_values_supported".into(),
                json!(alg_names(CLIENT_ASSERTION_ALGORITHMS)),
            );
        }
        doc.insert("scopes_supported".into(), json!(self.scopes_supported));
        doc.insert("response_types_supported".into(), json!(["code"]));
        if let Some(url) = &self.introspection_endpoint {
            doc.insert("introspection_endpoint".into(), json!(url));
        }
        if let Some(url) = &self.revocation_endpoint {
            doc.insert("revocation_endpoint".into(), json!(url));
        }
        doc.insert("capabilities".into(), json!(caps.names()));
        doc.insert("code_challenge_methods_supported".into(), json!([S256]));
        Value::Object(doc)
    }

    /// The `/.well-known/openid-configuration` document.
    pub fn openid_configuration(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": alg_names(ID_TOKEN_ALGORITHMS),
            "scopes_supported": self.scopes_supported,
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
            "grant_types_supported": self.capabilities.grant_types(),
            "token_endpoint_auth_methods_supported": self.capabilities.token_endpoint_auth_methods(),
            "code_challenge_methods_supported": [S256],
        })
    }
}

fn alg_names(algs: &[jsonwebtoken::Algorithm]) -> Vec<String> {
    algs.iter().map(|a| alg_name(*a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(capabilities: Capabilities) -> ServerMetadata {
        let base = "https://ehr.example/auth";
        ServerMetadata {
            issuer: base.into(),
            jwks_uri: format!("{base}/jwks"),
            authorization_endpoint: format!("{base}/authorize"),
            token_endpoint: format!("{base}/token"),
            introspection_endpoint: Some(format!("{base}/introspect")),
            revocation_endpoint: Some(format!("{base}/revoke")),
            scopes_supported: vec!["openid".into(), "fhirUser".into(), "launch/patient".into(), "patient/*.rs".into()],
            capabilities,
        }
    }

    fn full() -> Capabilities {
        Capabilities {
            launch_ehr: true,
            launch_standalone: true,
            client_public: true,
            client_confidential_symmetric: true,
            client_confidential_asymmetric: true,
            sso_openid_connect: true,
            context_ehr_patient: true,
            context_standalone_patient: true,
            permission_offline: true,
            permission_patient: true,
            permission_v1: true,
            permission_v2: true,
            backend_services: true,
            ..Capabilities::default()
        }
    }

    #[test]
    fn req394_code_challenge_methods_are_s256_only() {
        for caps in [full(), Capabilities::default()] {
            let doc = metadata(caps).smart_configuration();
            assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        }
        assert_eq!(metadata(full()).openid_configuration()["code_challenge_methods_supported"], json!(["S256"]));
    }

    #[test]
    fn req372_393_required_fields_present_and_absolute() {
        let doc = metadata(full()).smart_configuration();
        for field in [
            "issuer",
            "jwks_uri",
            "authorization_endpoint",
            "token_endpoint",
            "introspection_endpoint",
            "revocation_endpoint",
        ] {
            assert!(doc[field].as_str().is_some_and(|u| u.starts_with("https://")), "{field}");
        }
        assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["scopes_supported"][0], "openid");
        assert_eq!(
            doc["capabilities"],
            json!([
                "launch-ehr",
                "launch-standalone",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "sso-openid-connect",
                "context-ehr-patient",
                "context-standalone-patient",
                "permission-offline",
                "permission-patient",
                "permission-v1",
                "permission-v2"
            ])
        );
    }

    #[test]
    fn req288_289_asymmetric_clients_advertise_private_key_jwt_and_algorithms() {
        let doc = metadata(full()).smart_configuration();
        assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["client_secret_basic", "private_key_jwt"]));
        assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!(["RS384", "ES384"]));
    }

    #[test]
    fn only_what_is_supported_is_listed() {
        let caps = Capabilities { launch_standalone: true, client_public: true, ..Capabilities::default() };
        let doc = metadata(caps).smart_configuration();
        assert_eq!(doc["capabilities"], json!(["launch-standalone", "client-public"]));
        assert_eq!(doc["grant_types_supported"], json!(["authorization_code"]));
        assert!(doc.get("token_endpoint_auth_methods_supported").is_none());
        assert!(doc.get("token_endpoint_auth_signing_alg_values_supported").is_none());
        let none = metadata(Capabilities::default());
        let doc =
            ServerMetadata { introspection_endpoint: None, revocation_endpoint: None, ..none }.smart_configuration();
        assert_eq!(doc["capabilities"], json!([]));
        assert!(doc.get("introspection_endpoint").is_none() && doc.get("revocation_endpoint").is_none());
    }

    #[test]
    fn openid_configuration_has_inferno_required_fields_and_rs256() {
        let doc = metadata(full()).openid_configuration();
        for field in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "scopes_supported",
            "claims_supported",
        ] {
            assert!(doc.get(field).is_some(), "{field}");
        }
        assert_eq!(doc["issuer"], "https://ehr.example/auth");
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert!(doc["claims_supported"].as_array().unwrap().contains(&json!("fhirUser")));
    }
}
