//! Laboratory results, imaging reports and care plans: the demo population's, as the documents
//! (EDM) that carry them. A lab result document (P1 class 06.10) carries its DiagnosticReports
//! (PLDiagnosticReportLab), each with its Observations (PLObservationLab: LOINC with the Polish
//! name, UCUM quantities, reference ranges, interpretation flags, the laboratory as performer)
//! and, for panels of several tests, a panel Observation whose `hasMember` lists them; an imaging
//! description (06.00) its PLDiagnosticReportImaging and ImagingStudy; an IPOM its PLCarePlan
//! and Goals. The carried resources get the ids `Bundle/$submit-document` would give them
//! (`[document]-[position]`, see [`crate::document_data`]), so a demo document is exactly what
//! submitting it would have stored.
//!
//! The history tells stories a patient app can plot: Jan's glucose, HbA1c and lipids drift up
//! over three years (his hypertension IPOM sets the goals); Anna's yearly blood count, the last
//! one with a low haemoglobin, and TSH, and her chest X-ray; Zofia's blood count and CRP on the
//! day before her antibiotic prescription (inflammation) and a year before (normal); Krystyna's
//! kidney function declining year by year; Tomasz's yearly check-ups, all normal. DEMO DATA.

use serde_json::{Value, json};

use crate::clock::days_from_today;
use crate::document_data::reference_to;
use crate::terminology::laboratory::{
    self, DIAGNOSTIC_SERVICE, INTERPRETATION, LOINC, OBSERVATION_CATEGORY, Test, UCUM,
};

const PL: &str = "https://ikp.example.org/fhir/StructureDefinition/";
/// The demo laboratory (an Organization with its kod resortowy).
pub const DEMO_LAB: &str = "Organization/demo-laboratorium";
const DEMO_DOCTOR: &str = "Practitioner/demo-piotr-nowak";
const ICD9_PL: &str = "urn:oid:2.16.840.1.113883.3.4424.11.2.6";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const SNOMED: &str = "http://snomed.info/sct";

/// A demo document with the data it carries.
#[derive(Debug, Clone)]
pub struct DemoDocument {
    pub id: String,
    pub patient: &'static str,
    /// P1 class (or `IPOM`).
    pub class: &'static str,
    pub date: String,
    pub encounter: Option<&'static str>,
    /// The narrative of its one section.
    pub text: String,
    /// The carried resources, ids assigned, in entry order.
    pub carried: Vec<Value>,
    /// What its section lists (the reports, the care plan).
    pub entries: Vec<String>,
}

