//! The checks every JWT we accept goes through, whoever signed it: compact form, an explicit
//! algorithm allow-list decided before any key is touched, key choice by kid and key type
//! (SMART requirement 338 step 3), signature, and time.

use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::keys::alg_name;
use crate::tokens::TokenError;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY: u64 = 60;

/// A token split into its parts; nothing in it is trusted yet.
pub(crate) struct Unverified<'t> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: &'t str,
    signature: &'t str,
}

/// Splits a compact JWS and decodes header and payload as JSON objects.
pub(crate) fn split(token: &str) -> Result<Unverified<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    let object = |part: &str, what: &'static str| -> Result<Map<String, Value>, TokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(TokenError::Malformed(what)),
        }
    };
    Ok(Unverified {
        header: object(header, "header is not a base64url JSON object")?,
        claims: object(payload, "payload is not a base64url JSON object")?,
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature,
    })
}

/// What passed signature and time checks.
pub(crate) struct Verified {
    pub claims: Map<String, Value>,
    pub exp: u64,
}

/// Verifies signature and time of a token against `keys`, allowing only `accepted` algorithms;
/// `check_header` sees the header before any key is chosen (client assertions check `jku`).
pub(crate) fn verify<'k, E: From<TokenError>>(
    token: &str,
    keys: impl IntoIterator<Item = &'k Jwk>,
    accepted: &[Algorithm],
    now: u64,
    check_header: impl FnOnce(&Map<String, Value>) -> Result<(), E>,
) -> Result<Verified, E> {
    let token = split(token)?;
    let alg = algorithm(&token.header, accepted)?;
    check_header(&token.header)?;
    let kid = token.header.get("kid").and_then(Value::as_str).ok_or(TokenError::MissingKid)?;
    let jwk = select_key(keys, kid, alg)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| TokenError::InvalidKey(kid.to_owned()))?;
    match jsonwebtoken::crypto::verify(token.signature, token.signing_input.as_bytes(), &key, alg) {
        Ok(true) => {}
        Ok(false) => return Err(TokenError::BadSignature.into()),
        Err(e) => {
            return Err(match e.kind() {
                ErrorKind::Base64(_) => TokenError::Malformed("signature is not base64url"),
                ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => TokenError::InvalidKey(kid.to_owned()),
                _ => TokenError::BadSignature,
            }
            .into())
        }
    }
    let exp = check_time(&token.claims, now)?;
    Ok(Verified { claims: token.claims, exp })
}

/// The header's algorithm if it is in `accepted`; `none` and HMAC get their own refusals
/// because they are attacks, not mere misconfiguration.
fn algorithm(header: &Map<String, Value>, accepted: &[Algorithm]) -> Result<Algorithm, TokenError> {
    let alg = header.get("alg").and_then(Value::as_str).ok_or(TokenError::Malformed("header has no alg"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    if alg.to_ascii_uppercase().starts_with("HS") {
        return Err(TokenError::SymmetricAlgorithm(alg.to_owned()));
    }
    Algorithm::from_str(alg)
        .ok()
        .filter(|a| accepted.contains(a))
        .ok_or_else(|| TokenError::UnsupportedAlgorithm(alg.to_owned()))
}

/// The single key with this kid whose type fits `alg`.
fn select_key<'k>(keys: impl IntoIterator<Item = &'k Jwk>, kid: &str, alg: Algorithm) -> Result<&'k Jwk, TokenError> {
    let named: Vec<&Jwk> = keys.into_iter().filter(|k| k.common.key_id.as_deref() == Some(kid)).collect();
    if named.is_empty() {
        return Err(TokenError::UnknownKid(kid.to_owned()));
    }
    let mut fitting = named.into_iter().filter(|k| fits(k, alg));
    match (fitting.next(), fitting.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(TokenError::KeyAlgorithmMismatch { kid: kid.to_owned(), alg: alg_name(alg) }),
        (Some(_), Some(_)) => Err(TokenError::AmbiguousKid(kid.to_owned())),
    }
}

/// Whether a JWK may verify an `alg` signature: matching key type and curve, not marked for
/// encryption only, and its own `alg`, when stated, the same.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let c = &jwk.common;
    if c.public_key_use == Some(PublicKeyUse::Encryption)
        || c.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
        || c.key_algorithm.is_some_and(|a| a.to_string() != alg_name(alg))
    {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::RS384) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        _ => false,
    }
}

/// `exp` (required) and `nbf` (when present) against `now`, with [`LEEWAY`].
fn check_time(claims: &Map<String, Value>, now: u64) -> Result<u64, TokenError> {
    let exp = numeric(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    if now > exp.saturating_add(LEEWAY) {
        return Err(TokenError::Expired);
    }
    if numeric(claims, "nbf")?.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY)) {
        return Err(TokenError::NotYetValid);
    }
    Ok(exp)
}

