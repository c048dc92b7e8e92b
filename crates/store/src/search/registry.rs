//! The search-parameter registry: every R4 SearchParameter (and custom ones stored on the
//! server), compiled once per resource type, plus the compartment definitions.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

use ikp_fhirpath::Expression;
use ikp_model::conformance::{
    COMPARTMENT_DEVICE, COMPARTMENT_ENCOUNTER, COMPARTMENT_PATIENT, COMPARTMENT_PRACTITIONER,
    COMPARTMENT_RELATED_PERSON, ConformanceError, DefinitionBundle, Definitions,
};
use ikp_model::model::Model;

use crate::index::param_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Date => "date",
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Composite => "composite",
            ParamType::Quantity => "quantity",
            ParamType::Uri => "uri",
            ParamType::Special => "special",
        }
    }
}

/// One component of a composite parameter.
#[derive(Debug)]
pub struct Component {
    /// The component's own parameter type (from its definition).
    pub kind: ParamType,
    pub expression: Expression,
}

/// A search parameter as it applies to one resource type.
#[derive(Debug)]
pub struct SearchParam {
    pub url: String,
    pub code: String,
    pub kind: ParamType,
    /// The expression, specialised to the resource type (`None`: not indexed, e.g. `_content`).
    pub expression: Option<Expression>,
    /// Allowed target types of a reference parameter (empty: any).
    pub targets: Vec<String>,
    pub components: Vec<Component>,
    pub description: String,
    /// The parameters whose index rows are this one's (empty: it has rows of its own). A
    /// parameter whose expression is the union of other parameters' expressions (Observation's
    /// `combo-code` is `code | component.code`) would only repeat their rows under another
    /// name, so it has none: a search on it searches theirs (see [`Registry::share_rows`]).
    pub stored_in: Vec<String>,
    /// For a reference parameter whose rows are the part of another's that points at one type
    /// (Observation's `patient` is `subject.where(resolve() is Patient)`): that parameter and the
    /// type. Those rows are stored once, under the other parameter (see
    /// [`Registry::share_typed_reference_rows`]).
    pub part_of: Option<TypedPart>,
}

/// The rows of a reference parameter that are another's rows pointing at `target_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedPart {
    pub code: String,
    pub target_type: String,
}

/// resource type → parameter code → the typed part of another parameter's rows it is: what the
/// planner names instead of a parameter's own rows (looked up for every row name a query names,
/// so by borrowed keys).
#[derive(Debug, Default)]
pub struct TypedParts(HashMap<String, HashMap<String, TypedPart>>);

impl TypedParts {
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&TypedPart> {
        self.0.get(resource_type)?.get(code)
    }

    /// Every one, sorted by type and code (for the migration that drops their old rows).
    pub fn all(&self) -> Vec<(&str, &str, &TypedPart)> {
        let mut all: Vec<_> = self
            .0
            .iter()
            .flat_map(|(t, parts)| parts.iter().map(move |(c, part)| (t.as_str(), c.as_str(), part)))
            .collect();
        all.sort_by_key(|&(t, c, _)| (t, c));
        all
    }
}

impl SearchParam {
    /// The parameter codes its index rows are stored under.
    /// Every name its rows can carry: its code, auxiliary rows (`code:text`...) and composite
    /// components (`code$0`...).
    pub fn row_names(&self) -> Vec<String> {
        fn with_auxiliary(name: String, kind: ParamType) -> Vec<String> {
            let mut names = match kind {
                ParamType::Token => vec![format!("{name}:text"), format!("{name}:of-type")],
                // A reference's logical identifier is a token (`subject:identifier`).
                ParamType::Reference => with_auxiliary(format!("{name}:identifier"), ParamType::Token),
                ParamType::Special => vec![format!("{name}:latitude"), format!("{name}:longitude")],
                _ => Vec::new(),
            };
            names.push(name);
            names
        }
        let mut names = with_auxiliary(self.code.clone(), self.kind);
        for (k, component) in self.components.iter().enumerate() {
            names.extend(with_auxiliary(format!("{}${k}", self.code), component.kind));
        }
        names
    }

    pub fn row_codes(&self) -> Vec<&str> {
        if self.stored_in.is_empty() {
            vec![self.code.as_str()]
        } else {
            self.stored_in.iter().map(String::as_str).collect()
        }
    }
}

/// Parameters handled on the `resource` table itself rather than through index rows.
pub const COLUMN_PARAMETERS: &[&str] = &["_id", "_lastUpdated"];

