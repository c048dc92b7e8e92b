//! Turning a resource into index rows: each applicable search parameter's FHIRPath expression is
//! evaluated, and each resulting item becomes rows according to the parameter's type and the
//! item's FHIR type.

use serde_json::Value;

use super::normalize::{normalize, truncate};
use super::{CompartmentRow, DateRow, IndexRows, NumberRow, QuantityRow, ReferenceRow, StringRow, TokenRow, UriRow};
use crate::search::registry::{COLUMN_PARAMETERS, COMPARTMENTS, ParamType, Registry};
use ikp_fhirpath::{Environment, Item, item_to_string};
use ikp_model::model::Model;
use ikp_model::model::datetime::{self, DateKind};

const UCUM: &str = "http://unitsofmeasure.org";

/// Extracts index rows with one registry, model and base URL.
pub struct Extractor<'a> {
    pub registry: &'a Registry,
    pub model: &'a Model,
    /// The server's base URL: absolute references under it are local.
    pub base_url: &'a str,
}

/// What a reference string points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceTarget {
    Local { resource_type: String, id: String, version: Option<String> },
    Url(String),
    Contained(String),
}

/// Parses a literal reference. References under `base_url` are local.
pub fn parse_reference(reference: &str, base_url: &str) -> Option<ReferenceTarget> {
    let reference = reference.trim();
    if reference.is_empty() {
        return None;
    }
    if let Some(local) = reference.strip_prefix('#') {
        return Some(ReferenceTarget::Contained(local.to_string()));
    }
    let relative = reference.strip_prefix(base_url).and_then(|r| r.strip_prefix('/')).unwrap_or(reference);
    if relative.contains("://") || relative.starts_with("urn:") {
        return Some(ReferenceTarget::Url(reference.to_string()));
    }
    let parts: Vec<&str> = relative.split('/').collect();
    let local = |t: &str, id: &str, version: Option<&str>| {
        let type_ok =
            t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && t.chars().all(|c| c.is_ascii_alphanumeric());
        let id_ok =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        (type_ok && id_ok).then(|| ReferenceTarget::Local {
            resource_type: t.to_string(),
            id: id.to_string(),
            version: version.map(str::to_string),
        })
    };
    match parts.as_slice() {
        [t, id] => local(t, id, None),
        [t, id, "_history", v] => local(t, id, Some(v)),
        _ => Some(ReferenceTarget::Url(reference.to_string())),
    }
}

