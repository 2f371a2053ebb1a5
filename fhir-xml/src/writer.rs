//! JSON → XML: emits elements in type-definition order (XML element order is significant in
//! FHIR), inherited elements first and choice elements at their `[x]` position.
//!
//! Lexical checks of values are left to the XML reader and the validator: the writer only
//! refuses what it cannot represent (unknown properties, wrong JSON types, bad XHTML), so that
//! a stored resource can always be rendered if its shape is right.

use std::borrow::Cow;

use fhir_model::{Element, Model};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::Writer;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::layout::{is_concrete_resource, is_xml_attribute, lineage, FHIR_NS, MAX_DEPTH};
use crate::narrative;
use crate::primitive::{is_xml_char, json_kind, value_text, JsonKind};

/// Converts a JSON resource to FHIR XML.
pub(crate) fn write(resource: &Value, model: &Model, pretty: bool) -> Result<String, Error> {
    let out = if pretty {
        Writer::new_with_indent(Vec::with_capacity(4096), b' ', 2)
    } else {
        Writer::new(Vec::with_capacity(4096))
    };
    let mut w = XmlWriter { model, out, path: Vec::new(), pretty };
    w.resource(resource, true, 0)?;
    String::from_utf8(w.out.into_inner()).map_err(|e| Error::new(format!("internal: output is not UTF-8: {e}")))
}

struct XmlWriter<'m> {
    model: &'m Model,
    out: Writer<Vec<u8>>,
    /// Path segments (`Patient`, `name[0]`) for error locations.
    path: Vec<String>,
    pretty: bool,
}

