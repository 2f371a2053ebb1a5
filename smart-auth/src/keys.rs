//! The server's own signing keys: generated or loaded from the database, identified by their
//! RFC 7638 thumbprint, and gathered in a [`KeySet`] so keys rotate without downtime.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
    JwkSet, PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p384::elliptic_curve::sec1::ToEncodedPoint;
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::tokens::TokenError;

/// Algorithms our own keys sign with: ES384 and RS384 for access tokens, RS256 for ID tokens
/// (SMART requirement 210: ID tokens SHALL be signable with RSA SHA-256).
pub const SIGNING_ALGORITHMS: &[Algorithm] = &[Algorithm::ES384, Algorithm::RS384, Algorithm::RS256];

/// Size of generated RSA keys; also the smallest RSA key we load.
pub const RSA_BITS: usize = 2048;

/// Why a key could not be made, loaded or added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The algorithm is not one of [`SIGNING_ALGORITHMS`].
    #[error("signing algorithm {0} is not supported (ES384, RS384, RS256)")]
    UnsupportedAlgorithm(String),
    /// The PEM is not a PKCS#8 private key of the algorithm's type.
    #[error("not a PKCS#8 {alg} private key: {reason}")]
    InvalidPem {
        /// Algorithm the key was meant for.
        alg: String,
        /// Parser message.
        reason: String,
    },
    /// RSA modulus below [`RSA_BITS`].
    #[error("RSA key of {0} bits is too small (at least 2048)")]
    WeakRsaKey(usize),
    /// The stored kid is not the key's thumbprint: the row was altered or mixed up.
    #[error("stored kid {stored} does not match the key's thumbprint {computed}")]
    KidMismatch {
        /// kid read from storage.
        stored: String,
        /// Thumbprint of the stored key material.
        computed: String,
    },
    /// A key with this kid is already in the set.
    #[error("key {0} is already in the set")]
    DuplicateKid(String),
    /// A JWK whose type has no RFC 7638 thumbprint here (only RSA and EC).
    #[error("cannot compute a thumbprint for this key type")]
    UnsupportedKeyType,
    /// A JWK Set document that is not `{"keys": [...]}`.
    #[error("invalid JWK Set: {0}")]
    InvalidJwks(String),
    /// The crypto library failed to generate or encode a key.
    #[error("key generation or encoding failed: {0}")]
    Crypto(String),
}

/// What the database keeps for a signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// RFC 7638 thumbprint, rechecked on load.
    pub kid: String,
    /// JOSE algorithm name (`ES384`, `RS384`, `RS256`).
    pub alg: String,
    /// Unix seconds; the newest key of a kind signs new tokens.
    pub created_at: u64,
    /// PKCS#8 PEM private key: protect the column as a secret.
    pub private_key_pem: String,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One of the server's private keys, ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: String,
    created_at: u64,
    pem: Zeroizing<String>,
    encoding: EncodingKey,
    public: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key from the OS RNG.
    ///
    /// ES384 takes milliseconds. RSA generation takes seconds in unoptimised builds (about 4 s
    /// per 2048-bit key here); a workspace generating RSA keys in debug builds can add
    /// `[profile.dev.package.num-bigint-dig] opt-level = 3` (and the same for `rsa`).
    pub fn generate(alg: Algorithm, created_at: u64) -> Result<Self, KeyError> {
        let pem = match alg {
            Algorithm::ES384 => p384::SecretKey::random(&mut OsRng).to_pkcs8_pem(LineEnding::LF),
            Algorithm::RS384 | Algorithm::RS256 => rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|e| KeyError::Crypto(e.to_string()))?
                .to_pkcs8_pem(LineEnding::LF),
            other => return Err(KeyError::UnsupportedAlgorithm(alg_name(other))),
        }
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
        Self::from_pkcs8_pem(alg, &pem, created_at)
    }

    /// Loads a PKCS#8 PEM private key (`openssl genpkey` output) for `alg`.
    pub fn from_pkcs8_pem(alg: Algorithm, pem: &str, created_at: u64) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidPem { alg: alg_name(alg), reason };
        let (algorithm, encoding, pem) = match alg {
            Algorithm::ES384 => {
                let key = p384::SecretKey::from_pkcs8_pem(pem).map_err(|e| invalid(e.to_string()))?;
                let point = key.public_key().to_encoded_point(false);
                let (x, y) = (point.x().expect("uncompressed point"), point.y().expect("uncompressed point"));
                let params = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P384,
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                });
                let der = key.to_pkcs8_der().map_err(|e| KeyError::Crypto(e.to_string()))?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Crypto(e.to_string()))?;
                (params, EncodingKey::from_ec_der(der.as_bytes()), pem)
            }
            Algorithm::RS384 | Algorithm::RS256 => {
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| invalid(e.to_string()))?;
                if key.size() * 8 < RSA_BITS {
                    return Err(KeyError::WeakRsaKey(key.size() * 8));
                }
                let params = AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                    e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                });
                // jsonwebtoken's RustCrypto signer wants PKCS#1 DER for RSA.
                let der = key.to_pkcs1_der().map_err(|e| KeyError::Crypto(e.to_string()))?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Crypto(e.to_string()))?;
                (params, EncodingKey::from_rsa_der(der.as_bytes()), pem)
            }
            other => return Err(KeyError::UnsupportedAlgorithm(alg_name(other))),
        };
        let mut public = Jwk { common: CommonParameters::default(), algorithm };
        let kid = jwk_thumbprint(&public)?;
        public.common = CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(alg.into()),
            key_id: Some(kid.clone()),
            ..CommonParameters::default()
        };
        Ok(Self { alg, kid, created_at, pem, encoding, public })
    }

    /// Loads a key from its database row, refusing a row whose kid is not its thumbprint.
    pub fn from_stored(stored: &StoredKey) -> Result<Self, KeyError> {
        let alg = SIGNING_ALGORITHMS
            .iter()
            .copied()
            .find(|a| alg_name(*a) == stored.alg)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(stored.alg.clone()))?;
        let key = Self::from_pkcs8_pem(alg, &stored.private_key_pem, stored.created_at)?;
        if key.kid != stored.kid {
            return Err(KeyError::KidMismatch { stored: stored.kid.clone(), computed: key.kid });
        }
        Ok(key)
    }

    /// The database row for this key.
    pub fn to_stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            alg: alg_name(self.alg),
            created_at: self.created_at,
            private_key_pem: self.pem.to_string(),
        }
    }

    /// The key id: RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Creation time in Unix seconds.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// The public JWK (`kty`, key parameters, `use: sig`, `alg`, `kid`), no private parts.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// Signs claims as a compact JWT whose header names this key's `alg` and `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| TokenError::Signing(e.to_string()))
    }
}