impl Extractor<'_> {
    pub fn extract(&self, resource: &Value) -> IndexRows {
        let mut rows = IndexRows::default();
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else { return rows };
        let env = Environment::new().with_model(self.model);
        let mut group = 0i32;
        for param in self.registry.params(resource_type) {
            // Columns of the resource table, or stored in other parameters' rows.
            if COLUMN_PARAMETERS.contains(&param.code.as_str()) || !param.stored_in.is_empty() {
                continue;
            }
            let Some(expression) = &param.expression else { continue };
            let items = match expression.evaluate(&env, resource) {
                Ok(items) => items,
                Err(e) => {
                    tracing::debug!(param = %param.code, error = %e, "search expression failed; not indexed");
                    continue;
                }
            };
            if param.kind == ParamType::Composite {
                // A composite value is indexed only when every component has a value; components
                // carry no auxiliary (`:text`) rows.
                'items: for item in items {
                    group += 1;
                    let mut parts_rows = IndexRows::default();
                    for (k, component) in param.components.iter().enumerate() {
                        let Ok(parts) = component.expression.evaluate_items(&env, vec![item.clone()]) else {
                            continue 'items;
                        };
                        let name = format!("{}${k}", param.code);
                        let before = parts_rows.len();
                        for part in &parts {
                            self.add(&mut parts_rows, &name, component.kind, part, Some(group));
                        }
                        if parts_rows.len() == before {
                            continue 'items;
                        }
                    }
                    parts_rows.strings.retain(|r| !r.param.ends_with(":text"));
                    rows.append(parts_rows);
                }
            } else {
                for item in &items {
                    self.add(&mut rows, &param.code, param.kind, item, None);
                }
            }
        }
        if let Some(id) = resource.get("id").and_then(Value::as_str) {
            self.compartments(&mut rows, resource_type, id);
        }
        // A parameter whose rows are a typed part of another's (`SearchParam::part_of`) was
        // extracted for the compartments above; the other's rows hold all it has but references
        // by URL without a type.
        let parts = self.registry.typed_parts();
        rows.references.retain(|r| {
            parts.get(resource_type, &r.param).is_none_or(|part| r.target_type.as_deref() != Some(&part.target_type))
        });
        rows
    }

    /// Only the compartment rows of [`Self::extract`], evaluating only the parameters that
    /// define compartment membership: what the access policy needs to judge a version.
    pub fn compartments_only(&self, resource: &Value) -> Vec<CompartmentRow> {
        let mut rows = IndexRows::default();
        let (Some(resource_type), Some(id)) =
            (resource.get("resourceType").and_then(Value::as_str), resource.get("id").and_then(Value::as_str))
        else {
            return Vec::new();
        };
        let env = Environment::new().with_model(self.model);
        let mut wanted: Vec<&str> = COMPARTMENTS
            .iter()
            .flat_map(|c| self.registry.compartment_params(c, resource_type).iter().map(String::as_str))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for param in self.registry.params(resource_type) {
            if param.kind != ParamType::Reference || wanted.binary_search(&param.code.as_str()).is_err() {
                continue;
            }
            let Some(expression) = &param.expression else { continue };
            if let Ok(items) = expression.evaluate(&env, resource) {
                for item in &items {
                    self.add(&mut rows, &param.code, param.kind, item, None);
                }
            }
        }
        self.compartments(&mut rows, resource_type, id);
        rows.compartments
    }

    fn compartments(&self, rows: &mut IndexRows, resource_type: &str, id: &str) {
        for &compartment in COMPARTMENTS {
            if resource_type == compartment {
                push(
                    &mut rows.compartments,
                    CompartmentRow { comp_type: compartment.to_string(), comp_id: id.to_string() },
                );
            }
            let params = self.registry.compartment_params(compartment, resource_type);
            if params.is_empty() {
                continue;
            }
            let members: Vec<CompartmentRow> = rows
                .references
                .iter()
                .filter(|r| r.grp.is_none() && params.contains(&r.param))
                .filter(|r| r.target_type.as_deref() == Some(compartment))
                .filter_map(|r| r.target_id.clone())
                .map(|comp_id| CompartmentRow { comp_type: compartment.to_string(), comp_id })
                .collect();
            for m in members {
                push(&mut rows.compartments, m);
            }
        }
    }

    fn add(&self, rows: &mut IndexRows, param: &str, kind: ParamType, item: &Item, grp: Option<i32>) {
        match kind {
            ParamType::String => strings(rows, param, grp, item),
            ParamType::Token => tokens(rows, param, grp, item),
            ParamType::Date => dates(rows, param, grp, item),
            ParamType::Number => numbers(rows, param, grp, item),
            ParamType::Quantity => quantities(rows, param, grp, item),
            ParamType::Reference => self.references(rows, param, grp, item),
            ParamType::Uri => uris(rows, param, grp, item),
            ParamType::Special => special(rows, param, item),
            ParamType::Composite => {}
        }
    }

    fn references(&self, rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
        let Some((json, ty)) = node(item) else {
            if let Some(text) = scalar_text(item) {
                canonical_row(rows, param, grp, &text);
            }
            return;
        };
        match json {
            Value::String(s) => canonical_row(rows, param, grp, s),
            Value::Object(o) if ty == "Reference" || o.contains_key("reference") || o.contains_key("identifier") => {
                if let Some(reference) = o.get("reference").and_then(Value::as_str) {
                    match parse_reference(reference, self.base_url) {
                        Some(ReferenceTarget::Local { resource_type, id, version }) => push(
                            &mut rows.references,
                            ReferenceRow {
                                param: param.to_string(),
                                grp,
                                target_type: Some(resource_type),
                                target_id: Some(id),
                                version,
                                url: None,
                            },
                        ),
                        Some(ReferenceTarget::Url(url)) => push(
                            &mut rows.references,
                            ReferenceRow {
                                param: param.to_string(),
                                grp,
                                target_type: o.get("type").and_then(Value::as_str).map(str::to_string),
                                target_id: None,
                                version: None,
                                url: Some(url),
                            },
                        ),
                        Some(ReferenceTarget::Contained(_)) | None => {}
                    }
                }
                if let Some(identifier) = o.get("identifier") {
                    identifier_token(rows, &format!("{param}:identifier"), grp, identifier);
                    if !o.contains_key("reference") {
                        // A logical reference is a value too (`:missing=false`), though it points nowhere local.
                        push(
                            &mut rows.references,
                            ReferenceRow {
                                param: param.to_string(),
                                grp,
                                target_type: o.get("type").and_then(Value::as_str).map(str::to_string),
                                target_id: None,
                                version: None,
                                url: None,
                            },
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Pushes a row unless an equal one is already there.
fn push<T: PartialEq>(rows: &mut Vec<T>, row: T) {
    if !rows.contains(&row) {
        rows.push(row);
    }
}

/// The JSON of a node item and its FHIR type (inferred from the shape when the model did not say).
fn node<'a>(item: &'a Item<'a>) -> Option<(&'a Value, &'a str)> {
    let Item::Node(n) = item else { return None };
    let json = n.json?;
    let ty = n.ty.unwrap_or_else(|| infer_type(json));
    Some((json, ty))
}

fn infer_type(json: &Value) -> &'static str {
    match json {
        Value::Object(o) if o.contains_key("coding") => "CodeableConcept",
        Value::Object(o) if o.contains_key("reference") => "Reference",
        Value::Object(o) if o.contains_key("family") || o.contains_key("given") => "HumanName",
        Value::Object(o) if o.contains_key("start") || o.contains_key("end") => "Period",
        Value::Object(o) if o.contains_key("value") && (o.contains_key("unit") || o.contains_key("code")) => "Quantity",
        Value::Object(o) if o.contains_key("system") && o.contains_key("value") => "Identifier",
        Value::Object(o) if o.contains_key("code") => "Coding",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "decimal",
        _ => "string",
    }
}

fn str_field<'a>(json: &'a Value, key: &str) -> Option<&'a str> {
    json.get(key).and_then(Value::as_str)
}

fn str_list<'a>(json: &'a Value, key: &str) -> Vec<&'a str> {
    match json.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// A System value (or primitive node) as text.
fn scalar_text(item: &Item) -> Option<String> {
    match item {
        Item::Value(_) => Some(item_to_string(item)),
        Item::Node(n) => match n.json? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(x) => Some(x.to_string()),
            _ => None,
        },
    }
}

