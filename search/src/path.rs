//! A deliberately small FHIRPath subset, enough for most R4 search parameter expressions.
//!
//! Anything outside the subset is rejected at compile time, so a parameter is either indexed
//! faithfully or not at all; the full engine lives in another crate and will replace this.

use serde_json::Value;

/// A compiled expression in the supported subset.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `a | b | ...`
    Union(Vec<Expr>),
    /// A start (type name or parenthesised expression) followed by navigation steps.
    Path(Box<Start>, Vec<Step>),
}

/// Where a path begins.
#[derive(Debug, Clone)]
pub enum Start {
    /// A type name such as `Patient`, `Resource` or `DomainResource`.
    Type(String),
    /// A parenthesised sub-expression.
    Group(Expr),
    /// No type prefix (`name | alias`): the path starts at the resource itself.
    This,
}

/// One navigation or filtering step.
#[derive(Debug, Clone)]
pub enum Step {
    /// Child element by name; a missing name also matches choice elements (`value` → `valueQuantity`).
    Field(String),
    /// `as T`, `.as(T)`, `.ofType(T)`.
    As(String),
    /// `.where(resolve() is T)`.
    WhereResolveIs(String),
    /// `.where(a.b = 'literal')`.
    WhereEq(Vec<String>, String),
    /// `.first()`.
    First,
    /// `[n]`.
    Index(usize),
    /// `.extension('url')`, yielding each matching extension's value[x]: a search parameter
    /// over an extension means its value (as other servers index it), not the Extension element.
    Extension(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Dot,
    Pipe,
    LParen,
    RParen,
    Eq,
    Index(usize),
    Other(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '.' => {
                out.push(Tok::Dot);
                i += 1
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '=' => {
                out.push(Tok::Eq);
                i += 1
            }
            '[' => {
                let st = i + 1;
                let mut j = st;
                while j < cs.len() && cs[j].is_ascii_digit() {
                    j += 1;
                }
                if j == st || j >= cs.len() || cs[j] != ']' {
                    return Err("unsupported indexer".into());
                }
                let n: String = cs[st..j].iter().collect();
                out.push(Tok::Index(n.parse().map_err(|_| "bad index".to_string())?));
                i = j + 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                while i < cs.len() && cs[i] != '\'' {
                    if cs[i] == '\\' {
                        return Err("escape in string literal".into());
                    }
                    v.push(cs[i]);
                    i += 1;
                }
                if i >= cs.len() {
                    return Err("unterminated string literal".into());
                }
                i += 1;
                out.push(Tok::Str(v));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let st = i;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(cs[st..i].iter().collect()));
            }
            '`' => {
                let st = i + 1;
                i += 1;
                while i < cs.len() && cs[i] != '`' {
                    i += 1;
                }
                out.push(Tok::Ident(cs[st..i.min(cs.len())].iter().collect()));
                i += 1;
            }
            other => {
                let mut v = other.to_string();
                i += 1;
                while i < cs.len() && "!<>~&+-*/".contains(cs[i]) {
                    v.push(cs[i]);
                    i += 1;
                }
                out.push(Tok::Other(v));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            x => Err(format!("expected {t:?}, found {x:?}")),
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            x => Err(format!("expected identifier, found {x:?}")),
        }
    }
    fn type_name(&mut self) -> Result<String, String> {
        let mut n = self.ident()?;
        // `FHIR.Quantity` / `System.String`: the namespace adds nothing here.
        while self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            n = self.ident()?;
        }
        Ok(n)
    }

