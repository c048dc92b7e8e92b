//! Static (semantic) checking of an expression against the model for a known input type.
//!
//! This is a conservative type inference: it only reports errors it is sure about (paths that
//! do not exist on a known type, ordered functions applied to unordered collections when asked
//! to, non-boolean literal `iif` criteria). Anything it cannot type is left unchecked.

use super::ast::{BinOp, Expr, Func};
use super::error::{Error, Result};
use super::model::{ModelInfo, is_primitive_type, is_subtype, starts_upper};
use super::value::Value;

/// Options for [`super::Expression::check`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Report ordered functions (`first()`, `skip()`, `[n]`, ...) applied to the unordered
    /// results of `children()` / `descendants()`.
    pub check_ordered_functions: bool,
}

#[derive(Clone, Debug)]
struct T {
    /// Possible type names; `None` = unknown. System types are prefixed `System.`.
    types: Option<Vec<String>>,
    unordered: bool,
}

impl T {
    fn unknown() -> T {
        T { types: None, unordered: false }
    }
    fn of(t: &str) -> T {
        T { types: Some(vec![t.to_string()]), unordered: false }
    }
}

struct Checker<'m> {
    model: &'m dyn ModelInfo,
    root: T,
    opts: CheckOptions,
}

pub(super) fn check(e: &Expr, model: &dyn ModelInfo, root_type: &str, opts: CheckOptions) -> Result<()> {
    let c = Checker { model, root: T::of(root_type), opts };
    let root = c.root.clone();
    c.infer(e, &root).map(|_| ())
}

