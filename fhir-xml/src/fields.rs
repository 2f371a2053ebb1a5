//! Collects the children of one XML element into a JSON object: repeated elements become
//! arrays, and primitives split into `x` / `_x` with `null` padding so both arrays align.

use serde_json::{Map, Value};

enum Slot {
    One(Value),
    Many(Vec<Value>),
    /// A single primitive: its value and its `{id, extension}` part.
    Prim(Option<Value>, Option<Value>),
    /// A repeating primitive: values and `{id, extension}` parts, `Null` where absent.
    PrimMany(Vec<Value>, Vec<Value>),
}

struct Entry {
    key: String,
    /// Element name without the choice suffix, to refuse two variants of one `[x]` element.
    element: String,
    slot: Slot,
}

/// The JSON properties of one object, in the order their elements first appeared.
#[derive(Default)]
pub(crate) struct Fields {
    entries: Vec<Entry>,
}

impl Fields {
    /// Checks that element `key` (of element `element`) may occur now, and returns its array index.
    pub(crate) fn admit(&self, key: &str, element: &str, many: bool) -> Result<usize, String> {
        for e in &self.entries {
            if e.key == key {
                return match &e.slot {
                    Slot::Many(v) => Ok(v.len()),
                    Slot::PrimMany(v, _) => Ok(v.len()),
                    _ if !many => Err(format!("element '{key}' occurs more than once but allows at most one")),
                    _ => Ok(0),
                };
            }
            if e.element == element && element != key {
                return Err(format!("'{key}' and '{}' are both given for the choice element {element}[x]", e.key));
            }
        }
        Ok(0)
    }

    fn entry(&mut self, key: &str, element: &str, make: impl FnOnce() -> Slot) -> &mut Slot {
        let i = match self.entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                self.entries.push(Entry { key: key.to_owned(), element: element.to_owned(), slot: make() });
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].slot
    }

    /// Adds a complex (or resource, or narrative) value; call [`Fields::admit`] first.
    pub(crate) fn push(&mut self, key: &str, element: &str, many: bool, value: Value) {
        if many {
            if let Slot::Many(v) = self.entry(key, element, || Slot::Many(Vec::new())) {
                v.push(value);
            }
        } else {
            self.entries.push(Entry { key: key.to_owned(), element: element.to_owned(), slot: Slot::One(value) });
        }
    }

    /// Adds a primitive's value and `{id, extension}` part; call [`Fields::admit`] first.
    pub(crate) fn push_primitive(
        &mut self,
        key: &str,
        element: &str,
        many: bool,
        value: Option<Value>,
        meta: Option<Value>,
    ) {
        if many {
            if let Slot::PrimMany(vs, ms) = self.entry(key, element, || Slot::PrimMany(Vec::new(), Vec::new())) {
                vs.push(value.unwrap_or(Value::Null));
                ms.push(meta.unwrap_or(Value::Null));
            }
        } else {
            self.entries.push(Entry {
                key: key.to_owned(),
                element: element.to_owned(),
                slot: Slot::Prim(value, meta),
            });
        }
    }

    /// Writes the collected properties into `out`.
    pub(crate) fn finish_into(self, out: &mut Map<String, Value>) {
        for Entry { key, slot, .. } in self.entries {
            match slot {
                Slot::One(v) => {
                    out.insert(key, v);
                }
                Slot::Many(vs) => {
                    out.insert(key, Value::Array(vs));
                }
                Slot::Prim(v, m) => {
                    if let Some(m) = m {
                        if let Some(v) = v {
                            out.insert(key.clone(), v);
                        }
                        out.insert(format!("_{key}"), m);
                    } else if let Some(v) = v {
                        out.insert(key, v);
                    }
                }
                Slot::PrimMany(vs, ms) => {
                    // json.html: an array is left out when none of its items has anything.
                    let any_meta = ms.iter().any(|m| !m.is_null());
                    if vs.iter().any(|v| !v.is_null()) {
                        out.insert(key.clone(), Value::Array(vs));
                    }
                    if any_meta {
                        out.insert(format!("_{key}"), Value::Array(ms));
                    }
                }
            }
        }
    }
}