/// A NumericDate claim (RFC 7519 §2): seconds, fractions allowed and truncated.
fn numeric(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or(TokenError::InvalidClaim(name)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// A required string claim.
pub(crate) fn string_claim<'c>(claims: &'c Map<String, Value>, name: &'static str) -> Result<&'c str, TokenError> {
    match claims.get(name) {
        None => Err(TokenError::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(TokenError::MissingClaim(name)),
        Some(_) => Err(TokenError::InvalidClaim(name)),
    }
}

/// `iss` equal to `expected`.
pub(crate) fn check_issuer(claims: &Map<String, Value>, expected: &str) -> Result<(), TokenError> {
    if string_claim(claims, "iss")? == expected {
        Ok(())
    } else {
        Err(TokenError::WrongIssuer)
    }
}

/// `aud` equal to `expected`, or an array containing it (RFC 7519 §4.1.3).
pub(crate) fn check_audience(claims: &Map<String, Value>, expected: &str) -> Result<(), TokenError> {
    let ok = match claims.get("aud") {
        None => return Err(TokenError::MissingClaim("aud")),
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected)),
        Some(_) => return Err(TokenError::InvalidClaim("aud")),
    };
    if ok {
        Ok(())
    } else {
        Err(TokenError::WrongAudience)
    }
}

/// Fails with `MissingClaim` for the first absent name.
pub(crate) fn require(claims: &Map<String, Value>, names: &[&'static str]) -> Result<(), TokenError> {
    match names.iter().find(|n| !claims.contains_key(**n)) {
        Some(name) => Err(TokenError::MissingClaim(name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn split_refuses_wrong_shapes() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "e30.e30", "!!.e30.x", "W10.e30.x", "e30.bm90IGpzb24.x"] {
            assert!(matches!(split(bad), Err(TokenError::Malformed(_))), "{bad}");
        }
        let ok = split("e30.e30.sig").unwrap();
        assert_eq!((ok.signing_input, ok.signature), ("e30.e30", "sig"));
    }

    #[test]
    fn algorithm_policy() {
        let accepted = [Algorithm::ES384];
        let alg = |a: &str| algorithm(&map(json!({ "alg": a })), &accepted);
        assert_eq!(alg("ES384"), Ok(Algorithm::ES384));
        assert_eq!(alg("none"), Err(TokenError::AlgNone));
        assert_eq!(alg("NONE"), Err(TokenError::AlgNone));
        assert_eq!(alg("HS256"), Err(TokenError::SymmetricAlgorithm("HS256".into())));
        assert_eq!(alg("hs512"), Err(TokenError::SymmetricAlgorithm("hs512".into())));
        assert_eq!(alg("RS384"), Err(TokenError::UnsupportedAlgorithm("RS384".into())));
        assert_eq!(alg("XYZ"), Err(TokenError::UnsupportedAlgorithm("XYZ".into())));
        assert!(matches!(algorithm(&map(json!({})), &accepted), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn time_checks_use_leeway() {
        let c = |v: Value| check_time(&map(v), 1_000);
        assert_eq!(c(json!({"exp": 1_000 - LEEWAY})), Ok(1_000 - LEEWAY));
        assert_eq!(c(json!({"exp": 1_000 - LEEWAY - 1})), Err(TokenError::Expired));
        assert_eq!(c(json!({"exp": 2_000.7})), Ok(2_000));
        assert_eq!(c(json!({"exp": "2000"})), Err(TokenError::InvalidClaim("exp")));
        assert_eq!(c(json!({})), Err(TokenError::MissingClaim("exp")));
        assert_eq!(c(json!({"exp": 2_000, "nbf": 1_000 + LEEWAY})), Ok(2_000));
        assert_eq!(c(json!({"exp": 2_000, "nbf": 1_000 + LEEWAY + 1})), Err(TokenError::NotYetValid));
    }

    #[test]
    fn audience_string_or_array() {
        let aud = |v: Value| check_audience(&map(v), "https://x/fhir");
        assert_eq!(aud(json!({"aud": "https://x/fhir"})), Ok(()));
        assert_eq!(aud(json!({"aud": ["a", "https://x/fhir"]})), Ok(()));
        assert_eq!(aud(json!({"aud": ["a"]})), Err(TokenError::WrongAudience));
        assert_eq!(aud(json!({"aud": "https://x/fhir/"})), Err(TokenError::WrongAudience));
        assert_eq!(aud(json!({})), Err(TokenError::MissingClaim("aud")));
        assert_eq!(aud(json!({"aud": 3})), Err(TokenError::InvalidClaim("aud")));
    }
}