/// Where a patient account's compartments differ from R4's CompartmentDefinitions (no
/// parameters: not a member):
/// - a patient's Tasks (EHIC applications, primary-care declarations) and devices are theirs to
///   see, as in R5; without this they would belong to no patient and be hidden from everyone
///   confined;
/// - a Subscription belongs to the user who made it (`owner`), so a patient's app may manage its
///   own subscriptions and nobody confined sees another's;
/// - an AuditEvent belongs to the one patient it is about (`about-patient`), not to its agents:
///   in R4 it is also in the compartment of whoever acted, so anyone who may see a parent's record
///   would see what the parent did in a child's, and a caller's own refused attempts would tell
///   an existing patient (named in the event) from a missing one.
const NATIONAL_COMPARTMENT_CHANGES: &[(&str, &str, &[&str])] = &[
    ("Patient", "Task", &["patient", "requester"]),
    ("Patient", "Device", &["patient"]),
    ("Patient", "AuditEvent", &["about-patient"]),
    ("Practitioner", "AuditEvent", &[]),
    ("Device", "AuditEvent", &[]),
    ("Patient", "Subscription", &["owner"]),
    ("Practitioner", "Subscription", &["owner"]),
    ("RelatedPerson", "Subscription", &["owner"]),
];

/// The extension the server puts on every Subscription a caller writes: who owns it (the user,
/// the client, the token's scopes and patient context), whose reach its notifications keep to.
pub const SUBSCRIPTION_OWNER: &str = "https://ikp.example.org/fhir/StructureDefinition/subscription-owner";

/// Search parameters the national workflows need and R4 lacks, built in like the base ones.
fn national_parameters() -> Vec<Value> {
    let date = |resource: &str, code: &str, expression: &str, description: &str| {
        serde_json::json!({
            "resourceType": "SearchParameter",
            "url": format!("https://ikp.example.org/fhir/SearchParameter/{resource}-{code}"),
            "name": code, "status": "active", "code": code, "base": [resource], "type": "date",
            "expression": expression, "description": description,
        })
    };
    let owner =
        format!("Subscription.extension.where(url = '{SUBSCRIPTION_OWNER}').extension.where(url = 'user').value");
    vec![
        serde_json::json!({
            "resourceType": "SearchParameter",
            "url": "https://ikp.example.org/fhir/SearchParameter/Subscription-owner",
            "name": "owner", "status": "active", "code": "owner", "base": ["Subscription"],
            "type": "reference", "target": ["Patient", "Practitioner", "RelatedPerson", "Person"],
            "expression": owner,
            "description": "The user a subscription was made by (its notifications keep to that user's reach); \
                a subscription is in that user's compartment",
        }),
        date(
            "MedicationRequest",
            "validity-end",
            "MedicationRequest.dispenseRequest.validityPeriod.end",
            "The last day a prescription may be dispensed (finds prescriptions that have expired)",
        ),
        serde_json::json!({
            "resourceType": "SearchParameter",
            "url": "https://ikp.example.org/fhir/SearchParameter/AuditEvent-about-patient",
            "name": "about-patient", "status": "active", "code": "about-patient", "base": ["AuditEvent"],
            "type": "reference", "target": ["Patient"],
            "expression": "AuditEvent.entity.where(role.code = '1').what",
            "description": "The patient an event is about (the entity in role 1, Patient); unlike `patient`, \
                not the patient who acted",
        }),
    ]
}

pub const COMPARTMENTS: &[&str] = &["Patient", "Encounter", "RelatedPerson", "Practitioner", "Device"];

pub struct Registry {
    /// resource type → code → parameter.
    by_type: HashMap<String, HashMap<String, Arc<SearchParam>>>,
    /// The reference parameters stored in a part of another's rows, for the planner.
    typed_parts: Arc<TypedParts>,
    /// (compartment type, resource type) → parameter codes that make a resource a member.
    compartments: HashMap<(String, String), Vec<String>>,
}

