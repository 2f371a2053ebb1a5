use fhir_model::{Kind, Model};

fn model() -> Model {
    Model::from_structure_definitions(profiles::Package::r4_core().resources("StructureDefinition"))
}

#[test]
fn resources_inherit_and_backbones_are_types() {
    let m = model();
    assert!(m.is_resource("Patient"));
    assert!(m.is_subtype_of("Patient", "Resource"));
    assert!(m.is_subtype_of("Patient", "DomainResource"));
    assert!(!m.is_subtype_of("Resource", "Patient"));
    // The R4 package types Resource.id as `string` (through the fhir-type extension), not `id`.
    assert_eq!(m.element("Patient", "id").unwrap().types, ["string"]);
    assert_eq!(m.element("Patient", "extension").unwrap().types, ["Extension"]);
    let name = m.element("Patient", "name").unwrap();
    assert!(name.many);
    assert_eq!(name.types, ["HumanName"]);
    let contact = m.element("Patient", "contact").unwrap();
    assert_eq!(contact.types, ["Patient.contact"]);
    assert_eq!(m.type_def("Patient.contact").unwrap().kind, Kind::Backbone);
    assert_eq!(m.element("Patient.contact", "modifierExtension").unwrap().types, ["Extension"]);
    assert!(!m.element("Patient", "birthDate").unwrap().many);
    assert!(m.element("Patient", "nmae").is_none());
}

#[test]
fn choice_elements_expand_to_json_keys() {
    let m = model();
    let (el, ty) = m.json_element("Observation", "valueQuantity").unwrap();
    assert!(el.choice);
    assert_eq!((el.name.as_str(), ty), ("value", "Quantity"));
    assert_eq!(m.json_element("Observation", "valueDateTime").unwrap().1, "dateTime");
    assert_eq!(m.json_element("Observation", "effectivePeriod").unwrap().1, "Period");
    assert!(m.json_element("Observation", "valueFoo").is_none());
    assert!(m.json_element("Observation", "value").is_none());
    let (el, ty) = m.json_element("Observation.component", "valueCodeableConcept").unwrap();
    assert_eq!((el.name.as_str(), ty), ("value", "CodeableConcept"));
    assert_eq!(m.json_element("Patient", "meta").unwrap().1, "Meta");
}

#[test]
fn content_references_and_nested_backbones() {
    let m = model();
    assert_eq!(m.element("Questionnaire.item", "item").unwrap().types, ["Questionnaire.item"]);
    assert_eq!(m.element("Questionnaire.item.enableWhen", "question").unwrap().types, ["string"]);
    assert_eq!(m.element("Timing", "repeat").unwrap().types, ["Timing.repeat"]);
    assert!(m.element("Timing.repeat", "boundsDuration").is_none());
    assert_eq!(m.json_element("Timing.repeat", "boundsDuration").unwrap().1, "Duration");
    assert_eq!(m.element("Bundle.entry", "resource").unwrap().types, ["Resource"]);
}

#[test]
fn primitives_map_to_system_types() {
    let m = model();
    assert!(m.is_primitive("code"));
    assert!(m.is_subtype_of("code", "string"));
    assert!(m.is_subtype_of("Age", "Quantity"));
    assert_eq!(m.system_type("code"), Some("String"));
    assert_eq!(m.system_type("positiveInt"), Some("Integer"));
    assert_eq!(m.system_type("instant"), Some("DateTime"));
    assert_eq!(m.system_type("date"), Some("Date"));
    assert_eq!(m.system_type("decimal"), Some("Decimal"));
    assert_eq!(m.system_type("boolean"), Some("Boolean"));
    assert_eq!(m.system_type("time"), Some("Time"));
    assert_eq!(m.system_type("HumanName"), None);
    assert_eq!(m.element("string", "id").unwrap().types, ["string"]);
    assert_eq!(m.element("string", "extension").unwrap().types, ["Extension"]);
}
