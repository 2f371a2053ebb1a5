//! The FHIR R4 core package (hl7.fhir.r4.core 4.0.1), embedded, plus a structural
//! validator compiled from its StructureDefinitions.
//!
//! Validation covers json.html and datatypes.html rules: known elements, cardinality
//! shape and minimums, choice types, primitive JSON types and formats, primitive
//! extensions (`_x`), nested resources and required bindings that can be expanded
//! from the package. FHIRPath invariants are out of scope.

#![warn(missing_docs)]

mod package;
mod validator;
mod valuesets;

pub use package::{Package, TopElement};
pub use validator::Validator;

/// One validation finding, shaped like an OperationOutcome.issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Error issues make the server refuse a write.
    pub severity: Severity,
    /// OperationOutcome issue-type code: "structure", "value", "code-invalid", "required", "invalid", "invariant".
    pub code: &'static str,
    /// FHIRPath-like location, e.g. "Patient.name[0].given[1]".
    pub expression: String,
    /// Human-readable description.
    pub message: String,
}

/// Issue severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The resource is invalid.
    Error,
    /// Suspicious but acceptable.
    Warning,
}