fn string_row(rows: &mut IndexRows, param: &str, grp: Option<i32>, text: &str) {
    push_string(rows, param.to_string(), grp, text, true);
}

/// A token's display text, for `:text` (`code:text` rows): searched by its normalised form
/// only (`:exact` does not apply to it), so its exact form is not stored, and texts that differ
/// only in case or accents are one row (a coding's display and its concept's text often are).
fn text_row(rows: &mut IndexRows, param: &str, grp: Option<i32>, text: &str) {
    push_string(rows, format!("{param}:text"), grp, text, false);
}

fn push_string(rows: &mut IndexRows, param: String, grp: Option<i32>, text: &str, with_exact: bool) {
    let norm = normalize(text);
    if norm.is_empty() {
        return;
    }
    let exact = if with_exact { truncate(text.trim().to_string()) } else { String::new() };
    push(&mut rows.strings, StringRow { param, grp, norm, exact });
}

fn strings(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    let Some((json, ty)) = node(item) else {
        if let Some(text) = scalar_text(item) {
            string_row(rows, param, grp, &text);
        }
        return;
    };
    let fields: &[&str] = match ty {
        "HumanName" => &["family", "given", "prefix", "suffix", "text"],
        "Address" => &["line", "city", "district", "state", "postalCode", "country", "text"],
        _ => &[],
    };
    match json {
        Value::String(s) => string_row(rows, param, grp, s),
        Value::Object(_) if !fields.is_empty() => {
            for field in fields {
                for text in str_list(json, field) {
                    string_row(rows, param, grp, text);
                }
            }
        }
        Value::Object(_) => {
            for field in ["text", "display", "value", "name", "title"] {
                if let Some(text) = str_field(json, field) {
                    string_row(rows, param, grp, text);
                }
            }
        }
        _ => {}
    }
}

