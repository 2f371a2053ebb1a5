//! Structural validation of R4 JSON resources against the core StructureDefinitions.
//!
//! Every StructureDefinition snapshot is compiled once into a tree of `Node`s: one per
//! resource / datatype and one per inline backbone element. Each node maps the JSON
//! property names it accepts (choice elements expanded to `valueQuantity` etc.) to the
//! element definition, so validating a property is one hash lookup.

use std::collections::HashMap;

use serde_json::{Map, Value};

use fhir_model::primitives::{self, Prim};
use crate::valuesets::{Expander, Expansion};
use crate::{Issue, Package, Severity};

type NodeId = u32;

#[derive(Debug, Clone, Copy)]
enum TypeKind {
    Prim(Prim),
    Complex(NodeId),
    Resource,
}

#[derive(Debug)]
struct TypeRef {
    name: Box<str>,
    kind: TypeKind,
}

#[derive(Debug)]
struct Child {
    /// Element name; for choice elements the prefix without `[x]`.
    name: Box<str>,
    is_choice: bool,
    min: u32,
    many: bool,
    types: Vec<TypeRef>,
    /// Index into `Validator::expansions` for an expandable required binding.
    binding: Option<u32>,
    /// JSON keys whose presence satisfies min >= 1 (`_x` counts: an extension-only primitive is present).
    presence_keys: Vec<Box<str>>,
}

#[derive(Debug, Default)]
struct Node {
    keys: HashMap<Box<str>, (u32, u16)>,
    children: Vec<Child>,
    required: Vec<u32>,
}

/// The structural validator over one package (see crate docs for the rules).
pub struct Validator {
    nodes: Vec<Node>,
    resources: HashMap<String, NodeId>,
    element_node: NodeId,
    expansions: Vec<Expansion>,
    unexpandable: Vec<String>,
}

struct Pending {
    node: NodeId,
    child: u32,
    target: String,
}

impl Validator {
    /// Compiles the package's StructureDefinitions and required bindings.
    pub fn build(pkg: &Package) -> Validator {
        let sds: Vec<&Value> = pkg
            .resources("StructureDefinition")
            .iter()
            .filter(|sd| {
                let kind = sd.get("kind").and_then(Value::as_str);
                let deriv = sd.get("derivation").and_then(Value::as_str);
                matches!(kind, Some("complex-type") | Some("resource"))
                    && (deriv == Some("specialization") || sd.get("baseDefinition").is_none())
            })
            .collect();
        let mut b = Builder {
            nodes: Vec::new(),
            types: HashMap::new(),
            expander: Expander::new(pkg),
            binding_cache: HashMap::new(),
            expansions: Vec::new(),
            unexpandable: Vec::new(),
        };
        let mut roots = Vec::new();
        for sd in &sds {
            let ty = sd
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let id = b.nodes.len() as NodeId;
            b.nodes.push(Node::default());
            b.types.insert(ty.clone(), id);
            roots.push((ty, id));
        }
        for (sd, (_, id)) in sds.iter().zip(&roots) {
            b.build_sd(sd, *id);
        }
        let resources = roots
            .iter()
            .filter(|(ty, _)| pkg.is_resource_type(ty))
            .map(|(ty, id)| (ty.clone(), *id))
            .collect();
        let element_node = b.types["Element"];
        let mut unexpandable = b.unexpandable;
        unexpandable.sort();
        Validator {
            nodes: b.nodes,
            resources,
            element_node,
            expansions: b.expansions,
            unexpandable,
        }
    }

    /// Required-binding value sets that could not be expanded from the package, so are not checked.
    pub fn unexpandable_value_sets(&self) -> &[String] {
        &self.unexpandable
    }

    /// Structural validation of one resource (JSON). Empty vec = valid.
    pub fn validate(&self, resource: &Value) -> Vec<Issue> {
        let mut cx = Cx {
            issues: Vec::new(),
            path: String::new(),
        };
        self.resource(resource, &mut cx);
        cx.issues
    }

