//! FHIRPath (FHIR R4, FHIRPath N1 2.0) engine over `serde_json::Value` resources.
//!
//! ```ignore
//! use fhirpath::{Environment, Expression};
//! let patient = serde_json::json!({"resourceType": "Patient", "name": [{"given": ["Jo"]}]});
//! let expr = Expression::parse("Patient.name.given").unwrap();
//! let env = Environment::new();
//! let result = expr.evaluate(&env, &patient).unwrap();
//! assert_eq!(fhirpath::to_json(&result), serde_json::json!(["Jo"]));
//! ```
//!
//! Compile once with [`Expression::parse`], evaluate many times. Results borrow the input
//! JSON (no subtree is cloned); computed values are System values ([`Value`]).
//! Supply a [`ModelInfo`] through [`Environment::with_model`] for typed navigation (choice
//! elements, `is`/`as`/`ofType` with subtyping, typed primitives such as `date`).

mod ast;
mod check;
mod datetime;
mod error;
mod eval;
mod functions;
mod model;
mod nav;
mod ops;
mod output;
mod parser;
mod resolve;
mod text;
mod ucum;
mod value;

pub use check::CheckOptions;
pub use datetime::{DateTimeValue, Precision, TimeValue};
pub use error::{Error, Result};
pub use eval::{Environment, TraceFn};
pub use model::{ElementInfo, ModelInfo};
pub use output::{item_to_json, item_to_literal, item_to_string, to_json};
pub use resolve::{ProfileChecker, ReferenceResolver, TerminologyProvider};
pub use value::{Collection, Item, Node, Quantity, Value};

use ast::{BinOp, Expr};

/// The canonical form of a UCUM unit, for comparing quantities across units: the factor that
/// converts a value into canonical base units, and a key naming the unit's dimension.
pub fn ucum_canonical(unit: &str) -> Option<(f64, String)> {
    let canonical = ucum::canonical(unit)?;
    let factor: f64 = canonical.factor.to_string().parse().ok()?;
    Some((factor, format!("{:?}", canonical.dims)))
}
use serde_json::Value as Json;

/// A compiled FHIRPath expression. Cheap to share (`Send + Sync`); evaluation never re-parses.
#[derive(Debug)]
pub struct Expression {
    source: String,
    ast: Expr,
}

impl Expression {
    /// Parses (compiles) an expression. Syntax errors and unknown functions are `Err`.
    pub fn parse(src: &str) -> Result<Expression> {
        Ok(Expression { source: src.to_string(), ast: parser::parse(src)? })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The branches of the expression's top-level union (`a | b | c`), each as a structural
    /// fingerprint: branches with equal fingerprints are the same tree, so they select the same
    /// nodes. An expression that is no union is one branch; one pruned to nothing has none.
    pub fn union_branches(&self) -> Vec<String> {
        fn collect(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Binary(BinOp::Union, l, r) => {
                    collect(l, out);
                    collect(r, out);
                }
                Expr::Empty => {}
                other => out.push(format!("{other:?}")),
            }
        }
        let mut branches = Vec::new();
        collect(&self.ast, &mut branches);
        branches
    }

    /// For an expression of one branch `E.where(resolve() is T)` (Observation's `patient`,
    /// `Observation.subject.where(resolve() is Patient)`): the fingerprint of `E` (as
    /// [`Expression::union_branches`] gives it) and `T`. What it selects is what `E` selects,
    /// less the references that do not resolve to a `T`.
    pub fn type_restricted_branch(&self) -> Option<(String, String)> {
        let mut e = &self.ast;
        // A branch left alone by `for_resource_type` is kept as `branch | {}`.
        while let Expr::Binary(BinOp::Union, l, r) = e
            && matches!(**r, Expr::Empty)
        {
            e = l;
        }
        let Expr::Call(call) = e else { return None };
        let (ast::Func::Where, Some(base), [Expr::Is(test, spec)]) = (call.func, &call.target, call.args.as_slice())
        else {
            return None;
        };
        let Expr::Call(resolve) = &**test else { return None };
        let resolves_focus = matches!(resolve.target, None | Some(Expr::This)) && resolve.args.is_empty();
        let fhir_type = spec.namespace.as_deref().is_none_or(|n| n == "FHIR");
        (resolve.func == ast::Func::Resolve && resolves_focus && fhir_type)
            .then(|| (format!("{base:?}"), spec.name.clone()))
    }

