//! Validation against a constraining StructureDefinition (a profile), driven by its differential:
//! the base definition's rules are already enforced by the structural validator, so a profile
//! adds only what its differential says — cardinality, fixed and pattern values, bindings,
//! invariants (FHIRPath), reference targets, maximum lengths, and slicing (value, pattern,
//! exists and type discriminators; open, closed and ordered).

use serde_json::Value;

use ikp_fhirpath::{Environment, Expression, Item, ModelInfo, Node};
use ikp_model::outcome::{Issue, IssueType, Severity};

pub use ikp_terminology::membership::{Codes, NoCodes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    Required,
    Extensible,
    Preferred,
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// Element name; a choice element keeps its `[x]`.
    name: String,
    slice: Option<String>,
}

#[derive(Debug)]
struct Invariant {
    key: String,
    error: bool,
    human: String,
    expression: Expression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discriminator {
    Value,
    Pattern,
    Exists,
    Type,
    Profile,
}

#[derive(Debug)]
struct Slicing {
    discriminators: Vec<(Discriminator, String)>,
    closed: bool,
    ordered: bool,
}

/// One element of the differential.
#[derive(Debug)]
struct Rule {
    id: String,
    segments: Vec<Segment>,
    min: Option<u64>,
    /// `None`: unbounded or unchanged.
    max: Option<u64>,
    fixed: Option<Value>,
    pattern: Option<Value>,
    binding: Option<(Strength, String)>,
    invariants: Vec<Invariant>,
    /// Allowed types (empty: unchanged), with target profiles of references.
    types: Vec<(String, Vec<String>)>,
    max_length: Option<usize>,
    slicing: Option<Slicing>,
}

/// A profile ready for validation.
#[derive(Debug)]
pub struct Profile {
    pub url: String,
    pub resource_type: String,
    rules: Vec<Rule>,
    /// Rule positions by element id (slice membership looks rules up per instance item).
    by_id: std::collections::HashMap<String, usize>,
    /// A base definition's invariants only: rules that cannot be evaluated (functions the engine
    /// lacks) are reported as warnings instead of failures.
    base: bool,
}

/// A definition that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("StructureDefinition {url}: {message}")]
pub struct ProfileError {
    pub url: String,
    pub message: String,
}

fn segments(id: &str) -> Vec<Segment> {
    // Slice names may contain dots only in re-slicing forms we do not support; split on dots
    // outside slice names is then plain splitting.
    id.split('.')
        .map(|part| match part.split_once(':') {
            Some((name, slice)) => Segment { name: name.to_string(), slice: Some(slice.to_string()) },
            None => Segment { name: part.to_string(), slice: None },
        })
        .collect()
}

fn prefixed(element: &Value, prefix: &str) -> Option<Value> {
    element.as_object()?.iter().find(|(k, _)| k.starts_with(prefix) && k.len() > prefix.len()).map(|(_, v)| v.clone())
}

impl Profile {
    /// The invariants of a base definition (its snapshot): cardinality, types and bindings of
    /// base definitions are the structural validator's job.
    pub fn base_invariants(definition: &Value) -> Result<Profile, ProfileError> {
        let elements: Vec<Value> = definition
            .get("snapshot")
            .and_then(|d| d.get("element"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| e.get("constraint").is_some())
            .map(|e| {
                let mut only = serde_json::Map::new();
                for key in ["id", "path", "constraint"] {
                    if let Some(v) = e.get(key) {
                        only.insert(key.to_string(), v.clone());
                    }
                }
                Value::Object(only)
            })
            .collect();
        let mut reduced = serde_json::Map::new();
        for key in ["url", "type"] {
            if let Some(v) = definition.get(key) {
                reduced.insert(key.to_string(), v.clone());
            }
        }
        reduced.insert("differential".to_string(), serde_json::json!({ "element": elements }));
        let mut profile = Profile::from_definition(&Value::Object(reduced))?;
        profile.base = true;
        Ok(profile)
    }

    /// Reads a StructureDefinition (its differential).
    pub fn from_definition(definition: &Value) -> Result<Profile, ProfileError> {
        let url = definition.get("url").and_then(Value::as_str).unwrap_or_default().to_string();
        let fail = |message: String| ProfileError { url: url.clone(), message };
        let resource_type = definition
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("it has no type".to_string()))?
            .to_string();
        let elements = definition
            .get("differential")
            .and_then(|d| d.get("element"))
            .and_then(Value::as_array)
            .ok_or_else(|| fail("it has no differential".to_string()))?;
        let mut rules = Vec::with_capacity(elements.len());
        for element in elements {
            let id = element
                .get("id")
                .or_else(|| element.get("path"))
                .and_then(Value::as_str)
                .ok_or_else(|| fail("an element has neither id nor path".to_string()))?
                .to_string();
            let mut invariants = Vec::new();
            for c in element.get("constraint").and_then(Value::as_array).into_iter().flatten() {
                let Some(source) = c.get("expression").and_then(Value::as_str) else { continue };
                let key = c.get("key").and_then(Value::as_str).unwrap_or("invariant").to_string();
                let expression =
                    Expression::parse(source).map_err(|e| fail(format!("constraint {key} does not parse: {e}")))?;
                invariants.push(Invariant {
                    error: c.get("severity").and_then(Value::as_str) != Some("warning"),
                    human: c.get("human").and_then(Value::as_str).unwrap_or_default().to_string(),
                    key,
                    expression,
                });
            }
            let binding = element.get("binding").and_then(|b| {
                let strength = match b.get("strength").and_then(Value::as_str)? {
                    "required" => Strength::Required,
                    "extensible" => Strength::Extensible,
                    "preferred" => Strength::Preferred,
                    _ => return None,
                };
                Some((strength, b.get("valueSet")?.as_str()?.split('|').next()?.to_string()))
            });
            let types = element
                .get("type")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    let code = t.get("code")?.as_str()?.to_string();
                    let targets = t
                        .get("targetProfile")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .chain(
                            t.get("profile")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .filter(|_| code == "Extension")
                                .filter_map(|p| p.as_str().map(str::to_string)),
                        )
                        .collect();
                    Some((code, targets))
                })
                .collect();
            let slicing = element.get("slicing").map(|s| Slicing {
                discriminators: s
                    .get("discriminator")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|d| {
                        let kind = match d.get("type")?.as_str()? {
                            "value" => Discriminator::Value,
                            "pattern" => Discriminator::Pattern,
                            "exists" => Discriminator::Exists,
                            "type" => Discriminator::Type,
                            "profile" => Discriminator::Profile,
                            _ => return None,
                        };
                        Some((kind, d.get("path")?.as_str()?.to_string()))
                    })
                    .collect(),
                closed: s.get("rules").and_then(Value::as_str) == Some("closed"),
                ordered: s.get("ordered").and_then(Value::as_bool) == Some(true),
            });
            rules.push(Rule {
                segments: segments(&id),
                id,
                min: element.get("min").and_then(Value::as_u64),
                max: match element.get("max").and_then(Value::as_str) {
                    Some("*") | None => None,
                    Some(n) => Some(n.parse().map_err(|_| fail(format!("max '{n}' is not a number")))?),
                },
                fixed: prefixed(element, "fixed"),
                pattern: prefixed(element, "pattern"),
                binding,
                invariants,
                types,
                max_length: element.get("maxLength").and_then(Value::as_u64).map(|n| n as usize),
                slicing,
            });
        }
        let by_id = rules.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
        Ok(Profile { url, resource_type, rules, by_id, base: false })
    }

    fn rule(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).and_then(|i| self.rules.get(*i))
    }

    /// Checks a resource; every problem is an issue with its FHIRPath location. `type_of` names
    /// the resource type a (target) profile url constrains.
    pub fn validate(
        &self,
        resource: &Value,
        model: &dyn ModelInfo,
        codes: &dyn Codes,
        type_of: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<Issue> {
        let root_type = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        if root_type != self.resource_type {
            return vec![Issue::error(
                IssueType::Invalid,
                format!("the profile {} is for {}, not {root_type}", self.url, self.resource_type),
            )];
        }
        self.validate_element(resource, &self.resource_type, model, codes, type_of)
    }

    /// Checks an element against a profile of its data type (an extension against its
    /// definition); `at` is the element's FHIRPath location.
    pub fn validate_element(
        &self,
        element: &Value,
        at: &str,
        model: &dyn ModelInfo,
        codes: &dyn Codes,
        type_of: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<Issue> {
        let mut issues = Vec::new();
        let checker = Checker { profile: self, root: element, root_path: at.to_string(), model, codes, type_of };
        for rule in &self.rules {
            checker.check_rule(rule, &mut issues);
        }
        issues
    }
}

/// An instance element and where it is.
#[derive(Debug, Clone)]
struct Located<'a> {
    value: &'a Value,
    path: String,
}