fn token_row(rows: &mut IndexRows, param: &str, grp: Option<i32>, system: Option<&str>, code: &str) {
    if code.is_empty() {
        return;
    }
    push(
        &mut rows.tokens,
        TokenRow {
            param: param.to_string(),
            grp,
            system: system.map(|s| truncate(s.to_string())),
            code: truncate(code.to_string()),
        },
    );
}

fn coding(rows: &mut IndexRows, param: &str, grp: Option<i32>, json: &Value) {
    if let Some(code) = str_field(json, "code") {
        token_row(rows, param, grp, str_field(json, "system"), code);
    }
    if let Some(display) = str_field(json, "display") {
        text_row(rows, param, grp, display);
    }
}

fn identifier_token(rows: &mut IndexRows, param: &str, grp: Option<i32>, json: &Value) {
    let Some(value) = str_field(json, "value") else { return };
    token_row(rows, param, grp, str_field(json, "system"), value);
    if let Some(t) = json.get("type") {
        for c in t.get("coding").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(system), Some(code)) = (str_field(c, "system"), str_field(c, "code")) {
                token_row(rows, &format!("{param}:of-type"), grp, Some(&format!("{system}|{code}")), value);
            }
        }
        if let Some(text) = str_field(t, "text") {
            text_row(rows, param, grp, text);
        }
    }
}

fn tokens(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    let Some((json, ty)) = node(item) else {
        if let Some(text) = scalar_text(item) {
            token_row(rows, param, grp, None, &text);
        }
        return;
    };
    match (ty, json) {
        (_, Value::String(s)) => token_row(rows, param, grp, None, s),
        (_, Value::Bool(b)) => token_row(rows, param, grp, None, if *b { "true" } else { "false" }),
        (_, Value::Number(n)) => token_row(rows, param, grp, None, &n.to_string()),
        ("CodeableConcept", _) => {
            for c in json.get("coding").and_then(Value::as_array).into_iter().flatten() {
                coding(rows, param, grp, c);
            }
            if let Some(text) = str_field(json, "text") {
                text_row(rows, param, grp, text);
            }
        }
        ("Identifier", _) => identifier_token(rows, param, grp, json),
        ("ContactPoint", _) => {
            if let Some(value) = str_field(json, "value") {
                token_row(rows, param, grp, str_field(json, "system"), value);
            }
        }
        ("Coding", _) | (_, Value::Object(_)) => coding(rows, param, grp, json),
        _ => {}
    }
}

fn date_range(text: &str) -> Option<(i64, i64)> {
    let d = datetime::parse(text, DateKind::DateTime).ok()?;
    Some((d.start_micros(), d.end_micros()))
}

fn date_row(rows: &mut IndexRows, param: &str, grp: Option<i32>, lo: i64, hi: i64) {
    push(&mut rows.dates, DateRow { param: param.to_string(), grp, lo, hi });
}

