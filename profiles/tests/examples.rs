//! Runs the validator over all 715 official R4 examples; the refused ones must be exactly
//! those listed (with a checked reason) in known-invalid-examples.tsv.

use std::collections::BTreeMap;
use std::path::PathBuf;

use profiles::{Issue, Package, Severity, Validator};

/// Issues a mutation introduced: those the validator reports now but did not before it.
fn new_issues<'a>(v: &Validator, json: &serde_json::Value, before: &'a [Issue]) -> impl Iterator<Item = Issue> + 'a {
    v.validate(json).into_iter().filter(move |i| !before.contains(i))
}

/// The new issues as `expression code` lines.
fn new_issue_lines(v: &Validator, json: &serde_json::Value, before: &[Issue]) -> Vec<String> {
    new_issues(v, json, before).map(|i| format!("{} {}", i.expression, i.code)).collect()
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/fhir-r4-examples/examples")
}

#[test]
fn official_examples_match_known_invalid_list() {
    let v = Package::r4_core().validator();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples corpus present")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 715);
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = v
            .validate(&json)
            .into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| format!("{}\t{}\t{}", i.expression, i.code, i.message))
            .collect();
        if !errors.is_empty() {
            refused.insert(
                f.file_name().unwrap().to_string_lossy().into_owned(),
                errors,
            );
        }
    }
    let report: String = refused
        .iter()
        .flat_map(|(f, errs)| errs.iter().map(move |e| format!("{f}\t{e}\n")))
        .collect();
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/profiles-example-issues.tsv");
    let _ = std::fs::write(&out, &report);

    let listed_text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/known-invalid-examples.tsv"),
    )
    .unwrap();
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    for line in listed_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (file, expr) = (
            cols.next().unwrap().to_string(),
            cols.next().unwrap_or("").to_string(),
        );
        listed.insert(file, expr);
    }
    let refused_names: Vec<&String> = refused.keys().collect();
    let listed_names: Vec<&String> = listed.keys().collect();
    assert_eq!(
        refused_names,
        listed_names,
        "refused examples differ from the known-invalid list; all issues in {}",
        out.display()
    );
    for (file, expr) in &listed {
        assert!(
            refused[file]
                .iter()
                .any(|e| e.split('\t').next() == Some(expr.as_str())),
            "{file}: expected an error at {expr}, got {:?}",
            refused[file]
        );
    }
}

/// Adds an unknown property to every object of every example: each must be reported, at the
/// right path. Proves the walk reaches every object (nothing silently skipped) and that
/// expressions are computed consistently everywhere.
#[test]
fn unknown_property_found_everywhere_in_examples() {
    let v = Package::r4_core().validator();
    let mut checked = 0usize;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before: Vec<_> = v.validate(&json);
        let root = json["resourceType"].as_str().unwrap().to_string();
        let mut expected = Vec::new();
        inject(&mut json, root, &mut expected);
        let mut got: Vec<String> = new_issues(v, &json, &before)
            .map(|i| i.expression)
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{}", path.display());
        checked += expected.len();
    }
    assert!(checked > 30_000, "{checked}");
}

fn inject(v: &mut serde_json::Value, path: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                // `_x` content is reported under the primitive's own name, like FHIRPath does.
                let name = k.strip_prefix('_').unwrap_or(k);
                inject(child, format!("{path}.{name}"), out);
            }
            o.insert("zzUnknown".into(), serde_json::Value::Bool(true));
            out.push(format!("{path}.zzUnknown"));
        }
        serde_json::Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                inject(item, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Gives every primitive of every example the wrong JSON type: each must be reported as a
/// "value" issue at its path.
#[test]
fn wrong_json_type_found_everywhere_in_examples() {
    let v = Package::r4_core().validator();
    let mut checked = 0usize;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before: Vec<_> = v.validate(&json);
        let root = json["resourceType"].as_str().unwrap().to_string();
        let mut expected = Vec::new();
        retype(&mut json, root, &mut expected);
        let mut got: Vec<String> = new_issue_lines(v, &json, &before);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{}", path.display());
        checked += expected.len();
    }
    assert!(checked > 50_000, "{checked}");
}

fn retype(v: &mut serde_json::Value, path: String, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                // a resource's own type is not a primitive (ExampleScenario.instance.resourceType is)
                if k == "resourceType" && !path.contains(".instance[") {
                    continue;
                }
                let name = k.strip_prefix('_').unwrap_or(k);
                retype(child, format!("{path}.{name}"), out);
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                retype(item, format!("{path}[{i}]"), out);
            }
        }
        Value::Null => {}
        Value::String(_) => {
            *v = Value::Bool(true);
            out.push(format!("{path} value"));
        }
        _ => {
            *v = Value::String("1".into());
            out.push(format!("{path} value"));
        }
    }
}

