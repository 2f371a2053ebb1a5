//! The FHIR additions: `extension()`, `hasValue()`, `getValue()`, `resolve()`, `htmlChecks()`,
//! `conformsTo()`, `memberOf()`, and the profile functions this engine does not support.

use serde_json::Value;

use super::{single_arg, Func};
use crate::ast::Node;
use crate::error::{Error, Result};
use crate::eval::{one, Coll, Ctx, Frame};
use crate::item::{Item, Prim};
use crate::navigate::{children_named, owned_root, root_node};

pub(super) fn call<'a>(cx: &Ctx<'a, '_>, func: Func, input: Coll<'a>, args: &[Node], f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    use Func::*;
    match func {
        Extension | HasExtension => {
            let Some(url) = single_arg(cx, args, 0, f, func)? else { return Ok(Coll::new()) };
            let url = url.as_str().ok_or_else(|| Error::eval("extension() needs a url string"))?.to_owned();
            let mut exts = Coll::new();
            for it in &input {
                children_named(&mut exts, cx.glue, it, "extension", "_extension");
            }
            let found: Coll<'a> = exts
                .into_iter()
                .filter(|e| matches!(e, Item::Node(n) if n.value().and_then(|v| v.get("url")).and_then(Value::as_str) == Some(&url)))
                .collect();
            // `hasExtension(url)` (used by an R4 search parameter) is `extension(url).exists()`.
            Ok(if func == HasExtension { one(Item::Boolean(!found.is_empty())) } else { found })
        }
        HasValue => Ok(one(Item::Boolean(match &input[..] {
            [Item::Node(n)] => n.is_primitive() && n.value().is_some_and(|v| !v.is_object() && !v.is_null()),
            _ => false,
        }))),
        GetValue => Ok(match &input[..] {
            [it @ Item::Node(n)] if n.is_primitive() => it.prim().map(|p| one(prim_item(p))).unwrap_or_default(),
            _ => Coll::new(),
        }),
        Resolve => {
            let mut out = Coll::new();
            for it in &input {
                let reference = match it {
                    Item::Node(n) => match n.value() {
                        Some(Value::Object(o)) => o.get("reference").and_then(Value::as_str).map(str::to_owned),
                        Some(Value::String(s)) => Some(s.clone()),
                        _ => None,
                    },
                    Item::String(s) => Some(s.to_string()),
                    _ => None,
                };
                if let Some(r) = reference {
                    if let Some(found) = resolve(cx, &r) {
                        out.push(found);
                    }
                }
            }
            Ok(out)
        }
        HtmlChecks => Ok(one(Item::Boolean(match &input[..] {
            [it] => it.as_str().is_some_and(html_ok),
            _ => false,
        }))),
        ConformsTo => {
            let Some(url) = single_arg(cx, args, 0, f, func)? else { return Ok(Coll::new()) };
            let url = url.as_str().ok_or_else(|| Error::eval("conformsTo() needs a url string"))?.to_owned();
            let mut out = Coll::new();
            for it in &input {
                out.push(Item::Boolean(conforms_to(cx, it, &url)?));
            }
            Ok(out)
        }
        MemberOf => {
            let Some(vs) = single_arg(cx, args, 0, f, func)? else { return Ok(Coll::new()) };
            let vs = vs.as_str().ok_or_else(|| Error::eval("memberOf() needs a value set url"))?.to_owned();
            let term = cx.env.terminology.ok_or_else(|| Error::eval("memberOf() needs a terminology service (Env::with_terminology)"))?;
            let mut out = Coll::new();
            for it in &input {
                if let Some(b) = member_of(term, it, &vs) {
                    out.push(Item::Boolean(b));
                }
            }
            Ok(out)
        }
        Subsumes | SubsumedBy | ElementDefinition | Slice | CheckModifiers => {
            Err(Error::eval(format!("{}() is not supported by this engine", func.name())))
        }
        _ => Err(Error::eval(format!("{}() is not a FHIR function", func.name()))),
    }
}

pub(crate) fn prim_item<'a>(p: Prim<'_>) -> Item<'a> {
    match p {
        Prim::Bool(b) => Item::Boolean(b),
        Prim::Int(i) => Item::Integer(i),
        Prim::Dec(d) => Item::Decimal(d),
        Prim::Str(s) => Item::string(s),
        Prim::Date(d) => Item::Date(d),
        Prim::DateTime(d) => Item::DateTime(d),
        Prim::Time(t) => Item::Time(t),
        Prim::Quantity(q) => Item::Quantity(q),
    }
}

