//! Access and ID tokens: issuing, and refusing every bad token named in issue 5 with its own
//! error; signing keys: storage round trip, rotation, public-only JWKS.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Sha256, Sha384};
use smart_auth::*;

fn claims() -> AccessClaims {
    let mut c = AccessClaims::new(
        ISSUER,
        FHIR_BASE,
        "user-1",
        "app-1",
        "launch/patient patient/*.rs openid fhirUser",
        NOW,
        300,
    );
    c.patient = Some("p-1".into());
    c.fhir_user = Some("Practitioner/7".into());
    c
}

fn claims_json() -> Value {
    serde_json::to_value(claims()).unwrap()
}

fn verify(token: &str, keys: &KeySet) -> Result<AccessClaims, TokenError> {
    verify_access_token(token, keys, ISSUER, FHIR_BASE, NOW)
}

fn one_key() -> (SigningKey, KeySet) {
    let key = es384(NOW);
    let set = KeySet::new([key.clone()]).unwrap();
    (key, set)
}

#[test]
fn es384_access_token_round_trip() {
    let (key, set) = one_key();
    let token = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(header(&token)["alg"], "ES384");
    assert_eq!(header(&token)["kid"], key.kid());
    let got = verify(&token, &set).unwrap();
    assert_eq!(got, AccessClaims { jti: got.jti.clone(), ..claims() });
    assert_eq!(got.aud, Audience::One(FHIR_BASE.into()));
    assert_eq!(got.scopes().collect::<Vec<_>>(), ["launch/patient", "patient/*.rs", "openid", "fhirUser"]);
    assert_eq!(got.jti.len(), 43);
}

#[test]
fn rs384_access_token_round_trip() {
    let set = KeySet::new([rsa_server(Algorithm::RS384, NOW)]).unwrap();
    let token = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(header(&token)["alg"], "RS384");
    assert_eq!(verify(&token, &set).unwrap().sub, "user-1");
}

#[test]
fn every_token_gets_a_fresh_jti() {
    assert_ne!(claims().jti, claims().jti);
}

#[test]
fn malformed_tokens_refused() {
    let (_, set) = one_key();
    let good = issue_access_token(&set, &claims()).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    for bad in [
        String::new(),
        "not-a-jwt".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        format!("%%%.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
        format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]),
        format!("{}.{}.***", parts[0], parts[1]),
    ] {
        assert!(matches!(verify(&bad, &set), Err(TokenError::Malformed(_))), "{bad:?}: {:?}", verify(&bad, &set));
    }
}

#[test]
fn req77_expired_token_refused_after_leeway() {
    let (_, set) = one_key();
    let token = issue_access_token(&set, &claims()).unwrap();
    let exp = NOW + 300;
    assert!(verify_access_token(&token, &set, ISSUER, FHIR_BASE, exp + LEEWAY).is_ok());
    assert_eq!(verify_access_token(&token, &set, ISSUER, FHIR_BASE, exp + LEEWAY + 1), Err(TokenError::Expired));
    assert_eq!(verify_access_token(&token, &set, ISSUER, FHIR_BASE, exp + 86_400), Err(TokenError::Expired));
}

#[test]
fn not_yet_valid_token_refused() {
    let (key, set) = one_key();
    let mut c = claims_json();
    c["nbf"] = json!(NOW + LEEWAY + 10);
    assert_eq!(verify(&key.sign(&c).unwrap(), &set), Err(TokenError::NotYetValid));
    c["nbf"] = json!(NOW + LEEWAY);
    assert!(verify(&key.sign(&c).unwrap(), &set).is_ok());
}

#[test]
fn token_signed_by_another_key_under_our_kid_refused() {
    let (key, set) = one_key();
    let impostor = es384(NOW);
    let forged = sign_with_header(&impostor, Algorithm::ES384, key.kid(), &claims_json());
    assert_eq!(header(&forged)["kid"], key.kid());
    assert_eq!(verify(&forged, &set), Err(TokenError::BadSignature));
}

