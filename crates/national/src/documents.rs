//! Medical documents (EDM) the patient account shows, visit history, and the International
//! Patient Summary.
//!
//! The nine IKP documents and how they are indexed ([`CLASSES`]: P1 class
//! `urn:oid:2.16.840.1.113883.3.4424.11.1.32` + LOINC): discharge summary (00.20), information
//! for the referring doctor (08.90), refusal of admission (00.65), lab result with description
//! (06.10), diagnostic test description (06.00), individual care plan (IPOM; no P1 class: local
//! code `IPOM`), e-prescription (04.01), e-referral (02.10/02.11), e-order (02.81).
//!
//! Operations:
//! - `POST Bundle/$submit-document` (body: a `document` Bundle whose first entry is the
//!   Composition; a practitioner or a backend service): stores the Composition (as
//!   `Composition/[id]`, policy-checked and audited as the caller's write, so the author must
//!   be allowed to act on the patient's record or be the Composition's author) together with
//!   its index entry `DocumentReference/[id]` (same id; `type` = LOINC + P1 class, `category` =
//!   P1 class, `date`, `author`, `subject`, `custodian`, `masterIdentifier` = the Bundle's
//!   identifier, content: the stored Bundle and `Composition/[id]/$document`), the clinical
//!   resources the document carries (DiagnosticReports, Observations, CarePlans...: see
//!   [`document_data`], listed in the index entry's `context.related`), then the Bundle itself
//!   as `Bundle/[id]` (the original, with the server's ids and references). Resubmitting a
//!   document with the same Composition id replaces it and its data (new versions; data the new
//!   version no longer carries is deleted). Returns the DocumentReference.
//! - `GET Composition/[id]/$document` (R4 standard; `persist` must be false): the document as a
//!   Bundle: the stored original when it was submitted, else assembled from the Composition and
//!   the resources it references (those the caller may read).
//! - `GET Patient/[id]/$summary`: an IPS document Bundle (Composition LOINC 60591-5, sections:
//!   problems, medications, allergies, immunizations, results (the DiagnosticReports and the
//!   newest Observation of each code), procedures, plan of care, encounters) built from what the
//!   caller may read of the patient's record; 404 for a patient they may not read.
//!
//! Stored `Bundle`s are in no compartment, so confined callers (patients, parents, doctors)
//! cannot read `Bundle/[id]` directly: they list `DocumentReference?patient=..&type=..&date=..`
//! (in the Patient compartment; `type` takes the P1 class `urn:oid:2.16.840.1.113883.3.4424.11.1.32|00.20`
//! or the LOINC code; `category` the P1 class) and get the document with
//! `Composition/[id]/$document`, which applies the policy to the Composition.
//!
//! Visits are `Encounter`s (PLEncounter) with `diagnosis` and `serviceProvider`/`location`,
//! searched with the standard `Encounter?patient=..&date=..&service-provider=..&location=..
//! &type=..&class=..`; procedures done during a visit are `Procedure?encounter=..`.

use serde_json::{Value, json};

use super::referral::{find, issuer, subject_id};
use super::results::{self, DemoDocument};
use super::{current, document_data};
use crate::access::Reason;
use crate::context::Fhir;
use crate::error::{FhirError, FhirResult};
use crate::interaction::Response;
use crate::interaction::observation_operations::lastn;
use crate::interaction::operation::{Call, Input};
use crate::session::{Session, Write, WriteSet};

/// The server keeps the original of every submitted document as a Bundle (in no patient's
/// compartment, so outside the general policy): written on the submitter's behalf, and shown to
/// whoever may read the document's Composition.
pub const ORIGINAL_DOCUMENT: Reason = Reason {
    code: "document-original",
    display: "the original of a submitted document, kept by the server and shown with its Composition",
};

/// The data a document carries goes into the record of the document's patient: whoever may
/// write the document (its author) writes its data there, on the document's authority.
pub const DOCUMENT_DATA: Reason = Reason {
    code: "document-data",
    display: "data carried by a document, stored in its patient's record with the document",
};