/// Flips the array-ness of properties one at a time (wrap a single value, unwrap a
/// one-item array): each flip must give exactly one "structure" issue at that property.
#[test]
fn cardinality_shape_flips_in_examples() {
    use serde_json::Value;
    let v = Package::r4_core().validator();
    let mut checked = 0usize;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before = v.validate(&json);
        let root = json["resourceType"].as_str().unwrap().to_string();
        let mut sites = Vec::new();
        collect_sites(&json, &mut Vec::new(), root, &mut sites);
        // A bounded sample per example keeps the debug-build run short.
        for (ptr, expr) in sites.into_iter().take(40) {
            let mut m = json.clone();
            let slot = m.pointer_mut(&ptr).unwrap();
            *slot = match slot.take() {
                Value::Array(mut a) => a.remove(0),
                other => Value::Array(vec![other]),
            };
            let got: Vec<_> = new_issue_lines(v, &m, &before);
            assert_eq!(
                got,
                vec![format!("{expr} structure")],
                "{} {ptr}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

fn collect_sites(
    v: &serde_json::Value,
    ptr: &mut Vec<String>,
    path: String,
    out: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "resourceType" || k.starts_with('_') || o.contains_key(&format!("_{k}")) {
                    continue;
                }
                ptr.push(k.replace('~', "~0").replace('/', "~1"));
                let flippable = match child {
                    Value::Array(a) => a.len() == 1 && !a[0].is_null() && !a[0].is_array(),
                    _ => true,
                };
                if flippable {
                    out.push((format!("/{}", ptr.join("/")), format!("{path}.{k}")));
                }
                collect_sites(child, ptr, format!("{path}.{k}"), out);
                ptr.pop();
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                ptr.push(i.to_string());
                collect_sites(item, ptr, format!("{path}[{i}]"), out);
                ptr.pop();
            }
        }
        _ => {}
    }
}

/// Replaces every `code` value under a required, expandable binding (found by walking the
/// StructureDefinitions independently of the validator) with a non-member: each must be
/// reported as "code-invalid" at its path.
#[test]
fn required_code_mutations_in_examples() {
    use serde_json::Value;
    let pkg = Package::r4_core();
    let v = pkg.validator();
    let mut elements: std::collections::HashMap<String, std::collections::HashMap<String, Value>> =
        Default::default();
    for sd in pkg.resources("StructureDefinition") {
        if sd["derivation"] == "constraint" {
            continue;
        }
        let ty = sd["type"].as_str().unwrap().to_string();
        let map = sd["snapshot"]["element"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["path"].as_str().unwrap().to_string(), e.clone()))
            .collect();
        elements.insert(ty, map);
    }
    let mut checked = 0usize;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before = v.validate(&json);
        let root = json["resourceType"].as_str().unwrap().to_string();
        let mut sites = Vec::new();
        code_sites(
            &json,
            &elements,
            &root,
            &root,
            &mut Vec::new(),
            root.clone(),
            v.unexpandable_value_sets(),
            &mut sites,
        );
        for (ptr, expr) in sites.into_iter().take(40) {
            let mut m = json.clone();
            *m.pointer_mut(&ptr).unwrap() = Value::String("zz-not-a-member".into());
            let got: Vec<_> = new_issue_lines(v, &m, &before);
            assert_eq!(
                got,
                vec![format!("{expr} code-invalid")],
                "{} {ptr}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked}");
}

#[allow(clippy::too_many_arguments)]
fn code_sites(
    v: &serde_json::Value,
    elements: &std::collections::HashMap<
        String,
        std::collections::HashMap<String, serde_json::Value>,
    >,
    ty: &str,
    epath: &str,
    ptr: &mut Vec<String>,
    expr: String,
    unexpandable: &[String],
    out: &mut Vec<(String, String)>,
) {
    let Some(obj) = v.as_object() else { return };
    let Some(els) = elements.get(ty) else { return };
    for (k, child) in obj {
        let p = format!("{epath}.{k}");
        let Some(ed) = els.get(&p) else { continue };
        if ed.get("contentReference").is_some() {
            continue;
        }
        let code = ed["type"][0]["code"].as_str().unwrap_or("");
        let has_children = els.keys().any(|x| x.starts_with(&format!("{p}.")));
        let items: Vec<(Option<usize>, &serde_json::Value)> = match child {
            serde_json::Value::Array(a) => {
                a.iter().enumerate().map(|(i, x)| (Some(i), x)).collect()
            }
            x => vec![(None, x)],
        };
        for (i, item) in items {
            ptr.push(k.clone());
            let mut e = format!("{expr}.{k}");
            if let Some(i) = i {
                ptr.push(i.to_string());
                e.push_str(&format!("[{i}]"));
            }
            if has_children {
                code_sites(item, elements, ty, &p, ptr, e, unexpandable, out);
            } else if code == "Resource" {
                let rt = item["resourceType"].as_str().unwrap_or("");
                code_sites(item, elements, rt, rt, ptr, e, unexpandable, out);
            } else if code == "code" && item.is_string() {
                let b = &ed["binding"];
                let vs = b["valueSet"]
                    .as_str()
                    .unwrap_or("")
                    .split('|')
                    .next()
                    .unwrap()
                    .to_string();
                if b["strength"] == "required" && !unexpandable.contains(&vs) {
                    out.push((format!("/{}", ptr.join("/")), e));
                }
            } else if elements.contains_key(code) && code != "Extension" {
                code_sites(item, elements, code, code, ptr, e, unexpandable, out);
            }
            if i.is_some() {
                ptr.pop();
            }
            ptr.pop();
        }
    }
}
