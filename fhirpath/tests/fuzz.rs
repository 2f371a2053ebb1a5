//! Robustness: generated and mutated expressions must compile or fail with an error, and
//! evaluate or fail with an error, never panic or overflow the stack.

use fhirpath::{CheckOptions, Engine};
use serde_json::Value;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "Patient", "name", "given", "family", "birthDate", "telecom", "value", "extension", "contained", "id", "(", ")",
    "[", "]", "{", "}", ".", ",", "+", "-", "*", "/", "div", "mod", "&", "|", "=", "!=", "~", "!~", "<", "<=", ">",
    ">=", "and", "or", "xor", "implies", "in", "contains", "is", "as", "$this", "$index", "$total", "%resource",
    "%context", "%ucum", "%`vs-x`", "'a'", "'\\u0041'", "''", "1", "0", "-1", "1.5", "0.0", "2147483647",
    "99999999999999999999999", "@2015", "@2015-02-04T14:34:28Z", "@T14:34", "4 days", "1 'mg'", "true", "false",
    "where(", "select(", "exists(", "all(", "repeat(", "ofType(", "first()", "last()", "tail()", "skip(", "take(",
    "iif(", "toString()", "toInteger()", "toDecimal()", "toQuantity(", "substring(", "matches(", "replaceMatches(",
    "'[a-z'", "'(a*)*b'", "split(", "join(", "children()", "descendants()", "trace(", "now()", "today()", "type()",
    "resolve()", "hasValue()", "getValue()", "htmlChecks()", "lowBoundary(", "highBoundary(", "precision()",
    "aggregate(", "sort(", "power(", "log(", "sqrt()", "round(", "encode(", "decode(", "'base64'", "'hex'",
    "memberOf(", "conformsTo(", "elementDefinition()", "/*", "*/", "//", "`", "'", "@", "%", "$", "\n",
];

fn patient() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhirpath/input-json/patient-example.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("patient")).expect("json")
}

fn exercise(engine: &Engine, input: &Value, expr: &str) {
    if let Ok(e) = engine.compile(expr) {
        let _ = engine.check_with(&e, "Patient", &CheckOptions { strict: true, ordered_functions: true });
        let _ = engine.evaluate(&e, input, &fhirpath::Env::new());
        let _ = engine.evaluate(&e, &Value::Null, &fhirpath::Env::new());
    }
}

#[test]
fn generated_expressions_never_panic() {
    let engine = Engine::new(Some(profiles::Package::r4_core().model()));
    let untyped = Engine::new(None);
    let input = patient();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for _ in 0..4000 {
        let n = 1 + rng.below(12);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(PIECES[rng.below(PIECES.len())]);
            if rng.below(3) == 0 {
                s.push(' ');
            }
        }
        exercise(&engine, &input, &s);
        exercise(&untyped, &input, &s);
    }
}

#[test]
fn mutated_suite_expressions_never_panic() {
    let xml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpora/fhirpath/tests-fhir-r4.xml")).expect("suite");
    let exprs: Vec<String> = xml
        .split("<expression")
        .skip(1)
        .filter_map(|s| s.split_once('>').and_then(|(_, r)| r.split_once("</expression>")).map(|(e, _)| e.to_owned()))
        .map(|e| e.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        .collect();
    assert!(exprs.len() > 900);
    let engine = Engine::new(Some(profiles::Package::r4_core().model()));
    let input = patient();
    let mut rng = Rng(42);
    for i in 0..4000 {
        let base: Vec<char> = exprs[i % exprs.len()].chars().collect();
        let mut chars = base.clone();
        for _ in 0..1 + rng.below(3) {
            let pos = if chars.is_empty() { 0 } else { rng.below(chars.len() + 1) };
            match rng.below(3) {
                0 if pos < chars.len() => {
                    chars.remove(pos);
                }
                1 => {
                    let piece: Vec<char> = PIECES[rng.below(PIECES.len())].chars().collect();
                    for (k, c) in piece.into_iter().enumerate() {
                        chars.insert(pos + k, c);
                    }
                }
                _ if pos < chars.len() => chars[pos] = ['(', ')', '.', '\'', '`', '[', ']', ',', '@', '%'][rng.below(10)],
                _ => {}
            }
        }
        let s: String = chars.into_iter().collect();
        exercise(&engine, &input, &s);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let engine = Engine::new(None);
    let input = patient();
    for depth in [10, 100, 1000, 100_000] {
        let parens = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
        let chain = format!("Patient{}", ".name".repeat(depth));
        let sum = vec!["1"; depth].join("+");
        let neg = format!("{}1", "-".repeat(depth));
        for e in [parens, chain, sum, neg] {
            exercise(&engine, &input, &e);
        }
    }
    assert!(engine.compile(&format!("{}1{}", "(".repeat(1000), ")".repeat(1000))).is_err());
}