fn dates(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    let Some((json, ty)) = node(item) else {
        if let Some((lo, hi)) = scalar_text(item).as_deref().and_then(date_range) {
            date_row(rows, param, grp, lo, hi);
        }
        return;
    };
    match (ty, json) {
        (_, Value::String(s)) => {
            if let Some((lo, hi)) = date_range(s) {
                date_row(rows, param, grp, lo, hi);
            }
        }
        ("Period", _) => period(rows, param, grp, json),
        ("Timing", _) => {
            let events: Vec<&str> = str_list(json, "event");
            for e in &events {
                if let Some((lo, hi)) = date_range(e) {
                    date_row(rows, param, grp, lo, hi);
                }
            }
            if events.is_empty()
                && let Some(bounds) = json.get("repeat").and_then(|r| r.get("boundsPeriod"))
            {
                period(rows, param, grp, bounds);
            }
        }
        _ => {}
    }
}

fn period(rows: &mut IndexRows, param: &str, grp: Option<i32>, json: &Value) {
    let lo = str_field(json, "start").and_then(date_range).map_or(i64::MIN, |r| r.0);
    let hi = str_field(json, "end").and_then(date_range).map_or(i64::MAX, |r| r.1);
    if lo != i64::MIN || hi != i64::MAX {
        date_row(rows, param, grp, lo, hi);
    }
}

