//! FHIRPath Patch (fhirpatch.html): a Parameters body of `operation`s — add, insert,
//! delete, replace and move — whose paths are FHIRPath expressions.
//!
//! Paths are evaluated with the shared engine; a result is located in the document by
//! address (the engine hands out references into the resource), so the engine needs no
//! location bookkeeping on its hot path.

use crate::error::{FhirError, FhirResult};
use axum::http::StatusCode;
use fhir_model::Model;
use fhirpath::Engine;
use serde_json::{Map, Value};

/// One step from a JSON value to a child.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The parts of one `operation` parameter.
#[derive(Clone)]
struct Operation<'p> {
    kind: &'p str,
    path: &'p str,
    name: Option<&'p str>,
    /// The new content: JSON value, its `_` sibling (primitive extensions) and the FHIR type suffix (`Date`, `HumanName`).
    value: Option<(Value, Option<Value>, Option<String>)>,
    index: Option<i64>,
    source: Option<i64>,
    destination: Option<i64>,
    /// Part name → its index, so errors point at the part at fault.
    parts: Vec<(&'p str, usize)>,
}

impl Operation<'_> {
    /// Expression of the named part (`part[1]`), or of the whole operation's parts.
    fn at(&self, name: &str) -> String {
        match self.parts.iter().find(|(n, _)| *n == name) {
            Some((_, j)) => format!("part[{j}]"),
            None => "part".to_owned(),
        }
    }
}

/// Applies a FHIRPath Patch Parameters resource to `doc`, all operations or none; the engine's model types the paths.
pub fn apply(engine: &Engine, doc: &mut Value, params: &Value) -> FhirResult<()> {
    let model: &Model = engine.model().ok_or_else(|| FhirError::internal("FHIRPath Patch needs an engine with a type model"))?;
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(FhirError::bad_request("a FHIRPath Patch body is a Parameters resource").at("resourceType"));
    }
    let empty = Vec::new();
    let parameters = match params.get("parameter") {
        None => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => return Err(FhirError::bad_request("Parameters.parameter must be an array").at("Parameters.parameter")),
    };
    let mut work = doc.clone();
    for (i, p) in parameters.iter().enumerate() {
        let at = format!("Parameters.parameter[{i}]");
        let op = parse_operation(model, p).map_err(|e| e.within(&at))?;
        apply_one(engine, model, &mut work, &op).map_err(|e| e.within(&at))?;
    }
    *doc = work;
    Ok(())
}

fn parse_operation<'p>(model: &Model, p: &'p Value) -> FhirResult<Operation<'p>> {
    if p.get("name").and_then(Value::as_str) != Some("operation") {
        return Err(FhirError::bad_request("every parameter of a FHIRPath Patch is named 'operation'").at("name"));
    }
    let mut op = Operation { kind: "", path: "", name: None, value: None, index: None, source: None, destination: None, parts: Vec::new() };
    for (j, part) in p.get("part").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
        let at = format!("part[{j}]");
        let name = part.get("name").and_then(Value::as_str).ok_or_else(|| FhirError::bad_request("a part needs a name").at(format!("{at}.name")))?;
        op.parts.push((name, j));
        let prim = |key: &str| part.get(key).ok_or_else(|| FhirError::bad_request(format!("part '{name}' needs {key}")).at(format!("{at}.{key}")));
        match name {
            "type" => op.kind = prim("valueCode")?.as_str().ok_or_else(|| FhirError::bad_request("type is a code").at(format!("{at}.valueCode")))?,
            "path" => op.path = prim("valueString")?.as_str().ok_or_else(|| FhirError::bad_request("path is a string").at(format!("{at}.valueString")))?,
            "name" => op.name = Some(prim("valueString")?.as_str().ok_or_else(|| FhirError::bad_request("name is a string").at(format!("{at}.valueString")))?),
            "index" | "source" | "destination" => {
                let n = prim("valueInteger")?.as_i64().ok_or_else(|| FhirError::bad_request(format!("{name} is an integer")).at(format!("{at}.valueInteger")))?;
                *match name {
                    "index" => &mut op.index,
                    "source" => &mut op.source,
                    _ => &mut op.destination,
                } = Some(n);
            }
            "value" => op.value = Some(part_value(model, part, None).map_err(|e| e.within(&at))?),
            other => return Err(FhirError::bad_request(format!("unknown FHIRPath Patch part '{other}'")).at(format!("{at}.name"))),
        }
    }
    if !matches!(op.kind, "add" | "insert" | "delete" | "replace" | "move") {
        return Err(FhirError::bad_request(format!("unknown operation type '{}': expected add, insert, delete, replace or move", op.kind)).at(op.at("type")));
    }
    if op.path.is_empty() {
        return Err(FhirError::bad_request(format!("{} needs a path", op.kind)).at(op.at("path")));
    }
    Ok(op)
}

