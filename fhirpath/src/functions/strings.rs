//! String functions; positions count characters, not bytes.

use std::collections::HashMap;
use std::sync::Mutex;

use once_cell::sync::Lazy;
use regex::{Regex, RegexBuilder};

use super::{arg, single_arg, Func};
use crate::ast::Node;
use crate::error::{Error, Result};
use crate::eval::{is_stringish, one, singleton_integer, Coll, Ctx, Frame};
use crate::item::Item;

/// Compiled patterns, shared; cleared when it grows past a bound so input cannot exhaust memory.
static REGEXES: Lazy<Mutex<HashMap<String, Regex>>> = Lazy::new(|| Mutex::new(HashMap::new()));
const REGEX_CACHE_MAX: usize = 512;

/// Compiles (or reuses) a pattern; `.` matches newlines, as FHIRPath's single-line mode asks.
fn regex(pattern: &str, full: bool) -> Result<Regex> {
    let key = if full { format!("F{pattern}") } else { format!("P{pattern}") };
    let mut cache = match REGEXES.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(r) = cache.get(&key) {
        return Ok(r.clone());
    }
    let src = if full { format!("^(?:{pattern})$") } else { pattern.to_owned() };
    let r = RegexBuilder::new(&src)
        .dot_matches_new_line(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Error::eval(format!("invalid regular expression '{pattern}': {e}")))?;
    if cache.len() >= REGEX_CACHE_MAX {
        cache.clear();
    }
    cache.insert(key, r.clone());
    Ok(r)
}

fn string_arg<'a>(cx: &Ctx<'a, '_>, args: &[Node], i: usize, f: &Frame<'_, 'a>, func: Func) -> Result<Option<String>> {
    match single_arg(cx, args, i, f, func)? {
        None => Ok(None),
        Some(it) => match it.as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(Error::eval(format!("argument of {}() must be a string, got {}", func.name(), it.type_name()))),
        },
    }
}

fn string<'a>(s: impl Into<String>) -> Coll<'a> {
    one(Item::string(s))
}

fn char_index(hay: &str, byte: usize) -> i64 {
    hay[..byte].chars().count() as i64
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_encode(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        let v = alphabet.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_json(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Resolves JSON backslash escapes; text without escapes is returned as it is.
fn unescape_json(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

pub(super) fn call<'a>(cx: &Ctx<'a, '_>, func: Func, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use Func::*;
    if func == Join {
        let sep = string_arg(cx, args, 0, f, func)?.unwrap_or_default();
        let parts: Result<Vec<&str>> = input
            .iter()
            .map(|it| it.as_str().ok_or_else(|| Error::eval(format!("join() needs strings, got {}", it.type_name()))))
            .collect();
        return Ok(string(parts?.join(&sep)));
    }
    if input.len() > 1 {
        return Err(Error::eval(format!("{}() needs a single string, got {} items", func.name(), input.len())));
    }
    let Some(it) = input.first() else { return Ok(Coll::new()) };
    if !is_stringish(it) {
        return Err(Error::eval(format!("{}() needs a string, got {}", func.name(), it.type_name())));
    }
    let s = it.as_str().unwrap_or("");
    let a0 = |cx: &Ctx<'a, '_>| string_arg(cx, args, 0, f, func);
    Ok(match func {
        IndexOf => match a0(cx)? {
            Some(p) => one(Item::Integer(s.find(&p).map_or(-1, |b| char_index(s, b)))),
            None => Coll::new(),
        },
        LastIndexOf => match a0(cx)? {
            Some(p) => one(Item::Integer(s.rfind(&p).map_or(-1, |b| char_index(s, b)))),
            None => Coll::new(),
        },
        Substring => {
            let Some(start) = singleton_integer(&arg(cx, args, 0, f)?, "substring()")? else { return Ok(Coll::new()) };
            let len = if args.len() > 1 { singleton_integer(&arg(cx, args, 1, f)?, "substring()")? } else { None };
            let n = s.chars().count() as i64;
            if start < 0 || start >= n {
                return Ok(Coll::new());
            }
            let take = match len {
                Some(l) if l <= 0 => 0,
                Some(l) => l,
                None => n,
            };
            string(s.chars().skip(start as usize).take(take as usize).collect::<String>())
        }
        StartsWith => a0(cx)?.map(|p| one(Item::Boolean(s.starts_with(&p)))).unwrap_or_default(),
        EndsWith => a0(cx)?.map(|p| one(Item::Boolean(s.ends_with(&p)))).unwrap_or_default(),
        Contains => a0(cx)?.map(|p| one(Item::Boolean(s.contains(&p)))).unwrap_or_default(),
        Upper => string(s.to_uppercase()),
        Lower => string(s.to_lowercase()),
        Replace => {
            let (Some(p), Some(r)) = (a0(cx)?, string_arg(cx, args, 1, f, func)?) else { return Ok(Coll::new()) };
            string(s.replace(&p, &r))
        }
        Matches | MatchesFull => match a0(cx)? {
            Some(p) => one(Item::Boolean(regex(&p, func == MatchesFull)?.is_match(s))),
            None => Coll::new(),
        },
        ReplaceMatches => {
            let (Some(p), Some(r)) = (a0(cx)?, string_arg(cx, args, 1, f, func)?) else { return Ok(Coll::new()) };
            if p.is_empty() {
                string(s)
            } else {
                string(regex(&p, false)?.replace_all(s, r.as_str()).into_owned())
            }
        }
        Length => one(Item::Integer(s.chars().count() as i64)),
        ToChars => s.chars().map(|c| Item::string(c.to_string())).collect(),
        Trim => string(s.trim()),
        Split => match a0(cx)? {
            Some(sep) if sep.is_empty() => s.chars().map(|c| Item::string(c.to_string())).collect(),
            Some(sep) => s.split(sep.as_str()).map(Item::string).collect(),
            None => Coll::new(),
        },
        Encode | Decode => {
            let Some(enc) = a0(cx)? else { return Ok(Coll::new()) };
            let out = match (func, enc.as_str()) {
                (Encode, "base64") => Some(base64_encode(s.as_bytes(), B64)),
                (Encode, "urlbase64") => Some(base64_encode(s.as_bytes(), B64URL)),
                (Encode, "hex") => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
                (Decode, "base64") => base64_decode(s, B64).and_then(|b| String::from_utf8(b).ok()),
                (Decode, "urlbase64") => base64_decode(s, B64URL).and_then(|b| String::from_utf8(b).ok()),
                (Decode, "hex") => hex_decode(s).and_then(|b| String::from_utf8(b).ok()),
                _ => return Err(Error::eval(format!("unknown encoding '{enc}'"))),
            };
            out.map(string).unwrap_or_default()
        }
        Escape | Unescape => {
            let Some(kind) = a0(cx)? else { return Ok(Coll::new()) };
            let out = match (func, kind.as_str()) {
                (Escape, "html") => Some(escape_html(s)),
                (Escape, "json") => Some(escape_json(s)),
                (Unescape, "html") => Some(unescape_html(s)),
                (Unescape, "json") => unescape_json(s),
                _ => return Err(Error::eval(format!("unknown escape target '{kind}'"))),
            };
            out.map(string).unwrap_or_default()
        }
        _ => return Err(Error::eval(format!("{}() is not a string function", func.name()))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        assert_eq!(base64_encode(b"subjects?_d", B64), "c3ViamVjdHM/X2Q=");
        assert_eq!(base64_decode("c3ViamVjdHM_X2Q=", B64URL).unwrap(), b"subjects?_d");
    }
}
