//! Instants as microseconds since the Unix epoch (UTC), the unit every stored time uses.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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

/// The inclusive µs range a FHIR date, dateTime or instant of any precision covers
/// (`2024` covers the whole year). A value without a time zone is taken as UTC.
pub fn fhir_date_range(s: &str) -> Option<(i64, i64)> {
    let micros = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1000) as i64;
    let ymd = |y: &str, m: &str, d: &str| -> Option<Date> {
        Date::from_calendar_date(y.parse().ok()?, Month::try_from(m.parse::<u8>().ok()?).ok()?, d.parse().ok()?).ok()
    };
    match s.len() {
        4 if s.bytes().all(|b| b.is_ascii_digit()) => {
            let y: i32 = s.parse().ok()?;
            let lo = Date::from_calendar_date(y, Month::January, 1).ok()?;
            let hi = Date::from_calendar_date(y + 1, Month::January, 1).ok()?;
            Some((micros(lo.midnight().assume_utc()), micros(hi.midnight().assume_utc()) - 1))
        }
        7 if s.as_bytes()[4] == b'-' => {
            let lo = ymd(&s[0..4], &s[5..7], "01")?;
            let next = if lo.month() == Month::December {
                Date::from_calendar_date(lo.year() + 1, Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(lo.year(), lo.month().next(), 1).ok()?
            };
            Some((micros(lo.midnight().assume_utc()), micros(next.midnight().assume_utc()) - 1))
        }
        10 => {
            let d = ymd(&s[0..4], &s[5..7], &s[8..10])?;
            let lo = micros(d.midnight().assume_utc());
            Some((lo, lo + 86_400_000_000 - 1))
        }
        _ => {
            if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
                let lo = micros(t);
                // Seconds-precision values cover the whole second.
                let has_fraction = s.get(19..20) == Some(".");
                return Some((lo, if has_fraction { lo } else { lo + 999_999 }));
            }
            // dateTime without zone, or hh:mm without seconds.
            let d = ymd(s.get(0..4)?, s.get(5..7)?, s.get(8..10)?)?;
            let rest = s.get(11..)?;
            let (hms, off) = split_zone(rest);
            let parts: Vec<&str> = hms.split(':').collect();
            let h: u8 = parts.first()?.parse().ok()?;
            let mi: u8 = parts.get(1)?.parse().ok()?;
            let (sec, frac, width) = match parts.get(2) {
                Some(p) => {
                    let (a, b) = p.split_once('.').unwrap_or((p, ""));
                    let mut f: u32 = if b.is_empty() { 0 } else { format!("{:0<6}", &b[..b.len().min(6)]).parse().ok()? };
                    if b.len() > 6 {
                        f = f.min(999_999);
                    }
                    (a.parse::<u8>().ok()?, f, if b.is_empty() { 999_999 } else { 0 })
                }
                None => (0, 0, 59_999_999),
            };
            let t = PrimitiveDateTime::new(d, Time::from_hms_micro(h, mi, sec, frac).ok()?).assume_offset(off?);
            let lo = micros(t);
            Some((lo, lo + width))
        }
    }
}

fn split_zone(s: &str) -> (&str, Option<UtcOffset>) {
    if let Some(x) = s.strip_suffix('Z') {
        return (x, Some(UtcOffset::UTC));
    }
    if let Some(pos) = s.rfind(['+', '-']) {
        let (a, z) = s.split_at(pos);
        let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
        let off = UtcOffset::from_hms(sign * h.parse::<i8>().unwrap_or(0), sign * m.parse::<i8>().unwrap_or(0), 0).ok();
        return (a, off);
    }
    (s, Some(UtcOffset::UTC))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranges_follow_precision() {
        let (lo, hi) = fhir_date_range("2021").unwrap();
        assert_eq!(fhir_instant(lo), "2021-01-01T00:00:00.000000Z");
        assert_eq!(fhir_instant(hi), "2021-12-31T23:59:59.999999Z");
        let (lo, hi) = fhir_date_range("2020-02").unwrap();
        assert_eq!(fhir_instant(lo), "2020-02-01T00:00:00.000000Z");
        assert_eq!(fhir_instant(hi), "2020-02-29T23:59:59.999999Z");
        let (lo, hi) = fhir_date_range("2021-03-04T05:06:07+02:00").unwrap();
        assert_eq!(fhir_instant(lo), "2021-03-04T03:06:07.000000Z");
        assert_eq!(hi - lo, 999_999);
        let (lo, hi) = fhir_date_range("2021-03-04T05:06:07.5Z").unwrap();
        assert_eq!(lo, hi);
        assert!(fhir_date_range("2021-13-01").is_none());
        assert!(fhir_date_range("garbage").is_none());
    }
}