#[test]
fn tampered_claims_refused() {
    let (_, set) = one_key();
    let token = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(verify(&tamper(&token, "patient", json!("p-2")), &set), Err(TokenError::BadSignature));
    assert_eq!(verify(&tamper(&token, "scope", json!("system/*.cruds")), &set), Err(TokenError::BadSignature));
}

#[test]
fn alg_none_token_refused() {
    let (key, set) = one_key();
    for alg in ["none", "None", "NONE"] {
        let token = raw_jwt(&json!({"alg": alg, "typ": "JWT", "kid": key.kid()}), &claims_json(), b"");
        assert_eq!(verify(&token, &set), Err(TokenError::AlgNone), "{alg}");
    }
}

#[test]
fn hs256_token_keyed_with_our_public_key_refused() {
    // The classic confusion attack: HMAC the token with the public key a verifier holds.
    for key in [es384(NOW), rsa_server(Algorithm::RS384, NOW)] {
        let set = KeySet::new([key.clone()]).unwrap();
        let secrets = [serde_json::to_vec(key.public_jwk()).unwrap(), serde_json::to_vec(&set.jwks_json()).unwrap()];
        for secret in secrets {
            let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid()});
            let unsigned = format!(
                "{}.{}",
                b64(&serde_json::to_vec(&header).unwrap()),
                b64(&serde_json::to_vec(&claims_json()).unwrap())
            );
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
            mac.update(unsigned.as_bytes());
            let token = format!("{unsigned}.{}", b64(&mac.finalize().into_bytes()));
            assert_eq!(verify(&token, &set), Err(TokenError::SymmetricAlgorithm("HS256".into())));
            let err = verify(&token, &set).unwrap_err().to_oauth_error();
            assert_eq!((err.code, err.status()), (ErrorCode::InvalidToken, 401));
        }
    }
}

#[test]
fn hs384_and_hs512_refused_too() {
    let (key, set) = one_key();
    let secret = serde_json::to_vec(key.public_jwk()).unwrap();
    let mut mac = Hmac::<Sha384>::new_from_slice(&secret).unwrap();
    mac.update(b"x");
    let sig = mac.finalize().into_bytes();
    for alg in ["HS384", "HS512"] {
        let token = raw_jwt(&json!({"alg": alg, "kid": key.kid()}), &claims_json(), &sig);
        assert_eq!(verify(&token, &set), Err(TokenError::SymmetricAlgorithm(alg.into())));
    }
}

#[test]
fn req96_wrong_audience_refused() {
    let (_, set) = one_key();
    let token = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(
        verify_access_token(&token, &set, ISSUER, "https://other.example/fhir", NOW),
        Err(TokenError::WrongAudience)
    );
    let other = AccessClaims::new(ISSUER, "https://other.example/fhir", "u", "app-1", "patient/*.rs", NOW, 300);
    assert_eq!(verify(&issue_access_token(&set, &other).unwrap(), &set), Err(TokenError::WrongAudience));
}

#[test]
fn wrong_issuer_refused() {
    let (_, set) = one_key();
    let token = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(verify_access_token(&token, &set, "https://evil.example", FHIR_BASE, NOW), Err(TokenError::WrongIssuer));
}

#[test]
fn unknown_and_missing_kid_refused() {
    let (_, set) = one_key();
    let stranger = es384(NOW);
    let token = issue_access_token(&KeySet::new([stranger.clone()]).unwrap(), &claims()).unwrap();
    assert_eq!(verify(&token, &set), Err(TokenError::UnknownKid(stranger.kid().into())));
    let no_kid = raw_jwt(&json!({"alg": "ES384"}), &claims_json(), b"sig");
    assert_eq!(verify(&no_kid, &set), Err(TokenError::MissingKid));
}

