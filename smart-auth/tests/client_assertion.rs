//! Client assertions (`private_key_jwt`, SMART Backend Services): RS384 and ES384 accepted when
//! valid, every broken rule refused with its own error (SMART requirements 335-340).

mod common;

use common::*;
use serde_json::{json, Value};
use smart_auth::*;

const CLIENT: &str = "backend-app";
const JWKS_URL: &str = "https://app.example/jwks.json";

struct Client {
    es: SigningKey,
    rs: SigningKey,
    jwks: JwkSet,
}

fn client() -> Client {
    let es = es384(NOW);
    let rs = SigningKey::from_pkcs8_pem(Algorithm::RS384, RSA_CLIENT_PEM, NOW).unwrap();
    // Clients pick their own kids; the registered JWKS is plain JSON.
    let jwks = parse_jwks(&json!({"keys": [es.public_jwk(), rs.public_jwk()]}).to_string()).unwrap();
    Client { es, rs, jwks }
}

fn registration(c: &Client) -> RegisteredClient<'_> {
    RegisteredClient { client_id: CLIENT, jwks: &c.jwks, jwks_url: Some(JWKS_URL) }
}

fn claims(jti: &str) -> Value {
    json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "exp": NOW + 300, "jti": jti})
}

fn validate(c: &Client, assertion: &str) -> Result<ValidatedAssertion, AssertionError> {
    validate_client_assertion(assertion, JWT_BEARER, &registration(c), TOKEN_URL, NOW)
}

fn jwt_error(e: TokenError) -> Result<ValidatedAssertion, AssertionError> {
    Err(AssertionError::Jwt(e))
}

#[test]
fn req310_rs384_and_es384_assertions_accepted() {
    let c = client();
    for (key, alg) in [(&c.rs, "RS384"), (&c.es, "ES384")] {
        let assertion = key.sign(&claims("jti-1")).unwrap();
        assert_eq!(header(&assertion)["alg"], alg);
        assert_eq!(
            validate(&c, &assertion),
            Ok(ValidatedAssertion { client_id: CLIENT.into(), jti: "jti-1".into(), exp: NOW + 300 })
        );
    }
}

#[test]
fn aud_may_be_an_array_containing_the_token_endpoint() {
    let c = client();
    let mut cl = claims("j");
    cl["aud"] = json!(["https://elsewhere.example", TOKEN_URL]);
    assert!(validate(&c, &c.es.sign(&cl).unwrap()).is_ok());
}

#[test]
fn wrong_assertion_type_refused_with_400() {
    let c = client();
    let assertion = c.es.sign(&claims("j")).unwrap();
    let err =
        validate_client_assertion(&assertion, "not_an_assertion_type", &registration(&c), TOKEN_URL, NOW).unwrap_err();
    assert_eq!(err, AssertionError::WrongAssertionType);
    assert_eq!((err.to_oauth_error().code, err.to_oauth_error().status()), (ErrorCode::InvalidRequest, 400));
}

#[test]
fn wrong_aud_refused() {
    let c = client();
    for aud in [json!("https://ehr.example/fhir"), json!([FHIR_BASE]), json!(format!("{TOKEN_URL}/"))] {
        let mut cl = claims("j");
        cl["aud"] = aud;
        assert_eq!(validate(&c, &c.rs.sign(&cl).unwrap()), jwt_error(TokenError::WrongAudience));
    }
}

#[test]
fn iss_must_equal_sub() {
    let c = client();
    let mut cl = claims("j");
    cl["sub"] = json!("someone-else");
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), Err(AssertionError::IssuerNotSubject));
}

#[test]
fn req337_iss_must_be_the_registered_client() {
    let c = client();
    let mut cl = claims("j");
    cl["iss"] = json!("other-app");
    cl["sub"] = json!("other-app");
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), jwt_error(TokenError::WrongIssuer));
}

#[test]
fn exp_more_than_five_minutes_ahead_refused() {
    let c = client();
    let mut cl = claims("j");
    cl["exp"] = json!(NOW + 3600);
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), Err(AssertionError::ExpTooFarAhead));
    cl["exp"] = json!(NOW + MAX_ASSERTION_LIFETIME + LEEWAY + 1);
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), Err(AssertionError::ExpTooFarAhead));
    cl["exp"] = json!(NOW + MAX_ASSERTION_LIFETIME + LEEWAY);
    assert!(validate(&c, &c.es.sign(&cl).unwrap()).is_ok());
}