/// One JSON property pair (`x` and `_x`) resolved against the model.
struct Member<'v, 'm> {
    key: &'v str,
    element: &'m Element,
    ty: &'m str,
    value: Option<&'v Value>,
    meta: Option<&'v Value>,
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Escapes an attribute value; newlines and tabs become character references because a
/// reader would otherwise normalize them to spaces.
fn escape_attribute(s: &str) -> Result<Cow<'_, str>, String> {
    if let Some(c) = s.chars().find(|&c| !is_xml_char(c)) {
        return Err(format!("character U+{:04X} cannot be represented in XML 1.0", c as u32));
    }
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\n' | b'\r' | b'\t')) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

impl<'m> XmlWriter<'m> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::new(message).at_path(&self.path)
    }

    fn emit(&mut self, ev: Event) -> Result<(), Error> {
        self.out.write_event(ev).map_err(|e| Error::new(format!("internal: write failed: {e}")))
    }

    fn attribute(&self, tag: &mut BytesStart, name: &'static str, value: &str) -> Result<(), Error> {
        let escaped = escape_attribute(value).map_err(|m| self.err(format!("{m} (attribute '{name}')")))?;
        // Pushed pre-escaped: quick-xml copies an `Attribute` value verbatim.
        tag.push_attribute(Attribute { key: QName(name), value: Cow::Owned(escaped.into_owned()) });
        Ok(())
    }

    fn resource(&mut self, value: &Value, root: bool, depth: usize) -> Result<(), Error> {
        let Value::Object(obj) = value else {
            return Err(self.err(format!("a resource must be a JSON object, found {}", json_type_name(value))));
        };
        let ty = match obj.get("resourceType") {
            Some(Value::String(t)) => t.as_str(),
            Some(_) => return Err(self.err("'resourceType' must be a string")),
            None => return Err(self.err("the resource has no 'resourceType'")),
        };
        if root {
            self.path.push(ty.to_owned());
        }
        if !is_concrete_resource(self.model, ty) {
            return Err(self.err(format!("'{ty}' is not a FHIR resource type")));
        }
        let mut tag = BytesStart::new(ty);
        if root {
            tag.push_attribute(("xmlns", FHIR_NS));
        }
        if obj.len() == 1 {
            return self.emit(Event::Empty(tag));
        }
        self.emit(Event::Start(tag))?;
        self.members(ty, obj, true, depth + 1)?;
        self.emit(Event::End(BytesEnd::new(ty)))
    }

    /// Writes the child elements of an object of type `ty`, in definition order.
    fn members(&mut self, ty: &str, obj: &Map<String, Value>, is_resource: bool, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("elements are nested more than {MAX_DEPTH} deep")));
        }
        let members = self.resolve_members(ty, obj, is_resource)?;
        for td in lineage(self.model, ty) {
            for el in &td.elements {
                if is_xml_attribute(self.model, ty, &el.name) {
                    continue;
                }
                for m in members.iter().filter(|m| std::ptr::eq(m.element, el)) {
                    self.member(m, depth)?;
                }
            }
        }
        Ok(())
    }

    /// Matches every property of `obj` to an element, pairing `x` with `_x`; unknown ones are errors.
    fn resolve_members<'v>(
        &self,
        ty: &str,
        obj: &'v Map<String, Value>,
        is_resource: bool,
    ) -> Result<Vec<Member<'v, 'm>>, Error> {
        let model = self.model;
        let mut members: Vec<Member<'v, 'm>> = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            if is_resource && k == "resourceType" {
                continue;
            }
            let (base, is_meta) = match k.strip_prefix('_') {
                Some(b) => (b, true),
                None => (k.as_str(), false),
            };
            if !is_meta && is_xml_attribute(model, ty, k) {
                continue;
            }
            let Some((element, ety)) =
                model.json_element(ty, base).filter(|(el, _)| !is_xml_attribute(model, ty, &el.name))
            else {
                return Err(self.err(format!("unknown property '{k}' in {ty}")));
            };
            if is_meta && (!model.is_primitive(ety) || ety == "xhtml") {
                return Err(self.err(format!("property '{k}' is not allowed: '{base}' is not a primitive element")));
            }
            if let Some(other) = members.iter().find(|m| std::ptr::eq(m.element, element) && m.key != base) {
                return Err(self.err(format!(
                    "'{base}' and '{}' are both given for the choice element {}[x]",
                    other.key, element.name
                )));
            }
            let slot = match members.iter_mut().find(|m| m.key == base) {
                Some(m) => m,
                None => {
                    members.push(Member { key: base, element, ty: ety, value: None, meta: None });
                    members.last_mut().expect("just pushed")
                }
            };
            if is_meta {
                slot.meta = Some(v);
            } else {
                slot.value = Some(v);
            }
        }
        Ok(members)
    }

    fn member(&mut self, m: &Member, depth: usize) -> Result<(), Error> {
        let model = self.model;
        let many = m.element.many;
        if model.is_primitive(m.ty) && m.ty != "xhtml" {
            if !many {
                self.path.push(m.key.to_owned());
                self.primitive(m.key, m.ty, m.value, m.meta, depth)?;
                self.path.pop();
                return Ok(());
            }
            self.path.push(m.key.to_owned());
            let values = self.array_of(m.key, m.value)?;
            let metas = self.array_of(m.key, m.meta)?;
            if let (Some(v), Some(x)) = (values, metas) {
                if v.len() != x.len() {
                    return Err(self.err(format!(
                        "'{}' has {} items but '_{}' has {}; json.html requires them to align",
                        m.key,
                        v.len(),
                        m.key,
                        x.len()
                    )));
                }
            }
            self.path.pop();
            let n = values.map_or(0, Vec::len).max(metas.map_or(0, Vec::len));
            for i in 0..n {
                self.path.push(format!("{}[{i}]", m.key));
                self.primitive(m.key, m.ty, values.and_then(|v| v.get(i)), metas.and_then(|x| x.get(i)), depth)?;
                self.path.pop();
            }
            return Ok(());
        }
        let Some(value) = m.value else { return Ok(()) };
        if many {
            let Value::Array(items) = value else {
                self.path.push(m.key.to_owned());
                return Err(self.err(format!(
                    "'{}' repeats and must be an array, found {}",
                    m.key,
                    json_type_name(value)
                )));
            };
            for (i, item) in items.iter().enumerate() {
                self.path.push(format!("{}[{i}]", m.key));
                self.single(m.key, m.ty, item, depth)?;
                self.path.pop();
            }
        } else {
            self.path.push(m.key.to_owned());
            if value.is_array() {
                return Err(self.err(format!("'{}' does not repeat and must not be an array", m.key)));
            }
            self.single(m.key, m.ty, value, depth)?;
            self.path.pop();
        }
        Ok(())
    }

    fn array_of<'v>(&self, key: &str, v: Option<&'v Value>) -> Result<Option<&'v Vec<Value>>, Error> {
        match v {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => {
                Err(self.err(format!("'{key}' repeats and must be an array, found {}", json_type_name(other))))
            }
        }
    }

    /// One occurrence of a non-primitive element: narrative, contained resource or complex value.
    fn single(&mut self, key: &str, ty: &str, value: &Value, depth: usize) -> Result<(), Error> {
        if ty == "xhtml" {
            let Value::String(div) = value else {
                return Err(self.err(format!("the narrative must be a string, found {}", json_type_name(value))));
            };
            narrative::check_div(div)
                .map_err(|d| self.err(format!("{} (at offset {} of the div)", d.message, d.offset)))?;
            if self.pretty {
                self.out.write_indent().map_err(|e| Error::new(format!("internal: write failed: {e}")))?;
            }
            // Already XHTML markup; copied verbatim so that the narrative round-trips exactly.
            return self.emit(Event::Text(BytesText::from_escaped(div.as_str())));
        }
        if self.model.is_resource(ty) {
            self.emit(Event::Start(BytesStart::new(key)))?;
            self.resource(value, false, depth + 1)?;
            return self.emit(Event::End(BytesEnd::new(key)));
        }
        let Value::Object(obj) = value else {
            return Err(self.err(format!("a {ty} must be a JSON object, found {}", json_type_name(value))));
        };
        self.complex(key, ty, obj, depth)
    }

    fn complex(&mut self, key: &str, ty: &str, obj: &Map<String, Value>, depth: usize) -> Result<(), Error> {
        let mut tag = BytesStart::new(key);
        let mut children = false;
        for (k, v) in obj {
            if is_xml_attribute(self.model, ty, k) {
                let Value::String(s) = v else {
                    return Err(self.err(format!("'{k}' must be a string, found {}", json_type_name(v))));
                };
                let name = if k == "id" { "id" } else { "url" };
                self.attribute(&mut tag, name, s)?;
            } else {
                children = true;
            }
        }
        if !children {
            return self.emit(Event::Empty(tag));
        }
        self.emit(Event::Start(tag))?;
        self.members(ty, obj, false, depth + 1)?;
        self.emit(Event::End(BytesEnd::new(key)))
    }

    /// A primitive occurrence: `value` from the JSON value, `id` and extensions from the `_x` object.
    fn primitive(
        &mut self,
        key: &str,
        ty: &str,
        value: Option<&Value>,
        meta: Option<&Value>,
        depth: usize,
    ) -> Result<(), Error> {
        let value = value.filter(|v| !v.is_null());
        let meta = meta.filter(|v| !v.is_null());
        if value.is_none() && meta.is_none() {
            return Err(self.err(format!("'{key}' has neither a value nor an id or extension")));
        }
        let mut tag = BytesStart::new(key);
        let mut extensions: &[Value] = &[];
        if let Some(meta) = meta {
            let Value::Object(meta) = meta else {
                return Err(self.err(format!("'_{key}' must be an object, found {}", json_type_name(meta))));
            };
            for (k, v) in meta {
                match (k.as_str(), v) {
                    ("id", Value::String(id)) => self.attribute(&mut tag, "id", id)?,
                    ("extension", Value::Array(exts)) => extensions = exts,
                    ("id" | "extension", other) => {
                        return Err(
                            self.err(format!("'_{key}.{k}' has the wrong JSON type ({})", json_type_name(other)))
                        );
                    }
                    _ => {
                        return Err(
                            self.err(format!("unknown property '{k}' in '_{key}' (only id and extension are allowed)"))
                        )
                    }
                }
            }
        }
        if let Some(v) = value {
            let kind = json_kind(self.model, ty);
            let Some(text) = value_text(kind, v) else {
                let want = match kind {
                    JsonKind::Bool => "a boolean",
                    JsonKind::Number => "a number",
                    JsonKind::String => "a string",
                };
                return Err(self.err(format!("a {ty} must be {want} in JSON, found {}", json_type_name(v))));
            };
            self.attribute(&mut tag, "value", &text)?;
        }
        if extensions.is_empty() {
            return self.emit(Event::Empty(tag));
        }
        self.emit(Event::Start(tag))?;
        for (i, ext) in extensions.iter().enumerate() {
            self.path.push(format!("extension[{i}]"));
            let Value::Object(obj) = ext else {
                return Err(self.err(format!("an Extension must be a JSON object, found {}", json_type_name(ext))));
            };
            self.complex("extension", "Extension", obj, depth + 1)?;
            self.path.pop();
        }
        self.emit(Event::End(BytesEnd::new(key)))
    }
}
