//! A hand-written subset of UCUM: common atoms with SI prefixes, products, quotients,
//! exponents and annotations, reduced to a factor and a dimension vector so that
//! `4 'g' = 4000 'mg'` and `2 'cm' * 2 'm' = 0.04 'm2'` hold.
//!
//! Special (non-ratio) units such as `Cel` and `[degF]` are not converted: they are only
//! comparable with themselves.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Dimensions: length, time, mass, angle, temperature, charge, luminosity, amount,
/// calendar month (so calendar years/months stay apart from UCUM `a`/`mo`).
pub(crate) type Dims = [i8; 9];

/// A unit reduced to base units.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Canonical {
    pub factor: Decimal,
    pub dims: Dims,
}

const L: usize = 0;
const T: usize = 1;
const M: usize = 2;
const A: usize = 3;
const K: usize = 4;
const Q: usize = 5;
const C: usize = 6;
const N: usize = 7;
const CAL: usize = 8;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or(Decimal::ONE)
}

fn dims(pairs: &[(usize, i8)]) -> Dims {
    let mut out = [0; 9];
    for &(i, e) in pairs {
        out[i] = e;
    }
    out
}

/// Atom: (code, metric?, factor, dims).
fn atom(code: &str) -> Option<(bool, Canonical)> {
    let c = |f: &str, p: &[(usize, i8)]| Canonical { factor: d(f), dims: dims(p) };
    // Derived SI units in base terms (g, m, s).
    let newton: &[(usize, i8)] = &[(M, 1), (L, 1), (T, -2)];
    let pascal: &[(usize, i8)] = &[(M, 1), (L, -1), (T, -2)];
    let joule: &[(usize, i8)] = &[(M, 1), (L, 2), (T, -2)];
    let watt: &[(usize, i8)] = &[(M, 1), (L, 2), (T, -3)];
    Some(match code {
        "m" => (true, c("1", &[(L, 1)])),
        "s" => (true, c("1", &[(T, 1)])),
        "g" => (true, c("1", &[(M, 1)])),
        "rad" => (true, c("1", &[(A, 1)])),
        "K" => (true, c("1", &[(K, 1)])),
        "C" => (true, c("1", &[(Q, 1)])),
        "cd" => (true, c("1", &[(C, 1)])),
        "mol" => (true, c("1", &[(N, 1)])),
        "eq" => (true, c("1", &[(N, 1)])),
        "osm" => (true, c("1", &[(N, 1)])),
        "L" | "l" => (true, c("0.001", &[(L, 3)])),
        "t" => (true, c("1000000", &[(M, 1)])),
        "Hz" => (true, c("1", &[(T, -1)])),
        "Bq" => (true, c("1", &[(T, -1)])),
        "N" => (true, c("1000", newton)),
        "Pa" => (true, c("1000", pascal)),
        "bar" => (true, c("100000000", pascal)),
        "J" => (true, c("1000", joule)),
        "cal" => (true, c("4184", joule)),
        "W" => (true, c("1000", watt)),
        "A" => (true, c("1", &[(Q, 1), (T, -1)])),
        "V" => (true, c("1000", &[(M, 1), (L, 2), (T, -2), (Q, -1)])),
        "Ohm" => (true, c("1000", &[(M, 1), (L, 2), (T, -1), (Q, -2)])),
        "kat" => (true, c("1", &[(N, 1), (T, -1)])),
        "U" => (true, c("0.0000000166666666666666666667", &[(N, 1), (T, -1)])),
        "sr" => (true, c("1", &[(A, 2)])),
        "Gy" => (true, c("1", &[(L, 2), (T, -2)])),
        "Sv" => (true, c("1", &[(L, 2), (T, -2)])),
        "m[Hg]" => (true, c("133322387.415", pascal)),
        "m[H2O]" => (true, c("9806650", pascal)),
        "atm" => (false, c("101325000", pascal)),
        "min" => (false, c("60", &[(T, 1)])),
        "h" => (false, c("3600", &[(T, 1)])),
        "d" => (false, c("86400", &[(T, 1)])),
        "wk" => (false, c("604800", &[(T, 1)])),
        "mo" => (false, c("2629800", &[(T, 1)])),
        "a" => (false, c("31557600", &[(T, 1)])),
        "deg" => (false, c("0.0174532925199432957692369077", &[(A, 1)])),
        "%" => (false, c("0.01", &[])),
        "[ppm]" => (false, c("0.000001", &[])),
        "[ppb]" => (false, c("0.000000001", &[])),
        "[lb_av]" => (false, c("453.59237", &[(M, 1)])),
        "[oz_av]" => (false, c("28.349523125", &[(M, 1)])),
        "[in_i]" => (false, c("0.0254", &[(L, 1)])),
        "[ft_i]" => (false, c("0.3048", &[(L, 1)])),
        "[yd_i]" => (false, c("0.9144", &[(L, 1)])),
        "[mi_i]" => (false, c("1609.344", &[(L, 1)])),
        "[gal_us]" => (false, c("0.003785411784", &[(L, 3)])),
        "[qt_us]" => (false, c("0.000946352946", &[(L, 3)])),
        "[pt_us]" => (false, c("0.000473176473", &[(L, 3)])),
        "[foz_us]" => (false, c("0.0000295735295625", &[(L, 3)])),
        "[drp]" => (false, c("0.00000005", &[(L, 3)])),
        "[tsp_us]" => (false, c("0.00000492892159375", &[(L, 3)])),
        "[tbs_us]" => (false, c("0.00001478676478125", &[(L, 3)])),
        "[pi]" => (false, c("3.1415926535897932384626433833", &[])),
        // Calendar durations of FHIRPath: weeks and below equal their UCUM units, years and
        // months are calendar units that UCUM `a`/`mo` are not comparable with.
        "year" | "years" => (false, c("12", &[(CAL, 1)])),
        "month" | "months" => (false, c("1", &[(CAL, 1)])),
        "week" | "weeks" => (false, c("604800", &[(T, 1)])),
        "day" | "days" => (false, c("86400", &[(T, 1)])),
        "hour" | "hours" => (false, c("3600", &[(T, 1)])),
        "minute" | "minutes" => (false, c("60", &[(T, 1)])),
        "second" | "seconds" => (false, c("1", &[(T, 1)])),
        "millisecond" | "milliseconds" => (false, c("0.001", &[(T, 1)])),
        _ => return None,
    })
}

