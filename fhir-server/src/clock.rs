//! Instants as microseconds since the Unix epoch (UTC), the unit every stored time uses.

use time::OffsetDateTime;

/// Now, in µs.
pub fn now_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

fn to_odt(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A FHIR `instant` (`2024-01-02T03:04:05.123456Z`), as written into `meta.lastUpdated`.
pub fn fhir_instant(micros: i64) -> String {
    let t = to_odt(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// An HTTP date (`Last-Modified`), second resolution.
pub fn http_date(micros: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64))
}

/// Parses an HTTP date (`If-Modified-Since`) to µs.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn instants_and_http_dates_round_trip() {
        let t = 1_700_000_000_123_456;
        assert_eq!(fhir_instant(t), "2023-11-14T22:13:20.123456Z");
        assert_eq!(http_date(t), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(parse_http_date(&http_date(t)), Some(t - 123_456));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