/// The value a part carries: `valueX` (with its `_valueX`), or nested parts for an anonymous (backbone) type.
fn part_value(model: &Model, part: &Value, element_type: Option<&str>) -> FhirResult<(Value, Option<Value>, Option<String>)> {
    let Some(obj) = part.as_object() else { return Err(FhirError::bad_request("a part is an object")) };
    for (k, v) in obj {
        if let Some(suffix) = k.strip_prefix("value") {
            if suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
                return Ok((v.clone(), obj.get(&format!("_{k}")).cloned(), Some(suffix.to_owned())));
            }
        }
        if k == "resource" {
            return Ok((v.clone(), None, Some("Resource".into())));
        }
    }
    let Some(parts) = obj.get("part").and_then(Value::as_array) else {
        return Err(FhirError::bad_request("the value part needs value[x] or nested parts"));
    };
    // An anonymous type: each nested part names one child element.
    let mut out = Map::new();
    for (i, sub) in parts.iter().enumerate() {
        let name = sub.get("name").and_then(Value::as_str).ok_or_else(|| FhirError::bad_request("a part needs a name").at(format!("part[{i}].name")))?;
        let child = element_type.and_then(|t| model.element(t, name));
        let child_type = child.and_then(|e| e.types.first()).map(String::as_str);
        let (v, ext, suffix) = part_value(model, sub, child_type).map_err(|e| e.within(&format!("part[{i}]")))?;
        let key = match (child, &suffix) {
            (Some(el), Some(s)) if el.choice => format!("{name}{s}"),
            _ => name.to_owned(),
        };
        let many = child.map_or(false, |e| e.many);
        if many {
            push_entry(&mut out, &key, v, ext);
        } else {
            out.insert(key.clone(), v);
            if let Some(ext) = ext {
                out.insert(format!("_{key}"), ext);
            }
        }
    }
    Ok((Value::Object(out), None, None))
}

fn push_entry(obj: &mut Map<String, Value>, key: &str, v: Value, ext: Option<Value>) {
    let len = match obj.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(a) => {
            a.push(v);
            a.len()
        }
        other => {
            *other = Value::Array(vec![other.take(), v]);
            2
        }
    };
    let ukey = format!("_{key}");
    if ext.is_some() || obj.contains_key(&ukey) {
        let Value::Array(u) = obj.entry(ukey).or_insert_with(|| Value::Array(Vec::new())) else { return };
        u.resize(len - 1, Value::Null);
        u.push(ext.unwrap_or(Value::Null));
    }
}

fn unprocessable(msg: impl Into<String>) -> FhirError {
    FhirError::new(StatusCode::UNPROCESSABLE_ENTITY, "processing", msg)
}

