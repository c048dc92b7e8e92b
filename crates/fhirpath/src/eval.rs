//! The evaluator: environment, scopes and expression evaluation.

use super::ast::{BinOp, Expr, TypeSpec};
use super::datetime::{DateTimeValue, now_utc};
use super::error::{Error, Result};
use super::model::{ModelInfo, is_subtype, starts_upper};
use super::nav;
use super::ops;
use super::resolve::{Arena, ProfileChecker, ReferenceResolver, TerminologyProvider};
use super::value::{Collection, Item, Node, Value};
use serde_json::Value as Json;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

/// Callback for `trace()`: receives the trace name and the traced collection as JSON.
pub type TraceFn = dyn Fn(&str, &Json) + Send + Sync;

/// Everything an evaluation may use besides the input: model, hooks, variables.
///
/// Build once per input (or share across inputs when variables do not change). Result items
/// borrow from the environment (resources resolved through the external resolver live in
/// its arena), hence `evaluate` takes `&'a Environment<'a>`.
pub struct Environment<'a> {
    pub(super) model: Option<&'a dyn ModelInfo>,
    pub(super) resolver: Option<&'a dyn ReferenceResolver>,
    pub(super) terminology: Option<&'a dyn TerminologyProvider>,
    pub(super) profiles: Option<&'a dyn ProfileChecker>,
    pub(super) variables: HashMap<String, Collection<'a>>,
    pub(super) root_resource: Option<&'a Json>,
    pub(super) now: Option<DateTimeValue>,
    pub(super) strict: bool,
    pub(super) trace: Option<&'a TraceFn>,
    pub(super) arena: Arena,
}

impl Default for Environment<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Environment<'a> {
    pub fn new() -> Self {
        Environment {
            model: None,
            resolver: None,
            terminology: None,
            profiles: None,
            variables: HashMap::new(),
            root_resource: None,
            now: None,
            strict: false,
            trace: None,
            arena: Arena::default(),
        }
    }
    /// Type information (enables typed navigation, choice types, `is`/`as` subtyping).
    pub fn with_model(mut self, model: &'a dyn ModelInfo) -> Self {
        self.model = Some(model);
        self
    }
    /// Resolves references `resolve()` cannot find in the Bundle / contained resources.
    pub fn with_resolver(mut self, r: &'a dyn ReferenceResolver) -> Self {
        self.resolver = Some(r);
        self
    }
    /// Terminology services for `memberOf`, `subsumes`, `subsumedBy`.
    pub fn with_terminology(mut self, t: &'a dyn TerminologyProvider) -> Self {
        self.terminology = Some(t);
        self
    }
    /// Profile validation for `conformsTo`.
    pub fn with_profile_checker(mut self, p: &'a dyn ProfileChecker) -> Self {
        self.profiles = Some(p);
        self
    }
    /// Sets `%name` (without the `%`).
    pub fn with_variable(mut self, name: &str, value: Collection<'a>) -> Self {
        self.variables.insert(name.to_string(), value);
        self
    }
    /// Sets `%rootResource` (e.g. the Bundle or container the input resource came from); it is
    /// also searched by `resolve()`.
    pub fn with_root_resource(mut self, root: &'a Json) -> Self {
        self.root_resource = Some(root);
        self
    }
    /// Fixes the value of `now()`/`today()`/`timeOfDay()`.
    pub fn with_now(mut self, now: DateTimeValue) -> Self {
        self.now = Some(now);
        self
    }
    /// Strict mode: navigating to an element the model does not define is an error.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
    pub fn with_trace(mut self, f: &'a TraceFn) -> Self {
        self.trace = Some(f);
        self
    }
    pub fn model(&self) -> Option<&'a dyn ModelInfo> {
        self.model
    }
}

/// Per-evaluation state.
pub(super) struct Ctx<'a, 'e> {
    pub env: &'a Environment<'a>,
    pub model: Option<&'a dyn ModelInfo>,
    pub context: &'e [Item<'a>],
    pub resource: Option<&'a Json>,
    pub root_resource: Option<&'a Json>,
    pub now: Cell<Option<DateTimeValue>>,
}

/// Iteration variables.
#[derive(Clone, Copy)]
pub(super) struct Scope<'s, 'a> {
    pub index: Option<i64>,
    pub total: Option<&'s [Item<'a>]>,
}