    fn union(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.typed()?];
        while self.peek() == Some(&Tok::Pipe) {
            self.pos += 1;
            parts.push(self.typed()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Expr::Union(parts) })
    }

    fn typed(&mut self) -> Result<Expr, String> {
        let e = self.postfix()?;
        match self.peek() {
            Some(Tok::Ident(k)) if k == "as" => {
                self.pos += 1;
                let t = self.type_name()?;
                Ok(match e {
                    Expr::Path(s, mut steps) => {
                        steps.push(Step::As(t));
                        Expr::Path(s, steps)
                    }
                    u => Expr::Path(Box::new(Start::Group(u)), vec![Step::As(t)]),
                })
            }
            Some(Tok::Ident(k)) => Err(format!("unsupported operator '{k}'")),
            Some(Tok::Other(o)) => Err(format!("unsupported operator '{o}'")),
            Some(Tok::Eq) => Err("unsupported operator '='".into()),
            _ => Ok(e),
        }
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let start = match self.next() {
            Some(Tok::LParen) => {
                let e = self.union()?;
                self.expect(Tok::RParen)?;
                Start::Group(e)
            }
            Some(Tok::Ident(s)) if s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => Start::Type(s),
            Some(Tok::Ident(s)) if !matches!(s.as_str(), "as" | "is" | "and" | "or" | "where") => {
                self.pos -= 1;
                Start::This
            }
            x => return Err(format!("expression must start with a type name, found {x:?}")),
        };
        let mut steps = Vec::new();
        if matches!(start, Start::This) {
            steps.push(Step::Field(self.ident()?));
        }
        loop {
            if let Some(Tok::Index(n)) = self.peek() {
                steps.push(Step::Index(*n));
                self.pos += 1;
                continue;
            }
            if self.peek() != Some(&Tok::Dot) {
                break;
            }
            self.pos += 1;
            let name = self.ident()?;
            if self.peek() == Some(&Tok::LParen) {
                self.pos += 1;
                steps.push(self.function(&name)?);
            } else {
                steps.push(Step::Field(name));
            }
        }
        Ok(Expr::Path(Box::new(start), steps))
    }

    /// Called after `name(`; consumes through the closing parenthesis.
    fn function(&mut self, name: &str) -> Result<Step, String> {
        let step = match name {
            "as" | "ofType" => Step::As(self.type_name()?),
            "first" => Step::First,
            "extension" => match self.next() {
                Some(Tok::Str(url)) => Step::Extension(url),
                x => return Err(format!("extension() needs a string literal, found {x:?}")),
            },
            "where" => self.where_cond()?,
            other => return Err(format!("unsupported function {other}()")),
        };
        self.expect(Tok::RParen)?;
        Ok(step)
    }

    fn where_cond(&mut self) -> Result<Step, String> {
        let first = self.ident()?;
        if first == "resolve" {
            self.expect(Tok::LParen)?;
            self.expect(Tok::RParen)?;
            match self.next() {
                Some(Tok::Ident(k)) if k == "is" => {}
                x => return Err(format!("unsupported use of resolve(): {x:?}")),
            }
            return Ok(Step::WhereResolveIs(self.type_name()?));
        }
        let mut path = vec![first];
        while self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            path.push(self.ident()?);
        }
        if self.peek() == Some(&Tok::LParen) {
            return Err("unsupported function inside where()".into());
        }
        self.expect(Tok::Eq)?;
        match self.next() {
            Some(Tok::Str(s)) => Ok(Step::WhereEq(path, s)),
            x => Err(format!("unsupported where() comparison with {x:?}")),
        }
    }
}

/// Compiles an expression, or explains why it is outside the supported subset.
pub fn compile(src: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: lex(src)?, pos: 0 };
    let e = p.union()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(e)
}

impl Expr {
    /// Keeps only the union branches that can apply to `resource_type`, so one multi-type
    /// expression with an unsupported branch for another type stays usable for this one.
    pub fn for_type(&self, resource_type: &str) -> Option<Expr> {
        match self {
            Expr::Union(parts) => {
                let kept: Vec<Expr> = parts.iter().filter_map(|p| p.for_type(resource_type)).collect();
                match kept.len() {
                    0 => None,
                    1 => kept.into_iter().next(),
                    _ => Some(Expr::Union(kept)),
                }
            }
            Expr::Path(start, steps) => match &**start {
                Start::Type(t) => applies(t, resource_type).then(|| self.clone()),
                Start::This => Some(self.clone()),
                Start::Group(g) => g.for_type(resource_type).map(|g| Expr::Path(Box::new(Start::Group(g)), steps.clone())),
            },
        }
    }
}

fn applies(root: &str, resource_type: &str) -> bool {
    root == resource_type
        || root == "Resource"
        || (root == "DomainResource" && !matches!(resource_type, "Bundle" | "Binary" | "Parameters"))
}

/// One value found by an expression, with the FHIR type when the path reveals it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// The JSON value.
    pub value: &'a Value,
    /// FHIR type name known from a choice suffix or `as` (e.g. `dateTime`, `Quantity`).
    pub ty: Option<String>,
    /// The element name it was reached by (choice suffix removed).
    pub field: String,
}

/// Evaluates a compiled expression against a resource.
pub fn evaluate<'a>(expr: &Expr, resource: &'a Value) -> Vec<Item<'a>> {
    let rt = resource.get("resourceType").and_then(Value::as_str).unwrap_or("");
    match expr {
        Expr::Union(parts) => parts.iter().flat_map(|p| evaluate(p, resource)).collect(),
        Expr::Path(start, steps) => {
            let mut items = match &**start {
                Start::Type(t) if applies(t, rt) => {
                    vec![Item { value: resource, ty: Some(rt.to_string()), field: String::new() }]
                }
                Start::Type(_) => vec![],
                Start::This => vec![Item { value: resource, ty: Some(rt.to_string()), field: String::new() }],
                Start::Group(g) => evaluate(g, resource),
            };
            for s in steps {
                items = step(items, s);
            }
            items
        }
    }
}

