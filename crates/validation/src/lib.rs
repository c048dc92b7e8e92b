//! Validation of resources against the R4 definitions.

pub mod base;
pub mod bindings;
pub mod profile;
pub mod profiles;
pub mod rules;
pub mod snapshot;
pub mod structure;

use serde_json::Value;

use ikp_model::model::Model;
use ikp_model::outcome::{Issue, IssueType, Severity};
use profile::Codes;
use profiles::ProfileSet;

/// What validating a resource found, by kind: structure errors make a request malformed (400);
/// profile and business-rule errors make it unprocessable (422). A code outside a required
/// binding of the base definition counts as structure: the resource is not valid R4 at all (as a
/// wrong primitive format is not), whereas profiles' bindings are rules.
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
    if findings.structure.is_empty() {
        // Bindings are walked only in a well-formed resource.
        findings.structure = bindings::check(model, resource);
    }
    if findings.structure.iter().any(|i| i.severity == Severity::Error) {
        return findings;
    }
    findings.rules = rules::check(resource);
    let codes = Either(profiles.codes(), codes);
    let type_of = |url: &str| profiles.resource_type_of(url);
    let context = ExtensionCheck { profiles, model, codes: &codes, type_of: &type_of };
    let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    context.walk(resource, resource_type, resource_type, &mut findings.rules);
    let declared = resource
        .get("meta")
        .and_then(|m| m.get("profile"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let required = profiles.required_for(resource_type);
    let mut urls: Vec<&str> = declared.chain(extra.iter().copied()).collect();
    if let Some(url) = required.as_deref()
        && !urls.contains(&url)
    {
        urls.push(url);
    }
    for url in urls {
        match profiles.get(url) {
            Some(profile) => findings.rules.extend(profile.validate(resource, model, &codes, &type_of)),
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

/// [`validate`] plus the invariants of the R4 base definition (for `$validate` and the CLI).
pub fn validate_deep(
    model: &Model,
    profiles: &ProfileSet,
    codes: &dyn Codes,
    resource: &Value,
    extra: &[&str],
) -> Findings {
    let mut findings = validate(model, profiles, codes, resource, extra);
    if findings.structure.iter().any(|i| i.severity == Severity::Error) {
        return findings;
    }
    let resource_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    if let Some(base) = base::invariants(resource_type) {
        let type_of = |url: &str| profiles.resource_type_of(url);
        findings.rules.extend(base.validate(resource, model, codes, &type_of));
    }
    findings
}

/// Value-set membership from the first source that knows the value set.
struct Either<'a>(&'a dyn Codes, &'a dyn Codes);

impl Codes for Either<'_> {
    fn contains(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        self.0.contains(value_set, system, code).or_else(|| self.1.contains(value_set, system, code))
    }
}

/// Known extensions: used only where their definitions allow, and valid against them.
struct ExtensionCheck<'a> {
    profiles: &'a ProfileSet,
    model: &'a Model,
    codes: &'a dyn Codes,
    type_of: &'a dyn Fn(&str) -> Option<String>,
}

impl ExtensionCheck<'_> {
    /// `element` is the path without indices (for matching contexts), `at` the FHIRPath location.
    fn walk(&self, value: &Value, element: &str, at: &str, issues: &mut Vec<Issue>) {
        let Some(object) = value.as_object() else {
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                self.walk(item, element, &format!("{at}[{i}]"), issues);
            }
            return;
        };
        for (key, child) in object {
            // Contained and nested resources are validated on their own.
            if key == "resourceType"
                || key.starts_with('_')
                || key == "contained"
                || child.get("resourceType").is_some()
            {
                continue;
            }
            if key == "extension" || key == "modifierExtension" {
                for (i, extension) in child.as_array().into_iter().flatten().enumerate() {
                    self.extension(extension, element, &format!("{at}.{key}[{i}]"), issues);
                }
                continue;
            }
            self.walk(child, &format!("{element}.{key}"), &format!("{at}.{key}"), issues);
        }
    }

    fn extension(&self, extension: &Value, element: &str, at: &str, issues: &mut Vec<Issue>) {
        let Some(url) = extension.get("url").and_then(Value::as_str) else { return };
        if let Some(contexts) = self.profiles.extension_contexts(url)
            && !contexts.is_empty()
            && !contexts.iter().any(|c| context_allows(c, element))
        {
            issues.push(
                Issue::error(
                    IssueType::Structure,
                    format!("the extension {url} is used on {element}, outside its context ({})", contexts.join(", ")),
                )
                .at(at),
            );
        }
        if let Some(definition) = self.profiles.get(url) {
            issues.extend(definition.validate_element(extension, at, self.model, self.codes, self.type_of));
        }
        // Nested extensions (complex extensions) are checked against their own definitions.
        for (i, inner) in extension.get("extension").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if inner.get("url").and_then(Value::as_str).is_some_and(|u| u.contains("://")) {
                self.extension(inner, "Extension", &format!("{at}.extension[{i}]"), issues);
            }
        }
    }
}

/// Whether an extension context (an element path such as `Patient` or `Patient.name`, or a
/// general type) admits an element.
fn context_allows(context: &str, element: &str) -> bool {
    matches!(context, "Element" | "Resource" | "DomainResource" | "Base") || context == element
}
