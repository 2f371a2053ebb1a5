//! FHIR interactions, one module each; `write` holds the path they share.

pub mod bundle;
pub mod bundle_text;
pub mod capabilities;
pub mod create;
pub mod delete;
pub mod fhirpath_patch;
pub mod health;
pub mod history;
pub mod operation_reindex;
pub mod patch;
pub mod read;
pub mod search;
pub mod search_terminology;
pub mod update;
pub mod write;
