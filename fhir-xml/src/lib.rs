//! FHIR R4 XML codec: converts resources between the XML form (hl7.org/fhir/R4/xml.html) and
//! the JSON form (json.html, as `serde_json::Value`) the server stores, driven by the
//! `fhir-model` type model so that cardinality, choice types and element order follow the
//! StructureDefinitions rather than hand-written tables.

mod error;
mod fields;
mod layout;
mod narrative;
mod primitive;
mod reader;
mod writer;

pub use error::Error;

use fhir_model::Model;
use serde_json::Value;

/// The FHIR XML namespace, `http://hl7.org/fhir`.
pub const FHIR_NAMESPACE: &str = layout::FHIR_NS;

/// Parses a FHIR XML resource into its JSON form; anything not in the model is an error.
pub fn xml_to_json(xml: &str, model: &Model) -> Result<Value, Error> {
    reader::read(xml, model)
}

/// Serializes a JSON resource as compact FHIR XML (no `<?xml?>` declaration, `xmlns` on the root).
pub fn json_to_xml(resource: &Value, model: &Model) -> Result<String, Error> {
    writer::write(resource, model, false)
}

/// Like [`json_to_xml`], indented by two spaces for people to read.
pub fn json_to_xml_pretty(resource: &Value, model: &Model) -> Result<String, Error> {
    writer::write(resource, model, true)
}