impl Registry {
    /// The R4 base parameters plus `custom` SearchParameter resources.
    pub fn build(model: &Model, custom: &[Value]) -> Result<Registry, ConformanceError> {
        let bundle: DefinitionBundle<Value> = Definitions::SearchParameters.parse()?;
        let mut definitions: Vec<Value> = bundle.entry.into_iter().map(|e| e.resource).collect();
        definitions.extend(national_parameters());
        definitions.extend(custom.iter().cloned());
        let mut registry =
            Registry { by_type: HashMap::new(), typed_parts: Arc::default(), compartments: HashMap::new() };
        let by_url: HashMap<String, ParamIn> = definitions
            .iter()
            .filter_map(|d| serde_json::from_value::<ParamIn>(d.clone()).ok())
            .map(|p| (p.url.clone(), p))
            .collect();
        for def in by_url.values() {
            registry.add(model, def, &by_url);
        }
        registry.share_rows();
        registry.share_typed_reference_rows();
        registry.check_row_keys()?;
        for text in [
            COMPARTMENT_PATIENT,
            COMPARTMENT_ENCOUNTER,
            COMPARTMENT_RELATED_PERSON,
            COMPARTMENT_PRACTITIONER,
            COMPARTMENT_DEVICE,
        ] {
            let def: CompartmentIn =
                serde_json::from_str(text).map_err(|e| ConformanceError(format!("compartment definition: {e}")))?;
            for r in def.resource {
                if !r.param.is_empty() {
                    registry.compartments.insert((def.code.clone(), r.code), r.param);
                }
            }
        }
        for (compartment, resource_type, params) in NATIONAL_COMPARTMENT_CHANGES {
            let key = (compartment.to_string(), resource_type.to_string());
            if params.is_empty() {
                registry.compartments.remove(&key);
            } else {
                registry.compartments.insert(key, params.iter().map(|p| p.to_string()).collect());
            }
        }
        Ok(registry)
    }

    fn add(&mut self, model: &Model, def: &ParamIn, all: &HashMap<String, ParamIn>) {
        let Some(kind) = ParamType::parse(&def.kind) else { return };
        let expression = def.expression.as_deref().and_then(|e| Expression::parse(e).ok());
        let types: Vec<String> = def
            .base
            .iter()
            .flat_map(|b| match b.as_str() {
                "Resource" => model.resource_types().to_vec(),
                "DomainResource" => model
                    .resource_types()
                    .iter()
                    .filter(|t| !matches!(t.as_str(), "Bundle" | "Binary" | "Parameters"))
                    .cloned()
                    .collect(),
                other => vec![other.to_string()],
            })
            .collect();
        for resource_type in types {
            let components = def
                .component
                .iter()
                .filter_map(|c| {
                    let kind = all.get(&c.definition).and_then(|d| ParamType::parse(&d.kind))?;
                    Some(Component { kind, expression: Expression::parse(&c.expression).ok()? })
                })
                .collect();
            let param = SearchParam {
                url: def.url.clone(),
                code: def.code.clone(),
                kind,
                expression: expression.as_ref().map(|e| e.for_resource_type(&resource_type, Some(model))),
                targets: def.target.clone(),
                components,
                description: def.description.clone().unwrap_or_default(),
                stored_in: Vec::new(),
                part_of: None,
            };
            self.by_type.entry(resource_type).or_default().insert(def.code.clone(), Arc::new(param));
        }
    }

    /// Marks the parameters whose expression is the union of other parameters' expressions of
    /// the same type and kind (each of those a strict part of its branches, together all of
    /// them; composites with the same components) as stored in those parameters' rows. On the
    /// synthetic population Observation's `combo-*` parameters alone repeated a sixth of all
    /// token and string rows and half of the quantity rows. Left alone: references (chains,
    /// includes and `_has` name them), and codes defined on more than one type, so that a search
    /// over several types names the same rows for each of them.
    fn share_rows(&mut self) {
        let mut types_per_code: HashMap<String, usize> = HashMap::new();
        for params in self.by_type.values() {
            for code in params.keys() {
                *types_per_code.entry(code.clone()).or_default() += 1;
            }
        }
        for params in self.by_type.values_mut() {
            // Each expression's branches, worked out once per type.
            let branches_of: HashMap<&str, BTreeSet<String>> = params
                .values()
                .filter_map(|p| Some((p.code.as_str(), p.expression.as_ref()?.union_branches().into_iter().collect())))
                .collect();
            let shared: HashMap<String, Vec<String>> = params
                .values()
                .filter(|p| types_per_code.get(&p.code) == Some(&1))
                .filter_map(|p| Some((p.code.clone(), union_members(p, params, &branches_of)?)))
                .collect();
            // A member that is itself shared stands for its own members (each is a strict part of
            // the one before, so this ends).
            fn own_rows(code: &str, shared: &HashMap<String, Vec<String>>, out: &mut Vec<String>) {
                match shared.get(code) {
                    Some(members) => members.iter().for_each(|m| own_rows(m, shared, out)),
                    None if !out.iter().any(|c| c == code) => out.push(code.to_string()),
                    None => {}
                }
            }
            for (code, members) in &shared {
                let mut stored_in = Vec::new();
                members.iter().for_each(|m| own_rows(m, &shared, &mut stored_in));
                if let Some(param) = params.get_mut(code).and_then(Arc::get_mut) {
                    param.stored_in = stored_in;
                }
            }
        }
    }

