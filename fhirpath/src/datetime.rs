//! System.Date, System.DateTime and System.Time with partial precision, their comparison
//! (which is undefined across different precisions), calendar arithmetic and boundaries.

use std::cmp::Ordering;
use std::fmt;

/// How much of a date/time value is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// Year only.
    Year,
    /// Year and month.
    Month,
    /// Full date.
    Day,
    /// Date and hour.
    Hour,
    /// Up to minutes.
    Minute,
    /// Up to seconds.
    Second,
    /// Up to milliseconds.
    Millisecond,
}

/// The shared fields of the three temporal types; unused fields are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    milli: u16,
    prec: Precision,
    /// Offset from UTC in minutes, when given.
    tz: Option<i16>,
}

impl Parts {
    const ZERO: Parts =
        Parts { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, milli: 0, prec: Precision::Year, tz: None };
}

/// A System.Date (precision year, month or day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(Parts);

/// A System.DateTime (any precision, optional offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(Parts);

/// A System.Time (precision hour to millisecond, no offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(Parts);

fn num(s: &str, len: usize) -> Option<(u32, &str)> {
    if s.len() < len || !s.as_bytes()[..len].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((s[..len].parse().ok()?, &s[len..]))
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// Parses `YYYY(-MM(-DD)?)?` into parts; returns the rest.
fn parse_date_part(s: &str) -> Option<(Parts, &str)> {
    let (y, mut rest) = num(s, 4)?;
    let mut p = Parts { year: y as i32, prec: Precision::Year, ..Parts::ZERO };
    if let Some(r) = rest.strip_prefix('-') {
        let (m, r) = num(r, 2)?;
        if !(1..=12).contains(&m) {
            return None;
        }
        p.month = m as u8;
        p.prec = Precision::Month;
        rest = r;
        if let Some(r) = rest.strip_prefix('-') {
            let (d, r) = num(r, 2)?;
            if d < 1 || d > days_in_month(p.year, p.month) as u32 {
                return None;
            }
            p.day = d as u8;
            p.prec = Precision::Day;
            rest = r;
        }
    }
    Some((p, rest))
}

/// Parses `HH(:MM(:SS(.f+)?)?)?` into `p`; returns the rest.
fn parse_time_part<'s>(s: &'s str, p: &mut Parts) -> Option<&'s str> {
    let (h, mut rest) = num(s, 2)?;
    if h > 23 {
        return None;
    }
    p.hour = h as u8;
    p.prec = Precision::Hour;
    if let Some(r) = rest.strip_prefix(':') {
        let (mi, r) = num(r, 2)?;
        if mi > 59 {
            return None;
        }
        p.minute = mi as u8;
        p.prec = Precision::Minute;
        rest = r;
        if let Some(r) = rest.strip_prefix(':') {
            let (sec, r) = num(r, 2)?;
            if sec > 59 {
                return None;
            }
            p.second = sec as u8;
            p.prec = Precision::Second;
            rest = r;
            if let Some(r) = rest.strip_prefix('.') {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return None;
                }
                // Digits past milliseconds are dropped: the types carry millisecond precision.
                let mut ms = 0u32;
                for (i, c) in r[..n].bytes().take(3).enumerate() {
                    ms += (c - b'0') as u32 * [100, 10, 1][i];
                }
                p.milli = ms as u16;
                p.prec = Precision::Millisecond;
                rest = &r[n..];
            }
        }
    }
    Some(rest)
}

fn parse_tz(s: &str) -> Option<(Option<i16>, &str)> {
    if let Some(r) = s.strip_prefix('Z') {
        return Some((Some(0), r));
    }
    let sign = match s.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Some((None, s)),
    };
    let (h, r) = num(&s[1..], 2)?;
    let r = r.strip_prefix(':')?;
    let (m, r) = num(r, 2)?;
    if h > 14 || m > 59 {
        return None;
    }
    Some((Some(sign * (h * 60 + m) as i16), r))
}

impl Date {
    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let (p, rest) = parse_date_part(s)?;
        rest.is_empty().then_some(Date(p))
    }

    /// The date's precision.
    pub fn precision(&self) -> Precision {
        self.0.prec
    }

    /// This date as a DateTime of the same precision (no offset).
    pub fn to_datetime(self) -> DateTime {
        DateTime(self.0)
    }

    /// Builds a full date.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Date {
        Date(Parts { year, month, day, prec: Precision::Day, ..Parts::ZERO })
    }
}