#[test]
fn expired_or_exp_less_assertion_refused() {
    let c = client();
    let mut cl = claims("j");
    cl["exp"] = json!(NOW - LEEWAY - 1);
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), jwt_error(TokenError::Expired));
    cl.as_object_mut().unwrap().remove("exp");
    assert_eq!(validate(&c, &c.es.sign(&cl).unwrap()), jwt_error(TokenError::MissingClaim("exp")));
}

#[test]
fn missing_jti_refused() {
    let c = client();
    let mut cl = claims("j");
    cl.as_object_mut().unwrap().remove("jti");
    assert_eq!(validate(&c, &c.rs.sign(&cl).unwrap()), jwt_error(TokenError::MissingClaim("jti")));
    cl["jti"] = json!("");
    assert_eq!(validate(&c, &c.rs.sign(&cl).unwrap()), jwt_error(TokenError::MissingClaim("jti")));
    cl["jti"] = json!(42);
    assert_eq!(validate(&c, &c.rs.sign(&cl).unwrap()), jwt_error(TokenError::InvalidClaim("jti")));
}

#[test]
fn req338_unknown_kid_refused() {
    let c = client();
    let stranger = es384(NOW);
    let assertion = stranger.sign(&claims("j")).unwrap();
    assert_eq!(validate(&c, &assertion), jwt_error(TokenError::UnknownKid(stranger.kid().into())));
    let err = validate(&c, &assertion).unwrap_err().to_oauth_error();
    assert_eq!((err.code, err.status()), (ErrorCode::InvalidClient, 401));
    assert!(err.description.contains(stranger.kid()), "the error names the kid: {}", err.description);
}

#[test]
fn req338_kid_must_fit_the_key_type_and_be_unique() {
    let c = client();
    // EC signature under the RSA key's kid
    let assertion = sign_with_header(&c.es, Algorithm::ES384, c.rs.kid(), &claims("j"));
    assert_eq!(
        validate(&c, &assertion),
        jwt_error(TokenError::KeyAlgorithmMismatch { kid: c.rs.kid().into(), alg: "ES384".into() })
    );
    // two registered keys answering to the same kid
    let mut twin = c.es.public_jwk().clone();
    twin.common.key_id = Some("dup".into());
    let mut twin2 = client().es.public_jwk().clone();
    twin2.common.key_id = Some("dup".into());
    let jwks = JwkSet { keys: vec![twin, twin2] };
    let reg = RegisteredClient { client_id: CLIENT, jwks: &jwks, jwks_url: None };
    let assertion = sign_with_header(&c.es, Algorithm::ES384, "dup", &claims("j"));
    assert_eq!(
        validate_client_assertion(&assertion, JWT_BEARER, &reg, TOKEN_URL, NOW),
        jwt_error(TokenError::AmbiguousKid("dup".into()))
    );
}

#[test]
fn keys_marked_for_encryption_do_not_verify() {
    let c = client();
    let mut enc = c.es.public_jwk().clone();
    enc.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
    let jwks = JwkSet { keys: vec![enc] };
    let reg = RegisteredClient { client_id: CLIENT, jwks: &jwks, jwks_url: None };
    assert!(matches!(
        validate_client_assertion(&c.es.sign(&claims("j")).unwrap(), JWT_BEARER, &reg, TOKEN_URL, NOW),
        Err(AssertionError::Jwt(TokenError::KeyAlgorithmMismatch { .. }))
    ));
}

