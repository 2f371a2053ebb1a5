//! The function catalogue (names, arities) and dispatch to the implementations, grouped as
//! in the specification.

mod collections;
mod conversion;
mod fhir;
mod math;
mod strings;
mod utility;

use crate::ast::{Node, TypeSpec};
use crate::error::{Error, Result};
use crate::eval::{Coll, Ctx, Frame};
use crate::item::Item;

macro_rules! catalogue {
    ($( $variant:ident = $name:literal ($min:expr, $max:expr) ),* $(,)?) => {
        /// A function known to the engine.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($variant),* }

        impl FuncInfo {
            /// Looks a function up by name.
            pub(crate) fn lookup(name: &str) -> Option<FuncInfo> {
                Some(match name {
                    $($name => FuncInfo { func: Func::$variant, min: $min, max: $max },)*
                    _ => return None,
                })
            }
        }

        impl Func {
            /// The function's name.
            pub(crate) fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
        }
    };
}

/// Arity of a function.
pub(crate) struct FuncInfo {
    pub func: Func,
    pub min: usize,
    pub max: usize,
}

const MANY: usize = usize::MAX;

catalogue! {
    Empty = "empty"(0, 0),
    Exists = "exists"(0, 1),
    All = "all"(1, 1),
    AllTrue = "allTrue"(0, 0),
    AnyTrue = "anyTrue"(0, 0),
    AllFalse = "allFalse"(0, 0),
    AnyFalse = "anyFalse"(0, 0),
    SubsetOf = "subsetOf"(1, 1),
    SupersetOf = "supersetOf"(1, 1),
    Count = "count"(0, 0),
    Distinct = "distinct"(0, 0),
    IsDistinct = "isDistinct"(0, 0),
    Where = "where"(1, 1),
    Select = "select"(1, 1),
    Repeat = "repeat"(1, 1),
    OfType = "ofType"(1, 1),
    Single = "single"(0, 0),
    First = "first"(0, 0),
    Last = "last"(0, 0),
    Tail = "tail"(0, 0),
    Skip = "skip"(1, 1),
    Take = "take"(1, 1),
    Intersect = "intersect"(1, 1),
    Exclude = "exclude"(1, 1),
    Union = "union"(1, 1),
    Combine = "combine"(1, 1),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToStringF = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    IndexOf = "indexOf"(1, 1),
    LastIndexOf = "lastIndexOf"(1, 1),
    Substring = "substring"(1, 2),
    StartsWith = "startsWith"(1, 1),
    EndsWith = "endsWith"(1, 1),
    Contains = "contains"(1, 1),
    Upper = "upper"(0, 0),
    Lower = "lower"(0, 0),
    Replace = "replace"(2, 2),
    Matches = "matches"(1, 1),
    MatchesFull = "matchesFull"(1, 1),
    ReplaceMatches = "replaceMatches"(2, 2),
    Length = "length"(0, 0),
    ToChars = "toChars"(0, 0),
    Trim = "trim"(0, 0),
    Split = "split"(1, 1),
    Join = "join"(0, 1),
    Encode = "encode"(1, 1),
    Decode = "decode"(1, 1),
    Escape = "escape"(1, 1),
    Unescape = "unescape"(1, 1),
    Abs = "abs"(0, 0),
    Ceiling = "ceiling"(0, 0),
    Exp = "exp"(0, 0),
    Floor = "floor"(0, 0),
    Ln = "ln"(0, 0),
    Log = "log"(1, 1),
    Power = "power"(1, 1),
    Round = "round"(0, 1),
    Sqrt = "sqrt"(0, 0),
    Truncate = "truncate"(0, 0),
    Children = "children"(0, 0),
    Descendants = "descendants"(0, 0),
    Trace = "trace"(1, 2),
    Now = "now"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Today = "today"(0, 0),
    Is = "is"(1, 1),
    As = "as"(1, 1),
    Type = "type"(0, 0),
    Not = "not"(0, 0),
    Aggregate = "aggregate"(1, 2),
    Sort = "sort"(0, MANY),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Precision = "precision"(0, 0),
    Comparable = "comparable"(1, 1),
    Extension = "extension"(1, 1),
    HasExtension = "hasExtension"(1, 1),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    Resolve = "resolve"(0, 0),
    HtmlChecks = "htmlChecks"(0, 0),
    ConformsTo = "conformsTo"(1, 1),
    MemberOf = "memberOf"(1, 1),
    Subsumes = "subsumes"(1, 1),
    SubsumedBy = "subsumedBy"(1, 1),
    ElementDefinition = "elementDefinition"(0, 0),
    Slice = "slice"(2, 2),
    CheckModifiers = "checkModifiers"(1, MANY),
}