impl DateTime {
    /// Parses an ISO date-time with optional `T`, time, fraction and offset (FHIR and FHIRPath forms).
    pub fn parse(s: &str) -> Option<DateTime> {
        let (mut p, rest) = parse_date_part(s)?;
        let rest = match rest.strip_prefix('T') {
            Some(r) if p.prec == Precision::Day => {
                if r.is_empty() {
                    r
                } else {
                    let r = parse_time_part(r, &mut p)?;
                    let (tz, r) = parse_tz(r)?;
                    p.tz = tz;
                    r
                }
            }
            Some(r) if r.is_empty() => r,
            Some(_) => return None,
            None => rest,
        };
        rest.is_empty().then_some(DateTime(p))
    }

    /// Parses the text of an `@...T...` literal.
    pub fn parse_literal(s: &str) -> Option<DateTime> {
        Self::parse(s)
    }

    /// The precision.
    pub fn precision(&self) -> Precision {
        self.0.prec
    }

    /// The date part, at most day precision.
    pub fn date(&self) -> Date {
        let mut p = self.0;
        p.prec = p.prec.min(Precision::Day);
        p.hour = 0;
        p.minute = 0;
        p.second = 0;
        p.milli = 0;
        p.tz = None;
        Date(p)
    }

    /// The time part, if the value has one.
    pub fn time(&self) -> Option<Time> {
        (self.0.prec >= Precision::Hour).then(|| {
            let mut p = self.0;
            p.year = 0;
            p.month = 1;
            p.day = 1;
            p.tz = None;
            Time(p)
        })
    }

    /// A millisecond-precision value from a Unix time in milliseconds and an offset in minutes.
    pub fn from_unix_millis(ms: i64, offset_minutes: i16) -> DateTime {
        let local = ms + offset_minutes as i64 * 60_000;
        let days = local.div_euclid(86_400_000);
        let rem = local.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        DateTime(Parts {
            year,
            month,
            day,
            hour: (rem / 3_600_000) as u8,
            minute: (rem / 60_000 % 60) as u8,
            second: (rem / 1000 % 60) as u8,
            milli: (rem % 1000) as u16,
            prec: Precision::Millisecond,
            tz: Some(offset_minutes),
        })
    }
}

impl Time {
    /// Parses `HH(:MM(:SS(.fff)?)?)?`.
    pub fn parse(s: &str) -> Option<Time> {
        let mut p = Parts::ZERO;
        let rest = parse_time_part(s, &mut p)?;
        rest.is_empty().then_some(Time(p))
    }

    /// The precision.
    pub fn precision(&self) -> Precision {
        self.0.prec
    }
}

fn write_date(f: &mut fmt::Formatter<'_>, p: &Parts) -> fmt::Result {
    if p.year < 0 {
        write!(f, "-{:04}", -p.year)?;
    } else {
        write!(f, "{:04}", p.year)?;
    }
    if p.prec >= Precision::Month {
        write!(f, "-{:02}", p.month)?;
    }
    if p.prec >= Precision::Day {
        write!(f, "-{:02}", p.day)?;
    }
    Ok(())
}

fn write_time(f: &mut fmt::Formatter<'_>, p: &Parts) -> fmt::Result {
    write!(f, "{:02}", p.hour)?;
    if p.prec >= Precision::Minute {
        write!(f, ":{:02}", p.minute)?;
    }
    if p.prec >= Precision::Second {
        write!(f, ":{:02}", p.second)?;
    }
    if p.prec >= Precision::Millisecond {
        write!(f, ".{:03}", p.milli)?;
    }
    Ok(())
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_date(f, &self.0)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        write_date(f, p)?;
        if p.prec >= Precision::Hour {
            f.write_str("T")?;
            write_time(f, p)?;
            match p.tz {
                Some(0) => f.write_str("Z")?,
                Some(m) => write!(f, "{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60)?,
                None => {}
            }
        }
        Ok(())
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_time(f, &self.0)
    }
}

/// Milliseconds since the epoch of the known part (missing parts at their minimum), in UTC if an offset is known.
fn instant(p: &Parts) -> i64 {
    let days = days_from_civil(p.year, p.month, p.day);
    let ms = days * 86_400_000
        + p.hour as i64 * 3_600_000
        + p.minute as i64 * 60_000
        + p.second as i64 * 1000
        + p.milli as i64;
    ms - p.tz.unwrap_or(0) as i64 * 60_000
}