struct Checker<'a> {
    profile: &'a Profile,
    root: &'a Value,
    /// Where the root is (the resource type, or an element's location).
    root_path: String,
    model: &'a dyn ModelInfo,
    codes: &'a dyn Codes,
    type_of: &'a dyn Fn(&str) -> Option<String>,
}

/// The values of a child element (`name`, or `name[x]` for any type), each with its location.
fn children<'v>(parent: &Located<'v>, name: &str) -> Vec<Located<'v>> {
    let Some(object) = parent.value.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    let mut push = |key: &str, value: &'v Value| match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                out.push(Located { value: item, path: format!("{}.{key}[{i}]", parent.path) });
            }
        }
        Value::Null => {}
        other => out.push(Located { value: other, path: format!("{}.{key}", parent.path) }),
    };
    match name.strip_suffix("[x]") {
        Some(stem) => {
            for (key, value) in object {
                if key.len() > stem.len()
                    && key.starts_with(stem)
                    && key[stem.len()..].starts_with(|c: char| c.is_ascii_uppercase())
                {
                    push(key, value);
                }
            }
        }
        None => {
            if let Some(value) = object.get(name) {
                push(name, value);
            }
        }
    }
    out
}

/// Whether `value` contains everything in `pattern` (arrays: each pattern item matches some item).
fn matches_pattern(value: &Value, pattern: &Value) -> bool {
    match (value, pattern) {
        (Value::Object(v), Value::Object(p)) => {
            p.iter().all(|(k, pv)| v.get(k).is_some_and(|vv| matches_pattern(vv, pv)))
        }
        (Value::Array(v), Value::Array(p)) => p.iter().all(|pv| v.iter().any(|vv| matches_pattern(vv, pv))),
        (v, Value::Array(p)) if p.len() == 1 => matches_pattern(v, &p[0]),
        (v, p) => same_value(v, p),
    }
}