fn as_f64(json: Option<&Value>) -> Option<f64> {
    match json? {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn numbers(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    let value = match node(item) {
        Some((json @ Value::Number(_), _)) => as_f64(Some(json)),
        Some((json, "Range")) => {
            let lo = as_f64(json.get("low").and_then(|l| l.get("value"))).unwrap_or(f64::NEG_INFINITY);
            let hi = as_f64(json.get("high").and_then(|h| h.get("value"))).unwrap_or(f64::INFINITY);
            push(&mut rows.numbers, NumberRow { param: param.to_string(), grp, lo, hi });
            return;
        }
        Some(_) => None,
        None => scalar_text(item).and_then(|t| t.parse().ok()),
    };
    if let Some(v) = value.filter(|v: &f64| v.is_finite()) {
        push(&mut rows.numbers, NumberRow { param: param.to_string(), grp, lo: v, hi: v });
    }
}

fn quantity_row(
    rows: &mut IndexRows,
    param: &str,
    grp: Option<i32>,
    system: Option<&str>,
    code: Option<&str>,
    lo: f64,
    hi: f64,
) {
    let canon = match (system, code) {
        (Some(UCUM), Some(unit)) => {
            ikp_fhirpath::ucum_canonical(unit).map(|(factor, key)| (key, lo * factor, hi * factor))
        }
        _ => None,
    };
    push(
        &mut rows.quantities,
        QuantityRow {
            param: param.to_string(),
            grp,
            system: system.map(str::to_string),
            code: code.map(str::to_string),
            lo,
            hi,
            canon,
        },
    );
}

fn quantities(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    let Some((json, ty)) = node(item) else {
        if let Item::Value(ikp_fhirpath::Value::Quantity(q)) = item
            && let Ok(v) = q.value.to_string().parse::<f64>()
        {
            quantity_row(rows, param, grp, Some(UCUM), Some(&q.unit), v, v);
        }
        return;
    };
    match ty {
        "Range" => {
            let low = json.get("low");
            let high = json.get("high");
            let system = low.or(high).and_then(|q| str_field(q, "system"));
            let code = unit_of(low).or_else(|| unit_of(high));
            let lo = as_f64(low.and_then(|l| l.get("value"))).unwrap_or(f64::NEG_INFINITY);
            let hi = as_f64(high.and_then(|h| h.get("value"))).unwrap_or(f64::INFINITY);
            quantity_row(rows, param, grp, system, code, lo, hi);
        }
        "Money" => {
            if let Some(v) = as_f64(json.get("value")) {
                quantity_row(rows, param, grp, Some("urn:iso:std:iso:4217"), str_field(json, "currency"), v, v);
            }
        }
        _ => {
            if let Some(v) = as_f64(json.get("value")) {
                let code = str_field(json, "code").or_else(|| str_field(json, "unit"));
                quantity_row(rows, param, grp, str_field(json, "system"), code, v, v);
            }
        }
    }
}

fn unit_of(quantity: Option<&Value>) -> Option<&str> {
    quantity.and_then(|q| str_field(q, "code").or_else(|| str_field(q, "unit")))
}

fn canonical_row(rows: &mut IndexRows, param: &str, grp: Option<i32>, text: &str) {
    let (url, version) = match text.split_once('|') {
        Some((u, v)) => (u, Some(v.to_string())),
        None => (text, None),
    };
    push(
        &mut rows.references,
        ReferenceRow {
            param: param.to_string(),
            grp,
            target_type: None,
            target_id: None,
            version,
            url: Some(url.to_string()),
        },
    );
}

fn uris(rows: &mut IndexRows, param: &str, grp: Option<i32>, item: &Item) {
    if let Some(text) = scalar_text(item).filter(|t| !t.is_empty()) {
        push(&mut rows.uris, UriRow { param: param.to_string(), grp, value: truncate(text) });
    }
}

/// `near` (Location.position): latitude and longitude as numbers.
fn special(rows: &mut IndexRows, param: &str, item: &Item) {
    let Some((json, _)) = node(item) else { return };
    if let (Some(lat), Some(long)) = (as_f64(json.get("latitude")), as_f64(json.get("longitude"))) {
        push(&mut rows.numbers, NumberRow { param: format!("{param}:latitude"), grp: None, lo: lat, hi: lat });
        push(&mut rows.numbers, NumberRow { param: format!("{param}:longitude"), grp: None, lo: long, hi: long });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn references() {
        let base = "http://h/fhir";
        assert_eq!(
            parse_reference("Patient/1", base),
            Some(ReferenceTarget::Local { resource_type: "Patient".into(), id: "1".into(), version: None })
        );
        assert_eq!(
            parse_reference("http://h/fhir/Patient/1/_history/2", base),
            Some(ReferenceTarget::Local { resource_type: "Patient".into(), id: "1".into(), version: Some("2".into()) })
        );
        assert_eq!(
            parse_reference("http://x/fhir/Patient/1", base),
            Some(ReferenceTarget::Url("http://x/fhir/Patient/1".into()))
        );
        assert_eq!(parse_reference("#c1", base), Some(ReferenceTarget::Contained("c1".into())));
        assert!(matches!(parse_reference("urn:uuid:abc", base), Some(ReferenceTarget::Url(_))));
    }

    /// A parameter stored in other parameters' rows (`SearchParam::stored_in`) loses nothing:
    /// on every official example, the rows it would have had are exactly its members' rows
    /// under its name.
    #[test]
    fn shared_rows_are_exactly_the_union_of_the_members_rows() {
        let model = ikp_model::model::r4().expect("model");
        let shared = Registry::build(model, &[]).expect("registry");
        let full = Registry::build(model, &[]).expect("registry").without_shared_rows();
        let extractor = Extractor { registry: &full, model, base_url: "http://h/fhir" };
        let observation_combo = shared.get("Observation", "combo-code").expect("combo-code");
        assert_eq!(observation_combo.stored_in, ["code", "component-code"]);
        assert!(shared.get("Observation", "code").expect("code").stored_in.is_empty());
        let combo_quantity = shared.get("Observation", "combo-value-quantity").expect("combo-value-quantity");
        assert_eq!(combo_quantity.stored_in, ["component-value-quantity", "value-quantity"]);
        let mut compared = 0;
        for (resource_type, resource) in official_examples() {
            let resource_type = resource_type.as_str();
            let rows = extractor.extract(&resource);
            for param in shared.params(resource_type).into_iter().filter(|p| !p.stored_in.is_empty()) {
                let own = rows_renamed(&rows, &param.code, &param.code);
                let members: BTreeSet<String> =
                    param.stored_in.iter().flat_map(|m| rows_renamed(&rows, m, &param.code)).collect();
                assert_eq!(own, members, "{resource_type}/{} {}", resource["id"], param.code);
                compared += usize::from(!own.is_empty());
            }
        }
        assert!(compared > 20, "only {compared} examples had values of shared parameters");
    }

    /// The official R4 examples with their resource types.
    fn official_examples() -> Vec<(String, Value)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/r4-examples");
        let mut examples = Vec::new();
        for entry in std::fs::read_dir(dir).expect("examples") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            let resource: Value = serde_json::from_str(&text).expect("json");
            if let Some(resource_type) = resource["resourceType"].as_str() {
                examples.push((resource_type.to_string(), resource));
            }
        }
        examples
    }

    /// A reference parameter stored in a typed part of another's rows (`SearchParam::part_of`)
    /// loses nothing: on every official example, the rows it would have had that point at its
    /// type are exactly the other's rows that do, and the rows it keeps are the rest of them.
    #[test]
    fn typed_parts_are_exactly_the_other_parameters_rows_of_their_type() {
        let model = ikp_model::model::r4().expect("model");
        let shared = Registry::build(model, &[]).expect("registry");
        let full = Registry::build(model, &[]).expect("registry").without_shared_rows();
        let part = |t: &str, c: &str| shared.get(t, c).and_then(|p| p.part_of.clone()).map(|p| (p.code, p.target_type));
        assert_eq!(part("Observation", "patient"), Some(("subject".into(), "Patient".into())));
        assert_eq!(part("Appointment", "practitioner"), Some(("actor".into(), "Practitioner".into())));
        assert_eq!(part("Task", "patient"), Some(("subject".into(), "Patient".into())), "Task.for");
        assert_eq!(part("Observation", "subject"), None);
        assert_eq!(part("AuditEvent", "patient"), None, "a union of two branches");
        let from_full = Extractor { registry: &full, model, base_url: "http://h/fhir" };
        let from_shared = Extractor { registry: &shared, model, base_url: "http://h/fhir" };
        let (mut compared, mut kept) = (0, 0);
        for (resource_type, resource) in official_examples() {
            let (all, stored) = (from_full.extract(&resource), from_shared.extract(&resource));
            let references = |rows: &IndexRows, code: &str, of_type: Option<&str>, typed: bool| -> BTreeSet<String> {
                rows.references
                    .iter()
                    .filter(|r| r.param == code && (r.target_type.as_deref() == of_type) == typed)
                    .map(|r| format!("{:?}", (&r.target_type, &r.target_id, &r.version, &r.url)))
                    .collect()
            };
            for (code, part) in
                shared.typed_parts().all().into_iter().filter(|(t, ..)| *t == resource_type).map(|(_, c, p)| (c, p))
            {
                let of_type = Some(part.target_type.as_str());
                let own = references(&all, code, of_type, true);
                assert_eq!(
                    own,
                    references(&all, &part.code, of_type, true),
                    "{resource_type}/{} {code}",
                    resource["id"]
                );
                assert!(references(&stored, code, of_type, true).is_empty());
                let rest = references(&all, code, of_type, false);
                assert_eq!(references(&stored, code, of_type, false), rest);
                compared += usize::from(!own.is_empty());
                kept += rest.len();
            }
            assert_eq!(all.compartments, stored.compartments);
        }
        assert!(compared > 50, "only {compared} examples had values of typed parts");
        assert!(kept > 0, "no example kept a row of its own (a reference by URL)");
    }

    /// Migration 0019 drops, on both backends, the rows written before of exactly the typed parts
    /// the registry finds (a statement per target type, keys in order).
    #[test]
    fn the_migration_drops_the_rows_of_every_typed_part() {
        let model = ikp_model::model::r4().expect("model");
        let registry = Registry::build(model, &[]).expect("registry");
        let mut by_type: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for (resource_type, code, part) in registry.typed_parts().all() {
            by_type.entry(part.target_type.clone()).or_default().push(crate::index::param_key(resource_type, code));
        }
        let expected: Vec<String> = by_type
            .into_iter()
            .map(|(target_type, mut keys)| {
                keys.sort_unstable();
                let keys: Vec<String> = keys.iter().map(i64::to_string).collect();
                format!(
                    "DELETE FROM search_reference WHERE target_type = '{target_type}' AND param_key IN ({});",
                    keys.join(", ")
                )
            })
            .collect();
        for backend in ["sqlite", "postgres"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../migrations/{backend}/0019_typed_reference_parts.sql"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let statements: Vec<&str> = text.lines().filter(|l| l.starts_with("DELETE")).collect();
            assert_eq!(statements, expected, "{backend}: the migration should read\n{}", expected.join("\n"));
        }
    }

    /// The rows of parameter `from` (with its `:text` and `$k` rows) renamed to `to`, without
    /// their composite groups, as comparable text.
    fn rows_renamed(rows: &IndexRows, from: &str, to: &str) -> BTreeSet<String> {
        let rename = |param: &str| {
            let rest = param.strip_prefix(from)?;
            (rest.is_empty() || rest.starts_with(':') || rest.starts_with('$')).then(|| format!("{to}{rest}"))
        };
        let mut out = BTreeSet::new();
        macro_rules! renamed {
            ($($field:ident),*) => { $(
                for row in &rows.$field {
                    if let Some(param) = rename(&row.param) {
                        let mut row = row.clone();
                        row.param = param;
                        row.grp = None;
                        out.insert(format!("{row:?}"));
                    }
                }
            )* };
        }
        renamed!(strings, tokens, dates, numbers, quantities, uris);
        out
    }

    /// Every row written carries a name its parameter declares (`SearchParam::row_names`), so
    /// the registry's check that no two names share a key (`param_key`) covers every row.
    #[test]
    fn every_row_name_is_declared() {
        let model = ikp_model::model::r4().expect("model");
        let registry = Registry::build(model, &[]).expect("registry");
        let extractor = Extractor { registry: &registry, model, base_url: "http://h/fhir" };
        let mut names_seen = BTreeSet::new();
        for (resource_type, resource) in official_examples() {
            let declared: BTreeSet<String> =
                registry.params(&resource_type).iter().flat_map(|p| p.row_names()).collect();
            let rows = extractor.extract(&resource);
            let names = rows
                .strings
                .iter()
                .map(|r| &r.param)
                .chain(rows.tokens.iter().map(|r| &r.param))
                .chain(rows.dates.iter().map(|r| &r.param))
                .chain(rows.numbers.iter().map(|r| &r.param))
                .chain(rows.quantities.iter().map(|r| &r.param))
                .chain(rows.references.iter().map(|r| &r.param))
                .chain(rows.uris.iter().map(|r| &r.param));
            for name in names {
                assert!(declared.contains(name), "{resource_type}/{}: row name {name} is not declared", resource["id"]);
                names_seen.insert(name.clone());
            }
        }
        for suffix in [":text", ":of-type", ":identifier", "$0"] {
            assert!(names_seen.iter().any(|n| n.contains(suffix)), "no example had a {suffix} row");
        }
    }

    /// The access policy judges past versions by `compartments_only` and current ones by the
    /// stored index rows: both must name the same compartments for every official example.
    #[test]
    fn compartments_only_agree_with_full_extraction() {
        let model = ikp_model::model::r4().expect("model");
        let registry = Registry::build(model, &[]).expect("registry");
        let extractor = Extractor { registry: &registry, model, base_url: "http://h/fhir" };
        let mut checked = 0;
        for (_, resource) in official_examples() {
            let mut full = extractor.extract(&resource).compartments;
            let mut only = extractor.compartments_only(&resource);
            let key = |c: &CompartmentRow| (c.comp_type.clone(), c.comp_id.clone());
            full.sort_by_key(key);
            only.sort_by_key(key);
            assert_eq!(full, only, "{}/{}", resource["resourceType"], resource["id"]);
            checked += 1;
        }
        assert!(checked > 700, "only {checked} examples");
    }
}
