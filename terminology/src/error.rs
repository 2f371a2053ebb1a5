use std::fmt;

/// Why a terminology question could not be answered exactly; each variant names the url/filter at fault.
///
/// Every variant means "the answer would be wrong or incomplete", so callers must not treat an
/// error as an empty set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxError {
    /// No CodeSystem with this url (and version, if given) was supplied.
    UnknownCodeSystem { url: String, version: Option<String> },
    /// No ValueSet with this url (and version, if given) was supplied.
    UnknownValueSet { url: String, version: Option<String> },
    /// The CodeSystem is supplied but does not list all its codes (`content` is not `complete`).
    NotEnumerable { url: String, content: String },
    /// A filter this library cannot evaluate (custom code-system filter, unknown property or op).
    UnsupportedFilter { system: String, filter: String, reason: String },
    /// A filter that is malformed (missing value, bad regex...).
    InvalidFilter { system: String, filter: String, reason: String },
    /// A code the question depends on is not defined by its (complete) CodeSystem.
    UnknownCode { system: String, code: String },
    /// A ValueSet imports itself, directly or through others; `chain` is the import path.
    CircularImport { chain: Vec<String> },
    /// ValueSet imports nest deeper than the library allows.
    ImportTooDeep { url: String, depth: usize },
    /// A ValueSet with only an `expansion` whose expansion is paged or truncated.
    IncompleteExpansion { url: String, reason: String },
    /// The resource is not shaped as the question needs (no compose, include without system...).
    Invalid { url: String, reason: String },
}

impl TxError {
    /// A stable short name of the variant, for logs, metrics and OperationOutcome codes.
    pub fn kind(&self) -> &'static str {
        match self {
            TxError::UnknownCodeSystem { .. } => "unknown-code-system",
            TxError::UnknownValueSet { .. } => "unknown-value-set",
            TxError::NotEnumerable { .. } => "not-enumerable",
            TxError::UnsupportedFilter { .. } => "unsupported-filter",
            TxError::InvalidFilter { .. } => "invalid-filter",
            TxError::UnknownCode { .. } => "unknown-code",
            TxError::CircularImport { .. } => "circular-import",
            TxError::ImportTooDeep { .. } => "import-too-deep",
            TxError::IncompleteExpansion { .. } => "incomplete-expansion",
            TxError::Invalid { .. } => "invalid",
        }
    }
}

fn with_version(url: &str, version: &Option<String>) -> String {
    match version {
        Some(v) => format!("{url}|{v}"),
        None => url.to_string(),
    }
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::UnknownCodeSystem { url, version } => {
                write!(f, "code system {} is not available", with_version(url, version))
            }
            TxError::UnknownValueSet { url, version } => {
                write!(f, "value set {} is not available", with_version(url, version))
            }
            TxError::NotEnumerable { url, content } => write!(
                f,
                "code system {url} has content '{content}', so its codes cannot be enumerated"
            ),
            TxError::UnsupportedFilter { system, filter, reason } => {
                write!(f, "filter '{filter}' on {system} is not supported: {reason}")
            }
            TxError::InvalidFilter { system, filter, reason } => {
                write!(f, "filter '{filter}' on {system} is invalid: {reason}")
            }
            TxError::UnknownCode { system, code } => {
                write!(f, "code '{code}' is not defined by code system {system}")
            }
            TxError::CircularImport { chain } => {
                write!(f, "value set imports are circular: {}", chain.join(" -> "))
            }
            TxError::ImportTooDeep { url, depth } => {
                write!(f, "value set imports nest deeper than {depth} at {url}")
            }
            TxError::IncompleteExpansion { url, reason } => {
                write!(f, "the stored expansion of value set {url} is incomplete: {reason}")
            }
            TxError::Invalid { url, reason } => write!(f, "{url}: {reason}"),
        }
    }
}

impl std::error::Error for TxError {}
