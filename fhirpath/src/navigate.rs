//! Moving from a node to its children by FHIRPath name, typed through the model
//! (choice elements, primitives with `_name` companions, contained resources) or, without
//! type information, by the JSON alone.

use serde_json::{Map, Value};

use crate::eval::Coll;
use crate::item::{Item, Node, NodeData, Str};
use crate::model::{Glue, Sys};

/// The type of a resource object: the model's interned name, else the JSON's own text.
pub(crate) fn resource_type<'a>(glue: &Glue, v: &'a Value) -> Option<(&'a str, Sys)> {
    let rt = v.get("resourceType")?.as_str()?;
    Some(match glue.static_name(rt) {
        Some(s) => (s, Sys::Complex),
        None => (rt, if glue.typed() { Sys::Complex } else { Sys::Unknown }),
    })
}

/// The node for a whole resource (or any JSON value) given as input.
pub(crate) fn root_node<'a>(glue: &Glue, v: &'a Value) -> Node<'a> {
    match resource_type(glue, v) {
        Some((ty, sys)) => Node::borrowed(Some(v), None, ty, sys),
        None => Node::borrowed(Some(v), None, "", Sys::Unknown),
    }
}

/// Node for an owned resource (from a resolver or a JSON variable).
pub(crate) fn owned_root<'a>(glue: &Glue, v: Value) -> Node<'a> {
    let rt = v.get("resourceType").and_then(Value::as_str).and_then(|rt| glue.static_name(rt));
    match rt {
        Some(ty) => Node::owned(Some(v), None, ty, Sys::Complex),
        None => Node::owned(Some(v), None, "", Sys::Unknown),
    }
}

/// Pushes the items of `value`/`ext` (arrays aligned by index) as nodes of type `ty`.
fn push_values<'a>(out: &mut Coll<'a>, glue: &Glue, value: Option<&'a Value>, ext: Option<&'a Value>, ty: &'a str, sys: Sys) {
    match (value, ext) {
        (Some(Value::Array(vs)), e) => {
            let es = match e {
                Some(Value::Array(es)) => Some(es),
                _ => None,
            };
            for (i, v) in vs.iter().enumerate() {
                let ex = es.and_then(|es| es.get(i)).filter(|x| !x.is_null());
                let v = (!v.is_null()).then_some(v);
                if v.is_none() && ex.is_none() {
                    continue;
                }
                out.push(Item::Node(make(glue, v, ex, ty, sys)));
            }
        }
        (None, Some(Value::Array(es))) => {
            for e in es.iter().filter(|e| !e.is_null()) {
                out.push(Item::Node(make(glue, None, Some(e), ty, sys)));
            }
        }
        (Some(Value::Null), None) | (None, None) | (None, Some(Value::Null)) => {}
        (v, e) => {
            let v = v.filter(|v| !v.is_null());
            out.push(Item::Node(make(glue, v, e, ty, sys)));
        }
    }
}

/// One node; an object of an abstract `Resource` slot takes the type it declares.
fn make<'a>(glue: &Glue, v: Option<&'a Value>, e: Option<&'a Value>, ty: &'a str, sys: Sys) -> Node<'a> {
    if let Some(obj @ Value::Object(_)) = v {
        if matches!(ty, "Resource" | "DomainResource" | "") {
            if let Some((rt, s)) = resource_type(glue, obj) {
                return Node::borrowed(v, e, rt, s);
            }
        }
    }
    Node::borrowed(v, e, ty, sys)
}

/// Type guessed from a choice key suffix (`valueQuantity` → `Quantity`, `valueDateTime` → `dateTime`).
fn guess_choice_type(suffix: &str) -> &str {
    const PRIMS: [&str; 19] = [
        "Boolean", "Integer", "Decimal", "String", "Uri", "Url", "Canonical", "Code", "Id", "Oid", "Uuid",
        "Markdown", "Base64Binary", "Instant", "Date", "DateTime", "Time", "PositiveInt", "UnsignedInt",
    ];
    const LOWER: [&str; 19] = [
        "boolean", "integer", "decimal", "string", "uri", "url", "canonical", "code", "id", "oid", "uuid",
        "markdown", "base64Binary", "instant", "date", "dateTime", "time", "positiveInt", "unsignedInt",
    ];
    match PRIMS.iter().position(|p| *p == suffix) {
        Some(i) => LOWER[i],
        None => suffix,
    }
}

fn untyped_sys(ty: &str) -> Sys {
    match ty {
        "boolean" => Sys::Boolean,
        "integer" | "positiveInt" | "unsignedInt" => Sys::Integer,
        "decimal" => Sys::Decimal,
        "date" => Sys::Date,
        "dateTime" | "instant" => Sys::DateTime,
        "time" => Sys::Time,
        "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" | "MoneyQuantity" => Sys::Quantity,
        "string" | "uri" | "url" | "canonical" | "code" | "id" | "oid" | "uuid" | "markdown" | "base64Binary" => {
            Sys::String
        }
        _ => Sys::Unknown,
    }
}

/// Children of `obj` named `name` without a model.
fn untyped_children<'a>(out: &mut Coll<'a>, glue: &Glue, obj: &'a Map<String, Value>, name: &str, ext_name: &str) {
    let v = obj.get(name);
    let e = obj.get(ext_name);
    if v.is_some() || e.is_some() {
        push_values(out, glue, v, e, "", Sys::Unknown);
        return;
    }
    // A choice element: `value` finds `valueQuantity`, typed by its suffix.
    for (k, v) in obj {
        if let Some(suffix) = k.strip_prefix(name) {
            if suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
                let ty = guess_choice_type(suffix);
                let ext = ext_lookup(obj, k);
                push_values(out, glue, Some(v), ext, ty, untyped_sys(ty));
            }
        }
    }
}