impl<'a> Ctx<'a, '_> {
    pub fn now(&self) -> DateTimeValue {
        if let Some(n) = self.now.get() {
            return n;
        }
        let n = self.env.now.unwrap_or_else(now_utc);
        self.now.set(Some(n));
        n
    }

    pub fn eval(&self, e: &Expr, focus: &[Item<'a>], sc: &Scope<'_, 'a>) -> Result<Collection<'a>> {
        match e {
            Expr::Literal(v) => Ok(vec![Item::Value(v.clone())]),
            Expr::Empty => Ok(Vec::new()),
            Expr::This => Ok(focus.to_vec()),
            Expr::Index => Ok(sc.index.map(|i| vec![Item::integer(i)]).unwrap_or_default()),
            Expr::Total => Ok(sc.total.map(<[Item<'a>]>::to_vec).unwrap_or_default()),
            Expr::Var(name) => self.var(name),
            Expr::Ident(name) => {
                let mut out = Vec::new();
                let type_like = starts_upper(&name.name);
                for it in focus {
                    if type_like
                        && let Item::Node(n) = it
                        && let Some(t) = n.ty
                        && is_subtype(self.model, t, &name.name)
                    {
                        out.push(it.clone());
                        continue;
                    }
                    // FHIR element names are never type names: `Practitioner.name` on a
                    // Patient is simply empty.
                    if type_like && self.model.is_some_and(|m| m.is_known_type(&name.name)) {
                        continue;
                    }
                    nav::member(self.model, self.env.strict, it, name, &mut out)?;
                }
                Ok(out)
            }
            Expr::Member(base, name) => {
                let b = self.eval(base, focus, sc)?;
                let mut out = Vec::with_capacity(b.len());
                for it in &b {
                    nav::member(self.model, self.env.strict, it, name, &mut out)?;
                }
                Ok(out)
            }
            Expr::Call(call) => super::functions::call(self, call, focus, sc),
            Expr::Indexer(base, idx) => {
                let b = self.eval(base, focus, sc)?;
                let i = self.eval(idx, focus, sc)?;
                let i = match self.singleton_integer(&i)? {
                    Some(i) => i,
                    None => return Ok(Vec::new()),
                };
                Ok(usize::try_from(i).ok().and_then(|i| b.into_iter().nth(i)).map(|x| vec![x]).unwrap_or_default())
            }
            Expr::Neg(inner) => {
                let v = self.eval(inner, focus, sc)?;
                let Some(it) = singleton(&v)? else {
                    return Ok(Vec::new());
                };
                let r = match it.to_value() {
                    Some(Value::Integer(i)) => {
                        Value::Integer(i.checked_neg().ok_or_else(|| Error::eval("integer overflow"))?)
                    }
                    Some(Value::Decimal(d)) => {
                        let mut n = -d;
                        if n.is_zero() {
                            n.set_sign_positive(true);
                        }
                        Value::Decimal(n)
                    }
                    Some(Value::Quantity(mut q)) => {
                        q.value = -q.value;
                        Value::Quantity(q)
                    }
                    _ => return Err(Error::eval("unary minus requires a number or quantity")),
                };
                Ok(vec![Item::Value(r)])
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, focus, sc),
            Expr::Is(inner, ts) => {
                let v = self.eval(inner, focus, sc)?;
                let Some(it) = singleton(&v)? else {
                    return Ok(Vec::new());
                };
                Ok(vec![Item::boolean(self.is_type(it, ts, false)?)])
            }
            Expr::As(inner, ts) => {
                let v = self.eval(inner, focus, sc)?;
                let mut out = Vec::new();
                for it in v {
                    if self.is_type(&it, ts, true)? {
                        out.push(it);
                    }
                }
                Ok(out)
            }
        }
    }

    fn var(&self, name: &str) -> Result<Collection<'a>> {
        if let Some(v) = self.env.variables.get(name) {
            return Ok(v.clone());
        }
        let s = |x: &str| Ok(vec![Item::string(x)]);
        match name {
            "context" => Ok(self.context.to_vec()),
            "resource" => Ok(self.resource.map(|r| vec![Item::Node(Node::resource(r))]).unwrap_or_default()),
            "rootResource" => Ok(self
                .root_resource
                .or(self.resource)
                .map(|r| vec![Item::Node(Node::resource(r))])
                .unwrap_or_default()),
            "ucum" => s("http://unitsofmeasure.org"),
            "sct" => s("http://snomed.info/sct"),
            "loinc" => s("http://loinc.org"),
            "terminologies" | "server" | "factory" => Ok(Vec::new()),
            _ => {
                if let Some(vs) = name.strip_prefix("vs-") {
                    return s(&format!("http://hl7.org/fhir/ValueSet/{vs}"));
                }
                if let Some(ext) = name.strip_prefix("ext-") {
                    return s(&format!("http://hl7.org/fhir/StructureDefinition/{ext}"));
                }
                Err(Error::eval(format!("undefined variable %{name}")))
            }
        }
    }

    pub fn singleton_integer(&self, c: &[Item<'a>]) -> Result<Option<i64>> {
        match singleton(c)? {
            None => Ok(None),
            Some(it) => match it.to_value() {
                Some(Value::Integer(i)) => Ok(Some(i)),
                _ => Err(Error::eval("expected an integer")),
            },
        }
    }

    fn binary(&self, op: BinOp, l: &Expr, r: &Expr, focus: &[Item<'a>], sc: &Scope<'_, 'a>) -> Result<Collection<'a>> {
        use BinOp::*;
        match op {
            And | Or | Implies => {
                let a = to_bool(&self.eval(l, focus, sc)?)?;
                // short-circuit where the result is determined
                match (op, a) {
                    (And, Some(false)) => return Ok(vec![Item::boolean(false)]),
                    (Or, Some(true)) => return Ok(vec![Item::boolean(true)]),
                    (Implies, Some(false)) => return Ok(vec![Item::boolean(true)]),
                    _ => {}
                }
                let b = to_bool(&self.eval(r, focus, sc)?)?;
                let res = match op {
                    And => match (a, b) {
                        (Some(true), Some(true)) => Some(true),
                        (_, Some(false)) => Some(false),
                        _ => None,
                    },
                    Or => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    _ => match (a, b) {
                        (Some(true), x) => x,
                        (None, Some(true)) => Some(true),
                        _ => None,
                    },
                };
                Ok(res.map(|b| vec![Item::boolean(b)]).unwrap_or_default())
            }
            Xor => {
                let a = to_bool(&self.eval(l, focus, sc)?)?;
                let b = to_bool(&self.eval(r, focus, sc)?)?;
                Ok(match (a, b) {
                    (Some(x), Some(y)) => vec![Item::boolean(x != y)],
                    _ => Vec::new(),
                })
            }
            Union => {
                let mut a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                if a.is_empty() && b.len() <= 1 {
                    return Ok(b);
                }
                a.extend(b);
                Ok(distinct(a))
            }
            Eq | Ne => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                if a.is_empty() || b.is_empty() {
                    return Ok(Vec::new());
                }
                let mut res = Some(a.len() == b.len());
                if a.len() == b.len() {
                    for (x, y) in a.iter().zip(&b) {
                        match ops::item_eq(x, y) {
                            Some(true) => {}
                            Some(false) => {
                                res = Some(false);
                                break;
                            }
                            None => res = None,
                        }
                    }
                }
                Ok(res.map(|v| vec![Item::boolean(if op == Eq { v } else { !v })]).unwrap_or_default())
            }
            Equiv | NotEquiv => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                let v = equiv_collections(&a, &b);
                Ok(vec![Item::boolean(if op == Equiv { v } else { !v })])
            }
            Lt | Gt | Le | Ge => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                let (Some(x), Some(y)) = (singleton(&a)?, singleton(&b)?) else {
                    return Ok(Vec::new());
                };
                let Some(ord) = ops::compare(x, y)? else {
                    return Ok(Vec::new());
                };
                let v = match op {
                    Lt => ord.is_lt(),
                    Gt => ord.is_gt(),
                    Le => ord.is_le(),
                    _ => ord.is_ge(),
                };
                Ok(vec![Item::boolean(v)])
            }
            In | Contains => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                let (needle, hay) = if op == In { (&a, &b) } else { (&b, &a) };
                let Some(x) = singleton(needle)? else {
                    return Ok(Vec::new());
                };
                Ok(vec![Item::boolean(hay.iter().any(|h| ops::same(x, h)))])
            }
            Concat => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                let sa = concat_part(&a)?;
                let sb = concat_part(&b)?;
                Ok(vec![Item::Value(Value::String(Arc::from(format!("{sa}{sb}").as_str())))])
            }
            Add | Sub | Mul | Div | IntDiv | Mod => {
                let a = self.eval(l, focus, sc)?;
                let b = self.eval(r, focus, sc)?;
                let (Some(x), Some(y)) = (singleton(&a)?, singleton(&b)?) else {
                    return Ok(Vec::new());
                };
                Ok(ops::arith(op, x, y)?.map(|v| vec![Item::Value(v)]).unwrap_or_default())
            }
        }
    }

    /// `is` / `as` type test. `exact_primitive`: `as`/`ofType` do not match FHIR primitive
    /// subtypes (a `code` is not returned by `as(string)`).
    pub fn is_type(&self, it: &Item<'a>, ts: &TypeSpec, exact_primitive: bool) -> Result<bool> {
        let ns = ts.namespace.as_deref();
        let name = ts.name.as_str();
        if !matches!(ns, None | Some("System") | Some("FHIR")) {
            return Err(Error::eval(format!("unknown type namespace '{}'", ns.unwrap_or(""))));
        }
        let system_name = is_system_type(name);
        if let Some(m) = self.model
            && ns != Some("System")
            && !system_name
            && !m.is_known_type(name)
        {
            return Err(Error::eval(format!("unknown type '{name}'")));
        }
        match it {
            Item::Value(v) => Ok(ns != Some("FHIR") && (v.type_name() == name || name == "Any")),
            Item::Node(n) => {
                if ns == Some("System") {
                    return Ok(n.ty.is_none() && untyped_system_type(n) == Some(name));
                }
                match n.ty {
                    Some(t) => {
                        if exact_primitive && super::model::is_primitive_type(name) {
                            Ok(t == name)
                        } else {
                            Ok(is_subtype(self.model, t, name))
                        }
                    }
                    None => Ok(ns.is_none() && untyped_system_type(n) == Some(name)),
                }
            }
        }
    }

    pub fn trace(&self, name: &str, c: &[Item<'a>]) {
        if let Some(f) = self.env.trace {
            f(name, &super::output::to_json(c));
        }
    }
}

fn is_system_type(name: &str) -> bool {
    matches!(name, "Boolean" | "String" | "Integer" | "Decimal" | "Date" | "DateTime" | "Time" | "Quantity" | "Any")
}

/// System type of an untyped JSON primitive.
fn untyped_system_type(n: &Node<'_>) -> Option<&'static str> {
    Item::Node(*n).to_value().map(|v| v.type_name())
}

/// Singleton evaluation: empty → None, one → Some, more → error.
pub(super) fn singleton<'c, 'a>(c: &'c [Item<'a>]) -> Result<Option<&'c Item<'a>>> {
    match c.len() {
        0 => Ok(None),
        1 => Ok(c.first()),
        n => Err(Error::eval(format!("expected a single item, got {n}"))),
    }
}

/// Boolean singleton evaluation: a single non-boolean item counts as true.
pub(super) fn to_bool(c: &[Item<'_>]) -> Result<Option<bool>> {
    match singleton(c)? {
        None => Ok(None),
        Some(it) => match it.scalar() {
            Some(super::value::Scalar::Bool(b)) => Ok(Some(b)),
            _ => Ok(Some(true)),
        },
    }
}

fn concat_part(c: &[Item<'_>]) -> Result<String> {
    match singleton(c)? {
        None => Ok(String::new()),
        Some(it) => match it.to_value() {
            Some(Value::String(s)) => Ok(s.to_string()),
            _ => Err(Error::eval("& requires strings")),
        },
    }
}

pub(super) fn equiv_collections(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() == 1 {
        return ops::item_equiv(&a[0], &b[0]);
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && ops::item_equiv(x, y) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// Removes duplicates (FHIRPath equality), keeping first occurrences.
pub(super) fn distinct<'a>(c: Collection<'a>) -> Collection<'a> {
    if c.len() < 2 {
        return c;
    }
    let mut out: Collection<'a> = Vec::with_capacity(c.len());
    for it in c {
        if !out.iter().any(|o| ops::same(o, &it)) {
            out.push(it);
        }
    }
    out
}
