//! Fixed keys, URLs and a clock, and a way to build JWTs by hand the way an attacker would.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::Value;
use smart_auth::{Algorithm, SigningKey};

pub const ISSUER: &str = "https://ehr.example/auth";
pub const FHIR_BASE: &str = "https://ehr.example/fhir";
pub const TOKEN_URL: &str = "https://ehr.example/auth/token";
pub const NOW: u64 = 1_750_000_000;

/// 2048-bit RSA keys made once with `openssl genpkey`: RSA generation is too slow for debug tests.
pub const RSA_SERVER_PEM: &str = include_str!("../keys/rsa-server.pem");
pub const RSA_CLIENT_PEM: &str = include_str!("../keys/rsa-client.pem");

pub fn es384(created_at: u64) -> SigningKey {
    SigningKey::generate(Algorithm::ES384, created_at).unwrap()
}

pub fn rsa_server(alg: Algorithm, created_at: u64) -> SigningKey {
    SigningKey::from_pkcs8_pem(alg, RSA_SERVER_PEM, created_at).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWT from any header and claims with a given signature.
pub fn raw_jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap()),
        b64(signature)
    )
}

/// Signs `claims` with `signer`'s private key under a header of our choosing (foreign kid, alg).
pub fn sign_with_header(signer: &SigningKey, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let pem = signer.to_stored().private_key_pem;
    let key = match signer.algorithm() {
        Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .unwrap();
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Replaces one claim of a signed token without re-signing it.
pub fn tamper(token: &str, name: &str, value: Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims[name] = value;
    format!("{}.{}.{}", parts[0], b64(&serde_json::to_vec(&claims).unwrap()), parts[2])
}

/// The decoded header of a token.
pub fn header(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}
