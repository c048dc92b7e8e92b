//! Abstract syntax tree of a compiled FHIRPath expression.

use super::value::Value;

/// An identifier with its precomputed `_name` (FHIR JSON primitive extension key).
#[derive(Debug, Clone)]
pub(super) struct Name {
    pub name: String,
    pub underscore: String,
}

impl Name {
    pub fn new(name: &str) -> Self {
        Name { name: name.to_string(), underscore: format!("_{name}") }
    }
}

/// A type specifier such as `Quantity`, `FHIR.Patient` or `System.String`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TypeSpec {
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Literal(Value),
    Empty,
    This,
    Index,
    Total,
    Var(String),
    /// First identifier of a path: a type name matching the focus, or a member.
    Ident(Name),
    Member(Box<Expr>, Name),
    Call(Box<Call>),
    Indexer(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Is(Box<Expr>, TypeSpec),
    As(Box<Expr>, TypeSpec),
}

#[derive(Debug, Clone)]
pub(super) struct Call {
    pub target: Option<Expr>,
    pub func: Func,
    pub args: Vec<Expr>,
    /// For is/as/ofType: the type argument.
    pub type_arg: Option<TypeSpec>,
    /// For matches/matchesFull/replaceMatches with a literal pattern: compiled once.
    pub regex: Option<regex::Regex>,
}

macro_rules! funcs {
    ($( $variant:ident = $name:literal ($min:literal, $max:literal) ),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Func { $($variant),* }
        impl Func {
            pub fn lookup(name: &str) -> Option<(Func, usize, usize)> {
                match name {
                    $($name => Some((Func::$variant, $min, $max)),)*
                    _ => None,
                }
            }
            pub fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
        }
    };
}

funcs! {
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
    RepeatAll = "repeatAll"(1, 1),
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
    Coalesce = "coalesce"(1, 16),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToLong = "toLong"(0, 0),
    ConvertsToLong = "convertsToLong"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    ToString = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
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
    Today = "today"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Aggregate = "aggregate"(1, 2),
    Extension = "extension"(1, 1),
    Resolve = "resolve"(0, 0),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    MemberOf = "memberOf"(1, 1),
    Subsumes = "subsumes"(1, 1),
    SubsumedBy = "subsumedBy"(1, 1),
    ConformsTo = "conformsTo"(1, 1),
    HtmlChecks = "htmlChecks"(0, 0),
    HtmlChecks2 = "htmlchecks"(0, 0),
    Not = "not"(0, 0),
    Is = "is"(1, 1),
    As = "as"(1, 1),
    Type = "type"(0, 0),
    Sort = "sort"(0, 16),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Precision = "precision"(0, 0),
    Comparable = "comparable"(1, 1),
    ElementDefinition = "elementDefinition"(0, 0),
    Slice = "slice"(2, 2),
    CheckModifiers = "checkModifiers"(1, 1),
}
