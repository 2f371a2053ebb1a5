//! JWK Sets fetched from URLs: a client's registered `jwks_url` and an external OpenID
//! provider's keys. Cached as the publisher's `Cache-Control` allows (SMART requirements 341,
//! 342), fetched again for an unknown kid at most once a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smart_auth::JwkSet;

/// Cache time when the publisher says nothing.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Longest cache time, whatever the publisher says: removed keys must disappear some day.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Least time between two fetches caused by an unknown kid, so forged kids cannot make us a
/// traffic amplifier.
const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(60);
/// Largest JWKS document read.
const MAX_BYTES: usize = 1 << 20;

/// The HTTP client for JWKS fetches: bounded in time and redirects.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("fhir-server/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

struct Entry {
    keys: Arc<JwkSet>,
    fetched: Instant,
    max_age: Duration,
    forced: Option<Instant>,
}

/// JWK Sets by URL.
pub struct JwksCache {
    http: reqwest::Client,
    entries: Mutex<HashMap<String, Entry>>,
}

impl JwksCache {
    /// An empty cache.
    pub fn new(http: reqwest::Client) -> Self {
        JwksCache { http, entries: Mutex::new(HashMap::new()) }
    }

    /// The keys at `url`, from the cache while fresh.
    pub async fn get(&self, url: &str) -> Result<Arc<JwkSet>, String> {
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get(url).filter(|e| e.fetched.elapsed() < e.max_age) {
                return Ok(e.keys.clone());
            }
        }
        self.fetch(url, None).await
    }

    /// The keys fetched anew because a token names a kid the cached set lacks; None when a fetch
    /// for that reason happened less than a minute ago (or failed).
    pub async fn refetch_for_unknown_kid(&self, url: &str) -> Option<Arc<JwkSet>> {
        let now = Instant::now();
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get_mut(url) {
                if e.forced.is_some_and(|t| t.elapsed() < UNKNOWN_KID_REFETCH) {
                    return None;
                }
                e.forced = Some(now);
            }
        }
        match self.fetch(url, Some(now)).await {
            Ok(keys) => Some(keys),
            Err(e) => {
                tracing::warn!(url, error = %e, "fetching a JWK Set failed");
                None
            }
        }
    }

    async fn fetch(&self, url: &str, forced: Option<Instant>) -> Result<Arc<JwkSet>, String> {
        let response = self.http.get(url).header("accept", "application/json").send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let max_age = cache_time(response.headers().get("cache-control").and_then(|v| v.to_str().ok()));
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_BYTES {
            return Err(format!("{url} sent more than {MAX_BYTES} bytes"));
        }
        let text = std::str::from_utf8(&body).map_err(|_| format!("{url} sent no UTF-8 text"))?;
        let keys = Arc::new(smart_auth::parse_jwks(text).map_err(|e| e.to_string())?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let forced = forced.or_else(|| entries.get(url).and_then(|e| e.forced));
        entries.insert(url.to_string(), Entry { keys: keys.clone(), fetched: Instant::now(), max_age, forced });
        Ok(keys)
    }
}

/// How long a response may be cached: `max-age` (capped), nothing for `no-store`/`no-cache`,
/// [`DEFAULT_MAX_AGE`] when the header is absent.
fn cache_time(header: Option<&str>) -> Duration {
    let Some(header) = header else { return DEFAULT_MAX_AGE };
    let mut max_age = None;
    for directive in header.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(secs) = directive.strip_prefix("max-age=").and_then(|s| s.trim_matches('"').parse::<u64>().ok()) {
            max_age = Some(Duration::from_secs(secs));
        }
    }
    max_age.unwrap_or(DEFAULT_MAX_AGE).min(LONGEST_MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_time_follows_cache_control() {
        assert_eq!(cache_time(None), DEFAULT_MAX_AGE);
        assert_eq!(cache_time(Some("public, max-age=120")), Duration::from_secs(120));
        assert_eq!(cache_time(Some("max-age=0")), Duration::ZERO);
        assert_eq!(cache_time(Some("no-store")), Duration::ZERO);
        assert_eq!(cache_time(Some("max-age=600, no-cache")), Duration::ZERO);
        assert_eq!(cache_time(Some("max-age=99999999")), LONGEST_MAX_AGE);
        assert_eq!(cache_time(Some("private")), DEFAULT_MAX_AGE);
    }
}