/// The server's signing keys: the newest of each kind signs, every one still verifies.
///
/// Rotation: insert a new key (new tokens are signed with it at once), keep the old one until
/// the tokens it signed have expired, then remove it. One key signs with one algorithm, and the
/// kid is the key's thumbprint, so an RSA key cannot serve both RS384 and RS256 in one set.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// A set of keys, refusing two with the same kid.
    pub fn new(keys: impl IntoIterator<Item = SigningKey>) -> Result<Self, KeyError> {
        let mut set = Self::default();
        for key in keys {
            set.insert(key)?;
        }
        Ok(set)
    }

    /// Adds a key; it signs new tokens from now on if it is the newest of its kind.
    pub fn insert(&mut self, key: SigningKey) -> Result<(), KeyError> {
        if self.get(&key.kid).is_some() {
            return Err(KeyError::DuplicateKid(key.kid));
        }
        self.keys.push(key);
        Ok(())
    }

    /// Removes a key: tokens it signed no longer verify.
    pub fn remove(&mut self, kid: &str) -> Option<SigningKey> {
        let index = self.keys.iter().position(|k| k.kid == kid)?;
        Some(self.keys.remove(index))
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// All keys, in insertion order.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The key that signs new tokens among those with one of `algs`: the latest `created_at`,
    /// the last inserted on a tie.
    pub fn newest(&self, algs: &[Algorithm]) -> Option<&SigningKey> {
        self.keys.iter().filter(|k| algs.contains(&k.alg)).max_by_key(|k| k.created_at)
    }

    /// The public keys as a JWK Set.
    pub fn public_jwks(&self) -> JwkSet {
        JwkSet { keys: self.keys.iter().map(|k| k.public.clone()).collect() }
    }

    /// The JWKS document served at `jwks_uri`: `{"keys": [...]}`, public parts only.
    pub fn jwks_json(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| &k.public).collect::<Vec<_>>() })
    }
}

/// RFC 7638 SHA-256 thumbprint (base64url) of an RSA or EC public JWK.
pub fn jwk_thumbprint(jwk: &Jwk) -> Result<String, KeyError> {
    // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    let canonical = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, p.e, p.n),
        AlgorithmParameters::EllipticCurve(p) => {
            let crv = match p.curve {
                EllipticCurve::P256 => "P-256",
                EllipticCurve::P384 => "P-384",
                EllipticCurve::P521 => "P-521",
                _ => return Err(KeyError::UnsupportedKeyType),
            };
            format!(r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#, p.x, p.y)
        }
        _ => return Err(KeyError::UnsupportedKeyType),
    };
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// Parses a client's registered JWK Set, skipping members that are not JWKs instead of
/// refusing the whole set (RFC 7517 §5); unusable key types are left out at verification.
pub fn parse_jwks(json: &str) -> Result<JwkSet, KeyError> {
    let doc: Value = serde_json::from_str(json).map_err(|e| KeyError::InvalidJwks(e.to_string()))?;
    let members =
        doc.get("keys").and_then(Value::as_array).ok_or_else(|| KeyError::InvalidJwks("no \"keys\" array".into()))?;
    let keys = members.iter().filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok()).collect();
    Ok(JwkSet { keys })
}

/// JOSE name of an algorithm (`RS384`).
pub(crate) fn alg_name(alg: Algorithm) -> String {
    jsonwebtoken::jwk::KeyAlgorithm::from(alg).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn thumbprint_refuses_symmetric_keys() {
        let jwk: Jwk = serde_json::from_value(json!({"kty": "oct", "k": "c2VjcmV0"})).unwrap();
        assert_eq!(jwk_thumbprint(&jwk), Err(KeyError::UnsupportedKeyType));
    }

    #[test]
    fn parse_jwks_skips_unusable_members() {
        let set = parse_jwks(r#"{"keys":[42,{"kty":"RSA","n":"AQAB","e":"AQAB","kid":7},{"kty":"EC","crv":"P-384","x":"AA","y":"AA","kid":"a"}]}"#).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(set.find("a").is_some());
        assert!(matches!(parse_jwks(r#"{"key":[]}"#), Err(KeyError::InvalidJwks(_))));
        assert!(matches!(parse_jwks("nope"), Err(KeyError::InvalidJwks(_))));
    }
}