    fn resource(&self, v: &Value, cx: &mut Cx) {
        let Value::Object(obj) = v else {
            cx.err("structure", "", "a resource must be a JSON object");
            return;
        };
        let root = cx.path.is_empty();
        let Some(rt) = obj.get("resourceType") else {
            cx.err(
                "required",
                if root { "resourceType" } else { "" },
                "resourceType is missing",
            );
            return;
        };
        let node = match rt.as_str().and_then(|s| self.resources.get(s)) {
            Some(n) => *n,
            None => {
                cx.err(
                    "invalid",
                    if root { "resourceType" } else { "" },
                    &format!("unknown resource type {rt}"),
                );
                return;
            }
        };
        if root {
            cx.path.push_str(rt.as_str().unwrap_or_default());
        }
        self.object(node, obj, true, cx);
        if root {
            cx.path.clear();
        }
    }

    fn object(&self, node_id: NodeId, obj: &Map<String, Value>, is_resource: bool, cx: &mut Cx) {
        let node = &self.nodes[node_id as usize];
        if obj.is_empty() {
            cx.err("structure", "", "empty objects are not allowed");
            return;
        }
        let mut choices: Vec<(u32, &str)> = Vec::new();
        for (k, v) in obj {
            if k == "resourceType" {
                if is_resource {
                    continue;
                }
                // ExampleScenario.instance has a real element of this name.
                if !node.keys.contains_key("resourceType") {
                    cx.err(
                        "structure",
                        &dot(k),
                        "resourceType is only allowed at the root of a resource",
                    );
                    continue;
                }
            }
            if let Some(base) = k.strip_prefix('_') {
                match node.keys.get(base) {
                    Some(&(ci, ti))
                        if matches!(
                            node.children[ci as usize].types[ti as usize].kind,
                            TypeKind::Prim(_)
                        ) =>
                    {
                        let mark = cx.push_key(base);
                        self.primitive_ext(&node.children[ci as usize], v, obj.get(base), cx);
                        cx.path.truncate(mark);
                    }
                    Some(_) => cx.err(
                        "structure",
                        &dot(k),
                        &format!("{base} is not a primitive element, so {k} is not allowed"),
                    ),
                    None => cx.err("structure", &dot(k), &format!("unknown element {k}")),
                }
                continue;
            }
            let Some(&(ci, ti)) = node.keys.get(k.as_str()) else {
                cx.err("structure", &dot(k), &format!("unknown element {k}"));
                continue;
            };
            let child = &node.children[ci as usize];
            if child.is_choice {
                if let Some((_, other)) = choices.iter().find(|(c, _)| *c == ci) {
                    cx.err(
                        "structure",
                        &dot(k),
                        &format!(
                            "only one of {other} and {k} may be present ({}[x])",
                            child.name
                        ),
                    );
                    continue;
                }
                choices.push((ci, k));
            }
            let ty = &child.types[ti as usize];
            let mark = cx.push_key(k);
            match (child.many, v) {
                (true, Value::Array(items)) => {
                    if items.is_empty() {
                        cx.err("structure", "", "empty arrays are not allowed");
                    }
                    for (i, item) in items.iter().enumerate() {
                        let m = cx.push_index(i);
                        if item.is_null() {
                            self.null_in_array(obj, k, i, ty, cx);
                        } else {
                            self.value(child, ty, item, cx);
                        }
                        cx.path.truncate(m);
                    }
                }
                (true, _) => cx.err(
                    "structure",
                    "",
                    &format!("{k} repeats, so it must be a JSON array"),
                ),
                (false, Value::Array(_)) => cx.err(
                    "structure",
                    "",
                    &format!("{k} has max cardinality 1, so it must not be an array"),
                ),
                (false, _) => self.value(child, ty, v, cx),
            }
            cx.path.truncate(mark);
        }
        for &ci in &node.required {
            let child = &node.children[ci as usize];
            if !child.presence_keys.iter().any(|k| obj.contains_key(&**k)) {
                cx.err(
                    "required",
                    &dot(&child.name),
                    &format!(
                        "missing required element {} (min {})",
                        child.name, child.min
                    ),
                );
            }
        }
    }