/// P1 document classes.
pub const P1_CLASS: &str = "urn:oid:2.16.840.1.113883.3.4424.11.1.32";
pub const LOINC: &str = "http://loinc.org";
/// Local document types (the IPOM care plan has no P1 class).
pub const LOCAL_TYPE: &str = "https://ikp.example.org/fhir/CodeSystem/pl-document-type-local";
const PL: &str = "https://ikp.example.org/fhir/StructureDefinition/";

/// The nine IKP documents: (P1 class or local code, LOINC, display).
pub const CLASSES: &[(&str, &str, &str)] = &[
    ("00.20", "18842-5", "Karta informacyjna leczenia szpitalnego"),
    ("08.90", "34133-9", "Informacja dla lekarza kierującego/POZ"),
    ("00.65", "34105-7", "Informacja o odmowie przyjęcia"),
    ("06.10", "11502-2", "Wynik badania laboratoryjnego"),
    ("06.00", "18748-4", "Opis badania diagnostycznego"),
    ("IPOM", "18776-5", "Indywidualny plan opieki medycznej"),
    ("04.01", "57833-6", "Recepta"),
    ("02.10", "57133-1", "Skierowanie"),
    ("02.81", "57832-8", "Zlecenie na wyroby medyczne"),
];

/// `Bundle/$submit-document`.
pub async fn submit_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    submit(session, &call.input).await
}

/// `Composition/[id]/$document`.
pub async fn document_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    document(session, call.id(), &call.input).await
}

/// `Patient/[id]/$summary`.
pub async fn summary_operation(session: &Session, call: &Call) -> FhirResult<Response> {
    summary(session, call.id()).await
}

/// The P1 class (or local code) of a Composition.
fn class_of(composition: &Value) -> Option<(&str, &str)> {
    composition["category"].as_array()?.iter().flat_map(|c| c["coding"].as_array().into_iter().flatten()).find_map(
        |c| match (c["system"].as_str(), c["code"].as_str()) {
            (Some(s @ (P1_CLASS | LOCAL_TYPE)), Some(code)) => Some((s, code)),
            _ => None,
        },
    )
}

/// The index entry of a document.
fn index_entry(fhir: &Fhir, bundle: &Value, composition: &Value, id: &str) -> FhirResult<Value> {
    let (system, class) =
        class_of(composition).ok_or_else(|| FhirError::bad_request("the Composition needs a category (P1 class)"))?;
    let display = CLASSES.iter().find(|(c, _, _)| *c == class).map(|(_, _, d)| *d).unwrap_or(class);
    let mut type_codings: Vec<Value> = composition
        .pointer("/type/coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c["system"] == LOINC)
        .take(1)
        .cloned()
        .collect();
    type_codings.push(json!({"system": system, "code": class, "display": display}));
    let date = composition["date"].as_str().ok_or_else(|| FhirError::bad_request("the Composition needs a date"))?;
    let identifier = bundle.get("identifier").cloned().unwrap_or_else(
        || json!({"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", crate::session::prepare::new_id())}),
    );
    let mut reference = json!({
        "resourceType": "DocumentReference",
        "id": id,
        "masterIdentifier": identifier,
        "identifier": [composition.get("identifier").cloned().unwrap_or_else(|| identifier.clone())],
        "status": "current",
        "type": {"coding": type_codings},
        "category": [{"coding": [{"system": system, "code": class, "display": display}]}],
        "subject": composition["subject"],
        "date": date,
        "author": composition.get("author").cloned().unwrap_or_else(|| json!([])),
        "description": composition["title"].as_str().unwrap_or(display),
        "content": [
            {"attachment": {"contentType": "application/fhir+json", "url": fhir.resource_url("Bundle", id),
                            "title": composition["title"].as_str().unwrap_or(display)},
             "format": {"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient"}},
            {"attachment": {"contentType": "application/fhir+json",
                            "url": format!("{}/Composition/{id}/$document", fhir.base_url)}},
        ],
    });
    if let Some(custodian) = composition.get("custodian") {
        reference["custodian"] = custodian.clone();
    }
    if let Some(encounter) = composition.get("encounter") {
        reference["context"] = json!({"encounter": [encounter]});
    }
    if system == P1_CLASS && composition.get("custodian").is_some() {
        reference["meta"] = json!({"profile": [format!("{PL}PLDocumentReference")]});
    }
    Ok(reference)
}