/// Locations of the path's results in `doc`.
fn select(engine: &Engine, doc: &Value, op: &Operation) -> FhirResult<Vec<Vec<Seg>>> {
    let path = op.path;
    let expr = engine.compile(path).map_err(|e| FhirError::bad_request(format!("invalid FHIRPath '{path}': {e}")).at(op.at("path")))?;
    let items = engine.evaluate(&expr, doc, &fhirpath::Env::default()).map_err(|e| unprocessable(format!("evaluating '{path}' failed: {e}")).at(op.at("path")))?;
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let loc = item.json().and_then(|target| {
            let mut segs = Vec::new();
            locate(doc, target, &mut segs).then_some(segs)
        });
        match loc {
            Some(segs) => out.push(segs),
            None => return Err(unprocessable(format!("'{path}' selects a value that is not an element of the resource")).at(op.at("path"))),
        }
    }
    Ok(out)
}

/// Depth-first search for the node at `target`'s address.
fn locate(cur: &Value, target: &Value, segs: &mut Vec<Seg>) -> bool {
    if std::ptr::eq(cur, target) {
        return true;
    }
    match cur {
        Value::Object(m) => {
            for (k, v) in m {
                segs.push(Seg::Key(k.clone()));
                if locate(v, target, segs) {
                    return true;
                }
                segs.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                segs.push(Seg::Index(i));
                if locate(v, target, segs) {
                    return true;
                }
                segs.pop();
            }
        }
        _ => {}
    }
    false
}

fn get<'a>(doc: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(doc, |v, s| match s {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

fn get_mut<'a>(doc: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    segs.iter().try_fold(doc, |v, s| match s {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// FHIR type of the node at `segs`, walking the model from the resource type.
fn type_at(model: &Model, doc: &Value, segs: &[Seg]) -> Option<String> {
    let mut ty = doc.get("resourceType")?.as_str()?.to_owned();
    let mut cur = doc;
    for s in segs {
        // Resource-typed nodes carry their own type (contained, Bundle.entry.resource).
        match s {
            Seg::Key(k) => {
                cur = cur.get(k.as_str())?;
                let (_, t) = model.json_element(&ty, k)?;
                ty = t.to_owned();
            }
            Seg::Index(i) => cur = cur.get(*i)?,
        }
        if model.is_resource(&ty) {
            if let Some(rt) = cur.get("resourceType").and_then(Value::as_str) {
                ty = rt.to_owned();
            }
        }
    }
    Some(ty)
}

/// The one location a path must select, for add and replace.
fn single(engine: &Engine, doc: &Value, op: &Operation) -> FhirResult<Vec<Seg>> {
    let mut locs = select(engine, doc, op)?;
    match locs.len() {
        1 => Ok(locs.remove(0)),
        0 => Err(unprocessable(format!("No content found at {} when {}", op.path, gerund(op.kind))).at(op.at("path"))),
        n => Err(unprocessable(format!("{} selects {n} elements; {} needs exactly one", op.path, op.kind)).at(op.at("path"))),
    }
}

fn gerund(kind: &str) -> &'static str {
    match kind {
        "add" => "adding",
        "insert" => "inserting",
        "replace" => "replacing",
        "move" => "moving",
        _ => "deleting",
    }
}

/// The list a path selects (insert, move): its parent object, key and current length.
fn list(engine: &Engine, doc: &Value, op: &Operation) -> FhirResult<(Vec<Seg>, String, usize)> {
    let locs = select(engine, doc, op)?;
    let Some(first) = locs.first() else {
        // An absent list: insert may create it when the path ends in a plain element name.
        if op.kind == "insert" {
            if let Some((parent, name)) = op.path.rsplit_once('.') {
                if name.chars().all(|c| c.is_ascii_alphanumeric()) {
                    let p = single(engine, doc, &Operation { path: parent, ..op.clone() })?;
                    return Ok((p, name.to_owned(), 0));
                }
            }
        }
        return Err(unprocessable(format!("No content found at {} when {}", op.path, gerund(op.kind))).at(op.at("path")));
    };
    let parent_of = |l: &Vec<Seg>| match l.split_last() {
        Some((Seg::Index(_), rest)) => match rest.split_last() {
            Some((Seg::Key(k), obj)) => Some((obj.to_vec(), k.clone())),
            _ => None,
        },
        _ => None,
    };
    let (obj, key) = parent_of(first).ok_or_else(|| unprocessable(format!("{} does not select a list", op.path)).at(op.at("path")))?;
    let len = get(doc, &obj).and_then(|o| o.get(&key)).and_then(Value::as_array).map_or(0, Vec::len);
    if locs.iter().any(|l| parent_of(l).as_ref() != Some(&(obj.clone(), key.clone()))) || locs.len() != len {
        return Err(unprocessable(format!("{} must select one whole list", op.path)).at(op.at("path")));
    }
    Ok((obj, key, len))
}