    /// Evaluates against a resource (the `%context`, `%resource` and default
    /// `%rootResource`).
    pub fn evaluate<'a>(&self, env: &'a Environment<'a>, resource: &'a Json) -> Result<Collection<'a>> {
        self.evaluate_items(env, vec![Item::Node(Node::resource(resource))])
    }

    /// Evaluates against an arbitrary input collection (`%context`).
    pub fn evaluate_items<'a>(&self, env: &'a Environment<'a>, input: Collection<'a>) -> Result<Collection<'a>> {
        let resource = input.iter().find_map(|it| it.as_node().and_then(|n| n.resource));
        let cx = eval::Ctx {
            env,
            model: env.model,
            context: &input,
            resource,
            root_resource: env.root_resource,
            now: std::cell::Cell::new(None),
        };
        let scope = eval::Scope { index: None, total: None };
        cx.eval(&self.ast, &input, &scope)
    }

    /// Evaluates and renders the result as a JSON array (see [`to_json`]).
    pub fn evaluate_to_json(&self, resource: &Json, model: Option<&dyn ModelInfo>) -> Result<Json> {
        let mut env = Environment::new();
        if let Some(m) = model {
            env = env.with_model(m);
        }
        let r = self.evaluate(&env, resource)?;
        Ok(to_json(&r))
    }

    /// Static semantic check for an input of type `root_type` (e.g. "Patient"): reports paths
    /// that cannot exist (`name.given1`, `Observation.valueQuantity`) and, optionally, ordered
    /// functions on unordered collections.
    pub fn check(&self, model: &dyn ModelInfo, root_type: &str, opts: CheckOptions) -> Result<()> {
        check::check(&self.ast, model, root_type, opts)
    }

    /// Returns a copy specialised for inputs of `resource_type`: branches of top-level unions
    /// that start with another resource type (`Patient.name | Practitioner.name` for a
    /// Patient keeps `Patient.name`) are dropped. Results are identical; evaluation is cheaper
    /// for the long multi-type search parameter expressions.
    pub fn for_resource_type(&self, resource_type: &str, model: Option<&dyn ModelInfo>) -> Expression {
        Expression { source: self.source.clone(), ast: prune(&self.ast, resource_type, model).unwrap_or(Expr::Empty) }
    }
}

/// The leftmost identifier of a path-like expression.
fn leftmost(e: &Expr) -> Option<&str> {
    match e {
        Expr::Ident(n) => Some(&n.name),
        Expr::Member(b, _) | Expr::Indexer(b, _) | Expr::As(b, _) | Expr::Is(b, _) => leftmost(b),
        Expr::Call(c) => c.target.as_ref().and_then(leftmost),
        _ => None,
    }
}

fn prune(e: &Expr, rt: &str, model: Option<&dyn ModelInfo>) -> Option<Expr> {
    match e {
        Expr::Binary(BinOp::Union, l, r) => match (prune(l, rt, model), prune(r, rt, model)) {
            (Some(a), Some(b)) => Some(Expr::Binary(BinOp::Union, Box::new(a), Box::new(b))),
            (Some(a), None) | (None, Some(a)) => Some(wrap_distinct(a)),
            (None, None) => None,
        },
        _ => {
            if let Some(first) = leftmost(e)
                && model::starts_upper(first)
                && first != rt
                && model.is_none_or(|m| m.is_resource_type(first) || matches!(first, "Resource" | "DomainResource"))
                && !model::is_subtype(model, rt, first)
            {
                return None;
            }
            Some(e.clone())
        }
    }
}

/// A single surviving union branch still needs de-duplication: `x | {}`.
fn wrap_distinct(e: Expr) -> Expr {
    Expr::Binary(BinOp::Union, Box::new(e), Box::new(Expr::Empty))
}

#[cfg(test)]
mod tests {
    use super::Expression;

    fn restricted(src: &str) -> Option<(String, String)> {
        Expression::parse(src).ok()?.type_restricted_branch()
    }

    #[test]
    fn a_type_restricted_branch_names_its_base_and_type() {
        let base = Expression::parse("Observation.subject").expect("parses").union_branches();
        let (fingerprint, target) = restricted("Observation.subject.where(resolve() is Patient)").expect("restricted");
        assert_eq!((vec![fingerprint], target.as_str()), (base, "Patient"));
        // As `for_resource_type` leaves it, one branch of a union over many types.
        let pruned = Expression::parse(
            "Account.subject.where(resolve() is Patient) | Observation.subject.where(resolve() is Patient)",
        )
        .expect("parses")
        .for_resource_type("Observation", None);
        assert_eq!(pruned.type_restricted_branch().map(|(_, t)| t), Some("Patient".to_string()));
        assert_eq!(restricted("Task.for.where(resolve() is FHIR.Patient)").map(|(_, t)| t), Some("Patient".into()));
    }

    #[test]
    fn anything_else_is_no_type_restricted_branch() {
        for src in [
            "Observation.subject",
            "Observation.subject.where(resolve() is Patient) | Observation.performer",
            "Observation.subject.where(reference.startsWith('Patient'))",
            "Observation.subject.where(resolve() is System.String)",
            "Observation.subject.where(%x.resolve() is Patient)",
            "Observation.subject.where(resolve() as Patient)",
            "where(resolve() is Patient)",
        ] {
            assert_eq!(restricted(src), None, "{src}");
        }
    }
}