/// Seconds and milliseconds count as one precision when comparing.
fn cmp_prec(p: Precision) -> Precision {
    p.min(Precision::Second)
}

/// Normalises a value to UTC, keeping its precision.
fn to_utc(p: &Parts) -> Parts {
    match p.tz {
        Some(tz) if tz != 0 && p.prec >= Precision::Hour => {
            let mut q = DateTime::from_unix_millis(instant(p), 0).0;
            q.prec = p.prec;
            q
        }
        _ => *p,
    }
}

/// Compares two values field by field; `None` when the answer depends on the unknown parts.
fn compare_parts(a: &Parts, b: &Parts, with_date: bool) -> Option<Ordering> {
    let timed = a.prec >= Precision::Hour && b.prec >= Precision::Hour;
    if timed && a.tz.is_some() != b.tz.is_some() {
        return None;
    }
    let (a, b) = if timed { (to_utc(a), to_utc(b)) } else { (*a, *b) };
    let pa = cmp_prec(a.prec);
    let pb = cmp_prec(b.prec);
    let common = pa.min(pb);
    let fields: [(Precision, i64, i64); 6] = [
        (Precision::Year, a.year as i64, b.year as i64),
        (Precision::Month, a.month as i64, b.month as i64),
        (Precision::Day, a.day as i64, b.day as i64),
        (Precision::Hour, a.hour as i64, b.hour as i64),
        (Precision::Minute, a.minute as i64, b.minute as i64),
        (
            Precision::Second,
            a.second as i64 * 1000 + a.milli as i64,
            b.second as i64 * 1000 + b.milli as i64,
        ),
    ];
    for (prec, x, y) in fields {
        if !with_date && prec <= Precision::Day {
            continue;
        }
        if prec > common {
            break;
        }
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return Some(o),
        }
    }
    (pa == pb).then_some(Ordering::Equal)
}

impl Date {
    /// Ordering, `None` when precisions differ and the known parts are equal.
    pub fn compare(&self, other: &Date) -> Option<Ordering> {
        compare_parts(&self.0, &other.0, true)
    }
}

impl DateTime {
    /// Ordering, `None` when undecidable (different precision, offset known on one side only).
    pub fn compare(&self, other: &DateTime) -> Option<Ordering> {
        compare_parts(&self.0, &other.0, true)
    }

    /// Equivalence: same precision and same instant.
    pub fn equivalent(&self, other: &DateTime) -> bool {
        cmp_prec(self.0.prec) == cmp_prec(other.0.prec) && self.compare(other) == Some(Ordering::Equal)
    }
}

impl Time {
    /// Ordering, `None` when precisions differ and the known parts are equal.
    pub fn compare(&self, other: &Time) -> Option<Ordering> {
        compare_parts(&self.0, &other.0, false)
    }
}

/// A calendar duration unit for date arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl CalUnit {
    /// The unit for arithmetic: calendar keywords and the definite UCUM time units.
    /// UCUM `a` and `mo` are averages, not calendar units, so they are refused.
    pub fn from_unit(unit: &str) -> Option<CalUnit> {
        Some(match unit {
            "year" | "years" => CalUnit::Year,
            "month" | "months" => CalUnit::Month,
            "week" | "weeks" | "wk" => CalUnit::Week,
            "day" | "days" | "d" => CalUnit::Day,
            "hour" | "hours" | "h" => CalUnit::Hour,
            "minute" | "minutes" | "min" => CalUnit::Minute,
            "second" | "seconds" | "s" => CalUnit::Second,
            "millisecond" | "milliseconds" | "ms" => CalUnit::Millisecond,
            _ => return None,
        })
    }
}

fn add_months(p: &mut Parts, months: i64) -> Option<()> {
    let total = p.year as i64 * 12 + (p.month as i64 - 1) + months;
    let year = total.div_euclid(12);
    if !(1..=9999).contains(&year) {
        return None;
    }
    p.year = year as i32;
    p.month = (total.rem_euclid(12) + 1) as u8;
    p.day = p.day.min(days_in_month(p.year, p.month));
    Some(())
}