#[test]
fn algorithm_must_fit_the_key() {
    let (key, set) = one_key();
    // an RS384 header naming our EC key
    let rsa = rsa_server(Algorithm::RS384, NOW);
    let token = sign_with_header(&rsa, Algorithm::RS384, key.kid(), &claims_json());
    assert_eq!(
        verify(&token, &set),
        Err(TokenError::KeyAlgorithmMismatch { kid: key.kid().into(), alg: "RS384".into() })
    );
    // algorithms outside the list for our own tokens
    let es256 = raw_jwt(&json!({"alg": "ES256", "kid": key.kid()}), &claims_json(), b"sig");
    assert_eq!(verify(&es256, &set), Err(TokenError::UnsupportedAlgorithm("ES256".into())));
    let ps256 = raw_jwt(&json!({"alg": "PS256", "kid": key.kid()}), &claims_json(), b"sig");
    assert_eq!(verify(&ps256, &set), Err(TokenError::UnsupportedAlgorithm("PS256".into())));
}

#[test]
fn id_token_is_not_an_access_token() {
    let set = KeySet::new([es384(NOW), rsa_server(Algorithm::RS256, NOW)]).unwrap();
    let id = IdClaims {
        iss: ISSUER.into(),
        sub: "user-1".into(),
        aud: FHIR_BASE.into(),
        exp: NOW + 300,
        iat: NOW,
        nonce: None,
        fhir_user: None,
    };
    let token = issue_id_token(&set, &id).unwrap();
    assert_eq!(verify(&token, &set), Err(TokenError::UnsupportedAlgorithm("RS256".into())));
}

#[test]
fn missing_claims_refused() {
    let (key, set) = one_key();
    for name in ["sub", "iat", "jti", "client_id", "scope"] {
        let mut c = claims_json();
        c.as_object_mut().unwrap().remove(name);
        assert_eq!(verify(&key.sign(&c).unwrap(), &set), Err(TokenError::MissingClaim(name)), "{name}");
    }
    for name in ["exp", "iss", "aud"] {
        let mut c = claims_json();
        c.as_object_mut().unwrap().remove(name);
        assert_eq!(verify(&key.sign(&c).unwrap(), &set), Err(TokenError::MissingClaim(name)), "{name}");
    }
    let mut c = claims_json();
    c["exp"] = json!("tomorrow");
    assert_eq!(verify(&key.sign(&c).unwrap(), &set), Err(TokenError::InvalidClaim("exp")));
}

#[test]
fn rotation_without_downtime() {
    let old = es384(NOW - 86_400);
    let mut set = KeySet::new([old.clone()]).unwrap();
    let before = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(header(&before)["kid"], old.kid());

    let new = es384(NOW);
    set.insert(new.clone()).unwrap();
    let after = issue_access_token(&set, &claims()).unwrap();
    assert_eq!(header(&after)["kid"], new.kid(), "new tokens use the newest key");
    assert!(verify(&before, &set).is_ok(), "old tokens verify while the old key is in the set");
    assert!(verify(&after, &set).is_ok());
    assert_eq!(set.jwks_json()["keys"].as_array().unwrap().len(), 2);

    assert_eq!(set.remove(old.kid()).unwrap().kid(), old.kid());
    assert_eq!(verify(&before, &set), Err(TokenError::UnknownKid(old.kid().into())));
    assert!(verify(&after, &set).is_ok());
    assert!(set.remove(old.kid()).is_none());
}

#[test]
fn newest_key_wins_whatever_the_insertion_order() {
    let (a, b) = (es384(NOW), es384(NOW - 10));
    let set = KeySet::new([a.clone(), b]).unwrap();
    assert_eq!(set.newest(ACCESS_TOKEN_ALGORITHMS).unwrap().kid(), a.kid());
    assert_eq!(KeySet::new([a.clone(), a.clone()]).unwrap_err(), KeyError::DuplicateKid(a.kid().into()));
    assert_eq!(
        issue_access_token(&KeySet::default(), &claims()),
        Err(TokenError::NoSigningKey("access tokens (ES384 or RS384)"))
    );
}