impl DemoDocument {
    pub fn new(id: &str, patient: &'static str, class: &'static str, date: &str, text: &str) -> DemoDocument {
        DemoDocument {
            id: id.to_string(),
            patient,
            class,
            date: date.to_string(),
            encounter: None,
            text: text.to_string(),
            carried: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Adds a carried resource under the id its entry position gives it; its reference.
    fn carry(&mut self, mut resource: Value) -> String {
        resource["id"] = json!(format!("{}-{}", self.id, self.carried.len() + 1));
        let reference = reference_to(&resource);
        self.carried.push(resource);
        reference
    }

    fn subject(&self) -> Value {
        json!({"reference": format!("Patient/{}", self.patient)})
    }
}

/// The resources the documents reference that are not carried: the laboratory.
pub fn shared() -> Vec<Value> {
    vec![json!({
        "resourceType": "Organization",
        "id": "demo-laboratorium",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.3.1", "value": "000000925551"}],
        "active": true,
        "type": [{"text": "Medyczne laboratorium diagnostyczne"}],
        "name": "Laboratorium Diagnostyka Centrum (demo)",
    })]
}

/// Every demo document with data: lab results, the imaging description and the IPOM.
pub fn documents() -> Vec<DemoDocument> {
    let mut all = jan_results();
    all.extend(anna_results());
    all.extend(zofia_results());
    all.extend(krystyna_results());
    all.extend(tomasz_results());
    all.push(anna_chest_xray());
    all.push(jan_ipom());
    all
}

/// One collection of samples: who, when taken and when reported.
struct Sample {
    male: bool,
    collected: String,
    issued: String,
}

fn quantity(test: &Test, value: f64) -> Value {
    json!({"value": test.rounded(value), "unit": test.unit, "system": UCUM, "code": test.ucum})
}

/// What every lab Observation of a sample says: its profile, the category, `code` (LOINC, English
/// and Polish names), the patient, when taken and reported, the laboratory.
fn lab_observation(document: &DemoDocument, sample: &Sample, (loinc, display, pl): (&str, &str, &str)) -> Value {
    json!({
        "resourceType": "Observation",
        "meta": {"profile": [format!("{PL}PLObservationLab")]},
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": pl},
        "subject": document.subject(),
        "effectiveDateTime": sample.collected,
        "issued": sample.issued,
        "performer": [{"reference": DEMO_LAB}],
    })
}

/// One result of `test`: the value in UCUM, its reference range and flag.
fn observation(document: &DemoDocument, sample: &Sample, test: &Test, value: f64) -> Value {
    let (low, high) = test.range(sample.male);
    let mut range = serde_json::Map::new();
    if let Some(low) = low {
        range.insert("low".into(), quantity(test, low));
    }
    if let Some(high) = high {
        range.insert("high".into(), quantity(test, high));
    }
    let (flag, flag_display) = test.interpretation(test.rounded(value), sample.male);
    let mut result = lab_observation(document, sample, (test.loinc, test.display, test.pl));
    result["valueQuantity"] = quantity(test, value);
    result["interpretation"] = json!([{"coding": [{"system": INTERPRETATION, "code": flag, "display": flag_display}]}]);
    result["referenceRange"] = json!([Value::Object(range)]);
    result
}

/// A lab report of `panel` with the `values` of its tests; returns its reference.
fn lab_report(document: &mut DemoDocument, sample: &Sample, panel: &str, values: &[(&str, f64)]) -> String {
    let Some(panel) = laboratory::panel(panel) else { return String::new() };
    let mut members = Vec::new();
    let mut abnormal = Vec::new();
    for (key, value) in values {
        let Some(test) = laboratory::test(key) else { continue };
        let result = observation(document, sample, test, *value);
        if result.pointer("/interpretation/0/coding/0/code").and_then(Value::as_str) != Some("N") {
            abnormal.push(test.pl);
        }
        members.push(document.carry(result));
    }
    let mut results: Vec<Value> = Vec::new();
    if members.len() > 1 {
        let mut grouping = lab_observation(document, sample, (panel.loinc, panel.display, panel.pl));
        grouping["hasMember"] = members.iter().map(|m| json!({"reference": m})).collect();
        results.push(json!({"reference": document.carry(grouping)}));
    }
    results.extend(members.iter().map(|m| json!({"reference": m})));
    let conclusion = if abnormal.is_empty() {
        "Wyniki w granicach wartości referencyjnych.".to_string()
    } else {
        format!("Poza zakresem referencyjnym: {}.", abnormal.join(", "))
    };
    let report = document.carry(json!({
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [format!("{PL}PLDiagnosticReportLab")]},
        "status": "final",
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "LAB", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": panel.loinc, "display": panel.display}], "text": panel.pl},
        "subject": document.subject(),
        "effectiveDateTime": sample.collected,
        "issued": sample.issued,
        "performer": [{"reference": DEMO_LAB}],
        "result": results,
        "conclusion": conclusion,
    }));
    document.entries.push(report.clone());
    report
}

/// A lab result document of one sample with its reports.
fn lab_document(id: &str, patient: &'static str, sample: &Sample, reports: &[(&str, &[(&str, f64)])]) -> DemoDocument {
    let mut document = DemoDocument::new(id, patient, "06.10", &sample.issued, "");
    let mut lines = Vec::new();
    for (panel, values) in reports {
        lab_report(&mut document, sample, panel, values);
        let name = laboratory::panel(panel).map_or(*panel, |p| p.pl);
        let shown: Vec<String> = values
            .iter()
            .filter_map(|(key, value)| {
                let test = laboratory::test(key)?;
                Some(format!("{} {} {}", test.pl, test.rounded(*value), test.unit))
            })
            .collect();
        lines.push(format!("{name}: {}", shown.join(", ")));
    }
    document.text = lines.join(". ");
    document
}

fn sample(male: bool, day: &str, taken: &str, reported: &str) -> Sample {
    Sample { male, collected: format!("{day}T{taken}"), issued: format!("{day}T{reported}") }
}

/// Jan: every six months glucose, HbA1c and a lipid panel, drifting up.
fn jan_results() -> Vec<DemoDocument> {
    const DAYS: [&str; 7] =
        ["2023-12-05", "2024-06-04", "2024-12-03", "2025-06-03", "2025-12-02", "2026-06-02", "2026-09-10"];
    const GLUCOSE: [f64; 7] = [96.0, 101.0, 104.0, 108.0, 112.0, 118.0, 124.0];
    const HBA1C: [f64; 7] = [5.5, 5.6, 5.8, 5.9, 6.1, 6.3, 6.4];
    const CHOLESTEROL: [f64; 7] = [198.0, 205.0, 212.0, 219.0, 226.0, 231.0, 238.0];
    const HDL: [f64; 7] = [49.0, 48.0, 47.0, 46.0, 45.0, 44.0, 43.0];
    const LDL: [f64; 7] = [121.0, 127.0, 133.0, 139.0, 145.0, 150.0, 156.0];
    const TRIGLYCERIDES: [f64; 7] = [142.0, 150.0, 158.0, 165.0, 172.0, 180.0, 188.0];
    (0..DAYS.len())
        .map(|i| {
            let taken = sample(true, DAYS[i], "07:40:00+01:00", "14:10:00+01:00");
            lab_document(
                &format!("demo-dok-wynik-jan-{}", DAYS[i]),
                "demo-jan-kowalski",
                &taken,
                &[
                    ("glucose", &[("glucose", GLUCOSE[i])]),
                    ("hba1c", &[("hba1c", HBA1C[i])]),
                    ("lipid", &[("chol", CHOLESTEROL[i]), ("hdl", HDL[i]), ("ldl", LDL[i]), ("tg", TRIGLYCERIDES[i])]),
                ],
            )
        })
        .collect()
}

/// Anna: a yearly blood count and TSH; the last count (her lab result document) has a low
/// haemoglobin.
fn anna_results() -> Vec<DemoDocument> {
    let years: [(&str, &str, [f64; 6], f64); 3] = [
        ("demo-dok-wynik-anna-2024-10-15", "2024-10-15", [6.1, 4.5, 13.4, 40.2, 89.0, 250.0], 2.1),
        ("demo-dok-wynik-anna-2025-10-14", "2025-10-14", [5.8, 4.4, 12.9, 39.1, 88.0, 241.0], 2.4),
        ("demo-dok-wynik-anna", "2026-11-03", [7.9, 4.2, 11.4, 37.6, 86.0, 262.0], 2.6),
    ];
    years
        .iter()
        .map(|(id, day, cbc, tsh)| {
            let taken = sample(false, day, "07:30:00+01:00", "08:00:00+01:00");
            let tests = ["wbc", "rbc", "hgb", "hct", "mcv", "plt"];
            let counts: Vec<(&str, f64)> = tests.iter().copied().zip(cbc.iter().copied()).collect();
            lab_document(id, "demo-anna-kowalska", &taken, &[("cbc", &counts), ("tsh", &[("tsh", *tsh)])])
        })
        .collect()
}

/// Zofia: a normal blood count and CRP a year ago, and an inflamed one the day before her
/// antibiotic was prescribed (the prescription is issued on the day the demo starts).
fn zofia_results() -> Vec<DemoDocument> {
    let visits: [(i64, [f64; 6], f64); 2] =
        [(-380, [7.2, 4.6, 12.8, 38.4, 84.0, 290.0], 1.2), (-1, [14.6, 4.5, 12.6, 38.0, 83.0, 330.0], 48.0)];
    visits
        .iter()
        .map(|(days, cbc, crp)| {
            let day = days_from_today(*days);
            let taken = sample(false, &day, "09:10:00+01:00", "12:30:00+01:00");
            let tests = ["wbc", "rbc", "hgb", "hct", "mcv", "plt"];
            let counts: Vec<(&str, f64)> = tests.iter().copied().zip(cbc.iter().copied()).collect();
            let id =
                if *days == -1 { "demo-dok-wynik-zofia".to_string() } else { "demo-dok-wynik-zofia-rok".to_string() };
            lab_document(&id, "demo-zofia-kowalska", &taken, &[("cbc", &counts), ("crp", &[("crp", *crp)])])
        })
        .collect()
}

/// Krystyna (74, Piotr Nowak's primary-care patient): a yearly renal panel, her kidney
/// function declining.
fn krystyna_results() -> Vec<DemoDocument> {
    let years: [(&str, [f64; 4]); 3] = [
        ("2024-03-12", [0.98, 59.0, 140.0, 4.4]),
        ("2025-03-11", [1.16, 49.0, 139.0, 4.8]),
        ("2026-03-10", [1.34, 41.0, 137.0, 5.3]),
    ];
    years
        .iter()
        .map(|(day, renal)| {
            let taken = sample(false, day, "08:00:00+01:00", "13:00:00+01:00");
            let tests = ["creat", "egfr", "na", "k"];
            let values: Vec<(&str, f64)> = tests.iter().copied().zip(renal.iter().copied()).collect();
            lab_document(
                &format!("demo-dok-wynik-krystyna-{day}"),
                "demo-krystyna-nowak",
                &taken,
                &[("renal", &values)],
            )
        })
        .collect()
}

/// Tomasz: yearly fasting glucose and lipids, all within range.
fn tomasz_results() -> Vec<DemoDocument> {
    let years: [(&str, f64, [f64; 4]); 3] = [
        ("2024-05-07", 88.0, [182.0, 55.0, 104.0, 98.0]),
        ("2025-05-06", 91.0, [178.0, 57.0, 99.0, 104.0]),
        ("2026-05-05", 90.0, [185.0, 54.0, 108.0, 110.0]),
    ];
    years
        .iter()
        .map(|(day, glucose, lipids)| {
            let taken = sample(true, day, "07:50:00+02:00", "15:00:00+02:00");
            let tests = ["chol", "hdl", "ldl", "tg"];
            let values: Vec<(&str, f64)> = tests.iter().copied().zip(lipids.iter().copied()).collect();
            lab_document(
                &format!("demo-dok-wynik-tomasz-{day}"),
                "demo-tomasz-kowalski",
                &taken,
                &[("glucose", &[("glucose", *glucose)]), ("lipid", &values)],
            )
        })
        .collect()
}

/// Anna's chest X-ray: the description (06.00) with its study.
fn anna_chest_xray() -> DemoDocument {
    let date = "2026-11-04T12:00:00+01:00";
    let mut document = DemoDocument::new(
        "demo-dok-opis-rtg-anna",
        "demo-anna-kowalska",
        "06.00",
        date,
        "RTG klatki piersiowej PA i boczne: płuca bez zmian ogniskowych, sylwetka serca prawidłowa.",
    );
    let procedure = json!({"coding": [{"system": ICD9_PL, "code": "87.44", "display": "RTG klatki piersiowej"},
                                      {"system": LOINC, "code": "36643-5", "display": "XR Chest 2 Views"}],
                           "text": "RTG klatki piersiowej"});
    let study = document.carry(json!({
        "resourceType": "ImagingStudy",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.80314226914227913542561931125"}],
        "status": "available",
        "modality": [{"system": DICOM, "code": "DX", "display": "Digital Radiography"}],
        "subject": document.subject(),
        "started": "2026-11-04T11:20:00+01:00",
        "referrer": {"reference": DEMO_DOCTOR},
        "numberOfSeries": 1,
        "numberOfInstances": 2,
        "procedureCode": [procedure],
        "series": [{"uid": "2.25.80314226914227913542561931126", "modality": {"system": DICOM, "code": "DX"},
                    "description": "Klatka piersiowa PA i boczne", "numberOfInstances": 2,
                    "bodySite": {"system": SNOMED, "code": "51185008", "display": "Thoracic structure"}}],
    }));
    let report = document.carry(json!({
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [format!("{PL}PLDiagnosticReportImaging")]},
        "status": "final",
        "category": [{"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "RAD", "display": "Radiology"}]}],
        "code": procedure,
        "subject": document.subject(),
        "effectiveDateTime": "2026-11-04T11:20:00+01:00",
        "issued": date,
        "resultsInterpreter": [{"reference": DEMO_DOCTOR}],
        "imagingStudy": [{"reference": study}],
        "conclusion": "Płuca bez zmian ogniskowych. Sylwetka serca prawidłowa.",
    }));
    document.entries.push(report);
    document
}

/// Jan's IPOM: hypertension with rising glucose and lipids; goals and scheduled activities.
fn jan_ipom() -> DemoDocument {
    let mut document = DemoDocument::new(
        "demo-dok-ipom-jan",
        "demo-jan-kowalski",
        "IPOM",
        "2026-09-15T09:20:00+02:00",
        "IPOM: nadciśnienie tętnicze, stan przedcukrzycowy, hipercholesterolemia. Kontrola ciśnienia co 3 \
         miesiące, HbA1c i lipidogram co 6 miesięcy, dieta niskosodowa.",
    );
    let condition = json!({"reference": "Condition/demo-nadcisnienie-jan"});
    let goal = |document: &DemoDocument, text: &str, loinc: (&str, &str), target: Value| {
        json!({
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": text},
            "subject": document.subject(),
            "startDate": "2026-09-15",
            "target": [{"measure": {"coding": [{"system": LOINC, "code": loinc.0, "display": loinc.1}]},
                        "detailQuantity": target, "dueDate": "2027-03-15"}],
            "addresses": [condition],
        })
    };
    let pressure = goal(
        &document,
        "Ciśnienie skurczowe poniżej 140 mmHg",
        ("8480-6", "Systolic blood pressure"),
        json!({"value": 140, "comparator": "<", "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
    );
    let hba1c = goal(
        &document,
        "HbA1c poniżej 6,0%",
        ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
        json!({"value": 6.0, "comparator": "<", "unit": "%", "system": UCUM, "code": "%"}),
    );
    let ldl = goal(
        &document,
        "LDL poniżej 115 mg/dl",
        ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay"),
        json!({"value": 115, "comparator": "<", "unit": "mg/dl", "system": UCUM, "code": "mg/dL"}),
    );
    let goals: Vec<Value> =
        [pressure, hba1c, ldl].into_iter().map(|g| json!({"reference": document.carry(g)})).collect();
    let activity = |kind: &str, text: &str, status: &str| {
        json!({"detail": {"kind": kind, "status": status, "description": text,
                          "performer": [{"reference": DEMO_DOCTOR}]}})
    };
    let plan = document.carry(json!({
        "resourceType": "CarePlan",
        "meta": {"profile": [format!("{PL}PLCarePlan")]},
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4424.2.7.9999.26.1", "value": "IPOM-2026-0001"}],
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "https://ikp.example.org/fhir/CodeSystem/pl-care-plan-type", "code": "IPOM",
                                  "display": "Indywidualny plan opieki medycznej"}]}],
        "title": "IPOM: nadciśnienie tętnicze",
        "description": "Opieka koordynowana POZ: nadciśnienie tętnicze, stan przedcukrzycowy, hipercholesterolemia.",
        "subject": document.subject(),
        "period": {"start": "2026-09-15", "end": "2027-09-14"},
        "created": "2026-09-15T09:20:00+02:00",
        "author": {"reference": DEMO_DOCTOR},
        "addresses": [condition],
        "goal": goals,
        "activity": [
            activity("Appointment", "Wizyta kontrolna w POZ co 3 miesiące (pomiar ciśnienia)", "scheduled"),
            activity("ServiceRequest", "HbA1c, glukoza na czczo i lipidogram co 6 miesięcy", "scheduled"),
            activity("ServiceRequest", "EKG spoczynkowe raz w roku", "not-started"),
            activity("NutritionOrder", "Dieta niskosodowa, ograniczenie tłuszczów nasyconych", "in-progress"),
        ],
    }));
    document.entries.push(plan);
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reference between the carried resources of a document stays inside it, and the
    /// ids follow the entry positions `$submit-document` would assign.
    #[test]
    fn carried_ids_follow_entry_positions_and_references_resolve() {
        for document in documents() {
            let ids: Vec<String> = document.carried.iter().map(reference_to).collect();
            for (position, resource) in document.carried.iter().enumerate() {
                assert_eq!(resource["id"], json!(format!("{}-{}", document.id, position + 1)));
            }
            for entry in &document.entries {
                assert!(ids.contains(entry), "{} lists {entry}, which it does not carry", document.id);
            }
            assert!(!document.entries.is_empty(), "{} carries nothing", document.id);
        }
    }