fn need_value<'o>(op: &'o Operation) -> FhirResult<&'o (Value, Option<Value>, Option<String>)> {
    op.value.as_ref().ok_or_else(|| FhirError::bad_request(format!("{} needs a value part", op.kind)).at(op.at("type")))
}

fn apply_one(engine: &Engine, model: &Model, doc: &mut Value, op: &Operation) -> FhirResult<()> {
    match op.kind {
        "add" => {
            let name = op.name.ok_or_else(|| FhirError::bad_request("add needs a name part").at(op.at("type")))?;
            let (v, ext, suffix) = need_value(op)?.clone();
            let loc = single(engine, doc, op)?;
            let container_type = type_at(model, doc, &loc);
            let element = container_type.as_deref().and_then(|t| model.element(t, name));
            if container_type.is_some() && element.is_none() {
                return Err(unprocessable(format!("{} has no element '{name}'", container_type.unwrap_or_default())).at(op.at("name")));
            }
            let key = match (element, &suffix) {
                (Some(el), Some(s)) if el.choice => format!("{name}{s}"),
                _ => name.to_owned(),
            };
            let many = element.map_or(false, |e| e.many);
            let Some(Value::Object(obj)) = get_mut(doc, &loc) else {
                return Err(unprocessable(format!("{} is not a complex element; cannot add '{name}' to it", op.path)).at(op.at("path")));
            };
            if many {
                push_entry(obj, &key, v, ext);
            } else {
                let prefix = element.filter(|e| e.choice).map(|e| e.name.as_str()).unwrap_or(&key);
                if obj.keys().any(|k| k == &key || (element.is_some_and(|e| e.choice) && k.starts_with(prefix) && k[prefix.len()..].starts_with(|c: char| c.is_ascii_uppercase()))) {
                    return Err(unprocessable(format!("{}.{name} already has a value; use replace", op.path)).at(op.at("name")));
                }
                obj.insert(key.clone(), v);
                if let Some(ext) = ext {
                    obj.insert(format!("_{key}"), ext);
                }
            }
        }
        "insert" => {
            let (v, ext, _) = need_value(op)?.clone();
            let index = op.index.ok_or_else(|| FhirError::bad_request("insert needs an index part").at(op.at("type")))?;
            let (obj, key, len) = list(engine, doc, op)?;
            if index < 0 || index as usize > len {
                return Err(unprocessable(format!("index {index} is outside 0..={len} of {}", op.path)).at(op.at("index")));
            }
            let Some(Value::Object(o)) = get_mut(doc, &obj) else { return Err(unprocessable(format!("cannot insert into {}", op.path))) };
            let i = index as usize;
            if let Value::Array(a) = o.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new())) {
                a.insert(i, v);
            }
            let ukey = format!("_{key}");
            if ext.is_some() || o.contains_key(&ukey) {
                if let Value::Array(u) = o.entry(ukey).or_insert_with(|| Value::Array(Vec::new())) {
                    u.resize(len, Value::Null);
                    u.insert(i, ext.unwrap_or(Value::Null));
                }
            }
        }
        "delete" => {
            let locs = select(engine, doc, op)?;
            match locs.len() {
                0 => {}
                1 => remove_at(doc, &locs[0]),
                n => return Err(unprocessable(format!("{} selects {n} elements; delete removes one at a time", op.path)).at(op.at("path"))),
            }
        }
        "replace" => {
            let (v, ext, suffix) = need_value(op)?.clone();
            let loc = single(engine, doc, op)?;
            let parent_type = loc.split_last().and_then(|(_, p)| {
                let p = if matches!(p.last(), Some(Seg::Key(_))) || p.is_empty() { p } else { &p[..p.len() - 1] };
                type_at(model, doc, p)
            });
            let target = get_mut(doc, &loc).ok_or_else(|| unprocessable("replace target vanished"))?;
            *target = v;
            // A choice element changes its key with the type of the new value (deceasedBoolean → deceasedDateTime).
            if let (Some((Seg::Key(k), parent)), Some(ty), Some(s)) = (loc.split_last(), parent_type, suffix) {
                if let Some((el, _)) = model.json_element(&ty, k) {
                    if el.choice {
                        let new_key = format!("{}{s}", el.name);
                        if let Some(Value::Object(o)) = get_mut(doc, parent) {
                            if new_key != *k {
                                if let Some(val) = o.remove(k) {
                                    o.insert(new_key.clone(), val);
                                }
                                o.remove(&format!("_{k}"));
                            }
                            if let Some(ext) = ext {
                                o.insert(format!("_{new_key}"), ext);
                            }
                        }
                    }
                }
            }
        }
        "move" => {
            let (src, dst) = match (op.source, op.destination) {
                (Some(s), Some(d)) => (s, d),
                _ => return Err(FhirError::bad_request("move needs source and destination parts").at(op.at("type"))),
            };
            let (obj, key, len) = list(engine, doc, op)?;
            if src < 0 || dst < 0 || src as usize >= len || dst as usize >= len {
                return Err(unprocessable(format!("source {src} and destination {dst} must lie in 0..{len} of {}", op.path)).at(op.at("source")));
            }
            let Some(Value::Object(o)) = get_mut(doc, &obj) else { return Err(unprocessable(format!("cannot move within {}", op.path))) };
            for k in [key.clone(), format!("_{key}")] {
                if let Some(Value::Array(a)) = o.get_mut(&k) {
                    if a.len() == len {
                        let item = a.remove(src as usize);
                        a.insert(dst as usize, item);
                    }
                }
            }
        }
        _ => unreachable!("checked in parse_operation"),
    }
    Ok(())
}