    /// Marks the reference parameters whose expression is another reference parameter's
    /// restricted to one target type (`E.where(resolve() is T)` beside a parameter `E`) as that
    /// part of its rows. Every row such a parameter has is the other's row for the same
    /// reference, so it is stored once: Observation's `patient` repeated each `subject` row of a
    /// Patient (a reference row in every clinical resource, about 150 B of index per resource
    /// with its lookup indexes), Appointment's `patient`, `practitioner` and `location` each
    /// repeated `actor`'s. Only a reference by URL without a `type` keeps a row of its own (its
    /// row carries no type to tell it by).
    fn share_typed_reference_rows(&mut self) {
        let mut parts = HashMap::new();
        for (resource_type, params) in &mut self.by_type {
            let found: Vec<(String, TypedPart)> = params
                .values()
                .filter(|p| p.kind == ParamType::Reference && p.stored_in.is_empty())
                .filter_map(|p| {
                    let (base, target_type) = p.expression.as_ref()?.type_restricted_branch()?;
                    let whole = params.values().find(|other| {
                        other.code != p.code
                            && other.kind == ParamType::Reference
                            && other.stored_in.is_empty()
                            && (other.targets.is_empty() || other.targets.contains(&target_type))
                            && other.expression.as_ref().is_some_and(|e| e.union_branches() == [base.as_str()])
                    })?;
                    Some((p.code.clone(), TypedPart { code: whole.code.clone(), target_type }))
                })
                .collect();
            for (code, part) in found {
                if let Some(param) = params.get_mut(&code).and_then(Arc::get_mut) {
                    param.part_of = Some(part.clone());
                    parts.entry(resource_type.clone()).or_insert_with(HashMap::new).insert(code, part);
                }
            }
        }
        self.typed_parts = Arc::new(TypedParts(parts));
    }

    /// The reference parameters stored in a part of another's rows (see
    /// [`SearchParam::part_of`]).
    pub fn typed_parts(&self) -> Arc<TypedParts> {
        Arc::clone(&self.typed_parts)
    }

    /// Refuses parameters whose rows would carry another's key ([`crate::index::param_key`]):
    /// their rows would be one.
    fn check_row_keys(&self) -> Result<(), ConformanceError> {
        let mut owners: HashMap<i64, (&str, String)> = HashMap::new();
        for (resource_type, params) in &self.by_type {
            for name in params.values().flat_map(|p| p.row_names()) {
                let key = param_key(resource_type, &name);
                match owners.get(&key) {
                    Some((other_type, other)) if (*other_type, other.as_str()) != (resource_type.as_str(), &name) => {
                        return Err(ConformanceError(format!(
                            "the index rows of {resource_type}.{name} and {other_type}.{other} would have the same key \
                             ({key}); rename one of the search parameters"
                        )));
                    }
                    _ => {
                        owners.insert(key, (resource_type, name));
                    }
                }
            }
        }
        Ok(())
    }

    /// The registry with every parameter indexed under its own code, for tests that compare
    /// what sharing rows leaves out.
    #[cfg(test)]
    pub(crate) fn without_shared_rows(mut self) -> Registry {
        for param in self.by_type.values_mut().flat_map(|params| params.values_mut()) {
            if let Some(param) = Arc::get_mut(param) {
                param.stored_in.clear();
                param.part_of = None;
            }
        }
        self.typed_parts = Arc::default();
        self
    }

    pub fn get(&self, resource_type: &str, code: &str) -> Option<&Arc<SearchParam>> {
        self.by_type.get(resource_type)?.get(code)
    }