async fn submit(session: &Session, input: &Input) -> FhirResult<Response> {
    issuer(session)?;
    let mut bundle = input.resource("Bundle")?.clone();
    if bundle["type"] != "document" {
        return Err(FhirError::bad_request("the Bundle must be a document"));
    }
    let composition = bundle
        .pointer("/entry/0/resource")
        .filter(|r| r["resourceType"] == "Composition")
        .ok_or_else(|| FhirError::bad_request("the first entry of a document must be its Composition"))?;
    if subject_id(composition).is_none() && composition.pointer("/subject/reference").is_none() {
        return Err(FhirError::bad_request("the Composition's subject must be Patient/[id]"));
    }
    let requested = composition["id"]
        .as_str()
        .filter(|i| {
            !i.is_empty() && i.len() <= 64 && i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .map(str::to_string);
    // A confined caller's document keeps its id only when it replaces one the caller can see;
    // otherwise the server assigns one, as a create does, so an id in someone else's record can
    // be neither taken over nor probed (hidden and unused ids are treated alike).
    let id = match requested {
        Some(id) if !session.is_confined() || session.current("Composition", &id).await?.is_some() => id,
        _ => crate::session::prepare::new_id(),
    };
    // `Bundle/[id]` may only hold this document's earlier version, never anything else.
    let lookup = session.lookup();
    if let Some(existing) = lookup.read("Bundle", &id).await? {
        let ours = existing.content().pointer("/entry/0/resource/id").and_then(Value::as_str) == Some(id.as_str());
        if !ours || !lookup.exists("Composition", &id).await? {
            return Err(FhirError::Conflict(format!("Bundle/{id} exists and is not this document's")));
        }
    }
    // What an earlier version of the document carried, to retire what this one no longer does.
    let earlier: Vec<String> = match lookup.read("DocumentReference", &id).await? {
        Some(reference) => related(reference.content()),
        None => Vec::new(),
    };
    if let Some(Value::Object(first)) = bundle.pointer_mut("/entry/0/resource") {
        first.insert("id".into(), json!(id));
    }
    let carried = document_data::carry(&mut bundle, &id, &session.base_url)?;
    let composition = bundle["entry"][0]["resource"].clone();
    let mut reference = index_entry(session, &bundle, &composition, &id)?;
    let carried_references: Vec<String> = carried.iter().map(document_data::Carried::reference).collect();
    if !carried.is_empty() {
        let related: Vec<Value> = carried_references.iter().map(|r| json!({"reference": r})).collect();
        reference["context"]["related"] = Value::Array(related);
    }
    bundle["id"] = json!(id);
    // The document keeps its id: the Composition, its index entry and the data it carries are
    // the caller's writes (judged, validated and audited); the original is kept by the server,
    // all in one transaction.
    let mut writes = vec![
        Write::put_assigned("Composition", &id, composition),
        Write::put_assigned("DocumentReference", &id, reference),
    ];
    for data in carried {
        let reference = data.reference();
        let write = Write::put_assigned(&data.resource_type, &data.id, data.resource);
        // Data an earlier version of this document carried (its own index entry lists it) is
        // replaced on the document's authority; anything else at that id is judged as usual,
        // so a resource the caller may not see is never overwritten.
        writes.push(if earlier.contains(&reference) {
            write.vouched_by(DOCUMENT_DATA)
        } else {
            write.placed_by(DOCUMENT_DATA)
        });
    }
    for stale in earlier.iter().filter(|r| !carried_references.contains(r)) {
        if let Some((resource_type, stale_id)) = stale.split_once('/')
            && stale_id.starts_with(&format!("{id}-"))
        {
            // Listed by this document's own index entry under its ids: its data, retired on
            // the document's authority like it was written.
            writes.push(Write::delete(resource_type, stale_id, None).vouched_by(DOCUMENT_DATA));
        }
    }
    writes.push(Write::put_assigned("Bundle", &id, bundle).vouched_by(ORIGINAL_DOCUMENT));
    let written = session.commit(WriteSet::transaction(writes)).await?;
    let stored = written.get(1).and_then(|w| w.content()).ok_or_else(|| FhirError::Internal("not stored".into()))?;
    Ok(Response::resource(201, stored))
}

/// The resources a document's index entry says it carried (`context.related`).
fn related(reference: &Value) -> Vec<String> {
    reference
        .pointer("/context/related")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str().map(str::to_string))
        .collect()
}

/// References in a resource (`Type/id` only).
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) => {
            if let Some(r) = o.get("reference").and_then(Value::as_str) {
                let parts: Vec<&str> = r.split('/').collect();
                if parts.len() == 2 && !out.iter().any(|x| x == r) {
                    out.push(r.to_string());
                }
            }
            o.values().for_each(|v| references(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn document_bundle(fhir: &Fhir, id: &str, resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let url = fhir.resource_url(r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or(""));
            json!({"fullUrl": url, "resource": r})
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "meta": {"profile": [format!("{PL}PLDocumentBundle")]},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", crate::session::prepare::new_id())},
        "type": "document",
        "timestamp": crate::clock::instant(crate::clock::now()),
        "id": id,
        "entry": entries,
    })
}

async fn document(session: &Session, id: &str, input: &Input) -> FhirResult<Response> {
    if input.params.text("persist").is_some_and(|p| p == "true") || input.params.value("persist") == Some(&json!(true))
    {
        return Err(FhirError::NotImplemented(
            "persist=true: documents are stored with Bundle/$submit-document".into(),
        ));
    }
    let (composition, _) = current(session, "Composition", id).await?;
    // The original is shown to whoever may see its Composition.
    if let Some(original) = session.lookup().read("Bundle", id).await?
        && original.content().pointer("/entry/0/resource/id").and_then(Value::as_str) == Some(id)
    {
        session.disclose(&original, ORIGINAL_DOCUMENT);
        return Ok(Response::resource(200, original.content().clone()));
    }
    let mut refs = Vec::new();
    references(&composition, &mut refs);
    let mut resources = vec![composition];
    for r in refs {
        let Some((t, rid)) = r.split_once('/') else { continue };
        if !session.model.is_resource_type(t) {
            continue;
        }
        if let Ok((value, _)) = current(session, t, rid).await {
            resources.push(value);
        }
    }
    Ok(Response::resource(200, document_bundle(session, id, resources)))
}

/// An IPS section: (LOINC, title, resource types, search parameter for the patient).
const IPS_SECTIONS: &[(&str, &str, &[&str])] = &[
    ("11450-4", "Problem list", &["Condition"]),
    ("10160-0", "History of medication use", &["MedicationStatement", "MedicationRequest"]),
    ("48765-2", "Allergies and intolerances", &["AllergyIntolerance"]),
    ("11369-6", "History of immunizations", &["Immunization"]),
    ("30954-2", "Relevant diagnostic tests/laboratory data", &["DiagnosticReport", "Observation"]),
    ("47519-4", "History of procedures", &["Procedure"]),
    ("18776-5", "Plan of care", &["CarePlan"]),
    ("46240-8", "History of encounters", &["Encounter"]),
];

/// A short human-readable line for a resource in a section.
fn line(r: &Value) -> String {
    let text = |p: &str| r.pointer(p).and_then(Value::as_str);
    let what = text("/code/text")
        .or_else(|| text("/code/coding/0/display"))
        .or_else(|| text("/code/coding/0/code"))
        .or_else(|| text("/medicationCodeableConcept/text"))
        .or_else(|| text("/medicationCodeableConcept/coding/0/display"))
        .or_else(|| text("/vaccineCode/text"))
        .or_else(|| text("/vaccineCode/coding/0/display"))
        .or_else(|| text("/type/0/text"))
        .or_else(|| text("/type/0/coding/0/display"))
        .or_else(|| text("/diagnosis/0/condition/display"))
        .unwrap_or("");
    let when = text("/effectiveDateTime")
        .or_else(|| text("/onsetDateTime"))
        .or_else(|| text("/occurrenceDateTime"))
        .or_else(|| text("/authoredOn"))
        .or_else(|| text("/performedDateTime"))
        .or_else(|| text("/period/start"))
        .or_else(|| text("/recordedDate"))
        .unwrap_or("");
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!("{} {} {}", r["resourceType"].as_str().unwrap_or(""), escape(what), escape(when))
}

/// What a summary section lists of `resource_type` for the patient: the newest result of each
/// test (the whole history is `Observation?patient=..`), everything else of the record.
async fn section_entries(session: &Session, resource_type: &str, patient: &str) -> FhirResult<Vec<Value>> {
    let subject = format!("Patient/{patient}");
    match resource_type {
        "Observation" => {
            let pairs = [("subject".to_string(), subject)];
            let latest = lastn::latest(session, &pairs, 1, true).await?;
            Ok(latest
                .observations
                .iter()
                .filter_map(|v| v.content.as_deref().and_then(|c| serde_json::from_str(c).ok()))
                .collect())
        }
        "Immunization" | "AllergyIntolerance" => find(session, resource_type, &[("patient", subject)]).await,
        _ => find(session, resource_type, &[("subject", subject)]).await,
    }
}

async fn summary(session: &Session, id: &str) -> FhirResult<Response> {
    let (patient, _) = current(session, "Patient", id).await?;
    let mut sections = Vec::new();
    let mut entries = vec![patient];
    for (code, title, types) in IPS_SECTIONS {
        let mut found = Vec::new();
        for t in *types {
            // Types the caller's scopes do not cover are left out rather than failing the summary.
            if let Ok(list) = section_entries(session, t, id).await {
                found.extend(list);
            }
        }
        let mut section = json!({
            "title": title,
            "code": {"coding": [{"system": LOINC, "code": code, "display": title}]},
        });
        if found.is_empty() {
            section["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">No information available</div>"});
            section["emptyReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable", "display": "Unavailable"}]});
        } else {
            let items: String = found.iter().map(|r| format!("<li>{}</li>", line(r))).collect();
            section["text"] = json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul>{items}</ul></div>")});
            section["entry"] =
                Value::Array(found.iter().map(|r| json!({"reference": document_data::reference_to(r)})).collect());
        }
        sections.push(section);
        entries.extend(found);
    }
    let composition_id = crate::session::prepare::new_id();
    let mut composition = json!({
        "resourceType": "Composition",
        "id": composition_id,
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"reference": format!("Patient/{id}")},
        "date": crate::clock::instant(crate::clock::now()),
        "author": [{"display": "ikp"}],
        "title": "International Patient Summary",
        "confidentiality": "N",
        "section": sections,
    });
    if let Some(user) = session.caller_user() {
        composition["author"] = json!([{"reference": user}]);
    }
    let mut resources = vec![composition];
    resources.extend(entries);
    let mut bundle = document_bundle(session, &composition_id, resources);
    if let Some(o) = bundle.as_object_mut() {
        o.remove("meta");
        o.remove("id");
    }
    Ok(Response::resource(200, bundle))
}