/// Equality that compares numbers by value (`1.0` = `1`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.to_string().parse::<f64>().ok().zip(y.to_string().parse::<f64>().ok()).is_some_and(|(x, y)| x == y)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_value(v, w)),
        _ => a == b,
    }
}

/// Values at a simple dotted path below an element (`system`, `code.coding.code`, `$this`).
fn at_path<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![value];
    for step in path.split('.').filter(|s| *s != "$this" && !s.is_empty()) {
        let mut next = Vec::new();
        for v in current {
            match v.get(step) {
                Some(Value::Array(items)) => next.extend(items.iter()),
                Some(Value::Null) | None => {}
                Some(other) => next.push(other),
            }
        }
        current = next;
    }
    current
}

impl<'a> Checker<'a> {
    /// The elements an element id designates, grouped by the existing parent they belong to
    /// (cardinality is counted per parent; a missing parent makes its children's minimums moot).
    /// The root element is its own group, without a parent.
    fn select(&self, segments: &[Segment]) -> Vec<(Option<String>, Vec<Located<'a>>)> {
        let root = Located { value: self.root, path: self.root_path.clone() };
        let mut groups: Vec<(Option<String>, Vec<Located<'a>>)> = vec![(None, vec![root])];
        for depth in 1..segments.len() {
            let segment = &segments[depth];
            let parents: Vec<Located<'a>> = groups.into_iter().flat_map(|(_, items)| items).collect();
            groups = parents
                .into_iter()
                .map(|parent| {
                    let mut found = children(&parent, &segment.name);
                    if let Some(slice) = &segment.slice {
                        let sliced = id_of(&segments[..=depth], false);
                        found.retain(|item| self.in_slice(&sliced, slice, item.value));
                    }
                    (Some(parent.path), found)
                })
                .collect();
        }
        groups
    }

    /// Whether an item of the sliced element `sliced` belongs to its slice `slice`.
    fn in_slice(&self, sliced: &str, slice: &str, item: &Value) -> bool {
        let Some(slicing) = self.profile.rule(sliced).and_then(|r| r.slicing.as_ref()) else {
            // Extension slices need no declared slicing: they are told apart by url.
            return self
                .extension_slice_url(sliced, slice)
                .is_some_and(|url| item.get("url").and_then(Value::as_str) == Some(&url));
        };
        let slice_id = format!("{sliced}:{slice}");
        slicing.discriminators.iter().all(|(kind, path)| {
            let wanted_id = if path == "$this" { slice_id.clone() } else { format!("{slice_id}.{path}") };
            let wanted = self.profile.rule(&wanted_id);
            let found = at_path(item, path);
            match kind {
                Discriminator::Value | Discriminator::Pattern => {
                    if path == "url"
                        && let Some(url) = self.extension_slice_url(sliced, slice)
                    {
                        return item.get("url").and_then(Value::as_str) == Some(url.as_str());
                    }
                    match wanted.and_then(|r| r.fixed.as_ref().or(r.pattern.as_ref())) {
                        Some(expected) => found.iter().any(|v| matches_pattern(v, expected)),
                        None => true,
                    }
                }
                Discriminator::Exists => match wanted {
                    Some(r) if r.max == Some(0) => found.is_empty(),
                    Some(r) if r.min.unwrap_or(0) > 0 => !found.is_empty(),
                    _ => true,
                },
                Discriminator::Type => {
                    let types = self.profile.rule(&slice_id).map(|r| &r.types);
                    match types {
                        Some(types) if !types.is_empty() => {
                            types.iter().any(|(code, _)| self.value_type_is(item, code))
                        }
                        _ => true,
                    }
                }
                Discriminator::Profile => true,
            }
        })
    }

    /// A slice of an `extension` element typed with an extension profile: that profile's url.
    fn extension_slice_url(&self, sliced: &str, slice: &str) -> Option<String> {
        if !(sliced.ends_with(".extension") || sliced.ends_with(".modifierExtension")) {
            return None;
        }
        let rule = self.profile.rule(&format!("{sliced}:{slice}"))?;
        rule.types.iter().find(|(code, _)| code == "Extension").and_then(|(_, p)| p.first().cloned())
    }

    /// Whether a value is of a FHIR type, judged by its shape (for type discriminators).
    fn value_type_is(&self, value: &Value, code: &str) -> bool {
        match value {
            Value::Object(o) => match o.get("resourceType").and_then(Value::as_str) {
                Some(t) => t == code,
                None => !self.model.is_known_type(code) || !matches!(code, "string" | "boolean" | "integer"),
            },
            Value::String(_) => !matches!(code, "boolean" | "integer" | "decimal"),
            Value::Bool(_) => code == "boolean",
            Value::Number(_) => matches!(code, "integer" | "decimal" | "positiveInt" | "unsignedInt"),
            _ => false,
        }
    }

    fn check_rule(&self, rule: &Rule, issues: &mut Vec<Issue>) {
        let what = rule.id.as_str();
        for (parent, group) in self.select(&rule.segments) {
            if let Some(parent) = parent {
                if let Some(min) = rule.min
                    && (group.len() as u64) < min
                {
                    issues.push(
                        Issue::error(
                            IssueType::Required,
                            format!("{what}: at least {min} required by {}, found {}", self.profile.url, group.len()),
                        )
                        .at(&parent),
                    );
                }
                if let Some(max) = rule.max
                    && group.len() as u64 > max
                {
                    let at = group.get(max as usize).map_or_else(|| parent.clone(), |l| l.path.clone());
                    issues.push(
                        Issue::error(
                            IssueType::Structure,
                            format!("{what}: at most {max} allowed by {}, found {}", self.profile.url, group.len()),
                        )
                        .at(at),
                    );
                }
            }
            for item in &group {
                self.check_value(rule, item, issues);
            }
            if let Some(slicing) = &rule.slicing {
                self.check_slicing(rule, slicing, &group, issues);
            }
        }
    }

    fn check_value(&self, rule: &Rule, item: &Located<'a>, issues: &mut Vec<Issue>) {
        let what = rule.id.as_str();
        self.check_choice_type(rule, item, issues);
        if let Some(fixed) = &rule.fixed
            && !same_value(item.value, fixed)
        {
            issues.push(
                Issue::error(IssueType::Value, format!("{what} must be exactly {fixed}, not {}", item.value))
                    .at(&item.path),
            );
        }
        if let Some(pattern) = &rule.pattern
            && !matches_pattern(item.value, pattern)
        {
            issues.push(
                Issue::error(IssueType::Value, format!("{what} must match the pattern {pattern}")).at(&item.path),
            );
        }
        if let Some(max) = rule.max_length
            && let Some(text) = item.value.as_str()
            && text.chars().count() > max
        {
            issues.push(
                Issue::error(IssueType::TooLong, format!("{what} is longer than {max} characters")).at(&item.path),
            );
        }
        if let Some((strength, value_set)) = &rule.binding {
            self.check_binding(what, *strength, value_set, item, issues);
        }
        self.check_targets(rule, item, issues);
        for invariant in &rule.invariants {
            self.check_invariant(invariant, item, issues);
        }
    }

    /// A profile may narrow a choice element's types (`value[x]` to Quantity only).
    fn check_choice_type(&self, rule: &Rule, item: &Located, issues: &mut Vec<Issue>) {
        let Some(stem) = rule.segments.last().and_then(|s| s.name.strip_suffix("[x]")) else { return };
        if rule.types.is_empty() {
            return;
        }
        let key = item.path.rsplit('.').next().unwrap_or_default();
        let key = key.split('[').next().unwrap_or(key);
        let Some(suffix) = key.strip_prefix(stem) else { return };
        let allowed = rule.types.iter().any(|(code, _)| {
            let mut chars = code.chars();
            chars.next().is_some_and(|first| first.to_ascii_uppercase().to_string() + chars.as_str() == suffix)
        });
        if !allowed {
            let codes: Vec<&str> = rule.types.iter().map(|(c, _)| c.as_str()).collect();
            issues.push(
                Issue::error(
                    IssueType::Structure,
                    format!("{}: the type {suffix} is not allowed here (allowed: {})", rule.id, codes.join(", ")),
                )
                .at(&item.path),
            );
        }
    }

    /// The codes of a coded value: (system, code) pairs.
    fn codes_of(value: &Value) -> Vec<(Option<&str>, &str)> {
        match value {
            Value::String(code) => vec![(None, code.as_str())],
            Value::Object(o) if o.contains_key("coding") => o["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c.get("system").and_then(Value::as_str), c.get("code")?.as_str()?)))
                .collect(),
            Value::Object(o) => o
                .get("code")
                .and_then(Value::as_str)
                .map(|code| vec![(o.get("system").and_then(Value::as_str), code)])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn check_binding(&self, what: &str, strength: Strength, value_set: &str, item: &Located, issues: &mut Vec<Issue>) {
        if strength == Strength::Preferred {
            return;
        }
        let codes = Self::codes_of(item.value);
        if codes.is_empty() {
            // A concept given only as text cannot meet a required binding; an element with only
            // extensions (a data-absent-reason) carries nothing to judge.
            if strength == Strength::Required && item.value.get("text").is_some() {
                issues.push(
                    Issue::error(
                        IssueType::CodeInvalid,
                        format!("{what}: text alone (no coding) is not in the value set {value_set}"),
                    )
                    .at(&item.path),
                );
            }
            return;
        }
        let verdicts: Vec<Option<bool>> = codes.iter().map(|(s, c)| self.codes.contains(value_set, *s, c)).collect();
        if verdicts.contains(&Some(true)) {
            return;
        }
        if verdicts.iter().all(Option::is_none) {
            issues.push(
                Issue::warning(
                    IssueType::NotSupported,
                    format!("{what}: the value set {value_set} is not known, so its binding was not checked"),
                )
                .at(&item.path),
            );
            return;
        }
        let shown: Vec<String> =
            codes.iter().map(|(s, c)| s.map_or_else(|| c.to_string(), |s| format!("{s}|{c}"))).collect();
        let message = format!("{what}: {} is not in the value set {value_set}", shown.join(", "));
        let issue = match strength {
            Strength::Required => Issue::error(IssueType::CodeInvalid, message),
            _ => Issue::warning(IssueType::CodeInvalid, message),
        };
        issues.push(issue.at(&item.path));
    }

    /// References must point at the allowed target types (the types the target profiles
    /// constrain; a target profile the server does not know allows any type).
    fn check_targets(&self, rule: &Rule, item: &Located, issues: &mut Vec<Issue>) {
        let urls: Vec<&String> =
            rule.types.iter().filter(|(code, _)| code == "Reference").flat_map(|(_, t)| t.iter()).collect();
        if urls.is_empty() {
            return;
        }
        let Some(allowed) = urls.iter().map(|u| (self.type_of)(u)).collect::<Option<Vec<String>>>() else { return };
        let Some(reference) = item.value.get("reference").and_then(Value::as_str) else { return };
        if reference.starts_with('#') || reference.starts_with("urn:") {
            return;
        }
        let path = reference.split("/_history/").next().unwrap_or(reference);
        let mut parts = path.rsplit('/');
        let (Some(_id), Some(target_type)) = (parts.next(), parts.next()) else { return };
        if !allowed.iter().any(|t| t == target_type || t == "Resource") {
            issues.push(
                Issue::error(
                    IssueType::Invalid,
                    format!(
                        "{}: a reference to {target_type} is not allowed here (allowed: {})",
                        rule.id,
                        allowed.join(", ")
                    ),
                )
                .at(format!("{}.reference", item.path)),
            );
        }
    }

    fn check_invariant(&self, invariant: &Invariant, item: &Located, issues: &mut Vec<Issue>) {
        let env = Environment::new().with_model(self.model).with_root_resource(self.root);
        let node = if std::ptr::eq(item.value, self.root) {
            Node::resource(self.root)
        } else {
            Node { json: Some(item.value), ext: None, ty: None, resource: Some(self.root) }
        };
        let outcome = invariant.expression.evaluate_items(&env, vec![Item::Node(node)]);
        let holds = match &outcome {
            // An empty result (the constrained elements are absent) satisfies the rule.
            Ok(result) => {
                result.is_empty()
                    || result.len() == 1 && matches!(result[0].to_value(), Some(ikp_fhirpath::Value::Boolean(true)))
            }
            Err(_) => false,
        };
        if holds {
            return;
        }
        if let Err(e) = &outcome
            && self.profile.base
        {
            issues.push(
                Issue::warning(IssueType::NotSupported, format!("{} was not checked: {e}", invariant.key))
                    .at(&item.path),
            );
            return;
        }
        let detail = match outcome {
            Err(e) => format!(" (the rule could not be evaluated: {e})"),
            Ok(_) => String::new(),
        };
        let message = format!("{} failed: {}{detail}", invariant.key, invariant.human);
        let issue = if invariant.error {
            Issue::error(IssueType::Invariant, message)
        } else {
            Issue { severity: Severity::Warning, code: IssueType::Invariant, message, expression: None }
        };
        issues.push(issue.at(&item.path));
    }

    fn check_slicing(&self, rule: &Rule, slicing: &Slicing, group: &[Located], issues: &mut Vec<Issue>) {
        let prefix = format!("{}:", rule.id);
        let slices: Vec<&str> = self
            .profile
            .rules
            .iter()
            .filter_map(|r| r.id.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('.'))
            .collect();
        let mut last_slice = 0;
        for item in group {
            let position = slices.iter().position(|s| self.in_slice(&rule.id, s, item.value));
            match position {
                None if slicing.closed => issues.push(
                    Issue::error(
                        IssueType::Structure,
                        format!(
                            "{}: this item matches none of the slices ({}) and the slicing is closed",
                            rule.id,
                            slices.join(", ")
                        ),
                    )
                    .at(&item.path),
                ),
                Some(p) if slicing.ordered && p < last_slice => issues.push(
                    Issue::error(
                        IssueType::Structure,
                        format!("{}: slices must appear in the order {}", rule.id, slices.join(", ")),
                    )
                    .at(&item.path),
                ),
                Some(p) => last_slice = p,
                None => {}
            }
        }
    }
}

/// An element id from segments; `with_last_slice` keeps the last segment's slice name.
fn id_of(segments: &[Segment], with_last_slice: bool) -> String {
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| match &s.slice {
            Some(slice) if with_last_slice || i + 1 < segments.len() => format!("{}:{slice}", s.name),
            _ => s.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Genders;

    impl Codes for Genders {
        fn contains(&self, value_set: &str, _: Option<&str>, code: &str) -> Option<bool> {
            (value_set == "http://hl7.org/fhir/ValueSet/administrative-gender")
                .then(|| ["male", "female", "other", "unknown"].contains(&code))
        }
    }

    fn profile() -> Profile {
        Profile::from_definition(&json!({
            "resourceType": "StructureDefinition",
            "url": "https://ikp.example.org/fhir/StructureDefinition/TestPatient",
            "type": "Patient",
            "differential": {"element": [
                {"id": "Patient", "path": "Patient", "constraint": [{"key": "tp-1", "severity": "error",
                    "human": "a name or an identifier", "expression": "name.exists() or identifier.exists()"}]},
                {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1,
                    "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"}},
                {"id": "Patient.identifier:pesel", "path": "Patient.identifier", "sliceName": "pesel", "min": 0, "max": "1",
                    "constraint": [{"key": "tp-2", "severity": "error", "human": "11 digits",
                        "expression": "value.matches('^[0-9]{11}$')"}]},
                {"id": "Patient.identifier:pesel.system", "path": "Patient.identifier.system",
                    "fixedUri": "urn:oid:2.16.840.1.113883.3.4424.1.1.616"},
                {"id": "Patient.identifier:pesel.value", "path": "Patient.identifier.value", "min": 1},
                {"id": "Patient.identifier:passport", "path": "Patient.identifier", "sliceName": "passport"},
                {"id": "Patient.identifier:passport.system", "path": "Patient.identifier.system",
                    "patternUri": "urn:oid:2.16.840.1.113883.4.330.616"},
                {"id": "Patient.extension:mother", "path": "Patient.extension", "sliceName": "mother", "max": "1",
                    "type": [{"code": "Extension", "profile": ["https://ikp.example.org/fhir/StructureDefinition/mother"]}]},
                {"id": "Patient.gender", "path": "Patient.gender", "min": 1,
                    "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"}},
                {"id": "Patient.name.family", "path": "Patient.name.family", "maxLength": 10},
                {"id": "Patient.generalPractitioner", "path": "Patient.generalPractitioner",
                    "type": [{"code": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Practitioner"]}]},
                {"id": "Patient.deceased[x]", "path": "Patient.deceased[x]", "max": "0"},
                {"id": "Patient.multipleBirth[x]", "path": "Patient.multipleBirth[x]", "type": [{"code": "integer"}]},
            ]}
        }))
        .expect("profile")
    }

    fn errors(resource: &Value) -> Vec<(String, String)> {
        let model = ikp_model::model::r4().expect("model");
        let type_of = |url: &str| url.rsplit('/').next().map(str::to_string);
        profile()
            .validate(resource, model, &Genders, &type_of)
            .into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.expression.unwrap_or_default(), i.message))
            .collect()
    }

    fn valid() -> Value {
        json!({"resourceType": "Patient", "gender": "female",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": "02270803624"}],
            "name": [{"family": "Nowak"}],
            "generalPractitioner": [{"reference": "Practitioner/1"}],
            "extension": [{"url": "https://ikp.example.org/fhir/StructureDefinition/mother", "valueString": "x"}]})
    }

    #[test]
    fn a_conforming_instance_has_no_errors() {
        assert_eq!(errors(&valid()), vec![]);
    }

    #[test]
    fn each_kind_of_rule_reports_at_its_location() {
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str, &str)> = vec![
            (Box::new(|p| p["identifier"] = json!([])), "Patient", "at least 1"),
            (Box::new(|p| p["identifier"][0]["value"] = json!("123")), "Patient.identifier[0]", "tp-2"),
            (
                Box::new(|p| {
                    p["identifier"].as_array_mut().unwrap().push(json!({"system": "urn:oid:9.9", "value": "1"}))
                }),
                "Patient.identifier[1]",
                "closed",
            ),
            (
                Box::new(|p| {
                    let pesel = p["identifier"][0].clone();
                    p["identifier"].as_array_mut().unwrap().push(pesel);
                }),
                "Patient.identifier[1]",
                "at most 1",
            ),
            (
                Box::new(|p| {
                    p.as_object_mut().unwrap().remove("gender");
                }),
                "Patient",
                "Patient.gender: at least 1",
            ),
            (Box::new(|p| p["gender"] = json!("robot")), "Patient.gender", "not in the value set"),
            (
                Box::new(|p| p["name"][0]["family"] = json!("Brzęczyszczykiewicz")),
                "Patient.name[0].family",
                "longer than 10",
            ),
            (
                Box::new(|p| p["generalPractitioner"][0]["reference"] = json!("Organization/1")),
                "Patient.generalPractitioner[0].reference",
                "Organization is not allowed",
            ),
            (Box::new(|p| p["deceasedBoolean"] = json!(true)), "Patient.deceasedBoolean", "at most 0"),
            (
                Box::new(|p| p["multipleBirthBoolean"] = json!(true)),
                "Patient.multipleBirthBoolean",
                "type Boolean is not allowed",
            ),
            (
                Box::new(|p| {
                    let e = p["extension"][0].clone();
                    p["extension"].as_array_mut().unwrap().push(e);
                }),
                "Patient.extension[1]",
                "at most 1",
            ),
            (
                Box::new(|p| {
                    p.as_object_mut().unwrap().remove("identifier");
                    p.as_object_mut().unwrap().remove("name");
                }),
                "Patient",
                "tp-1",
            ),
        ];
        for (change, at, message) in cases {
            let mut patient = valid();
            change(&mut patient);
            let found = errors(&patient);
            assert!(
                found.iter().any(|(e, m)| e == at && m.contains(message)),
                "expected '{message}' at {at}, got {found:?}"
            );
        }
    }

    #[test]
    fn slices_are_recognised_by_fixed_and_pattern_values() {
        let mut patient = valid();
        patient["identifier"] = json!([
            {"system": "urn:oid:2.16.840.1.113883.4.330.616", "value": "AB123"},
            {"system": "urn:oid:2.16.840.1.113883.3.4424.1.1.616", "value": "02270803624"}
        ]);
        assert_eq!(errors(&patient), vec![]);
        // A PESEL slice item without a value: the slice child's minimum applies.
        patient["identifier"][1].as_object_mut().unwrap().remove("value");
        let found = errors(&patient);
        assert!(found.iter().any(|(_, m)| m.contains("Patient.identifier:pesel.value: at least 1")), "{found:?}");
    }
}
