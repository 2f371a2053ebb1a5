//! `_filter` (R4 search_filter.html): parses the expression language into a tree whose leaves are
//! ordinary search parameters with an operator, which the query module turns into conditions.

/// A parsed `_filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `path op value`; `path` is a parameter name, or a chain `subject.name`.
    Test { path: String, op: String, value: String },
}

/// Operators of search_filter.html; `po` (period overlap) is not one this server answers.
const OPS: &[&str] = &["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "ap", "sa", "eb", "pr", "ss", "sb", "in", "ni", "re"];

/// Expressions nest at most this deep, so a filter cannot exhaust the stack.
const MAX_NESTING: usize = 16;

struct P<'a> {
    s: &'a str,
    i: usize,
}

pub(crate) fn parse(s: &str) -> Result<Expr, String> {
    let mut p = P { s, i: 0 };
    let e = p.or(0)?;
    p.ws();
    if p.i < s.len() {
        return Err(format!("unexpected '{}' at {}", &s[p.i..], p.i + 1));
    }
    Ok(e)
}

impl P<'_> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(char::is_whitespace) {
            self.i += self.s[self.i..].chars().next().map_or(1, char::len_utf8);
        }
    }

    /// A bare word: up to whitespace or a parenthesis.
    fn word(&mut self) -> &str {
        self.ws();
        let start = self.i;
        while let Some(c) = self.s[self.i..].chars().next() {
            if c.is_whitespace() || c == '(' || c == ')' {
                break;
            }
            self.i += c.len_utf8();
        }
        &self.s[start..self.i]
    }

    fn keyword(&mut self, k: &str) -> bool {
        let save = self.i;
        if self.word().eq_ignore_ascii_case(k) {
            true
        } else {
            self.i = save;
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut parts = vec![self.and(depth)?];
        while self.keyword("or") {
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Expr::Or(parts) })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut parts = vec![self.unary(depth)?];
        while self.keyword("and") {
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Expr::And(parts) })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_NESTING {
            return Err(format!("nesting deeper than {MAX_NESTING}"));
        }
        self.ws();
        if self.keyword("not") {
            self.ws();
            if !self.s[self.i..].starts_with('(') {
                return Err(format!("'not' must be followed by '(' at {}", self.i + 1));
            }
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.s[self.i..].starts_with('(') {
            self.i += 1;
            let e = self.or(depth + 1)?;
            self.ws();
            if !self.s[self.i..].starts_with(')') {
                return Err(format!("missing ')' at {}", self.i + 1));
            }
            self.i += 1;
            return Ok(e);
        }
        let path = self.word().to_string();
        if path.is_empty() {
            return Err(format!("expected a parameter at {}", self.i + 1));
        }
        if path.contains('[') {
            return Err(format!("'{path}': filters inside a path ([...]) are not supported"));
        }
        let op = self.word().to_ascii_lowercase();
        if op == "po" {
            return Err("operator 'po' (period overlap) is not supported".into());
        }
        if !OPS.contains(&op.as_str()) {
            return Err(format!("'{op}' after '{path}' is not a filter operator"));
        }
        let value = self.value()?;
        Ok(Expr::Test { path, op, value })
    }

    /// A JSON-style "string" (with \" and \\ escapes) or a bare token.
    fn value(&mut self) -> Result<String, String> {
        self.ws();
        let rest = &self.s[self.i..];
        if let Some(r) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = r.char_indices();
            while let Some((j, c)) = chars.next() {
                match c {
                    '"' => {
                        self.i += 1 + j + 1;
                        return Ok(out);
                    }
                    '\\' => match chars.next() {
                        Some((_, e)) => out.push(e),
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            return Err("unterminated string".into());
        }
        let w = self.word().to_string();
        if w.is_empty() {
            return Err(format!("expected a value at {}", self.i + 1));
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str, op: &str, value: &str) -> Expr {
        Expr::Test { path: path.into(), op: op.into(), value: value.into() }
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(
            parse("name eq \"peter j\" and gender eq male or not(birthdate lt 2000)").unwrap(),
            Expr::Or(vec![Expr::And(vec![t("name", "eq", "peter j"), t("gender", "eq", "male")]), Expr::Not(Box::new(t("birthdate", "lt", "2000")))])
        );
        assert_eq!(parse("(a eq 1 or b eq 2) and c pr true").unwrap(), Expr::And(vec![Expr::Or(vec![t("a", "eq", "1"), t("b", "eq", "2")]), t("c", "pr", "true")]));
    }

    #[test]
    fn refusals_say_where() {
        assert!(parse("name xx 1").unwrap_err().contains("not a filter operator"));
        assert!(parse("name eq \"open").unwrap_err().contains("unterminated"));
        assert!(parse("(name eq 1").unwrap_err().contains("missing ')'"));
        assert!(parse("name eq 1 extra").is_err());
        assert!(parse("period po 2000").unwrap_err().contains("po"));
        assert!(parse("related[type eq x].value eq 1").unwrap_err().contains("not supported"));
        assert!(parse(&"not(".repeat(40)).is_err());
    }
}
