//! What verifying one of our access tokens costs, per signing algorithm (docs/performance.md,
//! "Authorization"): `cargo run --release -p smart-auth --example verify_cost [rounds]`.

use smart_auth::{issue_access_token, verify_access_token, AccessClaims, Algorithm, KeySet, SigningKey};
use std::time::Instant;

fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let now = 1_700_000_000;
    let base = "http://127.0.0.1:8080/fhir";
    for alg in [Algorithm::ES384, Algorithm::RS384] {
        let keys = KeySet::new([SigningKey::generate(alg, now).expect("key")]).expect("set");
        let claims = AccessClaims::new(base, base, "user", "client", "patient/*.rs launch/patient", now, 3600);
        let token = issue_access_token(&keys, &claims).expect("token");
        let start = Instant::now();
        for _ in 0..rounds {
            verify_access_token(&token, &keys, base, base, now).expect("verifies");
        }
        let verify = start.elapsed() / rounds;
        let start = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(smart_auth::secrets::hash_secret(std::hint::black_box(&token)));
        }
        let hash = start.elapsed() / rounds;
        println!("{alg:?}: verify {verify:?} per token, SHA-256 of the token (the cache key) {hash:?}, {rounds} rounds");
    }
}
