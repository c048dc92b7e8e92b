//! `ikp fhirpath '<expression>' <resource.json|xml>`: evaluates an expression against a resource
//! and prints the result collection as JSON, for debugging search parameters and invariants.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use crate::fhirpath::{Environment, Expression, to_json};

#[derive(Debug, Clone, Args)]
pub struct FhirPathArgs {
    /// The FHIRPath expression.
    pub expression: String,
    /// A resource file in FHIR JSON or FHIR XML.
    pub file: PathBuf,
}

pub fn run(args: &FhirPathArgs) -> anyhow::Result<()> {
    let model = crate::model::r4()?;
    let expression = Expression::parse(&args.expression).map_err(|e| anyhow!("{e}"))?;
    let resource = super::read_resource(model, &args.file)?;
    let trace = |name: &str, value: &serde_json::Value| eprintln!("trace {name}: {value}");
    let env = Environment::new().with_model(model).with_trace(&trace);
    let result = expression.evaluate(&env, &resource).map_err(|e| anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&to_json(&result))?);
    Ok(())
}
