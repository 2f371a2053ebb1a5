//! OAuth 2.0 error responses (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1): one
//! type for every endpoint so each refusal carries its registered code and HTTP status.

use std::fmt;

use serde_json::{json, Value};

/// A registered OAuth 2.0 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Missing, repeated or malformed parameter (RFC 6749).
    InvalidRequest,
    /// Client authentication failed (RFC 6749).
    InvalidClient,
    /// Code, refresh token or PKCE verifier is invalid, expired, revoked or not this client's (RFC 6749).
    InvalidGrant,
    /// The client may not use this grant or response type (RFC 6749).
    UnauthorizedClient,
    /// Grant type unknown to this server (RFC 6749).
    UnsupportedGrantType,
    /// Requested scope unknown, malformed or beyond what the client may have (RFC 6749).
    InvalidScope,
    /// The user or the server refused the request (RFC 6749).
    AccessDenied,
    /// Response type unknown to this server (RFC 6749).
    UnsupportedResponseType,
    /// Unexpected condition on the server (RFC 6749).
    ServerError,
    /// Server overloaded or in maintenance (RFC 6749).
    TemporarilyUnavailable,
    /// Revocation of a token type this server does not revoke (RFC 7009).
    UnsupportedTokenType,
    /// Bearer token missing its mark at a resource server: expired, revoked, malformed (RFC 6750).
    InvalidToken,
    /// Valid token whose scopes do not cover the request (RFC 6750).
    InsufficientScope,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }

    /// HTTP status when the error is answered directly rather than through a redirect.
    ///
    /// RFC 6749 §5.2 answers 400, but 401 for failed client authentication: required when the
    /// client used the Authorization header, and used always here so the status does not depend
    /// on the authentication method. RFC 6750 gives 401 and 403 to the resource-server codes;
    /// the two server-side conditions keep their HTTP meaning.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error with a human-readable description for the client developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The registered code.
    pub code: ErrorCode,
    /// `error_description`: says what was wrong, never a secret.
    pub description: String,
}

impl OAuthError {
    /// Builds an error from a code and a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    /// HTTP status for a direct answer.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body `{"error": .., "error_description": ..}`.
    pub fn to_json(&self) -> Value {
        json!({ "error": self.code.as_str(), "error_description": self.description })
    }

    /// `WWW-Authenticate` value for resource-server refusals (RFC 6750 §3), `None` for others.
    pub fn www_authenticate(&self) -> Option<String> {
        matches!(self.code, ErrorCode::InvalidToken | ErrorCode::InsufficientScope).then(|| {
            // RFC 6750 §3 restricts error_description to printable ASCII without `"` and `\`.
            let description: String = self
                .description
                .chars()
                .map(|c| if matches!(c, ' '..='~') && c != '"' && c != '\\' { c } else { '?' })
                .collect();
            format!(r#"Bearer error="{}", error_description="{description}""#, self.code)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_rfcs() {
        let cases = [
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::InvalidClient, "invalid_client", 401),
            (ErrorCode::InvalidGrant, "invalid_grant", 400),
            (ErrorCode::UnauthorizedClient, "unauthorized_client", 400),
            (ErrorCode::UnsupportedGrantType, "unsupported_grant_type", 400),
            (ErrorCode::InvalidScope, "invalid_scope", 400),
            (ErrorCode::AccessDenied, "access_denied", 400),
            (ErrorCode::UnsupportedResponseType, "unsupported_response_type", 400),
            (ErrorCode::ServerError, "server_error", 500),
            (ErrorCode::TemporarilyUnavailable, "temporarily_unavailable", 503),
            (ErrorCode::UnsupportedTokenType, "unsupported_token_type", 400),
            (ErrorCode::InvalidToken, "invalid_token", 401),
            (ErrorCode::InsufficientScope, "insufficient_scope", 403),
        ];
        for (code, name, status) in cases {
            assert_eq!((code.as_str(), code.status()), (name, status));
        }
    }

    #[test]
    fn body_has_error_and_description() {
        let e = OAuthError::new(ErrorCode::InvalidGrant, "code already used");
        assert_eq!(e.to_json(), json!({"error": "invalid_grant", "error_description": "code already used"}));
        assert_eq!(e.to_string(), "invalid_grant: code already used");
        assert_eq!(e.www_authenticate(), None);
    }

    #[test]
    fn bearer_challenge_escapes_quotes() {
        let e = OAuthError::new(ErrorCode::InvalidToken, "kid \"x\" unknown");
        assert_eq!(
            e.www_authenticate().unwrap(),
            r#"Bearer error="invalid_token", error_description="kid ?x? unknown""#
        );
    }
}
