//! What the XML form needs from the type model beyond what `fhir-model` offers:
//! inherited element order and which elements are XML attributes.
//!
//! Kept here rather than in `fhir-model` because only the XML form cares (JSON has no order
//! and no attributes).

use fhir_model::{Model, TypeDef};

/// FHIR's XML namespace.
pub(crate) const FHIR_NS: &str = "http://hl7.org/fhir";
/// The namespace of narrative XHTML.
pub(crate) const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
/// Schema-instance attributes (`xsi:schemaLocation`) that spec examples carry on the root.
pub(crate) const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Nesting limit for FHIR elements, so that hostile input cannot exhaust the stack: about
/// 10 KiB of stack a level in debug builds, and the deepest R4 example nests 11 levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// The type and its bases, the most basic first: that is the XML element order
/// (`Resource` elements, then `DomainResource`, then the type's own).
pub(crate) fn lineage<'m>(model: &'m Model, ty: &str) -> Vec<&'m TypeDef> {
    let mut chain = Vec::with_capacity(4);
    let mut next = model.type_def(ty);
    while let Some(td) = next {
        // The model guards its own lineage the same way: a base cycle must not loop forever.
        if chain.len() > 16 {
            break;
        }
        chain.push(td);
        next = td.base.as_deref().and_then(|b| model.type_def(b));
    }
    chain.reverse();
    chain
}

/// Whether element `name` of `ty` is written as an XML attribute rather than a child element:
/// `Element.id` (but not `Resource.id`) and `Extension.url` (xml.html, "Element id and extension url").
pub(crate) fn is_xml_attribute(model: &Model, ty: &str, name: &str) -> bool {
    match name {
        "id" => !model.is_resource(ty),
        "url" => ty == "Extension",
        _ => false,
    }
}

/// Whether `ty` is a resource type that can have instances.
pub(crate) fn is_concrete_resource(model: &Model, ty: &str) -> bool {
    model.type_def(ty).is_some_and(|t| !t.is_abstract) && model.is_resource(ty)
}
