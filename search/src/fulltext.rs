//! `_text` (the narrative) and `_content` (every string in the resource): a folded word document per
//! resource, and a small query language over it (search.html "Text search"): words are ANDed,
//! `OR` between words or phrases gives alternatives, `"two words"` is a phrase, and each word
//! matches the start of a word in the document, case- and accent-insensitively.

use crate::extract::fold_into;
use crate::IndexRow;
use fhir_model::Model;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use unicode_normalization::char::is_combining_mark;

/// A document as stored: folded words, one space apart, with a space at each end so a word start
/// is always `' ' || word`.
pub fn document(text: &str) -> String {
    let mut doc = Doc::new(text.len() + 2);
    doc.words(text, false);
    doc.finish()
}

/// Appends the resource's `_text` (narrative) and `_content` (every string but base64Binary
/// values, which `model` tells apart; without a model they are indexed too) documents, as asked.
pub fn rows(resource: &Value, text: bool, content: bool, model: Option<&Arc<Model>>, out: &mut Vec<IndexRow>) {
    let div = narrative_div(resource);
    // Apart from base64 data, the narrative is usually the largest string: fold it once for both.
    let narrative = div.filter(|_| text || content).map(|div| {
        let mut doc = Doc::new(div.len() / 2);
        doc.words(div, true);
        doc.finish()
    });
    let content = content.then(|| {
        let keys = model.map(base64_keys);
        let walk = Walk {
            narrative: div.zip(narrative.as_deref()),
            base64: model.zip(keys.as_deref()).map(|(model, keys)| Base64 { model, keys }),
        };
        let mut doc = Doc::new(narrative.as_ref().map_or(256, |n| n.len() + 256));
        doc.value(resource, "", None, &walk);
        doc.finish()
    });
    if let Some(value) = narrative.filter(|_| text) {
        out.push(IndexRow::Text { param: "_text".into(), value });
    }
    if let Some(value) = content {
        out.push(IndexRow::Text { param: "_content".into(), value });
    }
}

/// The narrative's XHTML, `text.div`.
fn narrative_div(resource: &Value) -> Option<&str> {
    resource.get("text")?.get("div")?.as_str()
}

/// The JSON keys that name a base64Binary element in some type of a model (`data`, `hash`,
/// `valueBase64Binary`, ...). Encoded bytes are no words, and they are over half the text of the
/// R4 examples; a string under another key is indexed without asking the model anything.
struct Base64Keys {
    /// Each key with its [`tag`], so that most keys are ruled out by comparing two numbers.
    keys: Vec<(u64, String)>,
    /// Bit `n` is set when some key is `n` bytes long (bit 63: 63 or more): most keys are ruled out by it alone.
    lengths: u64,
}

impl Base64Keys {
    fn new(model: &Model) -> Base64Keys {
        let mut keys: Vec<(u64, String)> = Vec::new();
        for el in model.type_names().filter_map(|t| model.type_def(t)).flat_map(|t| &t.elements) {
            if !el.types.iter().any(|t| t == "base64Binary") {
                continue;
            }
            let key = if el.choice { format!("{}Base64Binary", el.name) } else { el.name.clone() };
            if !keys.iter().any(|(_, k)| *k == key) {
                keys.push((tag(&key), key));
            }
        }
        let lengths = keys.iter().fold(0, |bits, (_, k)| bits | 1 << k.len().min(63));
        Base64Keys { keys, lengths }
    }

    fn may_name(&self, key: &str) -> bool {
        if self.lengths & 1 << key.len().min(63) == 0 {
            return false;
        }
        let tag = tag(key);
        self.keys.iter().any(|(t, k)| *t == tag && k == key)
    }
}

/// A key's length and first four bytes as one number.
fn tag(key: &str) -> u64 {
    let b = key.as_bytes();
    let head = match b.first_chunk::<4>() {
        Some(head) => u32::from_le_bytes(*head),
        None => b.iter().rev().fold(0, |head, &c| head << 8 | c as u32),
    };
    (b.len() as u64) << 32 | head as u64
}