/// `_key` of `obj` without allocating for short keys.
fn ext_lookup<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut buf = [0u8; 96];
    if key.len() < buf.len() {
        buf[0] = b'_';
        buf[1..=key.len()].copy_from_slice(key.as_bytes());
        let s = std::str::from_utf8(&buf[..=key.len()]).ok()?;
        obj.get(s)
    } else {
        obj.get(&format!("_{key}"))
    }
}

/// Appends the children named `name` of `item` to `out`.
pub(crate) fn children_named<'a>(out: &mut Coll<'a>, glue: &Glue, item: &Item<'a>, name: &str, ext_name: &str) {
    match item {
        Item::Node(n) => match &n.data {
            NodeData::Borrowed { value, ext } => node_children(out, glue, n, *value, *ext, name, ext_name),
            NodeData::Owned(_) => owned_children(out, glue, n, name, ext_name),
        },
        Item::Type { namespace, name: tn } => match name {
            "namespace" => out.push(Item::String(Str::Borrowed(namespace))),
            "name" => out.push(Item::String(tn.clone())),
            _ => {}
        },
        Item::Quantity(q) => match name {
            "value" => out.push(Item::Decimal(q.value)),
            "unit" | "code" => out.push(Item::String(Str::Shared(q.unit.clone()))),
            _ => {}
        },
        _ => {}
    }
}

fn node_children<'a>(
    out: &mut Coll<'a>,
    glue: &Glue,
    n: &Node<'a>,
    value: Option<&'a Value>,
    ext: Option<&'a Value>,
    name: &str,
    ext_name: &str,
) {
    // A primitive's children (id, extension) live in its `_name` object.
    let obj = match value {
        Some(Value::Object(o)) => o,
        _ => match ext {
            Some(Value::Object(o)) if n.is_primitive() || value.is_none() => o,
            _ => return,
        },
    };
    let is_ext_obj = !matches!(value, Some(Value::Object(_)));
    let Some(ti) = (if is_ext_obj { glue.type_info("Element") } else { glue.type_info(n.ty) }) else {
        untyped_children(out, glue, obj, name, ext_name);
        return;
    };
    let Some(idx) = ti.element_index(name) else { return };
    let el = &ti.elems[idx as usize];
    if !el.choice {
        let Some(&(ty, sys)) = el.types.first() else { return };
        let v = obj.get(name);
        let primitive = !matches!(sys, Sys::Complex | Sys::Quantity);
        let e = if primitive { obj.get(ext_name) } else { None };
        push_values(out, glue, v, e, ty, sys);
        return;
    }
    for (k, v) in obj {
        let (base, underscore) = match k.strip_prefix('_') {
            Some(b) => (b, true),
            None => (k.as_str(), false),
        };
        if !base.starts_with(name) || base.len() == name.len() {
            continue;
        }
        let Some(jk) = ti.json_key(base) else { continue };
        if jk.elem != idx {
            continue;
        }
        if underscore {
            // Only a `_valueX` without `valueX`: an extension-only primitive.
            if !obj.contains_key(base) {
                push_values(out, glue, None, Some(v), jk.ty, jk.sys);
            }
            continue;
        }
        let e = if matches!(jk.sys, Sys::Complex | Sys::Quantity) { None } else { ext_lookup(obj, k) };
        push_values(out, glue, Some(v), e, jk.ty, jk.sys);
    }
}

/// Children of an owned node: navigated on the owned JSON, then cloned into owned nodes.
fn owned_children<'a>(out: &mut Coll<'a>, glue: &Glue, n: &Node<'a>, name: &str, ext_name: &str) {
    let mut tmp: Coll<'_> = Coll::new();
    node_children(&mut tmp, glue, n, n.value(), n.ext(), name, ext_name);
    for it in tmp {
        if let Item::Node(c) = it {
            let ty: &'a str = glue.static_name(c.ty).unwrap_or("");
            out.push(Item::Node(Node::owned(c.value().cloned(), c.ext().cloned(), ty, c.sys)));
        }
    }
}

/// All children of a node (for `children()` / `descendants()`), in JSON order.
pub(crate) fn all_children<'a>(out: &mut Coll<'a>, glue: &Glue, item: &Item<'a>) {
    let Item::Node(n) = item else { return };
    let (obj, is_ext_obj) = match (n.value(), n.ext()) {
        (Some(Value::Object(o)), _) => (o, false),
        (_, Some(Value::Object(o))) => (o, true),
        _ => return,
    };
    let ti = if is_ext_obj { glue.type_info("Element") } else { glue.type_info(n.ty) };
    let mut names: Vec<&str> = Vec::new();
    for k in obj.keys() {
        if k == "resourceType" {
            continue;
        }
        let base = k.strip_prefix('_').unwrap_or(k);
        let name: &str = match ti {
            Some(ti) => match ti.json_key(base) {
                Some(jk) => &ti.elems[jk.elem as usize].name,
                None => continue,
            },
            None => base,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        let ext_name = format!("_{name}");
        children_named(out, glue, item, name, &ext_name);
    }
}
