//! ValueSet expansion: compose (include/exclude/imports/filters) or a stored expansion.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use crate::codesystem::{array, CodeSystemIndex};
use crate::{filter, split_canonical, Coding, Definitions, TxError};

/// Imports nested deeper than this are treated as an error rather than risk the stack.
pub(crate) const MAX_IMPORT_DEPTH: usize = 32;

/// Expands a ValueSet (its compose; if it has only an `expansion`, that) into codes, in definition order.
pub fn expand(vs: &Value, defs: &dyn Definitions) -> Result<Vec<Coding>, TxError> {
    Expander::new(defs).value_set(vs)
}

/// Per-call state, so each CodeSystem is indexed and each imported ValueSet expanded once.
struct Expander<'d> {
    defs: &'d dyn Definitions,
    code_systems: HashMap<*const Value, Rc<CodeSystemIndex<'d>>>,
    imported: HashMap<String, Rc<Vec<Coding>>>,
    /// ValueSet urls being expanded, outermost first, to detect circular imports.
    stack: Vec<String>,
}

/// Codings in first-seen order, deduplicated by (system, code).
#[derive(Default)]
struct Accumulator {
    codings: Vec<Coding>,
    seen: HashSet<(String, String)>,
}

impl Accumulator {
    fn push(&mut self, c: Coding) {
        if self.seen.insert((c.system.clone(), c.code.clone())) {
            self.codings.push(c);
        }
    }
}

fn key(c: &Coding) -> (&str, &str) {
    (c.system.as_str(), c.code.as_str())
}

fn text<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

impl<'d> Expander<'d> {
    fn new(defs: &'d dyn Definitions) -> Self {
        Expander { defs, code_systems: HashMap::new(), imported: HashMap::new(), stack: Vec::new() }
    }

    fn value_set(&mut self, vs: &Value) -> Result<Vec<Coding>, TxError> {
        let url = match (text(vs, "url"), text(vs, "id")) {
            (Some(u), _) => u.to_string(),
            (None, Some(id)) => format!("ValueSet/{id}"),
            (None, None) => "(anonymous ValueSet)".to_string(),
        };
        if self.stack.contains(&url) {
            let mut chain = self.stack.clone();
            chain.push(url);
            return Err(TxError::CircularImport { chain });
        }
        if self.stack.len() >= MAX_IMPORT_DEPTH {
            return Err(TxError::ImportTooDeep { url, depth: MAX_IMPORT_DEPTH });
        }
        self.stack.push(url.clone());
        let result = if let Some(compose) = vs.get("compose") {
            self.compose(compose, &url)
        } else if let Some(expansion) = vs.get("expansion") {
            stored_expansion(expansion, &url)
        } else {
            Err(TxError::Invalid { url, reason: "value set has neither compose nor expansion".into() })
        };
        self.stack.pop();
        result
    }

    fn compose(&mut self, compose: &Value, url: &str) -> Result<Vec<Coding>, TxError> {
        let mut out = Accumulator::default();
        for inc in array(compose, "include") {
            for c in self.include(inc, url)? {
                out.push(c);
            }
        }
        let excludes = array(compose, "exclude");
        if !excludes.is_empty() {
            let mut gone: HashSet<(String, String)> = HashSet::new();
            let mut gone_systems: HashSet<&str> = HashSet::new();
            for exc in excludes {
                match text(exc, "system") {
                    // A whole-system exclude needs no CodeSystem: drop every code of that system.
                    // With a version it only drops that version's codes, which must be enumerated.
                    Some(s) if is_whole_system(exc) && array(exc, "valueSet").is_empty() && exc.get("version").is_none() => {
                        gone_systems.insert(s);
                    }
                    _ => gone.extend(self.include(exc, url)?.into_iter().map(|c| (c.system, c.code))),
                }
            }
            out.codings.retain(|c| {
                !gone_systems.contains(c.system.as_str()) && !gone.contains(&(c.system.clone(), c.code.clone()))
            });
        }
        if compose.get("inactive").and_then(Value::as_bool) == Some(false) {
            out.codings.retain(|c| !c.inactive);
        }
        Ok(out.codings)
    }