/// Removes the node at `loc` with its `_` sibling, then prunes objects and arrays left empty.
fn remove_at(doc: &mut Value, loc: &[Seg]) {
    let Some((last, parent)) = loc.split_last() else { return };
    match (last, get_mut(doc, parent)) {
        (Seg::Key(k), Some(Value::Object(o))) => {
            o.remove(k);
            o.remove(&format!("_{k}"));
        }
        (Seg::Index(i), Some(Value::Array(a))) => {
            if *i < a.len() {
                a.remove(*i);
            }
            // The aligned `_key` array of a primitive list loses the same slot.
            if let Some((Seg::Key(k), grand)) = parent.split_last() {
                if let Some(Value::Object(o)) = get_mut(doc, grand) {
                    let ukey = format!("_{k}");
                    if let Some(Value::Array(u)) = o.get_mut(&ukey) {
                        if *i < u.len() {
                            u.remove(*i);
                        }
                        if u.iter().all(Value::is_null) {
                            o.remove(&ukey);
                        }
                    }
                }
            }
        }
        _ => return,
    }
    // FHIR JSON has no empty objects or arrays.
    let mut depth = parent.len();
    while depth > 0 {
        let empty = get_mut(doc, &loc[..depth]).is_some_and(|v| match v {
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty() || a.iter().all(Value::is_null),
            _ => false,
        });
        if !empty {
            break;
        }
        let (seg, up) = loc[..depth].split_last().expect("depth > 0");
        match (seg, get_mut(doc, up)) {
            (Seg::Key(k), Some(Value::Object(o))) => {
                o.remove(k);
            }
            (Seg::Index(i), Some(Value::Array(a))) if *i < a.len() => {
                a.remove(*i);
            }
            _ => break,
        }
        depth -= 1;
    }
}