    /// The stories hold: Jan's HbA1c rises into the flagged range, Anna's last blood count has
    /// exactly one flagged value, Zofia's CRP is high before her antibiotic.
    #[test]
    fn the_demo_trends_are_what_the_stories_say() {
        let flags = |document: &DemoDocument, loinc: &str| -> Vec<String> {
            document
                .carried
                .iter()
                .filter(|r| r["code"]["coding"][0]["code"] == loinc && r.get("valueQuantity").is_some())
                .map(|r| r["interpretation"][0]["coding"][0]["code"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let jan = jan_results();
        assert_eq!(flags(&jan[0], "4548-4"), ["N"]);
        assert_eq!(flags(&jan[6], "4548-4"), ["H"]);
        let anna = anna_results();
        let last = &anna[2];
        let flagged: Vec<&Value> = last
            .carried
            .iter()
            .filter(|r| r.get("valueQuantity").is_some())
            .filter(|r| r["interpretation"][0]["coding"][0]["code"] != "N")
            .collect();
        assert_eq!(flagged.len(), 1, "{flagged:?}");
        assert_eq!(flagged[0]["code"]["coding"][0]["code"], "718-7");
        let zofia = zofia_results();
        assert_eq!(flags(&zofia[1], "1988-5"), ["H"]);
        assert_eq!(flags(&zofia[0], "1988-5"), ["N"]);
    }
}
