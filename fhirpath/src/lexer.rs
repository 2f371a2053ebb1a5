//! Turns expression text into tokens, each with its byte offset.

use crate::error::{Error, Result};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Plain identifier (may be a keyword such as `and`).
    Ident(String),
    /// Back-tick delimited identifier: never a keyword.
    Delimited(String),
    /// String literal, escapes resolved.
    Str(String),
    /// Integer or decimal literal as written.
    Number(String),
    /// Integer literal with the `L` suffix.
    Long(String),
    /// `@...` date literal text (without `@`).
    Date(String),
    /// `@...T...` date-time literal text.
    DateTime(String),
    /// `@T...` time literal text (without `@T`).
    Time(String),
    /// `$this`, `$index`, `$total` (name without `$`).
    Special(String),
    /// `%` introducing an external constant.
    Percent,
    /// Punctuation and symbolic operators.
    Sym(&'static str),
    /// End of input.
    Eof,
}

/// A token and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Splits `src` into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let start = i;
            i += 2;
            loop {
                if i + 1 >= b.len() {
                    return Err(Error::syntax(src, start, "unterminated comment"));
                }
                if b[i] == b'*' && b[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        let start = i;
        let tok = match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tok::Ident(src[start..i].to_owned())
            }
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    Tok::Number(src[start..i].to_owned())
                } else if i < b.len() && b[i] == b'L' && !b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    i += 1;
                    Tok::Long(src[start..i - 1].to_owned())
                } else {
                    Tok::Number(src[start..i].to_owned())
                }
            }
            b'\'' | b'`' => {
                let (text, end) = quoted(src, i, c)?;
                i = end;
                if c == b'\'' {
                    Tok::Str(text)
                } else {
                    Tok::Delimited(text)
                }
            }
            b'@' => {
                let (tok, end) = date_literal(src, i)?;
                i = end;
                tok
            }
            b'$' => {
                i += 1;
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let name = &src[s..i];
                if !matches!(name, "this" | "index" | "total") {
                    return Err(Error::syntax(src, start, format!("unknown special variable '${name}'")));
                }
                Tok::Special(name.to_owned())
            }
            b'%' => {
                i += 1;
                Tok::Percent
            }
            _ => {
                let two = src.get(i..i + 2).unwrap_or("");
                let sym: &'static str = match two {
                    "<=" => "<=",
                    ">=" => ">=",
                    "!=" => "!=",
                    "!~" => "!~",
                    _ => match c {
                        b'.' => ".",
                        b',' => ",",
                        b'(' => "(",
                        b')' => ")",
                        b'[' => "[",
                        b']' => "]",
                        b'{' => "{",
                        b'}' => "}",
                        b'+' => "+",
                        b'-' => "-",
                        b'*' => "*",
                        b'/' => "/",
                        b'&' => "&",
                        b'|' => "|",
                        b'=' => "=",
                        b'~' => "~",
                        b'<' => "<",
                        b'>' => ">",
                        _ => {
                            let ch = src[i..].chars().next().unwrap_or('?');
                            return Err(Error::syntax(src, start, format!("unexpected character '{ch}'")));
                        }
                    },
                };
                i += sym.len();
                Tok::Sym(sym)
            }
        };
        out.push(Token { tok, pos: start });
    }
    out.push(Token { tok: Tok::Eof, pos: src.len() });
    Ok(out)
}

/// Reads a quoted string or delimited identifier starting at `start`; returns text and end offset.
fn quoted(src: &str, start: usize, quote: u8) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        if ch as u32 == quote as u32 {
            return Ok((out, at + 1));
        }
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let Some((_, esc)) = chars.next() else { break };
        match esc {
            '\\' | '/' | '"' | '`' | '\'' => out.push(esc),
            'f' => out.push('\u{c}'),
            'r' => out.push('\r'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'u' => {
                let mut code = 0u32;
                for _ in 0..4 {
                    let d = chars.next().and_then(|(_, h)| h.to_digit(16));
                    let Some(d) = d else { return Err(Error::syntax(src, at, "bad \\u escape")) };
                    code = code * 16 + d;
                }
                match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => return Err(Error::syntax(src, at, "\\u escape is not a character")),
                }
            }
            other => return Err(Error::syntax(src, at, format!("unknown escape '\\{other}'"))),
        }
    }
    Err(Error::syntax(src, start, "unterminated string or identifier"))
}

fn digits(b: &[u8], i: &mut usize, n: usize) -> bool {
    if *i + n <= b.len() && b[*i..*i + n].iter().all(u8::is_ascii_digit) {
        *i += n;
        true
    } else {
        false
    }
}

/// Reads the time part `HH(:MM(:SS(.fff)?)?)?` at `i`; returns whether an hour was present.
fn time_part(b: &[u8], i: &mut usize) -> bool {
    if !digits(b, i, 2) {
        return false;
    }
    if *i < b.len() && b[*i] == b':' {
        let save = *i;
        *i += 1;
        if !digits(b, i, 2) {
            *i = save;
            return true;
        }
        if *i < b.len() && b[*i] == b':' {
            let save = *i;
            *i += 1;
            if !digits(b, i, 2) {
                *i = save;
                return true;
            }
            if *i + 1 < b.len() && b[*i] == b'.' && b[*i + 1].is_ascii_digit() {
                *i += 1;
                while *i < b.len() && b[*i].is_ascii_digit() {
                    *i += 1;
                }
            }
        }
    }
    true
}

/// Reads `@` date, date-time or time literal at `start`.
fn date_literal(src: &str, start: usize) -> Result<(Tok, usize)> {
    let b = src.as_bytes();
    let mut i = start + 1;
    if b.get(i) == Some(&b'T') {
        i += 1;
        let s = i;
        if !time_part(b, &mut i) {
            return Err(Error::syntax(src, start, "malformed time literal"));
        }
        return Ok((Tok::Time(src[s..i].to_owned()), i));
    }
    let s = i;
    if !digits(b, &mut i, 4) {
        return Err(Error::syntax(src, start, "malformed date literal"));
    }
    if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        if !digits(b, &mut i, 2) {
            return Err(Error::syntax(src, start, "malformed date literal"));
        }
        if b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            if !digits(b, &mut i, 2) {
                return Err(Error::syntax(src, start, "malformed date literal"));
            }
        }
    }
    if b.get(i) != Some(&b'T') {
        return Ok((Tok::Date(src[s..i].to_owned()), i));
    }
    i += 1;
    if time_part(b, &mut i) {
        match b.get(i) {
            Some(b'Z') => i += 1,
            Some(b'+') | Some(b'-') => {
                let save = i;
                i += 1;
                if !(digits(b, &mut i, 2) && b.get(i) == Some(&b':') && {
                    i += 1;
                    digits(b, &mut i, 2)
                }) {
                    i = save;
                }
            }
            _ => {}
        }
    }
    Ok((Tok::DateTime(src[s..i].to_owned()), i))
}