impl Checker<'_> {
    fn member(&self, input: &T, name: &str) -> Result<T> {
        let Some(types) = &input.types else {
            return Ok(T::unknown());
        };
        if types.is_empty() {
            return Ok(T::unknown());
        }
        let mut out: Vec<String> = Vec::new();
        let mut all_known = true;
        for t in types {
            if t.starts_with("System.") {
                return Ok(T::unknown());
            }
            if !self.model.is_known_type(t) {
                all_known = false;
                continue;
            }
            if let Some(info) = self.model.element(t, name) {
                for x in info.types {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
            } else if is_primitive_type(t) && matches!(name, "extension" | "id") {
                out.push(if name == "id" { "string".into() } else { "Extension".into() });
            }
        }
        if out.is_empty() {
            if all_known {
                return Err(Error::semantic(format!("'{name}' is not an element of {}", types.join(" | "))));
            }
            return Ok(T::unknown());
        }
        if !all_known || out.iter().any(|t| t == "Resource" || t == "DomainResource") {
            return Ok(T { types: None, unordered: input.unordered });
        }
        Ok(T { types: Some(out), unordered: input.unordered })
    }

    fn type_of_spec(&self, ns: Option<&str>, name: &str) -> T {
        match ns {
            Some("System") => T::of(&format!("System.{name}")),
            _ if self.model.is_known_type(name) => T::of(name),
            _ => T::unknown(),
        }
    }

    fn ordered(&self, input: &T, what: &str) -> Result<()> {
        if self.opts.check_ordered_functions && input.unordered {
            return Err(Error::semantic(format!(
                "{what} applied to an unordered collection (children()/descendants())"
            )));
        }
        Ok(())
    }

    fn infer(&self, e: &Expr, focus: &T) -> Result<T> {
        Ok(match e {
            Expr::Literal(v) => T::of(&format!("System.{}", v.type_name())),
            Expr::Empty | Expr::Total => T::unknown(),
            Expr::This => focus.clone(),
            Expr::Index => T::of("System.Integer"),
            Expr::Var(n) => match n.as_str() {
                "context" | "resource" | "rootResource" => self.root.clone(),
                _ => T::unknown(),
            },
            Expr::Ident(name) => {
                if starts_upper(&name.name)
                    && let Some(types) = &focus.types
                    && types.iter().any(|t| is_subtype(Some(self.model), t, &name.name))
                {
                    return Ok(focus.clone());
                }
                self.member(focus, &name.name)?
            }
            Expr::Member(b, name) => {
                let t = self.infer(b, focus)?;
                self.member(&t, &name.name)?
            }
            Expr::Indexer(b, i) => {
                let t = self.infer(b, focus)?;
                self.infer(i, focus)?;
                self.ordered(&t, "indexer")?;
                t
            }
            Expr::Neg(b) => self.infer(b, focus)?,
            Expr::Is(b, _) => {
                self.infer(b, focus)?;
                T::of("System.Boolean")
            }
            Expr::As(b, ts) => {
                self.infer(b, focus)?;
                self.type_of_spec(ts.namespace.as_deref(), &ts.name)
            }
            Expr::Binary(op, l, r) => {
                let a = self.infer(l, focus)?;
                let b = self.infer(r, focus)?;
                match op {
                    BinOp::Union => match (a.types, b.types) {
                        (Some(mut x), Some(y)) => {
                            for t in y {
                                if !x.contains(&t) {
                                    x.push(t);
                                }
                            }
                            T { types: Some(x), unordered: a.unordered || b.unordered }
                        }
                        _ => T::unknown(),
                    },
                    BinOp::And
                    | BinOp::Or
                    | BinOp::Xor
                    | BinOp::Implies
                    | BinOp::Eq
                    | BinOp::Ne
                    | BinOp::Equiv
                    | BinOp::NotEquiv
                    | BinOp::Lt
                    | BinOp::Gt
                    | BinOp::Le
                    | BinOp::Ge
                    | BinOp::In
                    | BinOp::Contains => T::of("System.Boolean"),
                    _ => T::unknown(),
                }
            }
            Expr::Call(c) => {
                let input = match &c.target {
                    Some(t) => self.infer(t, focus)?,
                    None => focus.clone(),
                };
                let item_scope = T { types: input.types.clone(), unordered: false };
                let iterating = matches!(
                    c.func,
                    Func::Where
                        | Func::Select
                        | Func::All
                        | Func::Exists
                        | Func::Repeat
                        | Func::RepeatAll
                        | Func::Sort
                        | Func::Aggregate
                );
                let mut arg_types = Vec::with_capacity(c.args.len());
                for (i, a) in c.args.iter().enumerate() {
                    let scope = if iterating || (c.func == Func::Trace && i == 1) {
                        &item_scope
                    } else if c.func == Func::Iif && c.target.is_some() {
                        &input
                    } else {
                        focus
                    };
                    arg_types.push(self.infer(a, scope)?);
                }
                match c.func {
                    Func::Where | Func::Distinct | Func::Trace | Func::Exclude | Func::Intersect => input,
                    Func::First | Func::Last | Func::Tail | Func::Skip | Func::Take | Func::Single => {
                        self.ordered(&input, c.func.name())?;
                        input
                    }
                    Func::OfType | Func::As => match &c.type_arg {
                        Some(ts) => self.type_of_spec(ts.namespace.as_deref(), &ts.name),
                        None => T::unknown(),
                    },
                    Func::Children | Func::Descendants => T { types: None, unordered: true },
                    Func::Select => arg_types.into_iter().next().unwrap_or_else(T::unknown),
                    Func::Extension => T::of("Extension"),
                    Func::Iif => {
                        if let Some(Expr::Literal(v)) = c.args.first()
                            && !matches!(v, Value::Boolean(_))
                        {
                            return Err(Error::semantic("iif() criterion must be a boolean"));
                        }
                        T::unknown()
                    }
                    Func::Empty
                    | Func::Exists
                    | Func::All
                    | Func::AllTrue
                    | Func::AnyTrue
                    | Func::AllFalse
                    | Func::AnyFalse
                    | Func::IsDistinct
                    | Func::SubsetOf
                    | Func::SupersetOf
                    | Func::Is
                    | Func::Not
                    | Func::HasValue => T::of("System.Boolean"),
                    Func::Count | Func::Length | Func::IndexOf => T::of("System.Integer"),
                    _ => T::unknown(),
                }
            }
        })
    }
}