fn add_millis(p: &mut Parts, ms: i64, with_date: bool) -> Option<()> {
    let base = if with_date { days_from_civil(p.year, p.month, p.day) } else { 0 } * 86_400_000
        + p.hour as i64 * 3_600_000
        + p.minute as i64 * 60_000
        + p.second as i64 * 1000
        + p.milli as i64;
    let t = base.checked_add(ms)?;
    let rem = t.rem_euclid(86_400_000);
    if with_date {
        let (y, m, d) = civil_from_days(t.div_euclid(86_400_000));
        if !(1..=9999).contains(&y) {
            return None;
        }
        p.year = y;
        p.month = m;
        p.day = d;
    }
    p.hour = (rem / 3_600_000) as u8;
    p.minute = (rem / 60_000 % 60) as u8;
    p.second = (rem / 1000 % 60) as u8;
    p.milli = (rem % 1000) as u16;
    Some(())
}

/// Adds `n` units to a value of precision `p.prec`; units finer than the precision are
/// converted to the precision's unit and truncated (7.7 days on a Date is 7 days).
fn add_parts(mut p: Parts, n: i64, unit: CalUnit, with_date: bool) -> Option<Parts> {
    use CalUnit::*;
    let prec = p.prec;
    match unit {
        Year | Month if !with_date => return None,
        Year => add_months(&mut p, n.checked_mul(12)?)?,
        Month => {
            if prec == Precision::Year {
                add_months(&mut p, n / 12 * 12)?
            } else {
                add_months(&mut p, n)?
            }
        }
        _ => {
            let ms = match unit {
                Week => n.checked_mul(7 * 86_400_000)?,
                Day => n.checked_mul(86_400_000)?,
                Hour => n.checked_mul(3_600_000)?,
                Minute => n.checked_mul(60_000)?,
                Second => n.checked_mul(1000)?,
                _ => n,
            };
            let step: i64 = match prec {
                Precision::Year => 365 * 86_400_000,
                Precision::Month => 30 * 86_400_000,
                Precision::Day => 86_400_000,
                Precision::Hour => 3_600_000,
                Precision::Minute => 60_000,
                Precision::Second => 1000,
                Precision::Millisecond => 1,
            };
            let ms = ms / step;
            match prec {
                Precision::Year => add_months(&mut p, ms * 12)?,
                Precision::Month => add_months(&mut p, ms)?,
                _ => add_millis(&mut p, ms * step, with_date)?,
            }
        }
    }
    Some(p)
}

impl Date {
    /// Calendar arithmetic; `None` if out of range.
    pub fn add(&self, n: i64, unit: CalUnit) -> Option<Date> {
        add_parts(self.0, n, unit, true).map(Date)
    }
}

impl DateTime {
    /// Calendar arithmetic; `None` if out of range.
    pub fn add(&self, n: i64, unit: CalUnit) -> Option<DateTime> {
        add_parts(self.0, n, unit, true).map(DateTime)
    }
}

impl Time {
    /// Clock arithmetic (wraps at midnight); `None` for year/month units.
    pub fn add(&self, n: i64, unit: CalUnit) -> Option<Time> {
        if matches!(unit, CalUnit::Week | CalUnit::Day) {
            return None;
        }
        add_parts(self.0, n, unit, false).map(Time)
    }
}

/// The number of digits FHIRPath's `precision()` reports for a precision.
fn digits_of(prec: Precision) -> i64 {
    match prec {
        Precision::Year => 4,
        Precision::Month => 6,
        Precision::Day => 8,
        Precision::Hour => 10,
        Precision::Minute => 12,
        Precision::Second => 14,
        Precision::Millisecond => 17,
    }
}

fn prec_of_digits(d: i64) -> Option<Precision> {
    Some(match d {
        4 => Precision::Year,
        6 => Precision::Month,
        8 => Precision::Day,
        10 => Precision::Hour,
        12 => Precision::Minute,
        14 => Precision::Second,
        17 => Precision::Millisecond,
        _ => return None,
    })
}