// ---- demo data ----

const DEMO_HOSPITAL: &str = "Organization/demo-szpital-wojewodzki";
const DEMO_DOCTOR: &str = "Practitioner/demo-piotr-nowak";

fn demo_composition(document: &DemoDocument) -> Value {
    let DemoDocument { id, patient, class, date, encounter, text, .. } = document;
    let class = *class;
    let (_, loinc, display) = CLASSES.iter().find(|(c, _, _)| *c == class).copied().unwrap_or(CLASSES[0]);
    let system = if class == "IPOM" { LOCAL_TYPE } else { P1_CLASS };
    let mut c = json!({
        "resourceType": "Composition",
        "id": id,
        "extension": [{"url": format!("{PL}PLDocumentVersion"), "valueString": "1"}],
        "identifier": {"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.20.1", "value": format!("DOC-{id}")},
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": loinc}]},
        "category": [{"coding": [{"system": system, "code": class, "display": display}]}],
        "subject": {"reference": format!("Patient/{patient}")},
        "date": date,
        "author": [{"reference": DEMO_DOCTOR}],
        "title": display,
        "attester": [{"mode": "legal", "time": date, "party": {"reference": DEMO_DOCTOR}}],
        "custodian": {"reference": DEMO_HOSPITAL},
        "section": [{"title": display, "text": {"status": "generated",
            "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{text}</div>")}}],
    });
    if class != "IPOM" {
        c["meta"] = json!({"profile": [format!("{PL}PLComposition")]});
    }
    if let Some(e) = encounter {
        c["encounter"] = json!({"reference": format!("Encounter/{e}")});
    }
    if !document.entries.is_empty() {
        let entries: Vec<Value> = document.entries.iter().map(|r| json!({"reference": r})).collect();
        c["section"][0]["entry"] = Value::Array(entries);
    }
    c
}

