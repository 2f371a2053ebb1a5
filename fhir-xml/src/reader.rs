//! XML → JSON: walks quick-xml events, looking every element up in the type model.
//!
//! Anything the model does not know (element, attribute, namespace, text) is an error with
//! its element path and line, never dropped: a server that silently loses data it was sent
//! is worse than one that refuses it.

use fhir_model::Model;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::fields::Fields;
use crate::layout::{is_concrete_resource, is_xml_attribute, FHIR_NS, MAX_DEPTH, XHTML_NS, XSI_NS};
use crate::narrative;
use crate::primitive::{is_xml_char, json_kind, parse_value};

/// Converts a FHIR XML resource to its JSON form.
pub(crate) fn read(xml: &str, model: &Model) -> Result<Value, Error> {
    // A byte-order mark is not markup; quick-xml would report it as text before the root.
    let text = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut r = NsReader::from_str(text);
    r.config_mut().enable_all_checks(true);
    let mut reader = XmlReader { text, r, model, path: Vec::new(), at: 0 };
    reader.document()
}

/// The namespace an element name resolves to.
enum Ns {
    Fhir,
    Xhtml,
    None,
    Other(String),
}

struct XmlReader<'a> {
    text: &'a str,
    r: NsReader<&'a [u8]>,
    model: &'a Model,
    /// Element path segments (`Patient`, `name[0]`, `given`) for error locations.
    path: Vec<String>,
    /// Byte offset where the last event read began.
    at: usize,
}

/// Why character data inside a FHIR element is refused.
const TEXT_IN_ELEMENT: &str = "text content is not allowed in FHIR elements (values go in the 'value' attribute)";

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