/// Finds a reference within the resource (contained, Bundle entries), then through the resolver.
fn resolve<'a>(cx: &Ctx<'a, '_>, reference: &str) -> Option<Item<'a>> {
    let roots = [cx.resource, cx.env.context];
    if let Some(id) = reference.strip_prefix('#') {
        for root in roots.into_iter().flatten() {
            if id.is_empty() {
                return Some(Item::Node(root_node(cx.glue, root)));
            }
            if let Some(found) = root
                .get("contained")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|r| r.get("id").and_then(Value::as_str) == Some(id)))
            {
                return Some(Item::Node(root_node(cx.glue, found)));
            }
        }
    }
    for root in roots.into_iter().flatten() {
        if root.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            continue;
        }
        let Some(entries) = root.get("entry").and_then(Value::as_array) else { continue };
        for e in entries {
            let Some(res) = e.get("resource") else { continue };
            if e.get("fullUrl").and_then(Value::as_str) == Some(reference) {
                return Some(Item::Node(root_node(cx.glue, res)));
            }
            let rt = res.get("resourceType").and_then(Value::as_str);
            let id = res.get("id").and_then(Value::as_str);
            if let (Some(rt), Some(id)) = (rt, id) {
                // `Type/id`, possibly absolute or versioned (`.../_history/n`).
                let r = reference.split("/_history/").next().unwrap_or(reference);
                if r.len() > rt.len() + id.len() {
                    let tail = &r[r.len() - rt.len() - id.len() - 1..];
                    let boundary_ok = r.len() == tail.len() || r.as_bytes()[r.len() - tail.len() - 1] == b'/';
                    if boundary_ok && tail.starts_with(rt) && tail.ends_with(id) && tail.as_bytes()[rt.len()] == b'/' {
                        return Some(Item::Node(root_node(cx.glue, res)));
                    }
                }
            }
        }
    }
    let resolver = cx.env.resolver?;
    resolver.resolve(reference).map(|v| Item::Node(owned_root(cx.glue, v)))
}

fn conforms_to(cx: &Ctx<'_, '_>, it: &Item<'_>, url: &str) -> Result<bool> {
    if let (Some(hook), Some(v)) = (cx.env.conformance, it.as_node().and_then(|n| n.value())) {
        if let Some(b) = hook.conforms_to(v, url) {
            return Ok(b);
        }
    }
    // Without a validator, a core type's canonical URL is checked against the item's type.
    let Some(name) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/") else {
        return Err(Error::eval(format!("conformsTo(): unknown profile '{url}'")));
    };
    if cx.glue.typed() && !cx.glue.has_type(name) {
        return Err(Error::eval(format!("conformsTo(): unknown profile '{url}'")));
    }
    let ty = it.as_node().map(|n| n.fhir_type()).unwrap_or("");
    Ok(if cx.glue.typed() { cx.glue.is_subtype(ty, name) } else { ty == name })
}

fn member_of(term: &dyn crate::Terminology, it: &Item<'_>, vs: &str) -> Option<bool> {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    match it {
        Item::Node(n) => match n.value()? {
            Value::String(code) => term.member_of(None, code, vs),
            obj @ Value::Object(_) => {
                let codings: Vec<&Value> = match obj.get("coding").and_then(Value::as_array) {
                    Some(cs) => cs.iter().collect(),
                    None => vec![obj],
                };
                let mut any = None;
                for c in codings {
                    let Some(code) = str_of(c, "code") else { continue };
                    match term.member_of(str_of(c, "system").as_deref(), &code, vs) {
                        Some(true) => return Some(true),
                        Some(false) => any = Some(false),
                        None => {}
                    }
                }
                any
            }
            _ => None,
        },
        other => term.member_of(None, other.as_str()?, vs),
    }
}

const ALLOWED_ELEMENTS: &[&str] = &[
    "a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "center", "cite", "code",
    "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "ins", "kbd", "li", "map", "area", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
];

/// A narrative `div`: well-formed, only basic formatting elements, no scripts or event
/// attributes, and some content.
pub(crate) fn html_ok(s: &str) -> bool {
    let s = s.trim();
    if !s.starts_with("<div") {
        return false;
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut content = false;
    let mut rest = s;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if stack.is_empty() && !rest.trim().is_empty() {
                return false;
            }
            content |= !rest.trim().is_empty();
            break;
        };
        if !stack.is_empty() && !rest[..lt].trim().is_empty() {
            content = true;
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let Some(end) = r.find("-->") else { return false };
            rest = &r[end + 3..];
            continue;
        }
        let Some(gt) = rest.find('>') else { return false };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop() != Some(name.trim()) {
                return false;
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        if !ALLOWED_ELEMENTS.contains(&name) {
            return false;
        }
        let attrs = body[name.len()..].to_ascii_lowercase();
        if attrs.split(|c: char| c.is_whitespace()).any(|a| a.starts_with("on")) || attrs.contains("javascript:") {
            return false;
        }
        if name == "img" {
            content = true;
        }
        if stack.is_empty() && name != "div" {
            return false;
        }
        if !self_closing {
            stack.push(name);
        }
        if stack.is_empty() && !rest.trim().is_empty() {
            return false;
        }
    }
    stack.is_empty() && content
}

#[cfg(test)]
mod tests {
    use super::html_ok;

    #[test]
    fn narrative_checks() {
        assert!(html_ok("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Hello <b>there</b></p></div>"));
        assert!(!html_ok("<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x()</script></div>"));
        assert!(!html_ok("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">a</p></div>"));
        assert!(!html_ok("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a</div>"));
        assert!(!html_ok("<div xmlns=\"http://www.w3.org/1999/xhtml\">   </div>"));
    }
}