fn prefix(p: &str) -> Option<Decimal> {
    let e: i32 = match p {
        "Y" => 24,
        "Z" => 21,
        "E" => 18,
        "P" => 15,
        "T" => 12,
        "G" => 9,
        "M" => 6,
        "k" => 3,
        "h" => 2,
        "da" => 1,
        "d" => -1,
        "c" => -2,
        "m" => -3,
        "u" => -6,
        "n" => -9,
        "p" => -12,
        "f" => -15,
        "a" => -18,
        "z" => -21,
        "y" => -24,
        _ => return None,
    };
    pow10(e)
}

fn pow10(e: i32) -> Option<Decimal> {
    if e >= 0 {
        let mut v = Decimal::ONE;
        for _ in 0..e {
            v = v.checked_mul(Decimal::TEN)?;
        }
        Some(v)
    } else if e >= -28 {
        Some(Decimal::new(1, (-e) as u32))
    } else {
        None
    }
}

/// A simple unit: an atom, or a prefix and a metric atom.
fn simple(s: &str) -> Option<Canonical> {
    if let Some((_, c)) = atom(s) {
        return Some(c);
    }
    for n in [1, 2] {
        if s.len() > n && s.is_char_boundary(n) {
            let (p, rest) = s.split_at(n);
            if let (Some(f), Some((true, c))) = (prefix(p), atom(rest)) {
                return Some(Canonical { factor: c.factor * f, dims: c.dims });
            }
        }
    }
    None
}

struct P<'s> {
    s: &'s str,
    i: usize,
}