impl<'a> XmlReader<'a> {
    fn next(&mut self) -> Result<Event<'a>, Error> {
        self.at = self.r.buffer_position() as usize;
        self.r.read_event().map_err(|e| {
            let at = self.r.error_position() as usize;
            Error::new(format!("malformed XML: {e}")).at_path(&self.path).at_offset(self.text, at)
        })
    }

    #[cold]
    fn err(&self, message: impl Into<String>, offset: usize) -> Error {
        Error::new(message).at_path(&self.path).at_offset(self.text, offset)
    }

    fn ns(&self, e: &BytesStart) -> Ns {
        match self.r.resolver().resolve_element(e.name()).0 {
            ResolveResult::Bound(Namespace(ns)) if ns == FHIR_NS => Ns::Fhir,
            ResolveResult::Bound(Namespace(ns)) if ns == XHTML_NS => Ns::Xhtml,
            ResolveResult::Bound(Namespace(ns)) => Ns::Other(ns.to_owned()),
            ResolveResult::Unbound => Ns::None,
            ResolveResult::Unknown(p) => Ns::Other(format!("(undeclared prefix '{p}')")),
        }
    }

    fn require_fhir_ns(&self, e: &BytesStart, offset: usize) -> Result<(), Error> {
        let name = e.name();
        let name = name.as_ref();
        match self.ns(e) {
            Ns::Fhir => Ok(()),
            Ns::None => Err(self.err(
                format!("element <{name}> is in no namespace; FHIR elements must be in xmlns=\"{FHIR_NS}\""),
                offset,
            )),
            Ns::Xhtml => {
                Err(self.err(format!("element <{name}> is in the XHTML namespace, expected {FHIR_NS}"), offset))
            }
            Ns::Other(ns) => {
                Err(self.err(format!("element <{name}> is in namespace {ns}, expected {FHIR_NS}"), offset))
            }
        }
    }

    fn document(&mut self) -> Result<Value, Error> {
        loop {
            let ev = self.next()?;
            let at = self.at;
            let (e, empty) = match ev {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => continue,
                Event::Text(t) if is_blank(&t) => continue,
                Event::DocType(_) => return Err(self.err("DOCTYPE declarations are not allowed in FHIR XML", at)),
                Event::Eof => return Err(self.err("the document has no root element", at)),
                _ => return Err(self.err("unexpected content before the root element", at)),
            };
            let resource = self.resource(&e, empty, at, 0, true)?;
            self.after_root()?;
            return Ok(Value::Object(resource));
        }
    }

    fn after_root(&mut self) -> Result<(), Error> {
        loop {
            match self.next()? {
                Event::Eof => return Ok(()),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(t) if is_blank(&t) => {}
                _ => return Err(self.err("unexpected content after the root element", self.at)),
            }
        }
    }

    /// Reads a resource whose start tag (named by its type) was just read.
    fn resource(
        &mut self,
        e: &BytesStart,
        empty: bool,
        at: usize,
        depth: usize,
        root: bool,
    ) -> Result<Map<String, Value>, Error> {
        let qname = e.name();
        let ty = e.local_name();
        let ty = ty.as_ref();
        if root {
            self.path.push(ty.to_owned());
        }
        self.require_fhir_ns(e, at)?;
        if !is_concrete_resource(self.model, ty) {
            return Err(self.err(format!("<{}> is not a FHIR resource type", qname.as_ref()), at));
        }
        for a in e.attributes() {
            let a = a.map_err(|err| self.err(format!("malformed attribute: {err}"), at))?;
            if !self.is_ignorable_attribute(a.key, root) {
                return Err(self.err(format!("unknown attribute '{}' on resource <{ty}>", a.key.as_ref()), at));
            }
        }
        let mut out = Map::new();
        out.insert("resourceType".into(), Value::String(ty.to_owned()));
        if !empty {
            let mut fields = Fields::default();
            self.children(ty, &mut fields, depth + 1)?;
            fields.finish_into(&mut out);
        }
        Ok(out)
    }

    /// Namespace declarations anywhere, and `xsi:*` (schemaLocation) on the root, carry no FHIR content.
    fn is_ignorable_attribute(&self, key: quick_xml::name::QName, root: bool) -> bool {
        if key.as_namespace_binding().is_some() {
            return true;
        }
        root && matches!(self.r.resolver().resolve_attribute(key).0, ResolveResult::Bound(Namespace(ns)) if ns == XSI_NS)
    }

    /// Reads child elements of an element of type `ty` up to its end tag.
    fn children(&mut self, ty: &str, fields: &mut Fields, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("elements are nested more than {MAX_DEPTH} deep"), self.at));
        }
        while let Some((e, empty, at)) = self.next_child(TEXT_IN_ELEMENT)? {
            self.child(ty, &e, empty, at, fields, depth)?;
        }
        Ok(())
    }

    /// The next child element of an open element, with whether it is empty and where it starts;
    /// None at the element's end tag. Blank text, comments and PIs are skipped; any other
    /// content is refused with `other`.
    fn next_child(&mut self, other: &str) -> Result<Option<(BytesStart<'a>, bool, usize)>, Error> {
        loop {
            let ev = self.next()?;
            let at = self.at;
            return match ev {
                Event::Start(e) => Ok(Some((e, false, at))),
                Event::Empty(e) => Ok(Some((e, true, at))),
                Event::End(_) => Ok(None),
                Event::Text(t) if is_blank(&t) => continue,
                Event::Comment(_) | Event::PI(_) => continue,
                Event::Decl(_) | Event::DocType(_) => Err(self.err("XML declaration or DOCTYPE inside the resource", at)),
                Event::Eof => Err(self.err("the document ends before this element is closed", at)),
                Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) => Err(self.err(other, at)),
            };
        }
    }

    /// Reads one child element `e` of an element of type `parent`.
    fn child(
        &mut self,
        parent: &str,
        e: &BytesStart,
        empty: bool,
        at: usize,
        fields: &mut Fields,
        depth: usize,
    ) -> Result<(), Error> {
        let model = self.model;
        let local = e.local_name();
        let key = local.as_ref();
        let found = model.json_element(parent, key).filter(|(el, _)| !is_xml_attribute(model, parent, &el.name));
        let Some((el, ty)) = found else {
            self.require_fhir_ns(e, at)?;
            self.path.push(key.to_owned());
            let hint = if is_xml_attribute(model, parent, key) { " (it is an XML attribute here)" } else { "" };
            return Err(self.err(format!("unknown element '{key}' in {parent}{hint}"), at));
        };
        if ty == "xhtml" {
            if !matches!(self.ns(e), Ns::Xhtml) {
                return Err(self.err(format!("<{key}> must be in the XHTML namespace (xmlns=\"{XHTML_NS}\")"), at));
            }
        } else {
            self.require_fhir_ns(e, at)?;
        }
        let index = match fields.admit(key, &el.name, el.many) {
            Ok(i) => i,
            Err(m) => {
                self.path.push(key.to_owned());
                return Err(self.err(m, at));
            }
        };
        self.path.push(if el.many { format!("{key}[{index}]") } else { key.to_owned() });
        if ty == "xhtml" {
            let div = narrative::read_div(&mut self.r, e, empty, at).map_err(|d| self.err(d.message, d.offset))?;
            fields.push(key, &el.name, el.many, Value::String(div));
        } else if model.is_resource(ty) {
            let v = self.wrapped_resource(e, empty, at, depth)?;
            fields.push(key, &el.name, el.many, v);
        } else if model.is_primitive(ty) {
            let (value, meta) = self.primitive(ty, e, empty, at, depth)?;
            fields.push_primitive(key, &el.name, el.many, value, meta);
        } else {
            let v = self.complex(ty, e, empty, at, depth)?;
            fields.push(key, &el.name, el.many, Value::Object(v));
        }
        self.path.pop();
        Ok(())
    }

    /// `<contained>`, `<resource>`, `<outcome>`: one child element named by the resource type.
    fn wrapped_resource(&mut self, e: &BytesStart, empty: bool, at: usize, depth: usize) -> Result<Value, Error> {
        self.no_attributes(e, at)?;
        let mut resource = None;
        if !empty {
            while let Some((inner, inner_empty, inner_at)) = self.next_child("only a resource element may appear here")? {
                if resource.is_some() {
                    return Err(self.err("only one resource may appear here", inner_at));
                }
                resource = Some(self.resource(&inner, inner_empty, inner_at, depth + 1, false)?);
            }
        }
        resource
            .map(Value::Object)
            .ok_or_else(|| self.err(format!("<{}> must contain a resource", e.name().as_ref()), at))
    }

    fn no_attributes(&self, e: &BytesStart, at: usize) -> Result<(), Error> {
        for a in e.attributes() {
            let a = a.map_err(|err| self.err(format!("malformed attribute: {err}"), at))?;
            if !self.is_ignorable_attribute(a.key, false) {
                return Err(self.err(format!("unknown attribute '{}'", a.key.as_ref()), at));
            }
        }
        Ok(())
    }

    /// Attribute value with XML attribute-value normalization and entities resolved.
    fn attribute_value(&self, a: &quick_xml::events::attributes::Attribute, at: usize) -> Result<String, Error> {
        let v = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| self.err(format!("bad value of attribute '{}': {err}", a.key.as_ref()), at))?;
        if let Some(c) = v.chars().find(|&c| !is_xml_char(c)) {
            return Err(self.err(format!("character U+{:04X} is not allowed in XML 1.0", c as u32), at));
        }
        Ok(v.into_owned())
    }

    /// Reads a primitive: `value` and `id` attributes, `extension` children.
    fn primitive(
        &mut self,
        ty: &str,
        e: &BytesStart,
        empty: bool,
        at: usize,
        depth: usize,
    ) -> Result<(Option<Value>, Option<Value>), Error> {
        let mut value = None;
        let mut id = None;
        for a in e.attributes() {
            let a = a.map_err(|err| self.err(format!("malformed attribute: {err}"), at))?;
            match a.key.as_ref() {
                "value" => {
                    let text = self.attribute_value(&a, at)?;
                    let kind = json_kind(self.model, ty);
                    value = Some(parse_value(ty, kind, &text).map_err(|m| self.err(m, at))?);
                }
                "id" => id = Some(self.attribute_value(&a, at)?),
                _ if self.is_ignorable_attribute(a.key, false) => {}
                other => return Err(self.err(format!("unknown attribute '{other}' on a {ty} element"), at)),
            }
        }
        let mut extensions = Vec::new();
        if !empty {
            if depth > MAX_DEPTH {
                return Err(self.err(format!("elements are nested more than {MAX_DEPTH} deep"), at));
            }
            while let Some((c, c_empty, child_at)) = self.next_child(TEXT_IN_ELEMENT)? {
                self.require_fhir_ns(&c, child_at)?;
                let name = c.local_name();
                if name.as_ref() != "extension" {
                    self.path.push(name.as_ref().to_owned());
                    return Err(self.err(
                        format!(
                            "unknown element '{}' in a {ty} primitive (only 'extension' is allowed)",
                            name.as_ref()
                        ),
                        child_at,
                    ));
                }
                self.path.push(format!("extension[{}]", extensions.len()));
                let ext = self.complex("Extension", &c, c_empty, child_at, depth)?;
                self.path.pop();
                extensions.push(Value::Object(ext));
            }
        }
        if value.is_none() && id.is_none() && extensions.is_empty() {
            return Err(self.err(format!("a {ty} element needs a 'value' attribute or an extension"), at));
        }
        let meta = if id.is_some() || !extensions.is_empty() {
            let mut m = Map::new();
            if let Some(id) = id {
                m.insert("id".into(), Value::String(id));
            }
            if !extensions.is_empty() {
                m.insert("extension".into(), Value::Array(extensions));
            }
            Some(Value::Object(m))
        } else {
            None
        };
        Ok((value, meta))
    }

    /// Reads a complex datatype or backbone element: `id` (and `url` on Extension) attributes, child elements.
    fn complex(
        &mut self,
        ty: &str,
        e: &BytesStart,
        empty: bool,
        at: usize,
        depth: usize,
    ) -> Result<Map<String, Value>, Error> {
        let mut out = Map::new();
        for a in e.attributes() {
            let a = a.map_err(|err| self.err(format!("malformed attribute: {err}"), at))?;
            let key = a.key.as_ref();
            if (key == "id" || key == "url") && is_xml_attribute(self.model, ty, key) {
                let v = self.attribute_value(&a, at)?;
                if v.is_empty() {
                    return Err(self.err(format!("attribute '{key}' must not be empty"), at));
                }
                out.insert(key.to_owned(), Value::String(v));
            } else if !self.is_ignorable_attribute(a.key, false) {
                return Err(self.err(format!("unknown attribute '{key}' on a {ty} element"), at));
            }
        }
        if !empty {
            let mut fields = Fields::default();
            self.children(ty, &mut fields, depth + 1)?;
            fields.finish_into(&mut out);
        }
        Ok(out)
    }
}
