//! The data a submitted document carries. A document Bundle holds, besides its Composition, the
//! resources its sections reference: a lab result document its DiagnosticReport and
//! Observations, an IPOM its CarePlan and Goals. `Bundle/$submit-document` stores those of the
//! patient's clinical types ([`CARRIED_TYPES`]) as resources of their own, searchable like any
//! other, in the same transaction as the document and through the same policy and validation.
//!
//! - **Ids.** A carried resource is stored as `[type]/[document id]-[n]`, `n` its entry's
//!   position: resubmitting the document (same Composition id) replaces its data version by
//!   version, and a client can neither choose nor probe ids in anyone's record.
//! - **References.** Every reference to an entry's `fullUrl` (`urn:uuid:...` or absolute), in
//!   the Composition, the carried resources and the kept original, is rewritten to the entry's
//!   `Type/id` on this server, as a transaction does; entries that are not carried
//!   (practitioners, organizations, the patient) keep the id they have.
//! - **Provenance.** The document's index entry lists everything it brought in
//!   `DocumentReference.context.related`, so `DocumentReference?related=Observation/[id]`
//!   answers "which document did this result come from".
//! - **Same patient.** A carried resource must be about the document's patient (its `subject`
//!   or `patient`): a document cannot write into another record.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::{FhirError, FhirResult};

/// The clinical resources a document brings into the patient's record. Prescriptions,
/// referrals and visits have workflows of their own and are referenced, not carried.
pub const CARRIED_TYPES: &[&str] = &[
    "AllergyIntolerance",
    "CarePlan",
    "Condition",
    "DiagnosticReport",
    "FamilyMemberHistory",
    "Goal",
    "ImagingStudy",
    "Immunization",
    "MedicationStatement",
    "Observation",
    "Procedure",
    "Specimen",
];

/// Most entries a document may carry: a document is one episode's record, not a bulk import.
pub const MAX_CARRIED: usize = 500;

/// One carried resource, with the id it is stored under.
#[derive(Debug)]
pub struct Carried {
    pub resource_type: String,
    pub id: String,
    pub resource: Value,
}

