//! Our access tokens already verified by this server, so a client's later requests skip the
//! signature check: an ES384 verification is the costliest step of an authorized request
//! (docs/performance.md, "Authorization"). Revocation is still checked on every request by the
//! caller; expiry here, with the same leeway as the full check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use smart_auth::{KeySet, LEEWAY};

use super::verify::VerifiedToken;

/// Tokens kept at most; past it expired ones are dropped, and all if none had expired.
const CAPACITY: usize = 10_000;

/// Verified tokens by SHA-256 of the token (no bearer secret kept in memory).
#[derive(Default)]
pub struct VerifiedTokens {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The key set the entries were verified with; a reload (rotation, retirement) empties the
    /// cache, so a retired key stops being trusted as soon as the server stops trusting it.
    keys: Option<Arc<KeySet>>,
    tokens: HashMap<String, VerifiedToken>,
}

impl Inner {
    /// Forgets every token when `keys` is not the set they were verified with.
    fn under(&mut self, keys: &Arc<KeySet>) {
        if !self.keys.as_ref().is_some_and(|k| Arc::ptr_eq(k, keys)) {
            self.tokens.clear();
            self.keys = Some(keys.clone());
        }
    }
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified with the key set `keys` and has not expired.
    pub fn get(&self, token: &str, keys: &Arc<KeySet>, now: u64) -> Option<VerifiedToken> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.under(keys);
        inner.tokens.get(&smart_auth::secrets::hash_secret(token)).filter(|t| now <= t.expires_at.saturating_add(LEEWAY)).cloned()
    }

    /// Remembers a token just verified with `keys`.
    pub fn insert(&self, token: &str, keys: &Arc<KeySet>, verified: &VerifiedToken, now: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.under(keys);
        if inner.tokens.len() >= CAPACITY {
            inner.tokens.retain(|_, t| now <= t.expires_at.saturating_add(LEEWAY));
            if inner.tokens.len() >= CAPACITY {
                inner.tokens.clear();
            }
        }
        inner.tokens.insert(smart_auth::secrets::hash_secret(token), verified.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smart_auth::{Algorithm, SigningKey};

    fn token(jti: &str, expires_at: u64) -> VerifiedToken {
        VerifiedToken {
            issuer: "http://x/fhir".into(),
            client_id: "c".into(),
            subject: "u".into(),
            scope: "user/*.rs".into(),
            patient: None,
            encounter: None,
            fhir_user: None,
            jti: jti.into(),
            expires_at,
        }
    }

    fn key_set() -> Arc<KeySet> {
        Arc::new(KeySet::new([SigningKey::generate(Algorithm::ES384, 0).unwrap()]).unwrap())
    }

    #[test]
    fn a_token_is_trusted_until_it_expires_and_only_under_the_keys_that_verified_it() {
        let cache = VerifiedTokens::default();
        let (keys, rotated) = (key_set(), key_set());
        assert_eq!(cache.get("t1", &keys, 100), None);
        cache.insert("t1", &keys, &token("a", 1_000), 100);
        assert_eq!(cache.get("t1", &keys, 100).map(|t| t.jti), Some("a".to_string()));
        assert_eq!(cache.get("t2", &keys, 100), None);
        // The same leeway as the full check, then gone.
        assert!(cache.get("t1", &keys, 1_000 + LEEWAY).is_some());
        assert_eq!(cache.get("t1", &keys, 1_001 + LEEWAY), None);
        // A reloaded key set (a key retired or added) empties the cache: the token must verify again.
        assert_eq!(cache.get("t1", &rotated, 100), None);
        assert_eq!(cache.get("t1", &keys, 100), None);
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first() {
        let cache = VerifiedTokens::default();
        let keys = key_set();
        for i in 0..CAPACITY {
            cache.insert(&format!("old{i}"), &keys, &token("old", if i == 0 { 5_000 } else { 10 }), 0);
        }
        cache.insert("new", &keys, &token("new", 5_000), 1_000);
        assert!(cache.get("new", &keys, 1_000).is_some());
        assert!(cache.get("old0", &keys, 1_000).is_some(), "unexpired tokens are kept");
        assert_eq!(cache.inner.lock().unwrap().tokens.len(), 2);
    }
}
