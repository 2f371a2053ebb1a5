//! Terminology answers for FHIR token search modifiers (`:in`, `:not-in`, `:above`, `:below`):
//! ValueSet expansion and CodeSystem subsumption over R4 JSON supplied by the caller.
//!
//! Synchronous and I/O free: the server gathers the CodeSystems/ValueSets a query needs and
//! passes them in through [`Definitions`]. Anything that cannot be answered exactly (unknown
//! system, non-enumerable content, unsupported filter...) is a [`TxError`], never a silently
//! empty or partial set, because a search would otherwise drop matches without telling anyone.

mod codesystem;
mod definitions;
mod error;
mod expand;
mod filter;
mod hierarchy;

pub use definitions::{Definitions, InMemory};
pub use error::TxError;
pub use expand::expand;

use codesystem::CodeSystemIndex;

/// One code of an expansion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coding {
    /// Code system url.
    pub system: String,
    /// Code system version the code was taken from, when known.
    pub version: Option<String>,
    /// The code itself.
    pub code: String,
    /// Display from the value set if it overrides, else from the code system.
    pub display: Option<String>,
    /// The code system marks the concept retired/inactive.
    pub inactive: bool,
    /// The concept is abstract (notSelectable): a grouper not meant to be recorded.
    pub not_selectable: bool,
}

/// Codes of `system` subsumed by `code`, including itself, in definition order (for `:below`).
///
/// `system` may be `url|version`. Fails if the system is not supplied or not complete, or does
/// not define `code`.
pub fn descendants_or_self(system: &str, code: &str, defs: &dyn Definitions) -> Result<Vec<String>, TxError> {
    related(system, code, defs, true)
}

/// Codes of `system` that subsume `code`, including itself, in definition order (for `:above`).
///
/// Same inputs and failures as [`descendants_or_self`].
pub fn ancestors_or_self(system: &str, code: &str, defs: &dyn Definitions) -> Result<Vec<String>, TxError> {
    related(system, code, defs, false)
}

fn related(system: &str, code: &str, defs: &dyn Definitions, down: bool) -> Result<Vec<String>, TxError> {
    let (url, version) = split_canonical(system);
    let json = defs.code_system(url, version).ok_or_else(|| TxError::UnknownCodeSystem {
        url: url.to_string(),
        version: version.map(str::to_string),
    })?;
    let cs = CodeSystemIndex::build(json)?;
    // A fragment or example system may lack some of the relatives, so the answer would be partial.
    cs.require_enumerable()?;
    let i = cs
        .index_of(code)
        .ok_or_else(|| TxError::UnknownCode { system: url.to_string(), code: code.to_string() })?;
    let mask = if down { cs.hierarchy.descendants(i, true) } else { cs.hierarchy.ancestors(i, true) };
    Ok(mask
        .iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(j, _)| cs.concepts[j].code.to_string())
        .collect())
}

/// Splits `url|version` canonicals; a bare url has no version.
pub(crate) fn split_canonical(canonical: &str) -> (&str, Option<&str>) {
    match canonical.split_once('|') {
        Some((u, v)) if !v.is_empty() => (u, Some(v)),
        Some((u, _)) => (u, None),
        None => (canonical, None),
    }
}

#[cfg(test)]
mod tests;