impl Carried {
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

/// `Type/id` of a resource.
pub fn reference_to(resource: &Value) -> String {
    format!("{}/{}", resource["resourceType"].as_str().unwrap_or_default(), resource["id"].as_str().unwrap_or_default())
}

/// The longest id FHIR allows.
const MAX_ID: usize = 64;

/// The carried resources of `bundle` (a document whose Composition, its first entry, is stored
/// as `document_id`), with every reference in them, in the Composition and in the Bundle itself
/// rewritten to the server's ids. The Composition's subject must then be `Patient/[id]`, and
/// every carried resource about that patient.
pub fn carry(bundle: &mut Value, document_id: &str, base_url: &str) -> FhirResult<Vec<Carried>> {
    let mut entries = bundle.get_mut("entry").and_then(Value::as_array_mut).map(std::mem::take).unwrap_or_default();
    let mut targets: HashMap<String, String> = HashMap::new();
    let mut carried_at: Vec<usize> = Vec::new();
    for (position, entry) in entries.iter_mut().enumerate().skip(1) {
        let Some(resource_type) = entry.pointer("/resource/resourceType").and_then(Value::as_str).map(str::to_string)
        else {
            return Err(FhirError::bad_request(format!("entry {position} of the document has no resource")));
        };
        let id = if CARRIED_TYPES.contains(&resource_type.as_str()) {
            carried_at.push(position);
            let id = format!("{document_id}-{position}");
            if id.len() > MAX_ID {
                return Err(FhirError::bad_request(format!(
                    "the document's id is too long for the ids of the data it carries ({id} has more than {MAX_ID} characters)"
                )));
            }
            entry["resource"]["id"] = json!(id);
            Some(id)
        } else {
            entry.pointer("/resource/id").and_then(Value::as_str).map(str::to_string)
        };
        let Some(id) = id else { continue };
        let local = format!("{resource_type}/{id}");
        if let Some(full_url) = entry.get("fullUrl").and_then(Value::as_str) {
            targets.insert(full_url.to_string(), local.clone());
        }
        entry["fullUrl"] = json!(format!("{base_url}/{local}"));
    }
    if carried_at.len() > MAX_CARRIED {
        return Err(FhirError::bad_request(format!(
            "a document may carry at most {MAX_CARRIED} resources, this one has {}",
            carried_at.len()
        )));
    }
    for entry in &mut entries {
        if let Some(resource) = entry.get_mut("resource") {
            rewrite_references(resource, &targets);
        }
    }
    let patient = entries
        .first()
        .and_then(|e| e.pointer("/resource/subject/reference"))
        .and_then(Value::as_str)
        .filter(|r| r.strip_prefix("Patient/").is_some_and(|id| !id.is_empty() && !id.contains('/')))
        .ok_or_else(|| FhirError::bad_request("the Composition's subject must be Patient/[id]"))?
        .to_string();
    let mut carried = Vec::with_capacity(carried_at.len());
    for position in carried_at {
        let resource = entries[position]["resource"].clone();
        let resource_type = resource["resourceType"].as_str().unwrap_or_default().to_string();
        if !is_about(&resource, &patient) {
            return Err(FhirError::bad_request(format!(
                "entry {position} of the document ({resource_type}) is not about the document's patient {patient}"
            )));
        }
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        carried.push(Carried { resource_type, id, resource });
    }
    bundle["entry"] = Value::Array(entries);
    Ok(carried)
}

/// Whether a resource's patient (`subject` or `patient`) is `patient`.
fn is_about(resource: &Value, patient: &str) -> bool {
    ["subject", "patient"]
        .iter()
        .filter_map(|field| resource.get(*field))
        .any(|reference| reference.get("reference").and_then(Value::as_str) == Some(patient))
}

/// Replaces every `reference` that names a `fullUrl` of the document by the entry's `Type/id`.
fn rewrite_references(value: &mut Value, targets: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("reference")
                && let Some(local) = targets.get(reference.as_str())
            {
                *reference = local.clone();
            }
            object.values_mut().for_each(|v| rewrite_references(v, targets));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_references(v, targets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({"resourceType": "Bundle", "type": "document", "entry": [
            {"fullUrl": "urn:uuid:c", "resource": {"resourceType": "Composition", "id": "doc",
                "subject": {"reference": "Patient/p1"},
                "section": [{"entry": [{"reference": "urn:uuid:r"}]}]}},
            {"fullUrl": "urn:uuid:r", "resource": {"resourceType": "DiagnosticReport",
                "subject": {"reference": "Patient/p1"}, "result": [{"reference": "urn:uuid:o"}],
                "performer": [{"reference": "urn:uuid:lab"}]}},
            {"fullUrl": "urn:uuid:o", "resource": {"resourceType": "Observation", "id": "client-chosen",
                "subject": {"reference": "Patient/p1"}}},
            {"fullUrl": "urn:uuid:lab", "resource": {"resourceType": "Organization", "id": "lab-1"}},
        ]})
    }

    #[test]
    fn carried_resources_get_document_ids_and_references_follow() {
        let mut bundle = document();
        let carried = carry(&mut bundle, "doc", "http://x/fhir").expect("carried");
        let refs: Vec<String> = carried.iter().map(Carried::reference).collect();
        assert_eq!(refs, ["DiagnosticReport/doc-1", "Observation/doc-2"]);
        assert_eq!(carried[0].resource["result"][0]["reference"], "Observation/doc-2");
        assert_eq!(carried[0].resource["performer"][0]["reference"], "Organization/lab-1");
        assert_eq!(bundle["entry"][0]["resource"]["section"][0]["entry"][0]["reference"], "DiagnosticReport/doc-1");
        assert_eq!(bundle["entry"][2]["fullUrl"], "http://x/fhir/Observation/doc-2");
        assert_eq!(bundle["entry"][2]["resource"]["id"], "doc-2");
    }

    #[test]
    fn a_document_id_too_long_for_its_data_ids_is_refused() {
        let mut bundle = document();
        let long = "d".repeat(63);
        let error = carry(&mut bundle, &long, "http://x/fhir").expect_err("refused");
        assert!(error.to_string().contains("too long"), "{error}");
        assert!(carry(&mut document(), &"d".repeat(60), "http://x/fhir").is_ok());
    }

    #[test]
    fn a_resource_about_another_patient_is_refused() {
        let mut bundle = document();
        bundle["entry"][2]["resource"]["subject"]["reference"] = json!("Patient/p2");
        let error = carry(&mut bundle, "doc", "http://x/fhir").expect_err("refused");
        assert!(error.to_string().contains("not about the document's patient"), "{error}");
    }
}