/// The [`Base64Keys`] of a model, found once per model: the registry has no place of its own for them.
fn base64_keys(model: &Arc<Model>) -> Arc<Base64Keys> {
    // A Weak keeps its allocation, so a pointer match cannot be a new model at a dead one's address.
    static FOUND: Mutex<Vec<(Weak<Model>, Arc<Base64Keys>)>> = Mutex::new(Vec::new());
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, keys)) = found.iter().find(|(m, _)| std::ptr::eq(m.as_ptr(), Arc::as_ptr(model))) {
        return keys.clone();
    }
    found.retain(|(m, _)| m.strong_count() > 0);
    let keys = Arc::new(Base64Keys::new(model));
    found.push((Arc::downgrade(model), keys.clone()));
    keys
}

/// Tells base64Binary strings apart by the type of the element they are in.
struct Base64<'m> {
    model: &'m Model,
    keys: &'m Base64Keys,
}

impl Base64<'_> {
    /// Whether the string under `key` of the object `at` is a base64Binary value.
    fn is_base64(&self, key: &str, at: Option<&At<'_>>) -> bool {
        // `data` is also SampledData.data, a string of numbers: only the parent's type can tell.
        self.keys.may_name(key)
            && at.and_then(|at| self.type_of(at)).and_then(|t| self.model.json_element(t, key)).is_some_and(|(_, t)| t == "base64Binary")
    }

    /// The FHIR type of an object: what the model says its key holds in its parent, or the
    /// `resourceType` of a resource. None off the model (invalid JSON).
    fn type_of<'a>(&'a self, at: &At<'a>) -> Option<&'a str> {
        let resource_type = || at.object.get("resourceType").and_then(Value::as_str);
        let Some(parent) = at.parent else { return resource_type() };
        let ty = match self.model.json_element(self.type_of(parent)?, at.key) {
            Some((_, t)) => t,
            // A primitive's id and extensions sit under `_key`.
            None if at.key.starts_with('_') => "Element",
            None => return None,
        };
        // `contained`, `Bundle.entry.resource` and the like hold any resource, which names its type.
        // (Not every `resourceType` key does: ExampleScenario.instance has one.)
        if self.model.is_resource(ty) {
            resource_type()
        } else {
            Some(ty)
        }
    }
}

/// An object met in the walk over a resource, with the key it is under and the object that holds it.
/// Its type is only worked out when a string in it may be base64Binary, which is rare.
struct At<'a> {
    key: &'a str,
    object: &'a Map<String, Value>,
    parent: Option<&'a At<'a>>,
}

/// What the `_content` walk knows beyond the JSON.
struct Walk<'a> {
    /// The resource's own `text.div` with its document, already built.
    narrative: Option<(&'a str, &'a str)>,
    /// Leaves out base64Binary values (None: no model, everything is indexed).
    base64: Option<Base64<'a>>,
}

/// Whether a character belongs to a word: combining marks stay with their word until folding strips them.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The character starting at byte `i` (a char boundary) and its length in bytes.
fn char_at(s: &str, i: usize) -> (char, usize) {
    let c = s[i..].chars().next().expect("i is inside s");
    (c, c.len_utf8())
}

/// A document being built: a leading space, then each folded word followed by a space.
struct Doc {
    /// Bytes rather than a String so ASCII words can be written eight bytes at a time.
    out: Vec<u8>,
    /// Scratch for the few words that need Unicode folding, reused rather than allocated per word.
    folded: String,
}

impl Doc {
    fn new(capacity: usize) -> Doc {
        let mut out = Vec::with_capacity(capacity.max(16));
        out.push(b' ');
        Doc { out, folded: String::new() }
    }

    /// The document as a String (checking the UTF-8 costs about 1 % of building it).
    fn finish(self) -> String {
        String::from_utf8(self.out).expect("only whole characters are written")
    }

