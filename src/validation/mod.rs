//! Validation of resources against the R4 definitions.

pub mod profile;
pub mod profiles;
pub mod rules;
pub mod structure;

use serde_json::Value;

use crate::model::Model;
use crate::outcome::{Issue, IssueType, Severity};
use profile::Codes;
use profiles::ProfileSet;

/// What validating a resource found, by kind: structure errors make a request malformed (400);
/// profile and business-rule errors make it unprocessable (422).
#[derive(Debug, Default)]
pub struct Findings {
    pub structure: Vec<Issue>,
    pub rules: Vec<Issue>,
}

impl Findings {
    pub fn has_errors(&self) -> bool {
        self.structure.iter().chain(&self.rules).any(|i| i.severity == Severity::Error)
    }

    pub fn all(self) -> Vec<Issue> {
        self.structure.into_iter().chain(self.rules).collect()
    }
}

/// Validates a resource against the R4 base definition, the national business rules, the
/// profiles it declares in `meta.profile` that the server knows, and `extra` profiles (for
/// `$validate?profile=`). A declared profile the server does not know is reported as a warning.
pub fn validate(model: &Model, profiles: &ProfileSet, codes: &dyn Codes, resource: &Value, extra: &[&str]) -> Findings {
    let mut findings = Findings { structure: structure::validate(model, resource), rules: Vec::new() };
    if findings.structure.iter().any(|i| i.severity == Severity::Error) {
        return findings;
    }
    findings.rules = rules::check(resource);
    let declared = resource
        .get("meta")
        .and_then(|m| m.get("profile"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    for url in declared.chain(extra.iter().copied()) {
        match profiles.get(url) {
            Some(profile) => findings.rules.extend(profile.validate(resource, model, codes)),
            None if url.starts_with("http://hl7.org/fhir/StructureDefinition/") => {}
            None => findings.rules.push(
                Issue::warning(
                    IssueType::NotSupported,
                    format!("the profile {url} is not known to this server, so it was not checked"),
                )
                .at(format!("{resource_type}.meta.profile")),
            ),
        }
    }
    findings
}