fn demo_condition(id: &str, patient: &str, code: &str, display: &str, onset: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": code, "display": display}], "text": display},
        "subject": {"reference": format!("Patient/{patient}")},
        "onsetDateTime": onset,
        "recorder": {"reference": DEMO_DOCTOR},
    })
}

#[allow(clippy::too_many_arguments)]
fn demo_encounter(
    id: &str,
    patient: &str,
    class: (&str, &str),
    start: &str,
    end: &str,
    condition: &str,
    provider: &str,
    kind: &str,
) -> Value {
    json!({
        "resourceType": "Encounter",
        "id": id,
        "meta": {"profile": [format!("{PL}PLEncounter")]},
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.15.1", "value": id}],
        "status": "finished",
        "class": {"system": "urn:oid:2.16.840.1.113883.3.4424.11.1.34", "code": class.0, "display": class.1},
        "type": [{"text": kind}],
        "subject": {"reference": format!("Patient/{patient}")},
        "participant": [{"individual": {"reference": DEMO_DOCTOR}}],
        "period": {"start": start, "end": end},
        "diagnosis": [{"condition": {"reference": format!("Condition/{condition}")}, "rank": 1}],
        "location": [{"location": {"reference": "Location/demo-gabinet-1"}}],
        "serviceProvider": {"reference": provider},
    })
}