    /// Appends the words of a string, plain text or (`xhtml`) markup: tags separate words and are
    /// dropped, and `&amp;`, `&lt;`, `&gt;` and `&nbsp;` separate words rather than being words.
    fn words(&mut self, s: &str, xhtml: bool) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            i = if c.is_ascii_alphanumeric() {
                self.ascii_word(s, i)
            } else if c.is_ascii() {
                if xhtml && matches!(c, b'<' | b'>' | b'&') { markup_end(s, i) } else { i + 1 }
            } else {
                match char_at(s, i) {
                    (c, _) if is_word_char(c) => self.folded_word(s, i),
                    (_, len) => i + len,
                }
            };
        }
    }

    /// Appends the word starting with the ASCII letter or digit at byte `i`; returns where it ends.
    fn ascii_word(&mut self, s: &str, i: usize) -> usize {
        let b = s.as_bytes();
        let at = self.out.len();
        let end = i + push_alnum_run(&b[i..], &mut self.out);
        if end < b.len() && !b[end].is_ascii() && is_word_char(char_at(s, end).0) {
            self.out.truncate(at);
            return self.folded_word(s, i);
        }
        self.out.push(b' ');
        end
    }

    /// Appends the word starting at byte `i`, which has a non-ASCII character, folded; returns
    /// where it ends. Folding can split it (a letter that folds to a non-letter).
    fn folded_word(&mut self, s: &str, i: usize) -> usize {
        let end = word_end(s, i);
        self.folded.clear();
        fold_into(&s[i..end], &mut self.folded);
        for part in self.folded.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()) {
            self.out.extend_from_slice(part.as_bytes());
            self.out.push(b' ');
        }
        end
    }

    /// Appends the words of every string in a JSON value but `resourceType` codes and base64Binary
    /// values, reading `div`s as XHTML. `key` is the value's key in the object `at`.
    fn value<'a>(&mut self, v: &'a Value, key: &'a str, at: Option<&At<'a>>, walk: &Walk<'_>) {
        match v {
            Value::String(s) if key == "div" => match walk.narrative {
                Some((div, doc)) if std::ptr::eq(div, s.as_str()) => self.out.extend_from_slice(&doc.as_bytes()[1..]),
                _ => self.words(s, true),
            },
            Value::String(s) if key != "resourceType" && !walk.base64.as_ref().is_some_and(|b| b.is_base64(key, at)) => self.words(s, false),
            Value::Array(a) => a.iter().for_each(|x| self.value(x, key, at, walk)),
            Value::Object(o) => {
                let here = At { key, object: o, parent: at };
                o.iter().for_each(|(k, x)| self.value(x, k, Some(&here), walk));
            }
            _ => {}
        }
    }
}

/// Appends the run of ASCII letters and digits at the start of `b`, lowercased, and returns its length.
fn push_alnum_run(b: &[u8], out: &mut Vec<u8>) -> usize {
    // Eight bytes at a time, as narratives are most of the text and mostly letters:
    // copy all eight, then take back those past the run. Setting 0x20 lowercases a letter and
    // leaves a digit as it is.
    let mut n = 0;
    while let Some(chunk) = b.get(n..n + 8) {
        let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        out.extend_from_slice(&(v | 0x2020_2020_2020_2020).to_le_bytes());
        let not_alnum = not_alnum_lanes(v);
        if not_alnum != 0 {
            let run = (not_alnum.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - 8 + run);
            return n + run;
        }
        n += 8;
    }
    let run = b[n..].iter().position(|c| !c.is_ascii_alphanumeric()).unwrap_or(b.len() - n);
    out.extend(b[n..n + run].iter().map(|c| c | 0x20));
    n + run
}

/// For eight bytes (little-endian), the high bit of each byte that is not an ASCII letter or digit.
fn not_alnum_lanes(v: u64) -> u64 {
    const LANES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * LANES;
    // With each byte below 0x80, `x + (0x80 - lo)` sets that byte's high bit exactly when x >= lo,
    // and no sum carries into the next byte.
    let at_least = |x: u64, lo: u8| x + (0x80 - lo as u64) * LANES;
    let x = v & !HIGH;
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    let folded = x | (0x20 * LANES);
    let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1);
    (!(digit | letter) | v) & HIGH
}