    fn null_in_array(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        i: usize,
        ty: &TypeRef,
        cx: &mut Cx,
    ) {
        // json.html: null only pads a primitive array so it lines up with its `_key` twin.
        let paired = matches!(ty.kind, TypeKind::Prim(_))
            && obj
                .get(&format!("_{key}"))
                .and_then(|e| e.as_array())
                .and_then(|a| a.get(i))
                .is_some_and(|e| !e.is_null());
        if !paired {
            cx.err("structure", "", "null is not allowed here");
        }
    }

    fn value(&self, child: &Child, ty: &TypeRef, v: &Value, cx: &mut Cx) {
        if v.is_null() {
            cx.err("structure", "", "null is not allowed here");
            return;
        }
        match ty.kind {
            TypeKind::Prim(p) => {
                if let Err(msg) = primitives::check(p, v) {
                    cx.err("value", "", &msg);
                    return;
                }
                if let (Some(b), Prim::Code, Some(code)) = (child.binding, p, v.as_str()) {
                    let exp = &self.expansions[b as usize];
                    if !exp.has_code(code) {
                        cx.err(
                            "code-invalid",
                            "",
                            &format!("code {code:?} is not in the required value set"),
                        );
                    }
                }
            }
            TypeKind::Complex(n) => {
                let Value::Object(o) = v else {
                    cx.err(
                        "structure",
                        "",
                        &format!("expected a JSON object ({})", ty.name),
                    );
                    return;
                };
                self.object(n, o, false, cx);
                if let Some(b) = child.binding {
                    let exp = &self.expansions[b as usize];
                    match &*ty.name {
                        "Coding" => self.coding(exp, o, cx),
                        "CodeableConcept" => {
                            if let Some(Value::Array(codings)) = o.get("coding") {
                                for (i, c) in codings.iter().enumerate() {
                                    if let Value::Object(c) = c {
                                        let m = cx.push_key("coding");
                                        cx.push_index(i);
                                        self.coding(exp, c, cx);
                                        cx.path.truncate(m);
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            TypeKind::Resource => self.resource(v, cx),
        }
    }

    fn coding(&self, exp: &Expansion, c: &Map<String, Value>, cx: &mut Cx) {
        let (Some(system), Some(code)) = (
            c.get("system").and_then(Value::as_str),
            c.get("code").and_then(Value::as_str),
        ) else {
            return;
        };
        if exp.check_coding(system, code) == Some(false) {
            cx.err(
                "code-invalid",
                ".code",
                &format!("code {code:?} of system {system} is not in the required value set"),
            );
        }
    }

    fn primitive_ext(&self, child: &Child, v: &Value, value: Option<&Value>, cx: &mut Cx) {
        let element = self.element_node;
        if !child.many {
            match v {
                Value::Object(o) => self.object(element, o, false, cx),
                _ => cx.err(
                    "structure",
                    "",
                    "a primitive's _element must be a JSON object",
                ),
            }
            return;
        }
        let Value::Array(items) = v else {
            cx.err(
                "structure",
                "",
                "a repeating primitive's _element must be a JSON array",
            );
            return;
        };
        if items.is_empty() {
            cx.err("structure", "", "empty arrays are not allowed");
            return;
        }
        let values = value.and_then(Value::as_array);
        if let Some(values) = values {
            if values.len() != items.len() {
                cx.err(
                    "structure",
                    "",
                    "a primitive array and its _element array must have the same length",
                );
            }
        }
        for (i, item) in items.iter().enumerate() {
            let m = cx.push_index(i);
            match item {
                Value::Null => {
                    if values.and_then(|a| a.get(i)).is_none_or(|x| x.is_null()) {
                        cx.err("structure", "", "null is not allowed here");
                    }
                }
                Value::Object(o) => self.object(element, o, false, cx),
                _ => cx.err(
                    "structure",
                    "",
                    "a primitive's _element must be a JSON object",
                ),
            }
            cx.path.truncate(m);
        }
    }
}

fn dot(k: &str) -> String {
    format!(".{k}")
}

struct Cx {
    issues: Vec<Issue>,
    path: String,
}

impl Cx {
    fn push_key(&mut self, k: &str) -> usize {
        let m = self.path.len();
        self.path.push('.');
        self.path.push_str(k);
        m
    }

    fn push_index(&mut self, i: usize) -> usize {
        use std::fmt::Write;
        let m = self.path.len();
        let _ = write!(self.path, "[{i}]");
        m
    }

    /// `suffix` is appended to the current path (e.g. ".foo" for a property not descended into).
    fn err(&mut self, code: &'static str, suffix: &str, message: &str) {
        let mut expression = String::with_capacity(self.path.len() + suffix.len());
        expression.push_str(&self.path);
        expression.push_str(suffix);
        let expression = expression.trim_start_matches('.').to_string();
        self.issues.push(Issue {
            severity: Severity::Error,
            code,
            expression,
            message: message.to_string(),
        });
    }
}

struct Builder<'a> {
    nodes: Vec<Node>,
    types: HashMap<String, NodeId>,
    expander: Expander<'a>,
    binding_cache: HashMap<String, Option<u32>>,
    expansions: Vec<Expansion>,
    unexpandable: Vec<String>,
}

impl Builder<'_> {
    fn build_sd(&mut self, sd: &Value, root: NodeId) {
        let elements: Vec<&Value> = sd
            .pointer("/snapshot/element")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let Some(root_path) = elements
            .first()
            .and_then(|e| e.get("path"))
            .and_then(Value::as_str)
        else {
            return;
        };
        let mut by_parent: HashMap<&str, Vec<&Value>> = HashMap::new();
        for e in &elements[1..] {
            let Some(path) = e.get("path").and_then(Value::as_str) else {
                continue;
            };
            if let Some((parent, _)) = path.rsplit_once('.') {
                by_parent.entry(parent).or_default().push(e);
            }
        }
        let mut path_nodes: HashMap<String, NodeId> = HashMap::new();
        let mut pending = Vec::new();
        self.fill(root, root_path, &by_parent, &mut path_nodes, &mut pending);
        for p in pending {
            let target = p.target.trim_start_matches('#');
            debug_assert!(
                path_nodes.contains_key(target),
                "unresolved contentReference {target}"
            );
            let node = path_nodes
                .get(target)
                .copied()
                .unwrap_or(self.types["Element"]);
            let child = &mut self.nodes[p.node as usize].children[p.child as usize];
            child.types = vec![TypeRef {
                name: target.into(),
                kind: TypeKind::Complex(node),
            }];
        }
    }

    fn fill(
        &mut self,
        node_id: NodeId,
        path: &str,
        by_parent: &HashMap<&str, Vec<&Value>>,
        path_nodes: &mut HashMap<String, NodeId>,
        pending: &mut Vec<Pending>,
    ) {
        path_nodes.insert(path.to_string(), node_id);
        let mut node = Node::default();
        for e in by_parent.get(path).map(Vec::as_slice).unwrap_or(&[]) {
            let epath = e.get("path").and_then(Value::as_str).unwrap_or_default();
            let raw = epath.rsplit('.').next().unwrap_or_default();
            let max = e.get("max").and_then(Value::as_str).unwrap_or("1");
            if max == "0" {
                continue;
            }
            let (name, is_choice) = match raw.strip_suffix("[x]") {
                Some(p) => (p, true),
                None => (raw, false),
            };
            let ci = node.children.len() as u32;
            let mut types = Vec::new();
            if let Some(target) = e.get("contentReference").and_then(Value::as_str) {
                pending.push(Pending {
                    node: node_id,
                    child: ci,
                    target: target.to_string(),
                });
            } else if by_parent.contains_key(epath) {
                let sub = self.nodes.len() as NodeId;
                self.nodes.push(Node::default());
                self.fill(sub, epath, by_parent, path_nodes, pending);
                let tname = e
                    .pointer("/type/0/code")
                    .and_then(Value::as_str)
                    .unwrap_or("BackboneElement");
                types.push(TypeRef {
                    name: tname.into(),
                    kind: TypeKind::Complex(sub),
                });
            } else {
                for t in e
                    .get("type")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                {
                    let Some(code) = t.get("code").and_then(Value::as_str) else {
                        continue;
                    };
                    // FHIRPath System.* types carry the real FHIR type in this extension (e.g. Resource.id is `id`).
                    let fhir_type = t
                        .get("extension")
                        .and_then(Value::as_array)
                        .and_then(|exts| {
                            exts.iter().find(|x| {
                                x.get("url").and_then(Value::as_str)
                                    == Some("http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type")
                            })
                        })
                        .and_then(|x| x.get("valueUrl").or_else(|| x.get("valueUri")))
                        .and_then(Value::as_str)
                        .unwrap_or(code);
                    // The 4.0.1 snapshots label Resource.id `string`, but json.html/resource.html make it an `id`.
                    let fhir_type =
                        if e.pointer("/base/path").and_then(Value::as_str) == Some("Resource.id") {
                            "id"
                        } else {
                            fhir_type
                        };
                    let kind = if let Some(p) = Prim::from_code(fhir_type) {
                        TypeKind::Prim(p)
                    } else if fhir_type == "Resource" {
                        TypeKind::Resource
                    } else {
                        debug_assert!(
                            self.types.contains_key(fhir_type),
                            "unknown type {fhir_type}"
                        );
                        TypeKind::Complex(
                            self.types
                                .get(fhir_type)
                                .copied()
                                .unwrap_or(self.types["Element"]),
                        )
                    };
                    types.push(TypeRef {
                        name: fhir_type.into(),
                        kind,
                    });
                }
            }
            let binding = match e.get("binding") {
                Some(b) if b.get("strength").and_then(Value::as_str) == Some("required") => {
                    let bindable = types
                        .iter()
                        .any(|t| matches!(&*t.name, "code" | "Coding" | "CodeableConcept"));
                    match b.get("valueSet").and_then(Value::as_str) {
                        Some(vs) if bindable => self.binding(vs),
                        _ => None,
                    }
                }
                _ => None,
            };
            let mut keys: Vec<(Box<str>, u16, bool)> = Vec::new();
            if is_choice {
                for (ti, t) in types.iter().enumerate() {
                    let mut k = String::from(name);
                    let mut chars = t.name.chars();
                    if let Some(first) = chars.next() {
                        k.extend(first.to_uppercase());
                        k.push_str(chars.as_str());
                    }
                    keys.push((k.into(), ti as u16, matches!(t.kind, TypeKind::Prim(_))));
                }
            } else {
                let prim = types
                    .first()
                    .is_some_and(|t| matches!(t.kind, TypeKind::Prim(_)));
                keys.push((name.into(), 0, prim));
            }
            let mut presence_keys = Vec::new();
            for (k, ti, prim) in keys {
                if prim {
                    presence_keys.push(format!("_{k}").into());
                }
                presence_keys.push(k.clone());
                node.keys.insert(k, (ci, ti));
            }
            let min = e.get("min").and_then(Value::as_u64).unwrap_or(0) as u32;
            if min > 0 {
                node.required.push(ci);
            }
            node.children.push(Child {
                name: name.into(),
                is_choice,
                min,
                many: max != "1",
                types,
                binding,
                presence_keys,
            });
        }
        self.nodes[node_id as usize] = node;
    }

    fn binding(&mut self, vs: &str) -> Option<u32> {
        let url = vs.split('|').next().unwrap_or(vs);
        if let Some(hit) = self.binding_cache.get(url) {
            return *hit;
        }
        let r = match self.expander.expand(url) {
            Some(e) => {
                self.expansions.push(e);
                Some(self.expansions.len() as u32 - 1)
            }
            None => {
                self.unexpandable.push(url.to_string());
                None
            }
        };
        self.binding_cache.insert(url.to_string(), r);
        r
    }
}