/// Demo data (stored once by `ikp serve --demo`): a hospital and a surgery, conditions, four
/// visits (Jan at primary care and in hospital, Anna at primary care, Zofia at the allergist;
/// with a procedure), and documents of all nine classes (each as Composition +
/// DocumentReference + Bundle, same id `demo-dok-*`): Jan has the discharge summary, information
/// for the referring doctor, refusal of admission, e-prescription, his IPOM (a CarePlan with
/// goals) and three years of lab results; Anna her lab results, the chest X-ray description and
/// the e-order; Zofia the e-referral and her lab results. The results, the X-ray and the IPOM
/// carry their data (see [`results`]).
pub fn demo() -> Vec<Value> {
    let mut out = vec![
        json!({"resourceType": "Organization", "id": "demo-szpital-wojewodzki", "active": true,
               "name": "Szpital Wojewódzki (demo)"}),
        json!({"resourceType": "Organization", "id": "demo-przychodnia-zdrowie", "active": true,
               "name": "Przychodnia Zdrowie (demo)"}),
        json!({"resourceType": "Location", "id": "demo-gabinet-1", "status": "active", "name": "Gabinet 1 (demo)",
               "managingOrganization": {"reference": "Organization/demo-przychodnia-zdrowie"}}),
        demo_condition(
            "demo-nadcisnienie-jan",
            "demo-jan-kowalski",
            "I10",
            "Samoistne (pierwotne) nadciśnienie",
            "2024-03-01",
        ),
        demo_condition(
            "demo-zapalenie-pluc-jan",
            "demo-jan-kowalski",
            "J18.9",
            "Zapalenie płuc, nieokreślone",
            "2026-10-10",
        ),
        demo_condition(
            "demo-zapalenie-oskrzeli-anna",
            "demo-anna-kowalska",
            "J20.9",
            "Ostre zapalenie oskrzeli",
            "2026-11-02",
        ),
        demo_condition("demo-astma-zofia", "demo-zofia-kowalska", "J45.0", "Astma przeważnie alergiczna", "2025-05-01"),
        demo_encounter(
            "demo-wizyta-jan-poz",
            "demo-jan-kowalski",
            ("4", "Porada"),
            "2026-09-15T09:00:00+02:00",
            "2026-09-15T09:20:00+02:00",
            "demo-nadcisnienie-jan",
            "Organization/demo-przychodnia-zdrowie",
            "Porada POZ",
        ),
        demo_encounter(
            "demo-pobyt-jan-szpital",
            "demo-jan-kowalski",
            ("1", "Hospitalizacja"),
            "2026-10-10T14:00:00+02:00",
            "2026-10-17T11:00:00+02:00",
            "demo-zapalenie-pluc-jan",
            "Organization/demo-szpital-wojewodzki",
            "Hospitalizacja",
        ),
        demo_encounter(
            "demo-wizyta-anna-poz",
            "demo-anna-kowalska",
            ("4", "Porada"),
            "2026-11-02T10:00:00+01:00",
            "2026-11-02T10:15:00+01:00",
            "demo-zapalenie-oskrzeli-anna",
            "Organization/demo-przychodnia-zdrowie",
            "Porada POZ",
        ),
        demo_encounter(
            "demo-wizyta-zofia-alergolog",
            "demo-zofia-kowalska",
            ("4", "Porada"),
            "2026-06-03T12:00:00+02:00",
            "2026-06-03T12:30:00+02:00",
            "demo-astma-zofia",
            "Organization/demo-przychodnia-zdrowie",
            "Porada specjalistyczna",
        ),
        json!({"resourceType": "Procedure", "id": "demo-rtg-jan", "status": "completed",
               "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.4424.11.2.6", "code": "87.44", "display": "RTG klatki piersiowej"}], "text": "RTG klatki piersiowej"},
               "subject": {"reference": "Patient/demo-jan-kowalski"},
               "encounter": {"reference": "Encounter/demo-pobyt-jan-szpital"},
               "performedDateTime": "2026-10-10T15:00:00+02:00"}),
    ];
    // The documents without data of their own; those with results, the imaging description and
    // the IPOM come from `results`.
    let plain = [
        (
            "demo-dok-karta-wypisowa-jan",
            "demo-jan-kowalski",
            "00.20",
            "2026-10-17T11:00:00+02:00",
            Some("demo-pobyt-jan-szpital"),
            "Zapalenie płuc, wypisany do domu w stanie dobrym.",
        ),
        (
            "demo-dok-informacja-jan",
            "demo-jan-kowalski",
            "08.90",
            "2026-10-17T11:30:00+02:00",
            Some("demo-pobyt-jan-szpital"),
            "Informacja dla lekarza POZ: kontrola RTG za 6 tygodni.",
        ),
        (
            "demo-dok-odmowa-jan",
            "demo-jan-kowalski",
            "00.65",
            "2026-08-03T22:10:00+02:00",
            Some("demo-wizyta-jan-poz"),
            "Brak wskazań do hospitalizacji, leczenie ambulatoryjne.",
        ),
        (
            "demo-dok-recepta-jan",
            "demo-jan-kowalski",
            "04.01",
            "2026-09-15T09:15:00+02:00",
            None,
            "Recepta: Amlodypina 5 mg, 1x dziennie.",
        ),
        (
            "demo-dok-zlecenie-anna",
            "demo-anna-kowalska",
            "02.81",
            "2026-11-05T10:00:00+01:00",
            None,
            "Zlecenie: stabilizator stawu kolanowego.",
        ),
        (
            "demo-dok-skierowanie-zofia",
            "demo-zofia-kowalska",
            "02.10",
            "2026-06-03T12:30:00+02:00",
            Some("demo-wizyta-zofia-alergolog"),
            "Skierowanie na testy alergiczne skórne.",
        ),
    ];
    let mut documents: Vec<DemoDocument> = plain
        .into_iter()
        .map(|(id, patient, class, date, encounter, text)| DemoDocument {
            encounter,
            ..DemoDocument::new(id, patient, class, date, text)
        })
        .collect();
    documents.extend(results::documents());
    out.extend(results::shared());
    let demo_fhir_base = "urn:ikp-demo";
    for document in documents {
        let DemoDocument { id, patient, class, date, encounter, .. } = &document;
        let (id, class, date) = (id.as_str(), *class, date.as_str());
        let composition = demo_composition(&document);
        let bundle = json!({
            "resourceType": "Bundle",
            "id": id,
            "meta": {"profile": [format!("{PL}PLDocumentBundle")]},
            "identifier": {"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.20.2", "value": format!("BUNDLE-{id}")},
            "type": "document",
            "timestamp": date,
            "entry": std::iter::once(&composition).chain(&document.carried).map(|r| json!({
                "fullUrl": format!("{demo_fhir_base}/{}", document_data::reference_to(r)),
                "resource": r,
            })).collect::<Vec<_>>(),
        });
        let (system, display) = if class == "IPOM" {
            (LOCAL_TYPE, "Indywidualny plan opieki medycznej")
        } else {
            (P1_CLASS, CLASSES.iter().find(|(c, _, _)| *c == class).map_or("", |(_, _, d)| *d))
        };
        let loinc = CLASSES.iter().find(|(c, _, _)| *c == class).map_or("", |(_, l, _)| *l);
        let mut reference = json!({
            "resourceType": "DocumentReference",
            "id": id,
            "masterIdentifier": bundle["identifier"],
            "identifier": [composition["identifier"]],
            "status": "current",
            "type": {"coding": [{"system": LOINC, "code": loinc}, {"system": system, "code": class, "display": display}]},
            "category": [{"coding": [{"system": system, "code": class, "display": display}]}],
            "subject": {"reference": format!("Patient/{patient}")},
            "date": date,
            "author": [{"reference": DEMO_DOCTOR}],
            "custodian": {"reference": DEMO_HOSPITAL},
            "description": display,
            "content": [{"attachment": {"contentType": "application/fhir+json", "url": format!("Bundle/{id}"), "title": display}},
                        {"attachment": {"contentType": "application/fhir+json", "url": format!("Composition/{id}/$document")}}],
        });
        if class != "IPOM" {
            reference["meta"] = json!({"profile": [format!("{PL}PLDocumentReference")]});
        }
        if let Some(e) = encounter {
            reference["context"] = json!({"encounter": [{"reference": format!("Encounter/{e}")}]});
        }
        if !document.carried.is_empty() {
            let related: Vec<Value> =
                document.carried.iter().map(|r| json!({"reference": document_data::reference_to(r)})).collect();
            reference["context"]["related"] = Value::Array(related);
        }
        out.extend(document.carried.iter().cloned());
        out.push(composition);
        out.push(reference);
        out.push(bundle);
    }
    out
}