/// Where the word starting at byte `i` ends: the first character that is not a word character.
fn word_end(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while i < b.len() {
        if b[i].is_ascii() {
            if !b[i].is_ascii_alphanumeric() {
                break;
            }
            i += 1;
            continue;
        }
        let (c, len) = char_at(s, i);
        if !is_word_char(c) {
            break;
        }
        i += len;
    }
    i
}

/// Where markup starting at byte `i` of XHTML (a `<`, `>` or `&`) ends.
fn markup_end(s: &str, i: usize) -> usize {
    let b = s.as_bytes();
    match b[i] {
        // Everything up to the tag's end is markup; an unclosed tag runs to the end.
        b'<' => b[i..].iter().position(|&c| c == b'>').map_or(b.len(), |q| i + q + 1),
        b'>' => i + 1,
        _ => i + entity_len(&s[i..]),
    }
}

/// How many bytes of `s` (which starts with `&`) one entity occupies; 1 for a plain `&`.
///
/// Narratives were once decoded by replacing `&amp;`, then `&lt;`, `&gt;` and `&nbsp;` in turn, so
/// `&amp;lt;` became `<`: an `&amp;` followed by one of the others is read as that one, which keeps
/// the stored documents as they were.
fn entity_len(s: &str) -> usize {
    const OTHERS: [&str; 3] = ["lt;", "gt;", "nbsp;"];
    let other = |rest: &str| OTHERS.iter().find(|e| rest.starts_with(**e)).map(|e| e.len());
    let rest = &s[1..];
    if let Some(after) = rest.strip_prefix("amp;") {
        return 5 + other(after).unwrap_or(0);
    }
    1 + other(rest).unwrap_or(0)
}