    /// One include (or exclude) entry: the system part intersected with every imported value set.
    fn include(&mut self, inc: &Value, url: &str) -> Result<Vec<Coding>, TxError> {
        let imports: Vec<&str> = array(inc, "valueSet").iter().filter_map(Value::as_str).collect();
        let mut part = match text(inc, "system") {
            // With imports, "all of the system" is just a restriction of the imports to that
            // system, which needs no CodeSystem (e.g. SNOMED intersected with a local set).
            Some(system) if is_whole_system(inc) && !imports.is_empty() => {
                let mut sets = Vec::with_capacity(imports.len());
                for r in &imports {
                    sets.push(self.import(r)?);
                }
                let mut codes: Vec<Coding> = sets[0].iter().filter(|c| c.system == system).cloned().collect();
                for set in &sets[1..] {
                    codes = intersect(codes, set);
                }
                return Ok(codes);
            }
            Some(system) => Some(self.system_part(system, inc)?),
            None => None,
        };
        for r in imports {
            let set = self.import(r)?;
            part = Some(match part {
                None => set.as_ref().clone(),
                Some(codes) => intersect(codes, &set),
            });
        }
        part.ok_or_else(|| TxError::Invalid { url: url.to_string(), reason: "include has neither system nor valueSet".into() })
    }

    fn system_part(&mut self, system: &str, inc: &Value) -> Result<Vec<Coding>, TxError> {
        let version = text(inc, "version").filter(|v| *v != "*");
        let cs = self.code_system(system, version)?;
        let filters = array(inc, "filter");
        let concepts = array(inc, "concept");
        let mask = if filters.is_empty() {
            None
        } else {
            let cs = cs.as_ref().ok_or_else(|| unknown_system(system, version))?;
            cs.require_enumerable()?;
            let mut mask = vec![true; cs.concepts.len()];
            for f in filters {
                for (m, hit) in mask.iter_mut().zip(filter::select(cs, f)?) {
                    *m &= hit;
                }
            }
            Some(mask)
        };

        if concepts.is_empty() {
            let cs = cs.ok_or_else(|| unknown_system(system, version))?;
            cs.require_enumerable()?;
            return Ok((0..cs.concepts.len())
                .filter(|&i| mask.as_ref().is_none_or(|m| m[i]))
                .map(|i| coding_of(&cs, i, None))
                .collect());
        }

        let mut out = Vec::with_capacity(concepts.len());
        for entry in concepts {
            let Some(code) = text(entry, "code") else {
                return Err(TxError::Invalid { url: system.to_string(), reason: "include.concept without code".into() });
            };
            let display = text(entry, "display");
            match cs.as_ref().map(|cs| (cs, cs.index_of(code))) {
                Some((cs, Some(i))) => {
                    if mask.as_ref().is_none_or(|m| m[i]) {
                        out.push(coding_of(cs, i, display));
                    }
                }
                // A complete system that lacks the code proves it is not a code at all.
                Some((cs, None)) if cs.content == "complete" => {}
                // Without the full system the listed code is taken on trust.
                _ => out.push(Coding {
                    system: system.to_string(),
                    version: cs.as_ref().and_then(|cs| cs.version).or(version).map(str::to_string),
                    code: code.to_string(),
                    display: display.map(str::to_string),
                    inactive: false,
                    not_selectable: false,
                }),
            }
        }
        Ok(out)
    }