#[test]
fn req310_other_algorithms_refused() {
    let c = client();
    // RS256 from a key the client registered for RS256
    let rs256 = SigningKey::from_pkcs8_pem(Algorithm::RS256, RSA_CLIENT_PEM, NOW).unwrap();
    let jwks = JwkSet { keys: vec![rs256.public_jwk().clone()] };
    let reg = RegisteredClient { client_id: CLIENT, jwks: &jwks, jwks_url: None };
    assert_eq!(
        validate_client_assertion(&rs256.sign(&claims("j")).unwrap(), JWT_BEARER, &reg, TOKEN_URL, NOW),
        jwt_error(TokenError::UnsupportedAlgorithm("RS256".into()))
    );
    let none = raw_jwt(&json!({"alg": "none", "kid": c.es.kid()}), &claims("j"), b"");
    assert_eq!(validate(&c, &none), jwt_error(TokenError::AlgNone));
    let hs = raw_jwt(&json!({"alg": "HS256", "kid": c.es.kid()}), &claims("j"), b"mac");
    assert_eq!(validate(&c, &hs), jwt_error(TokenError::SymmetricAlgorithm("HS256".into())));
}

#[test]
fn wrongly_signed_assertion_refused() {
    let c = client();
    let forged = sign_with_header(&es384(NOW), Algorithm::ES384, c.es.kid(), &claims("j"));
    assert_eq!(validate(&c, &forged), jwt_error(TokenError::BadSignature));
    let genuine = c.rs.sign(&claims("j")).unwrap();
    assert_eq!(validate(&c, &tamper(&genuine, "iss", json!("x"))), jwt_error(TokenError::BadSignature));
}

#[test]
fn req338_jku_must_be_the_registered_url() {
    let c = client();
    let key = &c.es;
    let with_jku = |jku: &str| {
        let pem = key.to_stored().private_key_pem;
        let mut header = jsonwebtoken::Header::new(Algorithm::ES384);
        header.kid = Some(key.kid().into());
        header.jku = Some(jku.into());
        jsonwebtoken::encode(&header, &claims("j"), &jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap())
            .unwrap()
    };
    assert!(validate(&c, &with_jku(JWKS_URL)).is_ok());
    assert_eq!(validate(&c, &with_jku("https://evil.example/jwks")), Err(AssertionError::JkuNotRegistered));
    let unregistered = RegisteredClient { jwks_url: None, ..registration(&c) };
    assert_eq!(
        validate_client_assertion(&with_jku(JWKS_URL), JWT_BEARER, &unregistered, TOKEN_URL, NOW),
        Err(AssertionError::JkuNotRegistered)
    );
}

#[test]
fn malformed_assertion_refused() {
    let c = client();
    for bad in ["", "x", "a.b.c", "a.b"] {
        assert!(matches!(validate(&c, bad), Err(AssertionError::Jwt(TokenError::Malformed(_)))), "{bad}");
    }
}

#[test]
fn req336_replayed_jti_refused() {
    let c = client();
    let mut cache = JtiCache::new();
    let first = validate(&c, &c.es.sign(&claims("once")).unwrap()).unwrap();
    assert_eq!(cache.check_and_remember(&first, NOW), Ok(()));
    let again = validate(&c, &c.rs.sign(&claims("once")).unwrap()).unwrap();
    assert_eq!(cache.check_and_remember(&again, NOW + 10), Err(AssertionError::ReplayedJti));
    assert_eq!(AssertionError::ReplayedJti.to_oauth_error().code, ErrorCode::InvalidClient);
    // another jti is fine, and an expired entry is forgotten
    let other = validate(&c, &c.es.sign(&claims("twice")).unwrap()).unwrap();
    assert_eq!(cache.check_and_remember(&other, NOW + 10), Ok(()));
    assert_eq!(cache.check_and_remember(&first, NOW + 300 + LEEWAY + 1), Ok(()));
}

#[test]
fn client_id_readable_before_verification() {
    let c = client();
    assert_eq!(unverified_client_id(&c.es.sign(&claims("j")).unwrap()), Ok(CLIENT.into()));
    // untrusted: even a forged assertion yields its claimed iss, verification is still needed
    let forged = raw_jwt(&json!({"alg": "none"}), &claims("j"), b"");
    assert_eq!(unverified_client_id(&forged), Ok(CLIENT.into()));
    assert!(validate(&c, &forged).is_err());
    assert_eq!(
        unverified_client_id(&raw_jwt(&json!({}), &json!({}), b"")),
        Err(AssertionError::Jwt(TokenError::MissingClaim("iss")))
    );
    assert!(matches!(unverified_client_id("garbage"), Err(AssertionError::Jwt(TokenError::Malformed(_)))));
}