/// A parsed text query: alternatives (OR) of conjunctions (AND) of word sequences (a phrase, or one word).
pub(crate) fn parse(q: &str) -> Result<Vec<Vec<String>>, String> {
    let mut alts: Vec<Vec<String>> = vec![Vec::new()];
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (token, quoted, next) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').ok_or("unbalanced '\"'")?;
            (&r[..end], true, &r[end + 1..])
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        rest = next.trim_start();
        if !quoted && token == "OR" {
            if alts.last().is_none_or(Vec::is_empty) || rest.is_empty() {
                return Err("OR needs a term on each side".into());
            }
            alts.push(Vec::new());
            continue;
        }
        if !quoted && token == "AND" {
            continue;
        }
        let words = document(token);
        let words = words.trim();
        if words.is_empty() {
            return Err(format!("'{token}' has no searchable word"));
        }
        alts.last_mut().unwrap().push(words.to_string());
    }
    if alts.iter().any(Vec::is_empty) {
        return Err("empty text query".into());
    }
    Ok(alts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The (`_text`, `_content`) documents of a resource.
    fn docs(resource: &Value) -> (Option<String>, Option<String>) {
        let mut rows = Vec::new();
        super::rows(resource, true, true, None, &mut rows);
        let doc = |param: &str| rows.iter().find(|r| r.param() == param).map(|r| match r {
            IndexRow::Text { value, .. } => value.clone(),
            _ => unreachable!("full text writes Text rows"),
        });
        (doc("_text"), doc("_content"))
    }

    #[test]
    fn documents_fold_and_split_words() {
        assert_eq!(document("Héart-Attack, (acute)"), " heart attack acute ");
        // Decomposed accents stay with their word until folding removes them.
        assert_eq!(document("A\u{30a}ngstro\u{308}m x"), " angstrom x ");
        assert_eq!(document("Ångström x"), " angstrom x ");
        let r = json!({"resourceType": "Basic", "text": {"div": "<div xmlns=\"x\"><p>Bob &amp; <b>Alice</b></p></div>"}, "note": "Épée"});
        assert_eq!(docs(&r), (Some(" bob alice ".into()), Some(" bob alice epee ".into())));
    }

    #[test]
    fn only_the_documents_asked_for_are_written() {
        let r = json!({"resourceType": "Basic", "text": {"div": "<div>a</div>"}});
        let params = |text, content| {
            let mut rows = Vec::new();
            super::rows(&r, text, content, None, &mut rows);
            rows.iter().map(|r| r.param().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(params(true, false), ["_text"]);
        assert_eq!(params(false, true), ["_content"]);
        assert!(params(false, false).is_empty());
        assert_eq!(docs(&json!({"resourceType": "Basic"})), (None, Some(" ".into())));
    }

    /// The documents as first written: markup stripped into a String, entities replaced one after
    /// another, every string joined into one text, then split and folded. The builder must agree.
    mod reference {
        use crate::extract::fold;
        use serde_json::Value;
        use unicode_normalization::char::is_combining_mark;

        pub fn document(text: &str) -> String {
            let mut out = String::from(" ");
            for w in text.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c))).filter(|w| !w.is_empty()) {
                if w.is_ascii() {
                    out.extend(w.chars().map(|c| c.to_ascii_lowercase()));
                    out.push(' ');
                    continue;
                }
                for part in fold(w).split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()) {
                    out.push_str(part);
                    out.push(' ');
                }
            }
            out
        }

        fn strip_markup(div: &str) -> String {
            let mut out = String::new();
            let mut in_tag = false;
            for c in div.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        out.push(' ');
                    }
                    _ if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
        }

        pub fn docs(resource: &Value) -> (Option<String>, Option<String>) {
            fn walk(v: &Value, key: &str, out: &mut String) {
                match v {
                    Value::String(s) if key == "div" => {
                        out.push_str(&strip_markup(s));
                        out.push(' ');
                    }
                    Value::String(s) if key != "resourceType" => {
                        out.push_str(s);
                        out.push(' ');
                    }
                    Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
                    Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k, out)),
                    _ => {}
                }
            }
            let text = resource.pointer("/text/div").and_then(Value::as_str).map(|d| document(&strip_markup(d)));
            let mut all = String::new();
            walk(resource, "", &mut all);
            (text, Some(document(&all)))
        }
    }

    #[test]
    fn documents_match_the_reference_on_odd_text() {
        let divs = [
            "&amp;lt; &amp;gt; &amp;nbsp; &amp;amp; &amp;amp;lt; &amp;&amp;lt; &lt;b&gt; AT&amp;T x&nbsp;y &copy; & ; &am<b>p;",
            "<div>unclosed <b tag &amp; text",
            "<a title=\"x > y\">in</a> > out &lt;&gt;&nbsp;&amp;",
            "Ǆemal İstanbul ß Σίσυφος ǅ ½ Ⅻ ① ﬁne A\u{30a} \u{301}lead x\u{200d}y 日本語テキスト",
        ];
        for div in divs {
            let r = json!({"resourceType": "Basic", "text": {"div": div}, "code": {"text": div},
                "contained": [{"resourceType": "Basic", "text": {"div": div}}], "div": [div, "plain"]});
            assert_eq!(docs(&r), reference::docs(&r), "{div}");
            assert_eq!(document(div), reference::document(div), "{div}");
        }
    }

    #[test]
    fn documents_match_the_reference_on_the_r4_examples() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhir-r4-examples/examples");
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("skipped: no corpus at {dir}");
            return;
        };
        let mut checked = 0;
        for path in entries.map(|e| e.unwrap().path()) {
            let Some(r) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) else { continue };
            assert_eq!(docs(&r), reference::docs(&r), "{}", path.display());
            checked += 1;
        }
        assert!(checked > 700, "only {checked} examples read");
    }

    #[test]
    fn alnum_runs_agree_with_a_byte_at_a_time() {
        for byte in 0..=255u8 {
            // Each byte value among letters (and another after it), at every offset within a block of eight.
            for at in 0..11 {
                let mut b = b"aZ09zA".repeat(4);
                b.insert(at, byte);
                b.insert(at + 2, 255 - byte);
                for from in 0..b.len() {
                    let run: Vec<u8> = b[from..].iter().take_while(|c| c.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase).collect();
                    let mut out = vec![b' '];
                    assert_eq!(push_alnum_run(&b[from..], &mut out), run.len(), "{b:?} from {from}");
                    assert_eq!(out[1..], run, "{b:?} from {from}");
                }
            }
        }
    }

    /// The `_content` document the R4 registry writes for a resource.
    fn content(resource: &Value) -> String {
        let rows = crate::Registry::r4().extract(resource);
        match rows.iter().find(|r| r.param() == "_content") {
            Some(IndexRow::Text { value, .. }) => value.clone(),
            _ => panic!("no _content row"),
        }
    }

    #[test]
    fn attachment_data_is_not_content() {
        let r = json!({"resourceType": "DocumentReference", "status": "current",
            "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8gd29ybGQ=", "hash": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "title": "Discharge summary"}}]});
        let doc = content(&r);
        assert!(doc.contains(" discharge summary "), "{doc}");
        assert!(!doc.contains("sgvsbg8gd29ybgq") && !doc.contains("2jmj7l5rsw0yvb"), "{doc}");
    }

    #[test]
    fn only_base64binary_elements_are_left_out() {
        let r = json!({"resourceType": "Observation", "status": "final", "code": {"text": "ecg"},
            // SampledData.data is a string of numbers, not base64.
            "valueSampledData": {"origin": {"value": 0}, "period": 10, "dimensions": 1, "data": "12 34 E"},
            "extension": [
                {"url": "http://x/a", "valueAttachment": {"data": "QUJDREVG", "title": "scan"}},
                {"url": "http://x/b", "valueBase64Binary": "R0hJSktM"}],
            "contained": [{"resourceType": "Binary", "id": "b", "contentType": "text/plain", "data": "TU5PUFFS"}],
            // Extensions of a primitive sit under `_status`, typed Element.
            "_status": {"extension": [{"url": "http://x/c", "valueString": "flagged"}, {"url": "http://x/d", "valueBase64Binary": "VVZXWFla"}]},
            "note": [{"text": "data"}]});
        let doc = content(&r);
        for word in ["ecg", "12", "34", "e", "scan", "flagged", "data", "text", "plain"] {
            assert!(doc.contains(&format!(" {word} ")), "{word} missing from {doc}");
        }
        for encoded in ["qujdrevg", "r0hjsktm", "tu5pufft", "vvzxwfla"] {
            assert!(!doc.contains(encoded), "{encoded} in {doc}");
        }
        // Without a model nothing can be told apart, so everything is indexed.
        assert!(docs(&r).1.unwrap().contains(" qujdrevg "));
        let bundle = json!({"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "VFVWV1hZ"}}]});
        let doc = content(&bundle);
        assert_eq!(doc, " collection text plain ");
    }

    #[test]
    fn base64_keys_come_from_the_model() {
        let keys = Base64Keys::new(&profiles::Package::r4_core().model());
        let mut names: Vec<&str> = keys.keys.iter().map(|(_, k)| k.as_str()).collect();
        names.sort();
        let expected = ["carrierAIDC", "data", "defaultValueBase64Binary", "fixedBase64Binary", "hash", "patternBase64Binary", "query", "valueBase64Binary"];
        assert_eq!(names, expected);
        for key in expected {
            assert!(keys.may_name(key), "{key}");
        }
        for key in ["date", "dat", "datas", "hasH", "value", "valueString", ""] {
            assert!(!keys.may_name(key), "{key}");
        }
    }

    #[test]
    fn queries_parse_into_alternatives_of_terms() {
        assert_eq!(parse("heart attack").unwrap(), [vec!["heart".to_string(), "attack".to_string()]]);
        assert_eq!(parse("\"heart attack\" OR stroke").unwrap(), [vec!["heart attack".to_string()], vec!["stroke".to_string()]]);
        assert!(parse("heart OR").is_err());
        assert!(parse("\"open").is_err());
        assert!(parse("--").is_err());
    }
}
