//! Unguessable strings for authorization codes, refresh tokens and client secrets, and how to
//! store and compare them without keeping them in clear or leaking them through timing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of OS randomness behind each token: 256 bits, twice the 128 bits RFC 6749 §10.10 asks.
const TOKEN_BYTES: usize = 32;

/// A fresh URL-safe random string (43 characters, 256 bits from the OS RNG).
pub fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The form a secret is stored in: base64url SHA-256.
///
/// A plain hash suffices (no salt, no slow KDF) because every secret we hash is a
/// [`random_token`] with 256 bits of entropy: nothing to guess from a dictionary.
pub fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a presented secret matches a stored [`hash_secret`] value, in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash_secret(presented).as_bytes(), stored_hash.as_bytes())
}

/// Byte equality whose time depends only on the lengths, so a mismatch position never leaks.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_url_safe_long_and_distinct() {
        let tokens: HashSet<String> = (0..200).map(|_| random_token()).collect();
        assert_eq!(tokens.len(), 200);
        for t in &tokens {
            assert_eq!(t.len(), 43);
            assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{t}");
        }
    }

    #[test]
    fn stored_hash_verifies_only_the_same_secret() {
        let secret = random_token();
        let stored = hash_secret(&secret);
        assert_ne!(stored, secret);
        assert!(verify_secret(&secret, &stored));
        assert!(!verify_secret(&random_token(), &stored));
        assert!(!verify_secret("", &stored));
    }

    #[test]
    fn hash_is_sha256_base64url() {
        // SHA-256("abc") from FIPS 180-2, base64url without padding.
        assert_eq!(hash_secret("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