impl<'s> P<'s> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn term(&mut self, depth: usize) -> Option<Canonical> {
        if depth > 10 {
            return None;
        }
        let mut acc = Canonical { factor: Decimal::ONE, dims: [0; 9] };
        let mut op = b'.';
        if self.peek() == Some(b'/') {
            self.i += 1;
            op = b'/';
        }
        loop {
            let comp = self.component(depth)?;
            acc = combine(&acc, &comp, op == b'/')?;
            match self.peek() {
                Some(c @ (b'.' | b'/')) => {
                    self.i += 1;
                    op = c;
                }
                _ => return Some(acc),
            }
        }
    }

    fn component(&mut self, depth: usize) -> Option<Canonical> {
        let mut base = if self.peek() == Some(b'(') {
            self.i += 1;
            let t = self.term(depth + 1)?;
            if self.peek() != Some(b')') {
                return None;
            }
            self.i += 1;
            t
        } else if self.peek() == Some(b'{') {
            self.annotation()?;
            return Some(Canonical { factor: Decimal::ONE, dims: [0; 9] });
        } else {
            let start = self.i;
            let b = self.s.as_bytes();
            // Leading digits: a number factor (`10*3`, `1000`) or part of nothing else.
            if b.get(self.i).is_some_and(u8::is_ascii_digit) {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let n = Decimal::from_str(&self.s[start..self.i]).ok()?;
                if matches!(self.peek(), Some(b'*') | Some(b'^')) {
                    self.i += 1;
                    let e = self.exponent().unwrap_or(1);
                    let f = if n == Decimal::TEN { pow10(e)? } else { return None };
                    return Some(Canonical { factor: f, dims: [0; 9] });
                }
                Canonical { factor: n, dims: [0; 9] }
            } else {
                let mut depth_br = 0;
                while let Some(c) = self.peek() {
                    if c == b'[' {
                        depth_br += 1;
                    } else if c == b']' {
                        depth_br -= 1;
                    } else if depth_br == 0 && (matches!(c, b'.' | b'/' | b'(' | b')' | b'{' | b'+' | b'-') || c.is_ascii_digit()) {
                        break;
                    }
                    self.i += 1;
                }
                let code = self.s.get(start..self.i)?;
                if code.is_empty() {
                    return None;
                }
                let c = simple(code)?;
                let e = self.exponent();
                match e {
                    Some(e) => power(&c, e)?,
                    None => c,
                }
            }
        };
        if self.peek() == Some(b'{') {
            self.annotation()?;
        }
        base.factor = base.factor.normalize();
        Some(base)
    }

    fn exponent(&mut self) -> Option<i32> {
        let start = self.i;
        if matches!(self.peek(), Some(b'+') | Some(b'-')) {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        match self.s[start..self.i].parse() {
            Ok(e) => Some(e),
            Err(_) => {
                self.i = start;
                None
            }
        }
    }

    fn annotation(&mut self) -> Option<()> {
        let rest = &self.s[self.i..];
        let end = rest.find('}')?;
        self.i += end + 1;
        Some(())
    }
}

fn power(c: &Canonical, e: i32) -> Option<Canonical> {
    if e.unsigned_abs() > 10 {
        return None;
    }
    let mut f = Decimal::ONE;
    for _ in 0..e.unsigned_abs() {
        f = f.checked_mul(c.factor)?;
    }
    if e < 0 {
        f = Decimal::ONE.checked_div(f)?;
    }
    let mut dims = c.dims;
    for x in dims.iter_mut() {
        *x = x.checked_mul(e as i8)?;
    }
    Some(Canonical { factor: f, dims })
}

fn combine(a: &Canonical, b: &Canonical, divide: bool) -> Option<Canonical> {
    let factor = if divide { a.factor.checked_div(b.factor)? } else { a.factor.checked_mul(b.factor)? };
    let mut dims = a.dims;
    for (x, y) in dims.iter_mut().zip(b.dims) {
        *x = if divide { x.checked_sub(y)? } else { x.checked_add(y)? };
    }
    Some(Canonical { factor, dims })
}

/// Reduces a unit string to base units; `None` if it is not in the supported subset.
pub(crate) fn canonical(unit: &str) -> Option<Canonical> {
    if unit.is_empty() || unit == "1" {
        return Some(Canonical { factor: Decimal::ONE, dims: [0; 9] });
    }
    let mut p = P { s: unit, i: 0 };
    let c = p.term(0)?;
    (p.i == unit.len()).then_some(c)
}

/// Whether the string is a known unit (used by `toQuantity`/`comparable`).
pub(crate) fn is_known(unit: &str) -> bool {
    canonical(unit).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_products() {
        assert_eq!(canonical("mg").unwrap().factor, d("0.001"));
        assert_eq!(canonical("cm.m").unwrap().dims, canonical("m2").unwrap().dims);
        assert_eq!(canonical("g/m").unwrap().dims, dims(&[(M, 1), (L, -1)]));
        assert_eq!(canonical("mm[Hg]").unwrap().dims, canonical("Pa").unwrap().dims);
        assert_eq!(canonical("{beats}/min").unwrap().dims, dims(&[(T, -1)]));
        assert_eq!(canonical("10*3/uL").unwrap().dims, dims(&[(L, -3)]));
        assert!(canonical("[s]").is_none());
        assert_ne!(canonical("a").unwrap().dims, canonical("year").unwrap().dims);
    }
}
