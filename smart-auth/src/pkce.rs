//! PKCE (RFC 7636) with `S256` only: SMART servers SHALL support `S256` and SHALL NOT support
//! `plain` (SMART STU2.2 requirements 14, 15, 31).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, OAuthError};
use crate::secrets::constant_time_eq;

/// The only code challenge method this server accepts.
pub const S256: &str = "S256";

/// Checks `code_challenge_method` on an authorization request.
///
/// An absent method means `plain` (RFC 7636 §4.3), so it is refused like `plain` itself.
pub fn check_method(method: Option<&str>) -> Result<(), OAuthError> {
    match method {
        Some(S256) => Ok(()),
        Some("plain") | None => Err(invalid_request("code_challenge_method must be S256; plain is not supported")),
        Some(other) => Err(invalid_request(format!("unknown code_challenge_method {other:?}; only S256 is supported"))),
    }
}

/// Checks the syntax of an `S256` `code_challenge`: base64url of a SHA-256 digest, 43 characters.
pub fn check_challenge(code_challenge: &str) -> Result<(), OAuthError> {
    if code_challenge.len() == 43 && URL_SAFE_NO_PAD.decode(code_challenge).is_ok_and(|d| d.len() == 32) {
        Ok(())
    } else {
        Err(invalid_request("code_challenge must be the 43-character base64url SHA-256 of the verifier"))
    }
}

/// The `S256` challenge of a verifier: `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn s256_challenge(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

/// Checks a token request's `code_verifier` against the challenge stored with the code.
///
/// A malformed verifier is `invalid_request`; a well-formed one that does not match is
/// `invalid_grant` (RFC 7636 §4.6).
pub fn verify_s256(code_verifier: &str, code_challenge: &str) -> Result<(), OAuthError> {
    let well_formed = (43..=128).contains(&code_verifier.len())
        && code_verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(invalid_request("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]"));
    }
    if constant_time_eq(s256_challenge(code_verifier).as_bytes(), code_challenge.as_bytes()) {
        Ok(())
    } else {
        Err(OAuthError::new(ErrorCode::InvalidGrant, "code_verifier does not match the code_challenge"))
    }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code(r: Result<(), OAuthError>) -> ErrorCode {
        r.unwrap_err().code
    }

    #[test]
    fn rfc7636_example_verifies() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert_eq!(verify_s256(VERIFIER, CHALLENGE), Ok(()));
        assert_eq!(check_challenge(CHALLENGE), Ok(()));
    }

    #[test]
    fn req31_wrong_verifier_is_invalid_grant() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(code(verify_s256(other, CHALLENGE)), ErrorCode::InvalidGrant);
        // the challenge itself presented as verifier (what a `plain` client would send)
        assert_eq!(code(verify_s256(CHALLENGE, CHALLENGE)), ErrorCode::InvalidGrant);
    }

    #[test]
    fn req31_malformed_verifier_is_invalid_request() {
        assert_eq!(code(verify_s256(&VERIFIER[..42], CHALLENGE)), ErrorCode::InvalidRequest);
        assert_eq!(code(verify_s256(&"a".repeat(129), CHALLENGE)), ErrorCode::InvalidRequest);
        assert_eq!(code(verify_s256(&format!("{}+", &VERIFIER[..42]), CHALLENGE)), ErrorCode::InvalidRequest);
        assert_eq!(code(verify_s256("", CHALLENGE)), ErrorCode::InvalidRequest);
        // bounds are inclusive
        let v43 = "a".repeat(43);
        let v128 = "~".repeat(128);
        assert_eq!(verify_s256(&v43, &s256_challenge(&v43)), Ok(()));
        assert_eq!(verify_s256(&v128, &s256_challenge(&v128)), Ok(()));
    }

    #[test]
    fn req15_plain_and_missing_method_refused() {
        assert_eq!(check_method(Some("S256")), Ok(()));
        assert_eq!(code(check_method(Some("plain"))), ErrorCode::InvalidRequest);
        assert_eq!(code(check_method(None)), ErrorCode::InvalidRequest);
        assert_eq!(code(check_method(Some("s256"))), ErrorCode::InvalidRequest);
    }

    #[test]
    fn challenge_syntax_checked() {
        assert_eq!(code(check_challenge(&VERIFIER[..40])), ErrorCode::InvalidRequest);
        assert_eq!(code(check_challenge(&"*".repeat(43))), ErrorCode::InvalidRequest);
    }
}