/// Evaluates `args[i]` once in the caller's frame.
pub(crate) fn arg<'a>(cx: &Ctx<'a, '_>, args: &[Node], i: usize, f: &Frame<'_, 'a>) -> Result<Coll<'a>> {
    match args.get(i) {
        Some(n) => cx.eval(n, f),
        None => Ok(Coll::new()),
    }
}

/// The single item of an argument, `None` if empty, error if several.
pub(crate) fn single_arg<'a>(cx: &Ctx<'a, '_>, args: &[Node], i: usize, f: &Frame<'_, 'a>, func: Func) -> Result<Option<Item<'a>>> {
    let mut c = arg(cx, args, i, f)?;
    match c.len() {
        0 => Ok(None),
        1 => Ok(c.pop()),
        n => Err(Error::eval(format!("argument {} of {}() must be a single item, got {n}", i + 1, func.name()))),
    }
}

/// Evaluates a function on its input collection.
pub(crate) fn call<'a>(
    cx: &Ctx<'a, '_>,
    func: Func,
    input: Coll<'a>,
    explicit_input: bool,
    args: &[Node],
    types: Option<&TypeSpec>,
    f: &Frame<'_, 'a>,
) -> Result<Coll<'a>> {
    use Func::*;
    match func {
        Empty | Exists | All | AllTrue | AnyTrue | AllFalse | AnyFalse | SubsetOf | SupersetOf | Count | Distinct
        | IsDistinct | Where | Select | Repeat | OfType | Single | First | Last | Tail | Skip | Take | Intersect
        | Exclude | Union | Combine | Aggregate | Sort | Is | As | Not => {
            collections::call(cx, func, input, args, types, f)
        }
        Iif => utility::iif(cx, input, explicit_input, args, f),
        ToBoolean | ConvertsToBoolean | ToInteger | ConvertsToInteger | ToDecimal | ConvertsToDecimal | ToStringF
        | ConvertsToString | ToDate | ConvertsToDate | ToDateTime | ConvertsToDateTime | ToTime | ConvertsToTime
        | ToQuantity | ConvertsToQuantity => conversion::call(cx, func, input, args, f),
        IndexOf | LastIndexOf | Substring | StartsWith | EndsWith | Contains | Upper | Lower | Replace | Matches
        | MatchesFull | ReplaceMatches | Length | ToChars | Trim | Split | Join | Encode | Decode | Escape
        | Unescape => strings::call(cx, func, input, args, f),
        Abs | Ceiling | Exp | Floor | Ln | Log | Power | Round | Sqrt | Truncate => math::call(cx, func, input, args, f),
        Children | Descendants | Trace | Now | TimeOfDay | Today | Type | LowBoundary | HighBoundary | Precision
        | Comparable => utility::call(cx, func, input, args, f),
        Extension | HasExtension | HasValue | GetValue | Resolve | HtmlChecks | ConformsTo | MemberOf | Subsumes | SubsumedBy
        | ElementDefinition | Slice | CheckModifiers => fhir::call(cx, func, input, args, f),
    }
}