#[test]
fn req207_jwks_has_public_parts_only() {
    let set = KeySet::new([es384(NOW), rsa_server(Algorithm::RS256, NOW)]).unwrap();
    let jwks = set.jwks_json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let allowed = ["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"];
    for jwk in keys {
        for name in jwk.as_object().unwrap().keys() {
            assert!(allowed.contains(&name.as_str()), "JWKS member {name} leaks or is unexpected: {jwk}");
        }
        assert_eq!(jwk["use"], "sig");
    }
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-384");
    assert_eq!(keys[1]["kty"], "RSA");
    assert_eq!(keys[1]["alg"], "RS256");
    // and the private material is nowhere in the document
    let text = jwks.to_string();
    for key in set.keys() {
        let pem = key.to_stored().private_key_pem;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!text.contains(&body[..40]));
    }
    assert_eq!(serde_json::to_value(set.public_jwks()).unwrap(), jwks);
}

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    for key in [es384(NOW), rsa_server(Algorithm::RS384, NOW)] {
        assert_eq!(jwk_thumbprint(key.public_jwk()).unwrap(), key.kid());
        assert_eq!(key.kid().len(), 43);
    }
    // the same RSA key has the same kid whatever it signs with
    assert_eq!(rsa_server(Algorithm::RS256, 1).kid(), rsa_server(Algorithm::RS384, 2).kid());
}

