//! Errors of compilation and evaluation, with the place in the expression they concern.

use std::fmt;

/// Which stage rejected the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not FHIRPath (bad token, unbalanced brackets...).
    Syntax,
    /// The text parses but cannot mean anything (unknown function, wrong arity, unknown element).
    Semantic,
    /// Evaluation met an input the operation cannot take (several items where one is needed...).
    Evaluation,
}

/// A place in the expression text: byte offset plus 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset into the expression.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// Computes line and column of `offset` in `src`.
    pub fn at(src: &str, offset: usize) -> Position {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { offset, line, column }
    }
}

/// An error with its kind, message and, where known, position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The stage that failed.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// Where in the expression, when known.
    pub position: Option<Position>,
}

impl Error {
    /// A syntax error at `offset` of `src`.
    pub(crate) fn syntax(src: &str, offset: usize, msg: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Syntax, message: msg.into(), position: Some(Position::at(src, offset)) }
    }

    /// A semantic error at `offset` of `src`.
    pub(crate) fn semantic(src: &str, offset: usize, msg: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Semantic, message: msg.into(), position: Some(Position::at(src, offset)) }
    }

    /// An evaluation error; the evaluator adds the position on the way out.
    pub(crate) fn eval(msg: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Evaluation, message: msg.into(), position: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Semantic => "semantic error",
            ErrorKind::Evaluation => "evaluation error",
        };
        match self.position {
            Some(p) => write!(f, "{kind} at {}:{} (offset {}): {}", p.line, p.column, p.offset, self.message),
            None => write!(f, "{kind}: {}", self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