    fn code_system(&mut self, system: &str, version: Option<&str>) -> Result<Option<Rc<CodeSystemIndex<'d>>>, TxError> {
        let Some(json) = self.defs.code_system(system, version) else { return Ok(None) };
        let ptr = json as *const Value;
        if let Some(hit) = self.code_systems.get(&ptr) {
            return Ok(Some(hit.clone()));
        }
        let index = Rc::new(CodeSystemIndex::build(json)?);
        self.code_systems.insert(ptr, index.clone());
        Ok(Some(index))
    }

    fn import(&mut self, canonical: &str) -> Result<Rc<Vec<Coding>>, TxError> {
        if let Some(hit) = self.imported.get(canonical) {
            return Ok(hit.clone());
        }
        let (url, version) = split_canonical(canonical);
        let vs = self.defs.value_set(url, version).ok_or_else(|| TxError::UnknownValueSet {
            url: url.to_string(),
            version: version.map(str::to_string),
        })?;
        let codes = Rc::new(self.value_set(vs)?);
        self.imported.insert(canonical.to_string(), codes.clone());
        Ok(codes)
    }
}

fn is_whole_system(inc: &Value) -> bool {
    array(inc, "concept").is_empty() && array(inc, "filter").is_empty()
}

fn unknown_system(system: &str, version: Option<&str>) -> TxError {
    TxError::UnknownCodeSystem { url: system.to_string(), version: version.map(str::to_string) }
}

fn intersect(codes: Vec<Coding>, with: &[Coding]) -> Vec<Coding> {
    let keep: HashSet<(&str, &str)> = with.iter().map(key).collect();
    codes.into_iter().filter(|c| keep.contains(&key(c))).collect()
}

fn coding_of(cs: &CodeSystemIndex<'_>, i: usize, display: Option<&str>) -> Coding {
    let c = &cs.concepts[i];
    Coding {
        system: cs.url.to_string(),
        version: cs.version.map(str::to_string),
        code: c.code.to_string(),
        display: display.or(c.display).map(str::to_string),
        inactive: cs.is_inactive(i),
        not_selectable: cs.is_not_selectable(i),
    }
}

/// Codes of a stored expansion; refuses paged or truncated ones rather than answer partially.
fn stored_expansion(expansion: &Value, url: &str) -> Result<Vec<Coding>, TxError> {
    let incomplete = |reason: String| TxError::IncompleteExpansion { url: url.to_string(), reason };
    if let Some(offset) = expansion.get("offset").and_then(Value::as_u64).filter(|o| *o > 0) {
        return Err(incomplete(format!("it is a page starting at offset {offset}")));
    }
    let limited = array(expansion, "parameter").iter().any(|p| {
        text(p, "name") == Some("limitedExpansion") && p.get("valueBoolean").and_then(Value::as_bool) == Some(true)
    });
    if limited {
        return Err(incomplete("it is marked limitedExpansion".into()));
    }
    let mut out = Accumulator::default();
    let mut count = 0usize;
    // Explicit stack: contains nest arbitrarily in hierarchical expansions.
    let mut stack: Vec<std::slice::Iter<'_, Value>> = vec![array(expansion, "contains").iter()];
    while let Some(iter) = stack.last_mut() {
        let Some(entry) = iter.next() else {
            stack.pop();
            continue;
        };
        if let (Some(system), Some(code)) = (text(entry, "system"), text(entry, "code")) {
            count += 1;
            out.push(Coding {
                system: system.to_string(),
                version: text(entry, "version").map(str::to_string),
                code: code.to_string(),
                display: text(entry, "display").map(str::to_string),
                inactive: entry.get("inactive").and_then(Value::as_bool) == Some(true),
                not_selectable: entry.get("abstract").and_then(Value::as_bool) == Some(true),
            });
        }
        let nested = array(entry, "contains");
        if !nested.is_empty() {
            stack.push(nested.iter());
        }
    }
    if let Some(total) = expansion.get("total").and_then(Value::as_u64) {
        if total as usize > count {
            return Err(incomplete(format!("total is {total} but only {count} codes are listed")));
        }
    }
    Ok(out.codings)
}