#[test]
fn stored_keys_round_trip_and_are_checked() {
    for key in [es384(NOW), rsa_server(Algorithm::RS384, NOW - 5)] {
        let stored = key.to_stored();
        assert!(stored.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(!format!("{stored:?}").contains("PRIVATE"), "Debug must not print the key");
        let json = serde_json::to_string(&stored).unwrap();
        let loaded = SigningKey::from_stored(&serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(
            (loaded.kid(), loaded.algorithm(), loaded.created_at()),
            (key.kid(), key.algorithm(), key.created_at())
        );
        // a token signed by the reloaded key verifies against the original's public key
        let token = issue_access_token(&KeySet::new([loaded]).unwrap(), &claims()).unwrap();
        assert!(verify(&token, &KeySet::new([key.clone()]).unwrap()).is_ok());

        let wrong_kid = StoredKey { kid: "someone-else".into(), ..stored.clone() };
        assert!(matches!(SigningKey::from_stored(&wrong_kid), Err(KeyError::KidMismatch { .. })));
        let wrong_alg = StoredKey { alg: "HS256".into(), ..stored.clone() };
        assert_eq!(SigningKey::from_stored(&wrong_alg).unwrap_err(), KeyError::UnsupportedAlgorithm("HS256".into()));
    }
    let weak = include_str!("keys/rsa-1024-weak.pem");
    assert_eq!(SigningKey::from_pkcs8_pem(Algorithm::RS256, weak, NOW).unwrap_err(), KeyError::WeakRsaKey(1024));
    // an EC key presented as RSA, and garbage
    let ec_pem = es384(NOW).to_stored().private_key_pem;
    assert!(matches!(SigningKey::from_pkcs8_pem(Algorithm::RS384, &ec_pem, NOW), Err(KeyError::InvalidPem { .. })));
    assert!(matches!(SigningKey::from_pkcs8_pem(Algorithm::ES384, "nope", NOW), Err(KeyError::InvalidPem { .. })));
    assert!(matches!(
        SigningKey::from_pkcs8_pem(Algorithm::HS256, RSA_SERVER_PEM, NOW),
        Err(KeyError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn req200_209_210_id_token_rs256_with_fhir_user_and_nonce() {
    let rsa = rsa_server(Algorithm::RS256, NOW);
    let set = KeySet::new([es384(NOW), rsa.clone()]).unwrap();
    let id = IdClaims {
        iss: ISSUER.into(),
        sub: "user-1".into(),
        aud: "app-1".into(),
        exp: NOW + 300,
        iat: NOW,
        nonce: Some("n-0S6".into()),
        fhir_user: Some("https://ehr.example/fhir/Practitioner/7".into()),
    };
    let token = issue_id_token(&set, &id).unwrap();
    assert_eq!(header(&token)["alg"], "RS256");
    assert_eq!(header(&token)["kid"], rsa.kid());
    assert_eq!(verify_id_token(&token, &set, ISSUER, "app-1", NOW), Ok(id.clone()));
    assert_eq!(verify_id_token(&token, &set, ISSUER, "app-2", NOW), Err(TokenError::WrongAudience));
    let payload = token.split('.').nth(1).unwrap();
    let raw: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    assert_eq!(raw["fhirUser"], "https://ehr.example/fhir/Practitioner/7");
    assert_eq!(raw["nonce"], "n-0S6");

    let bare = IdClaims { nonce: None, fhir_user: None, ..id.clone() };
    let raw_bare = serde_json::to_value(&bare).unwrap();
    assert!(raw_bare.get("fhirUser").is_none() && raw_bare.get("nonce").is_none());

    let no_rsa = KeySet::new([es384(NOW)]).unwrap();
    assert_eq!(issue_id_token(&no_rsa, &id), Err(TokenError::NoSigningKey("ID tokens (RS256)")));
    assert_eq!(TokenError::NoSigningKey("x").to_oauth_error().code, ErrorCode::ServerError);
}

#[test]
fn external_provider_tokens_use_their_own_algorithm_list() {
    // An external provider signing RS256 access tokens, as most do.
    let provider = rsa_server(Algorithm::RS256, NOW);
    let jwks = provider_jwks(&provider);
    let c = AccessClaims::new("https://idp.example", FHIR_BASE, "u", "app", "patient/*.rs", NOW, 300);
    let token = provider.sign(&c).unwrap();
    assert_eq!(verify_access_token(&token, &jwks, "https://idp.example", FHIR_BASE, NOW).unwrap().sub, "u");
    // the same token is refused where only our own algorithms count
    let own = KeySet::new([provider.clone()]).unwrap();
    assert_eq!(
        verify_access_token(&token, &own, "https://idp.example", FHIR_BASE, NOW),
        Err(TokenError::UnsupportedAlgorithm("RS256".into()))
    );
    assert_eq!(TrustedKeys::from(&jwks).algorithms(), EXTERNAL_ACCESS_TOKEN_ALGORITHMS);
    // HMAC and none stay refused for external keys too
    let hs = raw_jwt(&json!({"alg": "HS256", "kid": provider.kid()}), &serde_json::to_value(&c).unwrap(), b"x");
    assert_eq!(
        verify_access_token(&hs, &jwks, "https://idp.example", FHIR_BASE, NOW),
        Err(TokenError::SymmetricAlgorithm("HS256".into()))
    );
}

#[test]
fn array_audience_from_external_provider_accepted() {
    let provider = es384(NOW);
    let jwks = provider_jwks(&provider);
    let mut c =
        serde_json::to_value(AccessClaims::new("https://idp.example", FHIR_BASE, "u", "app", "", NOW, 300)).unwrap();
    c["aud"] = json!(["account", FHIR_BASE]);
    let got = verify_access_token(&provider.sign(&c).unwrap(), &jwks, "https://idp.example", FHIR_BASE, NOW).unwrap();
    assert_eq!(got.aud, Audience::Many(vec!["account".into(), FHIR_BASE.into()]));
}

fn provider_jwks(key: &SigningKey) -> JwkSet {
    parse_jwks(&json!({"keys": [key.public_jwk()]}).to_string()).unwrap()
}

#[test]
#[ignore = "RSA key generation takes long in unoptimised builds; run with --ignored"]
fn rsa_keys_can_be_generated() {
    for alg in [Algorithm::RS256, Algorithm::RS384] {
        let key = SigningKey::generate(alg, NOW).unwrap();
        let set = KeySet::new([key.clone()]).unwrap();
        assert_eq!(SigningKey::from_stored(&key.to_stored()).unwrap().kid(), key.kid());
        if alg == Algorithm::RS384 {
            assert!(verify(&issue_access_token(&set, &claims()).unwrap(), &set).is_ok());
        }
    }
}