    /// The resource types that have search parameters, sorted.
    pub fn resource_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.by_type.keys().cloned().collect();
        types.sort();
        types
    }

    /// The codes of a resource type's reference parameters (what `_include=Type:*` follows).
    pub fn reference_codes(&self, resource_type: &str) -> Vec<String> {
        self.params(resource_type)
            .into_iter()
            .filter(|p| p.kind == ParamType::Reference && p.expression.is_some())
            .map(|p| p.code.clone())
            .collect()
    }

    /// All parameters of a resource type, sorted by code.
    pub fn params(&self, resource_type: &str) -> Vec<&Arc<SearchParam>> {
        let mut params: Vec<&Arc<SearchParam>> =
            self.by_type.get(resource_type).map(|m| m.values().collect()).unwrap_or_default();
        params.sort_by(|a, b| a.code.cmp(&b.code));
        params
    }

    /// Parameter codes that place a `resource_type` in a compartment of `compartment` type.
    pub fn compartment_params(&self, compartment: &str, resource_type: &str) -> &[String] {
        self.compartments
            .get(&(compartment.to_string(), resource_type.to_string()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Parameters of the same type and kind whose expressions together are exactly `param`'s union
/// expression, each one a part of it (a strict subset of its branches), if such parameters
/// cover every branch: Observation's `combo-value-quantity` (four branches) is `value-quantity`
/// (two) and `component-value-quantity` (two).
fn union_members(
    param: &SearchParam,
    params: &HashMap<String, Arc<SearchParam>>,
    branches_of: &HashMap<&str, BTreeSet<String>>,
) -> Option<Vec<String>> {
    if matches!(param.kind, ParamType::Reference | ParamType::Special) {
        return None;
    }
    let branches = branches_of.get(param.code.as_str()).filter(|b| b.len() >= 2)?;
    let same_components = |other: &SearchParam| {
        other.components.len() == param.components.len()
            && other
                .components
                .iter()
                .zip(&param.components)
                .all(|(a, b)| a.kind == b.kind && a.expression.union_branches() == b.expression.union_branches())
    };
    let mut candidates: Vec<(&str, &BTreeSet<String>)> = params
        .values()
        .filter(|other| other.kind == param.kind)
        .filter_map(|other| Some((other.code.as_str(), branches_of.get(other.code.as_str())?, other)))
        .filter(|(_, part, other)| {
            !part.is_empty() && part.len() < branches.len() && part.is_subset(branches) && same_components(other)
        })
        .map(|(code, part, _)| (code, part))
        .collect();
    candidates.sort_by_key(|(code, _)| *code);
    let mut members = Vec::new();
    let mut covered = BTreeSet::new();
    for (code, part) in candidates {
        if !part.is_subset(&covered) {
            covered.extend(part.iter().cloned());
            members.push(code.to_string());
        }
    }
    (&covered == branches).then_some(members)
}

/// The registry in use; replaced as a whole when custom parameters are reloaded (`$reindex`).
pub struct SharedRegistry(RwLock<Arc<Registry>>);

impl SharedRegistry {
    pub fn new(registry: Registry) -> SharedRegistry {
        SharedRegistry(RwLock::new(Arc::new(registry)))
    }

    pub fn current(&self) -> Arc<Registry> {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, registry: Registry) {
        match self.0.write() {
            Ok(mut r) => *r = Arc::new(registry),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(registry),
        }
    }
}

#[derive(Deserialize)]
struct ParamIn {
    url: String,
    code: String,
    #[serde(default)]
    base: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    expression: Option<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    component: Vec<ComponentIn>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct ComponentIn {
    definition: String,
    expression: String,
}

#[derive(Deserialize)]
struct CompartmentIn {
    code: String,
    resource: Vec<CompartmentResourceIn>,
}

#[derive(Deserialize)]
struct CompartmentResourceIn {
    code: String,
    #[serde(default)]
    param: Vec<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    /// A custom parameter whose rows would carry the key of rows already defined is refused,
    /// naming both; the same parameter under a code without a clash loads.
    #[test]
    fn a_custom_parameter_whose_key_collides_is_refused() {
        let model = ikp_model::model::r4().expect("model");
        let registry = Registry::build(model, &[]).expect("the R4 and national parameters have no colliding keys");
        let taken: HashSet<i64> = registry
            .by_type
            .iter()
            .flat_map(|(t, params)| params.values().flat_map(|p| p.row_names()).map(move |n| param_key(t, &n)))
            .collect();
        let custom = |code: &str| {
            json!({"resourceType": "SearchParameter", "url": format!("http://example.org/sp/{code}"), "code": code,
                   "base": ["Basic"], "type": "date", "expression": "Basic.created", "status": "active"})
        };
        // About one code in 350,000 lands on a taken key (thousands of names among 2^31 keys).
        let clash = (0..50_000_000u32)
            .map(|n| format!("c{n}"))
            .find(|code| taken.contains(&param_key("Basic", code)))
            .expect("a colliding code");
        let error = Registry::build(model, &[custom(&clash)]).err().expect("refused");
        assert!(error.0.contains(&format!("Basic.{clash}")) && error.0.contains("same key"), "{}", error.0);
        let fine = Registry::build(model, &[custom("c-fine")]).expect("a code without a clash loads");
        assert!(fine.get("Basic", "c-fine").is_some());
    }
}
