//! Request parameters of the OAuth endpoints (query string or `application/x-www-form-urlencoded`
//! body), read by hand so every problem is an OAuth error rather than a framework rejection.

use axum::http::{header, HeaderMap};
use smart_auth::{ErrorCode, OAuthError};

/// Decoded parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body.
    pub fn parse(raw: &[u8]) -> Params {
        Params(form_urlencoded::parse(raw).into_owned().collect())
    }

    /// A single-valued parameter; an empty value counts as absent (RFC 6749 §3.1) and a repeated
    /// one is an error (RFC 6749 §3.1, §3.2).
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(OAuthError::new(ErrorCode::InvalidRequest, format!("parameter {name} is repeated"))),
            (first, _) => Ok(first),
        }
    }

    /// A required single-valued parameter.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?.ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, format!("parameter {name} is missing")))
    }

    /// Every value of a repeated parameter (the consent form's checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// Refuses a body that is not a form: the OAuth endpoints take only
/// `application/x-www-form-urlencoded` (RFC 6749 §4.1.3, RFC 7662 §2.1, RFC 7009 §2.1).
pub fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(ErrorCode::InvalidRequest, "the body must be application/x-www-form-urlencoded"));
    }
    Ok(Params::parse(body))
}
