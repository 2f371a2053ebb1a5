//! The one error type of the codec, carrying where in the document things went wrong.

use std::fmt;

/// A conversion failure with its location: a FHIRPath-like element path and, for XML input, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What went wrong.
    pub message: String,
    /// FHIRPath-like location of the offending element, e.g. `Patient.name[0].given`.
    pub expression: Option<String>,
    /// 1-based line in the XML input (XML → JSON only).
    pub line: Option<usize>,
    /// 1-based column (in characters) in the XML input (XML → JSON only).
    pub column: Option<usize>,
}

impl Error {
    /// An error with a message and nothing else.
    pub fn new(message: impl Into<String>) -> Error {
        Error { message: message.into(), expression: None, line: None, column: None }
    }

    pub(crate) fn at_path(mut self, path: &[String]) -> Error {
        if self.expression.is_none() && !path.is_empty() {
            self.expression = Some(join_path(path));
        }
        self
    }

    /// Fills line and column from a byte offset into `text`, unless already set.
    pub(crate) fn at_offset(mut self, text: &str, offset: usize) -> Error {
        if self.line.is_none() {
            let (line, column) = line_col(text, offset);
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (&self.expression, self.line) {
            (Some(e), Some(l)) => write!(f, " (at {e}, line {l}, column {})", self.column.unwrap_or(0)),
            (Some(e), None) => write!(f, " (at {e})"),
            (None, Some(l)) => write!(f, " (line {l}, column {})", self.column.unwrap_or(0)),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// Joins path segments (`Patient`, `name[0]`, `given`) into `Patient.name[0].given`.
pub(crate) fn join_path(path: &[String]) -> String {
    path.join(".")
}

/// Line and column (both 1-based, column in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // Offsets come from the XML reader and are byte positions; step back to a char boundary.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 1), (1, 1));
    }
}