/// Fills the unknown parts of `p` with their lowest (`high == false`) or highest values.
fn fill(mut p: Parts, high: bool, with_date: bool) -> Parts {
    let prec = p.prec;
    if with_date {
        if prec < Precision::Month {
            p.month = if high { 12 } else { 1 };
        }
        if prec < Precision::Day {
            p.day = if high { days_in_month(p.year, p.month) } else { 1 };
        }
    }
    if prec < Precision::Hour {
        p.hour = if high { 23 } else { 0 };
    }
    if prec < Precision::Minute {
        p.minute = if high { 59 } else { 0 };
    }
    if prec < Precision::Second {
        p.second = if high { 59 } else { 0 };
    }
    if prec < Precision::Millisecond {
        p.milli = if high { 999 } else { 0 };
    }
    p.prec = Precision::Millisecond;
    p
}

impl Date {
    /// `precision()`: 4, 6 or 8.
    pub fn precision_digits(&self) -> i64 {
        digits_of(self.0.prec)
    }

    /// `lowBoundary()` / `highBoundary()` at `digits` (default 8); `None` for an invalid precision.
    pub fn boundary(&self, high: bool, digits: Option<i64>) -> Option<DateOrDateTime> {
        let prec = prec_of_digits(digits.unwrap_or(8))?;
        let mut p = fill(self.0, high, true);
        if prec <= Precision::Day {
            p.prec = prec;
            return Some(DateOrDateTime::Date(Date(p)));
        }
        p.prec = prec;
        p.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        Some(DateOrDateTime::DateTime(DateTime(p)))
    }
}

/// Result of a date boundary, which may be finer than a date.
pub enum DateOrDateTime {
    /// A date.
    Date(Date),
    /// A date-time.
    DateTime(DateTime),
}

impl DateTime {
    /// `precision()`: 4 to 17.
    pub fn precision_digits(&self) -> i64 {
        digits_of(self.0.prec)
    }

    /// `lowBoundary()` / `highBoundary()` at `digits` (default 17); an unknown offset becomes
    /// the widest one (+14:00 low, -12:00 high).
    pub fn boundary(&self, high: bool, digits: Option<i64>) -> Option<DateTime> {
        let prec = prec_of_digits(digits.unwrap_or(17))?;
        let mut src = self.0;
        // An hour alone is not a FHIR time: read `T08` as `T08:00`.
        if src.prec == Precision::Hour {
            src.prec = Precision::Minute;
        }
        let mut p = fill(src, high, true);
        if p.tz.is_none() {
            p.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        p.prec = prec;
        if prec <= Precision::Day {
            p.tz = None;
        }
        Some(DateTime(p))
    }
}

impl Time {
    /// `precision()`: 2, 4, 6 or 9.
    pub fn precision_digits(&self) -> i64 {
        match self.0.prec {
            Precision::Hour => 2,
            Precision::Minute => 4,
            Precision::Second => 6,
            _ => 9,
        }
    }

    /// `lowBoundary()` / `highBoundary()` at `digits` (default 9).
    pub fn boundary(&self, high: bool, digits: Option<i64>) -> Option<Time> {
        let prec = match digits.unwrap_or(9) {
            2 => Precision::Hour,
            4 => Precision::Minute,
            6 => Precision::Second,
            9 => Precision::Millisecond,
            _ => return None,
        };
        let mut p = fill(self.0, high, false);
        p.prec = prec;
        Some(Time(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for s in ["2015", "2015-02", "2015-02-04", "2015-02-04T14", "2015-02-04T14:34:28.123+10:00", "2015-02-04T14:34Z"] {
            assert_eq!(DateTime::parse(s).map(|d| d.to_string()).as_deref(), Some(s));
        }
        assert!(Date::parse("2015-02-30").is_none());
        assert_eq!(Time::parse("14:34:28.1").map(|t| t.to_string()).as_deref(), Some("14:34:28.100"));
    }

    #[test]
    fn comparison_with_offsets_and_precision() {
        let a = DateTime::parse("2017-11-05T01:30:00.0-04:00").unwrap();
        let b = DateTime::parse("2017-11-05T01:15:00.0-05:00").unwrap();
        assert_eq!(a.compare(&b), Some(Ordering::Less));
        let c = DateTime::parse("2018-03-01T10:30").unwrap();
        let d = DateTime::parse("2018-03-01T10:30:00").unwrap();
        assert_eq!(c.compare(&d), None);
    }

    #[test]
    fn month_arithmetic_clamps() {
        let d = Date::parse("2020-01-31").unwrap();
        assert_eq!(d.add(1, CalUnit::Month).unwrap().to_string(), "2020-02-29");
    }
}
