//! `ikp validate <file>... [--profile URL]`: validates resources (FHIR JSON or XML) against the
//! R4 definitions, the national business rules, the built-in profiles they declare and `--profile`;
//! prints each finding with its location and exits non-zero when any is an error.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::context::BuiltinCodes;
use crate::outcome::Severity;
use crate::terminology::builtin::BUILTIN;
use crate::validation::profiles::ProfileSet;

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Resource files in FHIR JSON or FHIR XML.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// A built-in profile to validate against, besides those the resources declare.
    #[arg(long)]
    pub profile: Option<String>,
}

/// Validates the files; returns how many errors were found.
pub fn run(args: &ValidateArgs) -> anyhow::Result<usize> {
    let model = crate::model::r4()?;
    let profiles = ProfileSet::built_in()?;
    if let Some(url) = &args.profile
        && profiles.get(url).is_none()
    {
        bail!("the profile {url} is not built in (known: {})", profiles.urls().join(", "));
    }
    let extra: Vec<&str> = args.profile.as_deref().into_iter().collect();
    let mut errors = 0;
    for file in &args.files {
        let resource = super::read_resource(model, file)?;
        let issues =
            crate::validation::validate_deep(model, &profiles, &BuiltinCodes(&BUILTIN), &resource, &extra).all();
        if issues.is_empty() {
            println!("{}: valid", file.display());
        }
        for issue in issues {
            if issue.severity == Severity::Error {
                errors += 1;
            }
            println!(
                "{}: {:?} {} {}",
                file.display(),
                issue.severity,
                issue.expression.as_deref().unwrap_or("-"),
                issue.message
            );
        }
    }
    Ok(errors)
}