const CHOICE_TYPES: &[&str] = &[
    "Base64Binary", "Boolean", "Canonical", "Code", "Date", "DateTime", "Decimal", "Id", "Instant", "Integer",
    "Markdown", "Oid", "PositiveInt", "String", "Time", "UnsignedInt", "Uri", "Url", "Uuid", "Address", "Age",
    "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count", "Distance", "Duration",
    "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio", "Reference", "SampledData",
    "Signature", "Timing", "ContactDetail", "Contributor", "DataRequirement", "Expression", "ParameterDefinition",
    "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage", "Meta",
];

fn type_of_suffix(suffix: &str) -> Option<String> {
    let t = CHOICE_TYPES.iter().find(|t| **t == suffix)?;
    let first = t.chars().next()?;
    // Primitive type names are lower camel case in FHIR; complex ones start upper case.
    let primitive = CHOICE_TYPES.iter().position(|x| x == t).unwrap() < 19;
    Some(if primitive { format!("{}{}", first.to_ascii_lowercase(), &t[1..]) } else { t.to_string() })
}

fn push_values<'a>(out: &mut Vec<Item<'a>>, v: &'a Value, ty: Option<String>, field: &str) {
    match v {
        Value::Array(a) => {
            for x in a {
                push_values(out, x, ty.clone(), field)
            }
        }
        Value::Null => {}
        x => out.push(Item { value: x, ty, field: field.to_string() }),
    }
}

fn children<'a>(item: &Item<'a>, name: &str) -> Vec<Item<'a>> {
    let mut out = Vec::new();
    let Some(obj) = item.value.as_object() else { return out };
    if let Some(v) = obj.get(name) {
        push_values(&mut out, v, None, name);
        return out;
    }
    for (k, v) in obj {
        if let Some(suffix) = k.strip_prefix(name) {
            if let Some(ty) = type_of_suffix(suffix) {
                push_values(&mut out, v, Some(ty), name);
            }
        }
    }
    out
}

fn step<'a>(items: Vec<Item<'a>>, s: &Step) -> Vec<Item<'a>> {
    match s {
        Step::Field(f) => items.iter().flat_map(|i| children(i, f)).collect(),
        Step::First => items.into_iter().take(1).collect(),
        Step::Index(n) => items.into_iter().skip(*n).take(1).collect(),
        Step::Extension(url) => items
            .iter()
            .flat_map(|i| children(i, "extension"))
            .filter(|e| e.value.get("url").and_then(Value::as_str) == Some(url.as_str()))
            .flat_map(|e| children(&e, "value"))
            .collect(),
        Step::As(t) => items
            .into_iter()
            .filter_map(|mut i| {
                let known = i.ty.clone().or_else(|| shape_type(i.value).map(str::to_string))?;
                if same_type(&known, t) {
                    i.ty = Some(known);
                    Some(i)
                } else {
                    None
                }
            })
            .collect(),
        Step::WhereResolveIs(t) => items
            .into_iter()
            .filter(|i| reference_type(i.value).is_some_and(|rt| rt == *t))
            .collect(),
        Step::WhereEq(path, lit) => items
            .into_iter()
            .filter(|i| {
                let mut cur = vec![i.clone()];
                for p in path {
                    cur = cur.iter().flat_map(|c| children(c, p)).collect();
                }
                cur.len() == 1 && scalar_text(cur[0].value).is_some_and(|s| s == *lit)
            })
            .collect(),
    }
}

fn same_type(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Complex types recognisable from their keys alone; only used when the path gave no type.
fn shape_type(v: &Value) -> Option<&'static str> {
    let o = v.as_object()?;
    if o.contains_key("coding") {
        Some("CodeableConcept")
    } else if o.contains_key("reference") {
        Some("Reference")
    } else if o.contains_key("family") || o.contains_key("given") {
        Some("HumanName")
    } else {
        None
    }
}

/// The resource type a Reference (or canonical/URL string) points at, when it can be told without resolving.
pub fn reference_type(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => {
            if let Some(r) = o.get("reference").and_then(Value::as_str) {
                if let Some(p) = crate::extract::parse_reference(r) {
                    if p.target_type.is_some() {
                        return p.target_type;
                    }
                }
            }
            o.get("type").and_then(Value::as_str).map(str::to_string)
        }
        Value::String(s) => crate::extract::parse_reference(s).and_then(|p| p.target_type),
        _ => None,
    }
}
