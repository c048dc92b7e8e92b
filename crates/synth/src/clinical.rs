//! Resource builders for the events of a history: encounters, conditions, e-prescriptions and
//! their dispensations, referrals, laboratory reports with observations, vital signs,
//! immunizations, procedures, allergies and discharge summaries.

use ikp_terminology::laboratory::{
    self, DIAGNOSTIC_SERVICE, INTERPRETATION, OBSERVATION_CATEGORY, Panel, SpecimenType, Test, TestKind,
};
use serde_json::Value;

use super::calendar::{At, Day};
use super::catalog::{self, Condition, Kind, Med, Use};
use super::facilities::{self, FacilityKind};
use super::fhir::{
    self, coded, coding, concept, dec, decimal, identifier, obj, quantity, reference, reference_display,
};
use super::history::{Event, History, Res};
use super::imaging::Basis;
use super::pesel::Sex;

/// An encounter being built; its resource is written when the visit closes (at the position
/// reserved when it opened, so it precedes everything that refers to it).
pub(super) struct Visit {
    pub id: String,
    slot: usize,
    pub start: At,
    pub end: At,
    pub facility: usize,
    location: String,
    pub practitioner: usize,
    inpatient: bool,
    cell: &'static str,
    pub reasons: Vec<Value>,
    pub diagnoses: Vec<(String, &'static str)>,
    based_on: Option<String>,
    hospitalization: Option<Value>,
}

/// One sampling for laboratory tests: where and when it was taken and reported, who signs the
/// results, and the specimens taken so far.
struct Sample {
    lab: usize,
    diagnostician: usize,
    collected: At,
    issued: At,
    specimens: Vec<(SpecimenType, String)>,
}

impl History<'_> {
    pub(super) fn patient_ref(&self) -> Value {
        reference_display("Patient", self.patient_id, &self.person.display())
    }

    pub(super) fn prac_ref(&self, p: usize) -> Value {
        let display = self.layout.practitioners.get(p).map(|x| x.display()).unwrap_or_default();
        reference_display("Practitioner", &facilities::prac_id(p), &display)
    }

    pub(super) fn org_ref(&self, f: usize) -> Value {
        reference_display("Organization", &facilities::org_id(f), &self.layout.facilities[f].name)
    }

    /// A time during surgery hours, in 5-minute steps.
    fn office_time(&mut self, day: Day) -> At {
        At::new(day, self.rng.range(8, 17) as u32, self.rng.range(0, 11) as u32 * 5)
    }

    fn open_visit(
        &mut self,
        start: At,
        minutes: i64,
        facility: usize,
        practitioner: usize,
        cell: &'static str,
    ) -> Visit {
        let id = self.next_id(Res::Encounter);
        let slot = self.out.len();
        self.out.push(Value::Null);
        Visit {
            id,
            slot,
            start,
            end: start.plus_minutes(minutes),
            facility,
            location: facilities::loc_id(facility),
            practitioner,
            inpatient: false,
            cell,
            reasons: Vec::new(),
            diagnoses: Vec::new(),
            based_on: None,
            hospitalization: None,
        }
    }

    /// A visit at the family clinic with the family doctor (the paediatrician for a child) or a nurse.
    pub(super) fn gp_visit(&mut self, day: Day, nurse: bool) -> Visit {
        let start = self.office_time(day);
        let minutes = self.rng.range(10, 25);
        let (practitioner, cell) = if nurse {
            (self.layout.nurse(&mut self.rng, self.home.clinic), "0032")
        } else if self.age_on(day) < 18 {
            (self.home.pediatrician, "0010")
        } else {
            (self.home.gp, "0010")
        };
        self.open_visit(start, minutes, self.home.clinic, practitioner, cell)
    }

    pub(super) fn close_visit(&mut self, v: Visit) {
        let f = &self.layout.facilities[v.facility];
        let (class, class_display) = if v.inpatient { ("IMP", "inpatient encounter") } else { ("AMB", "ambulatory") };
        let mut enc = obj!({
            "resourceType": "Encounter",
            "id": v.id.as_str(),
            "identifier": [identifier(&f.local_oid("15.1"), &format!("{}{}", self.number, &v.id[v.id.len() - 4..]))],
            "status": "finished",
            "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", class, class_display),
            "type": [{"coding": [facilities::cell_coding(v.cell)], "text": catalog::cell_display(v.cell)}],
            "subject": self.patient_ref(),
            "participant": [{
                "type": [coded("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer")],
                "individual": self.prac_ref(v.practitioner)
            }],
            "period": {"start": v.start.fhir(), "end": v.end.fhir()}
        });
        if let Some(obj) = enc.as_object_mut() {
            if let Some(sr) = &v.based_on {
                obj.insert("basedOn".into(), obj!([reference("ServiceRequest", sr)]));
            }
            if !v.reasons.is_empty() {
                obj.insert("reasonCode".into(), Value::Array(v.reasons.clone()));
            }
            if !v.diagnoses.is_empty() {
                let diagnoses: Vec<Value> = v
                    .diagnoses
                    .iter()
                    .enumerate()
                    .map(|(rank, (id, role))| {
                        let display = match *role {
                            "AD" => "Admission diagnosis",
                            "DD" => "Discharge diagnosis",
                            "CM" => "Comorbidity diagnosis",
                            _ => "Billing",
                        };
                        obj!({
                            "condition": reference("Condition", id),
                            "use": coded("http://terminology.hl7.org/CodeSystem/diagnosis-role", role, display),
                            "rank": rank + 1
                        })
                    })
                    .collect();
                obj.insert("diagnosis".into(), Value::Array(diagnoses));
            }
            if let Some(h) = &v.hospitalization {
                obj.insert("hospitalization".into(), h.clone());
            }
            obj.insert(
                "location".into(),
                obj!([{"location": reference("Location", &v.location), "status": "completed"}]),
            );
            obj.insert("serviceProvider".into(), self.org_ref(v.facility));
        }
        // A stay that has not ended by the reference date is still in progress.
        if v.end.day > self.end
            && let Some(obj) = enc.as_object_mut()
        {
            obj.insert("status".into(), Value::from("in-progress"));
            obj.insert("period".into(), obj!({"start": v.start.fhir()}));
            if let Some(h) = obj.get_mut("hospitalization").and_then(Value::as_object_mut) {
                h.remove("dischargeDisposition");
            }
        }
        if let Some(slot) = self.out.get_mut(v.slot) {
            *slot = enc;
        }
    }

    /// A Condition diagnosed or recorded at `visit`; acute ones carry their abatement date.
    pub(super) fn condition(
        &mut self,
        cond: &Condition,
        visit: &Visit,
        onset: Day,
        abatement: Option<Day>,
        chronic: bool,
    ) -> String {
        let id = self.next_id(Res::Condition);
        let (status, status_display) =
            if chronic || abatement.is_none() { ("active", "Active") } else { ("resolved", "Resolved") };
        let category = if chronic {
            coded("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")
        } else {
            coded(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "encounter-diagnosis",
                "Encounter Diagnosis",
            )
        };
        let mut c = obj!({
            "resourceType": "Condition",
            "id": id.as_str(),
            "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status_display),
            "verificationStatus": coded("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
            "category": [category],
            "code": concept(fhir::ICD10, cond.code, cond.display),
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "onsetDateTime": onset.to_string(),
            "recordedDate": visit.start.fhir(),
            "recorder": self.prac_ref(visit.practitioner),
            "asserter": self.prac_ref(visit.practitioner)
        });
        if let (Some(day), false) = (abatement, chronic) {
            c["abatementDateTime"] = obj!(day.to_string());
        }
        if matches!(cond.kind, Kind::Chronic { .. }) && cond.code != "E66.9" && self.rng.chance(0.3) {
            let severity =
                [("255604002", "Mild"), ("6736007", "Moderate"), ("24484000", "Severe")][self.rng.weighted(&[5, 4, 1])];
            c["severity"] = coded(fhir::SNOMED, severity.0, severity.1);
        }
        self.out.push(c);
        id
    }

    /// Vital signs: blood pressure and pulse, body measurements, temperature.
    pub(super) fn vitals(&mut self, day: Day, visit: &Visit, pressure: bool, body: bool, temperature: Option<f64>) {
        let age = self.age_on(day);
        let at = visit.start.plus_minutes(3);
        if pressure {
            let hypertensive = self.chronic.iter().any(|c| c.cond.code == "I10" && c.onset <= day);
            let base =
                112.0 + 0.45 * f64::from((age - 18).max(0)) + self.systolic + if hypertensive { 14.0 } else { 0.0 };
            let sys = self.rng.normal(base, 7.0).clamp(90.0, 210.0).round();
            let dia = (sys * 0.58 + self.rng.normal(8.0, 5.0)).clamp(50.0, 120.0).round();
            let id = self.next_id(Res::Observation);
            let component = |code: &str, display: &str, value: f64| {
                obj!({
                    "code": concept(fhir::LOINC, code, display),
                    "valueQuantity": quantity(dec(value as i64, 0), "mmHg", "mm[Hg]")
                })
            };
            let obs = self.vital(
                &id,
                visit,
                at,
                ("85354-9", "Blood pressure panel with all children optional", "Ciśnienie tętnicze"),
                None,
            );
            let mut obs = obs;
            obs["component"] = obj!([
                component("8480-6", "Systolic blood pressure", sys),
                component("8462-4", "Diastolic blood pressure", dia)
            ]);
            self.out.push(obs);
            if self.rng.chance(0.3) {
                let pulse = self.rng.normal(73.0, 8.0).clamp(48.0, 120.0).round();
                let id = self.next_id(Res::Observation);
                let obs = self.vital(
                    &id,
                    visit,
                    at,
                    ("8867-4", "Heart rate", "Tętno"),
                    Some(quantity(dec(pulse as i64, 0), "/min", "/min")),
                );
                self.out.push(obs);
            }
        }
        if body {
            let (height, weight) = self.body_size(day);
            let id = self.next_id(Res::Observation);
            let obs = self.vital(
                &id,
                visit,
                at,
                ("29463-7", "Body weight", "Masa ciała"),
                Some(quantity(decimal(weight, 1), "kg", "kg")),
            );
            self.out.push(obs);
            if age < 18 || self.rng.chance(0.25) {
                let id = self.next_id(Res::Observation);
                let obs = self.vital(
                    &id,
                    visit,
                    at,
                    ("8302-2", "Body height", "Wzrost"),
                    Some(quantity(decimal(height, 0), "cm", "cm")),
                );
                self.out.push(obs);
            }
            if age >= 2 {
                let bmi = weight / (height / 100.0 * height / 100.0);
                let id = self.next_id(Res::Observation);
                let obs = self.vital(
                    &id,
                    visit,
                    at,
                    ("39156-5", "Body mass index (BMI) [Ratio]", "BMI"),
                    Some(quantity(decimal(bmi, 1), "kg/m2", "kg/m2")),
                );
                self.out.push(obs);
            }
        }
        if let Some(t) = temperature {
            let id = self.next_id(Res::Observation);
            let obs = self.vital(
                &id,
                visit,
                at,
                ("8310-5", "Body temperature", "Temperatura ciała"),
                Some(quantity(decimal(t, 1), "°C", "Cel")),
            );
            self.out.push(obs);
        }
    }

    /// Height (cm) and weight (kg) on `day`: growth curves for children, a stable adult size.
    fn body_size(&mut self, day: Day) -> (f64, f64) {
        const GROWTH: &[(f64, f64, f64)] = &[
            (0.0, 50.0, 3.4),
            (1.0, 75.0, 9.8),
            (2.0, 87.0, 12.4),
            (4.0, 103.0, 16.3),
            (6.0, 116.0, 20.7),
            (8.0, 128.0, 25.8),
            (10.0, 138.0, 32.0),
            (12.0, 150.0, 41.0),
            (14.0, 162.0, 51.0),
            (16.0, 169.0, 58.0),
            (18.0, 172.0, 63.0),
        ];
        let years = self.person.birth.days_until(day) as f64 / 365.25;
        let adult_weight = |h: f64, bmi: f64| bmi * (h / 100.0) * (h / 100.0);
        let obese = self.chronic.iter().any(|c| c.cond.code == "E66.9" && c.onset <= day);
        let bmi = self.bmi + if obese { 7.0 } else { 0.0 } + self.rng.normal(0.0, 0.4);
        if years >= 18.0 {
            return (self.height, adult_weight(self.height, bmi));
        }
        let mut i = 0;
        while i + 2 < GROWTH.len() && GROWTH[i + 1].0 <= years {
            i += 1;
        }
        let (a, b) = (GROWTH[i], GROWTH[i + 1]);
        let f = ((years - a.0) / (b.0 - a.0)).clamp(0.0, 1.0);
        let scale = self.height / if self.person.sex == Sex::Male { 177.0 } else { 164.5 };
        let h = (a.1 + (b.1 - a.1) * f) * scale;
        let w = (a.2 + (b.2 - a.2) * f) * (bmi / 26.0).clamp(0.8, 1.3) * scale;
        (h, w)
    }

    fn vital(&self, id: &str, visit: &Visit, at: At, code: (&str, &str, &str), value: Option<Value>) -> Value {
        let mut obs = obj!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "category": [{"coding": [coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")]}],
            "code": {"coding": [coding(fhir::LOINC, code.0, code.1)], "text": code.2},
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "effectiveDateTime": at.fhir(),
            "performer": [self.prac_ref(visit.practitioner)]
        });
        if let Some(v) = value {
            obs["valueQuantity"] = v;
        }
        obs
    }

    /// e-prescriptions issued together at one visit (one package, shared groupIdentifier), each
    /// usually followed by a dispensation at a pharmacy.
    pub(super) fn prescribe(&mut self, visit: &Visit, items: &[(&'static Med, Option<String>)], category: &str) {
        if items.is_empty() {
            return;
        }
        let package = format!("{}{}", self.rng.range(1, 9), self.rng.digits(21));
        let access_code = self.rng.digits(4);
        let issued = visit.end;
        for (med, reason) in items {
            let id = self.next_id(Res::MedicationRequest);
            let per_day = f64::from(med.dose * med.frequency) / f64::from(med.period);
            let (therapy_days, validity, course) = match med.usage {
                Use::Chronic if self.rng.chance(0.65) => (360, 365, "continuous"),
                Use::Chronic => (120, 30, "continuous"),
                Use::AsNeeded => (90, 30, "continuous"),
                Use::Course(days) => (days, 30, "acute"),
                Use::Antibiotic(days) => (days, 7, "acute"),
            };
            let packs = ((per_day * f64::from(therapy_days)) / f64::from(med.pack)).ceil().clamp(1.0, 12.0) as i64;
            let supply = (f64::from(med.pack) * packs as f64 / per_day).floor().max(1.0) as i64;
            let valid_to = issued.day.plus(validity);
            // Long prescriptions are collected in two portions; most prescriptions are collected.
            let portions: i64 = if validity > 30 && packs > 1 && self.rng.chance(0.3) { 2 } else { 1 };
            let mut dispensed = Vec::new();
            if self.rng.chance(0.9) {
                let mut when = issued.day.plus(self.rng.range(0, 3));
                for n in 0..portions {
                    let packs_now = if n + 1 == portions { packs - (packs / portions) * n } else { packs / portions };
                    if when > self.end || when > valid_to {
                        break;
                    }
                    dispensed.push((when, packs_now));
                    when = when.plus(supply / portions - self.rng.range(0, 10));
                }
            }
            let complete = dispensed.len() as i64 == portions;
            let status = if complete {
                "completed"
            } else if valid_to >= self.end {
                "active"
            } else {
                "stopped"
            };
            let route = med.route.snomed();
            let mut timing = obj!({"repeat": {"frequency": med.frequency, "period": 1, "periodUnit": "d"}});
            if med.period == 7 {
                timing = obj!({"repeat": {"frequency": med.frequency, "period": 1, "periodUnit": "wk"}});
            }
            let mut dosage = obj!({
                "sequence": 1,
                "text": med.instruction,
                "timing": timing,
                "route": concept(fhir::SNOMED, route.0, route.1),
                "doseAndRate": [{"doseQuantity": quantity(dec(i64::from(med.dose), 0), med.unit.1, med.unit.0)}]
            });
            if med.usage == Use::AsNeeded {
                dosage["asNeededBoolean"] = obj!(true);
            }
            let medication = obj!({"coding": [coding(fhir::ATC, med.atc, med.substance)], "text": med.product});
            let clinic = &self.layout.facilities[visit.facility];
            let mut mr = obj!({
                "resourceType": "MedicationRequest",
                "id": id.as_str(),
                "identifier": [identifier(&clinic.local_oid("2.1"), &format!("{}{}", self.rng.range(1, 9), self.rng.digits(21)))],
                "status": status,
                "intent": "order",
                "category": [coded("http://terminology.hl7.org/CodeSystem/medicationrequest-category", category, if category == "discharge" { "Discharge" } else { "Outpatient" })],
                "medicationCodeableConcept": medication.clone(),
                "subject": self.patient_ref(),
                "encounter": reference("Encounter", &visit.id),
                "authoredOn": issued.fhir(),
                "requester": self.prac_ref(visit.practitioner),
                "groupIdentifier": {"type": {"text": "Klucz pakietu recept"}, "value": package.as_str()},
                "courseOfTherapyType": coded("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", course, if course == "acute" { "Short course (acute) therapy" } else { "Continuous long term therapy" }),
                "note": [{"text": format!("Kod dostępu do pakietu: {access_code}")}],
                "dosageInstruction": [dosage],
                "dispenseRequest": {
                    "validityPeriod": {"start": issued.day.to_string(), "end": valid_to.to_string()},
                    "quantity": quantity(dec(packs, 0), "opak.", "{pack}"),
                    "expectedSupplyDuration": quantity(dec(supply, 0), "dni", "d")
                },
                "substitution": {"allowedBoolean": true}
            });
            if let Some(reason) = reason {
                mr["reasonReference"] = obj!([reference("Condition", reason)]);
            }
            if status == "stopped" {
                mr["statusReason"] = obj!({"text": "Upłynął termin realizacji recepty"});
            }
            self.out.push(mr);
            for (n, (when, packs_now)) in dispensed.into_iter().enumerate() {
                self.dispense(&id, med, &medication, when, packs_now, supply * packs_now / packs.max(1), n == 0);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dispense(&mut self, request: &str, med: &Med, medication: &Value, day: Day, packs: i64, days: i64, first: bool) {
        let pharmacy = if self.rng.chance(0.8) {
            self.home.pharmacy
        } else {
            self.layout.nearby(&mut self.rng, FacilityKind::Pharmacy, self.home.city)
        };
        let pharmacist = self.layout.pharmacist(&mut self.rng, pharmacy);
        let at = At::new(day, self.rng.range(8, 19) as u32, self.rng.range(0, 59) as u32);
        let id = self.next_id(Res::MedicationDispense);
        let (kind, kind_display) = if first { ("FF", "First Fill") } else { ("RF", "Refill") };
        self.out.push(obj!({
            "resourceType": "MedicationDispense",
            "id": id.as_str(),
            "status": "completed",
            "medicationCodeableConcept": medication.clone(),
            "subject": self.patient_ref(),
            "performer": [{"actor": self.prac_ref(pharmacist)}],
            "location": reference("Location", &facilities::loc_id(pharmacy)),
            "authorizingPrescription": [reference("MedicationRequest", request)],
            "type": coded(fhir::ACT_CODE, kind, kind_display),
            "quantity": quantity(dec(packs, 0), "opak.", "{pack}"),
            "daysSupply": quantity(dec(days.max(1), 0), "dni", "d"),
            "whenPrepared": at.fhir(),
            "whenHandedOver": at.plus_minutes(2).fhir(),
            "dosageInstruction": [{"text": med.instruction}],
            "substitution": {"wasSubstituted": false}
        }));
    }

    /// Laboratory orders: one ServiceRequest per panel, then (when the sample is taken before the
    /// reference date) per panel a DiagnosticReport with its Observations from the patient's usual
    /// lab, and one Specimen per kind of sample taken.
    pub(super) fn labs(&mut self, visit: &Visit, panels: &[&str], reason: Option<&str>, inflamed: bool) {
        let lab = if visit.inpatient { visit.facility } else { self.home.lab };
        let collected = if visit.inpatient {
            visit.start.plus_minutes(self.rng.range(20, 120))
        } else {
            At::new(visit.start.day.plus(self.rng.range(1, 6)).workday(), 7, self.rng.range(30, 150) as u32)
        };
        let done = collected.day <= self.end;
        let issued = collected.plus_minutes(self.rng.range(120, 1400));
        let diagnostician = if self.layout.facilities[lab].kind == FacilityKind::Lab {
            self.layout.diagnostician(&mut self.rng, lab)
        } else {
            visit.practitioner
        };
        let mut sample = Sample { lab, diagnostician, collected, issued, specimens: Vec::new() };
        for key in panels {
            let Some(panel) = laboratory::panel(key) else { continue };
            let sr = self.lab_order(visit, panel, &sample, done, reason);
            if done {
                self.lab_report(visit, panel, &sr, &mut sample, inflamed);
            }
        }
    }

    fn lab_order(&mut self, visit: &Visit, panel: &Panel, sample: &Sample, done: bool, reason: Option<&str>) -> String {
        let sr = self.next_id(Res::ServiceRequest);
        let mut request = obj!({
            "resourceType": "ServiceRequest",
            "id": sr.as_str(),
            "status": if done { "completed" } else { "active" },
            "intent": "order",
            "category": [coded(fhir::SNOMED, "108252007", "Laboratory procedure")],
            "priority": if visit.inpatient { "urgent" } else { "routine" },
            "code": {"coding": [coding(fhir::LOINC, panel.loinc, panel.display)], "text": panel.pl},
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "occurrenceDateTime": sample.collected.fhir(),
            "authoredOn": visit.start.fhir(),
            "requester": self.prac_ref(visit.practitioner),
            "performer": [self.org_ref(sample.lab)]
        });
        if let Some(reason) = reason {
            request["reasonReference"] = obj!([reference("Condition", reason)]);
        }
        self.out.push(request);
        sr
    }

    /// The report of one panel: the member Observations, for a panel of several tests a panel
    /// Observation grouping them (`hasMember`), and the DiagnosticReport listing the panel first,
    /// then its members (so including the report's results brings the values too).
    fn lab_report(&mut self, visit: &Visit, panel: &Panel, sr: &str, sample: &mut Sample, inflamed: bool) {
        let report = self.next_id(Res::DiagnosticReport);
        let specimen = panel.specimen_type().map(|kind| self.specimen(sample, kind));
        let specimen = specimen.as_deref();
        let mut members = Vec::new();
        let mut abnormal = Vec::new();
        for test in panel.members() {
            let id = self.next_id(Res::Observation);
            let mut obs = self.lab_observation(&id, visit, (test.loinc, test.display, test.pl), sr, sample, specimen);
            if self.lab_result(&mut obs, test, sample.collected.day, inflamed) {
                abnormal.push(test.pl);
            }
            self.out.push(obs);
            members.push(reference("Observation", &id));
        }
        let mut results = Vec::with_capacity(members.len() + 1);
        if panel.is_group() {
            let id = self.next_id(Res::Observation);
            let mut obs =
                self.lab_observation(&id, visit, (panel.loinc, panel.display, panel.pl), sr, sample, specimen);
            obs["hasMember"] = Value::Array(members.clone());
            self.out.push(obs);
            results.push(reference("Observation", &id));
        }
        results.extend(members);
        let conclusion = if abnormal.is_empty() {
            "Wyniki w granicach wartości referencyjnych.".to_string()
        } else {
            format!("Wyniki poza zakresem referencyjnym: {}.", abnormal.join(", "))
        };
        let mut dr = obj!({
            "resourceType": "DiagnosticReport",
            "id": report.as_str(),
            "meta": fhir::profiled("PLDiagnosticReportLab"),
            "basedOn": [reference("ServiceRequest", sr)],
            "status": "final",
            "category": [coded(DIAGNOSTIC_SERVICE, "LAB", "Laboratory")],
            "code": {"coding": [coding(fhir::LOINC, panel.loinc, panel.display)], "text": panel.pl},
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "effectiveDateTime": sample.collected.fhir(),
            "issued": sample.issued.fhir(),
            "performer": [self.org_ref(sample.lab)],
            "resultsInterpreter": [self.prac_ref(sample.diagnostician)],
            "result": results,
            "conclusion": conclusion
        });
        if let Some(specimen) = specimen {
            dr["specimen"] = obj!([reference("Specimen", specimen)]);
        }
        self.out.push(dr);
    }

    /// The part every laboratory Observation of a sample shares (a panel's too): no value yet.
    fn lab_observation(
        &self,
        id: &str,
        visit: &Visit,
        code: (&str, &str, &str),
        sr: &str,
        sample: &Sample,
        specimen: Option<&str>,
    ) -> Value {
        let mut obs = obj!({
            "resourceType": "Observation",
            "id": id,
            "meta": fhir::profiled("PLObservationLab"),
            "basedOn": [reference("ServiceRequest", sr)],
            "status": "final",
            "category": [{"coding": [coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}],
            "code": {"coding": [coding(fhir::LOINC, code.0, code.1)], "text": code.2},
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "effectiveDateTime": sample.collected.fhir(),
            "issued": sample.issued.fhir(),
            "performer": [self.org_ref(sample.lab), self.prac_ref(sample.diagnostician)]
        });
        if let Some(specimen) = specimen {
            obs["specimen"] = reference("Specimen", specimen);
        }
        obs
    }

    /// Draws the result of `test` into `obs` (value, interpretation, reference range); returns
    /// whether it is outside the reference range.
    fn lab_result(&mut self, obs: &mut Value, test: &Test, day: Day, inflamed: bool) -> bool {
        let male = self.person.sex == Sex::Male;
        let value = test.rounded(self.lab_value(test, day, inflamed));
        let flag = test.interpretation(value, male);
        match test.kind {
            TestKind::Quantity => {
                let (low, high) = test.range(male);
                let mut range = serde_json::Map::new();
                let limit = |v: f64| quantity(decimal(v, test.scale), test.unit, test.ucum);
                if let Some(l) = low {
                    range.insert("low".into(), limit(l));
                }
                if let Some(h) = high {
                    range.insert("high".into(), limit(h));
                }
                obs["valueQuantity"] = quantity(decimal(value, test.scale), test.unit, test.ucum);
                obs["referenceRange"] = obj!([Value::Object(range)]);
            }
            TestKind::Presence => {
                let finding = test.finding(value, male);
                obs["valueCodeableConcept"] =
                    obj!({"coding": [coding(fhir::SNOMED, finding.code, finding.display)], "text": finding.pl});
                obs["referenceRange"] = obj!([{"text": laboratory::NEGATIVE.pl}]);
            }
        }
        obs["interpretation"] = obj!([coded(INTERPRETATION, flag.0, flag.1)]);
        flag.0 != "N"
    }

    /// The Specimen of `kind` taken at this sampling (one per kind, shared by its panels).
    fn specimen(&mut self, sample: &mut Sample, kind: SpecimenType) -> String {
        if let Some((_, id)) = sample.specimens.iter().find(|(k, _)| *k == kind) {
            return id.clone();
        }
        let id = self.next_id(Res::Specimen);
        let (code, display) = kind.snomed();
        self.out.push(obj!({
            "resourceType": "Specimen",
            "id": id.as_str(),
            "status": "available",
            "type": {"coding": [coding(fhir::SNOMED, code, display)], "text": kind.pl()},
            "subject": self.patient_ref(),
            "collection": {"collectedDateTime": sample.collected.fhir()}
        }));
        sample.specimens.push((kind, id.clone()));
        id
    }

    /// One measurement of `test`: the patient's own level, shifted by their conditions. For a
    /// presence test, the latent amount (positive above the high limit).
    fn lab_value(&mut self, test: &Test, day: Day, inflamed: bool) -> f64 {
        let male = self.person.sex == Sex::Male;
        let mean = if male { test.mean.0 } else { test.mean.1 };
        let bias = laboratory::test_index(test.key).and_then(|t| self.bias.get(t)).copied().unwrap_or(0.0);
        let mut v = mean + test.sd * (bias + self.rng.normal(0.0, 0.5));
        let has = |code: &str| self.chronic.iter().any(|c| c.cond.code == code && c.onset <= day);
        let age = f64::from(self.age_on(day));
        match test.key {
            "glucose" if has("E11") => v += self.rng.normal(45.0, 20.0),
            "hba1c" if has("E11") => v += self.rng.normal(1.6, 0.7),
            "chol" if has("E78.0") => v += self.rng.normal(45.0, 20.0),
            "ldl" if has("E78.0") => v += self.rng.normal(45.0, 18.0),
            "creat" if has("N18.3") => v += self.rng.normal(0.7, 0.2),
            "egfr" => {
                v -= (age - 40.0).max(0.0) * 0.8;
                if has("N18.3") {
                    v = self.rng.normal(45.0, 7.0);
                }
            }
            "k" if has("N18.3") => v += 0.3,
            "na" if has("I50.0") => v -= 2.0,
            "urea" if has("N18.3") => v += self.rng.normal(25.0, 8.0),
            "urea" if has("I50.0") => v += self.rng.normal(8.0, 4.0),
            "tsh" if has("E03.9") => v += self.rng.normal(1.2, 1.5),
            "hgb" if has("D50.9") => v -= 2.2,
            "hct" if has("D50.9") => v -= 6.0,
            "mcv" if has("D50.9") => v -= 11.0,
            "crp" if inflamed => v = self.rng.normal(70.0, 35.0),
            "wbc" if inflamed => v += self.rng.normal(5.5, 2.0),
            // Proteinuria in kidney disease, less often in hypertension; the one acute illness
            // that orders a urinalysis is a urinary infection.
            "uprot" if has("N18.3") => v += 2.5,
            "uprot" if inflamed => v += 1.5,
            "uprot" if has("I10") => v += 0.6,
            // Glucosuria above the renal threshold (and on SGLT2 inhibitors) in diabetes.
            "uglu" if has("E11") => v += self.rng.normal(2.0, 1.0),
            _ => {}
        }
        v.max(mean * 0.08)
    }

    /// A referral (e-skierowanie) to the specialist clinic for chronic condition `i`; the visit
    /// follows weeks later when it falls before the reference date.
    pub(super) fn refer(&mut self, day: Day, visit: &Visit, i: usize) {
        let Some(clinic) = self.chronic.get(i).and_then(|c| c.cond.clinic) else { return };
        let Some(&(code, name, specialty)) = catalog::CLINICS.iter().find(|c| c.0 == clinic) else { return };
        let reason = self.chronic[i].id.clone();
        let id = self.next_id(Res::ServiceRequest);
        let when = day.plus(self.rng.range(14, 150)).workday();
        let seen = when <= self.end;
        let f = &self.layout.facilities[visit.facility];
        let mut sr = obj!({
            "resourceType": "ServiceRequest",
            "id": id.as_str(),
            "identifier": [identifier(&f.local_oid("4.1"), &format!("{}{}", self.rng.range(1, 9), self.rng.digits(21)))],
            "status": if seen { "completed" } else { "active" },
            "intent": "order",
            "category": [coded(fhir::SNOMED, "3457005", "Patient referral")],
            "priority": "routine",
            "code": {"coding": [facilities::cell_coding(code)], "text": format!("Skierowanie: {name}")},
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "authoredOn": visit.start.fhir(),
            "requester": self.prac_ref(visit.practitioner),
            "performerType": concept(fhir::SPECIALTY, specialty, catalog::specialty_display(specialty)),
            "performer": [self.org_ref(self.home.hospital)]
        });
        if let Some(reason) = &reason {
            sr["reasonReference"] = obj!([reference("Condition", reason)]);
        }
        self.out.push(sr);
        if seen {
            self.schedule(when, Event::Specialist { chronic: i, clinic: code, referral: id });
        }
    }

    pub(super) fn specialist(&mut self, day: Day, i: usize, clinic: &'static str, referral: &str) {
        let Some(chronic) = self.chronic.get(i).cloned() else { return };
        let specialty = catalog::CLINICS.iter().find(|c| c.0 == clinic).map_or("0705", |c| c.2);
        let hospital = self.home.hospital;
        let doctor = self.layout.physician(&mut self.rng, hospital, specialty);
        let start = self.office_time(day);
        let minutes = self.rng.range(15, 40);
        let mut visit = self.open_visit(start, minutes, hospital, doctor, clinic);
        visit.based_on = Some(referral.to_string());
        if let Some(id) = &chronic.id {
            visit.diagnoses.push((id.clone(), "billing"));
        }
        for code in chronic.cond.procedures {
            if self.rng.chance(0.7) {
                let at = visit.start.plus_minutes(10);
                self.procedure(code, at, &visit, doctor, hospital, chronic.id.as_deref());
            }
        }
        if self.rng.chance(0.3)
            && let Some(name) = self.rng.choose(chronic.cond.meds).copied()
            && let Some(med) = catalog::med_named(name)
        {
            self.prescribe(&visit, &[(med, chronic.id.clone())], "outpatient");
            if let Some(c) = self.chronic.get_mut(i)
                && !c.meds.iter().any(|m| m.product == med.product)
            {
                c.meds.push(med);
            }
        }
        self.close_visit(visit);
    }

    pub(super) fn procedure(
        &mut self,
        code: &str,
        at: At,
        visit: &Visit,
        performer: usize,
        facility: usize,
        reason: Option<&str>,
    ) -> String {
        let id = self.next_id(Res::Procedure);
        let mut p = obj!({
            "resourceType": "Procedure",
            "id": id.as_str(),
            "status": "completed",
            "code": concept(fhir::ICD9PL, code, catalog::procedure_display(code)),
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "performedDateTime": at.fhir(),
            "recorder": self.prac_ref(performer),
            "performer": [{"actor": self.prac_ref(performer), "onBehalfOf": self.org_ref(facility)}],
            "location": reference("Location", &visit.location)
        });
        if let Some(reason) = reason {
            p["reasonReference"] = obj!([reference("Condition", reason)]);
        }
        self.out.push(p);
        id
    }

    /// A hospital stay for `cond` (or a delivery): admission, diagnosis, labs, procedures,
    /// discharge prescriptions and the discharge summary.
    pub(super) fn hospital_stay(&mut self, day: Day, cond: &'static Condition, cesarean: bool) {
        let Kind::Inpatient { ward, days, .. } = cond.kind else { return };
        let hospital = self.home.hospital;
        let specialty = catalog::WARDS.iter().find(|w| w.0 == ward).map_or("0705", |w| w.2);
        let doctor = self.layout.physician(&mut self.rng, hospital, specialty);
        let length = self.rng.range(i64::from(days.0), i64::from(days.1));
        let admitted = At::new(day, self.rng.range(6, 22) as u32, self.rng.range(0, 59) as u32);
        let discharge_day = day.plus(length).min(self.end);
        let discharged = At::new(discharge_day, self.rng.range(10, 15) as u32, self.rng.range(0, 59) as u32)
            .max(admitted.plus_minutes(90));
        let mut visit = self.open_visit(admitted, 0, hospital, doctor, ward);
        visit.end = discharged;
        visit.inpatient = true;
        visit.location = facilities::ward_loc_id(hospital, ward);
        let from_er = cond.code != "O80" && self.rng.chance(0.7);
        let disposition = if self.rng.chance(0.8) {
            ("1", "zakończenie procesu terapeutycznego lub diagnostycznego")
        } else {
            ("2", "skierowanie do dalszego leczenia w lecznictwie ambulatoryjnym")
        };
        visit.hospitalization = Some(obj!({
            "admitSource": match (from_er, cond.code) {
                (_, "O80") => coded("http://terminology.hl7.org/CodeSystem/admit-source", "other", "Other"),
                (true, _) => coded("http://terminology.hl7.org/CodeSystem/admit-source", "emd", "From accident/emergency department"),
                (false, _) => coded("http://terminology.hl7.org/CodeSystem/admit-source", "gp", "General Practitioner referral"),
            },
            "dischargeDisposition": coded(fhir::DISCHARGE, disposition.0, disposition.1)
        }));
        let (code, display) =
            if cesarean { ("O82", "Poród pojedynczy przez cięcie cesarskie") } else { (cond.code, cond.display) };
        let diagnosis = Condition { code, display, ..*cond };
        let resolved = discharged.day.plus(self.rng.range(0, 20));
        let cond_id = self.condition(&diagnosis, &visit, day, (resolved <= self.end).then_some(resolved), false);
        visit.diagnoses.push((cond_id.clone(), "AD"));
        visit.diagnoses.push((cond_id.clone(), "DD"));
        let inflamed = matches!(cond.code, "J18.9" | "K35.8");
        if !cond.labs.is_empty() {
            self.labs(&visit, cond.labs, Some(&cond_id), inflamed);
        }
        let mut done = Vec::new();
        let procedures: Vec<&str> = if cesarean { vec!["74.1"] } else { cond.procedures.to_vec() };
        for (n, code) in procedures.iter().enumerate() {
            let offset =
                (n as i64 * 360 + self.rng.range(60, 600)).min(admitted.day.days_until(discharged.day) * 1440 + 60);
            let at = admitted.plus_minutes(offset).min(discharged);
            if at.day <= self.end {
                let procedure = self.procedure(code, at, &visit, doctor, hospital, Some(&cond_id));
                if let Some(exam) = catalog::imaging(code) {
                    let basis = Basis::Procedure { encounter: &visit.id, procedure: &procedure };
                    self.imaging(exam, at, hospital, basis, cond.code);
                }
                done.push(*code);
            }
        }
        let mut meds = Vec::new();
        for name in cond.meds {
            if let Some(m) = catalog::med_named(name)
                && (meds.is_empty() || self.rng.chance(0.5))
            {
                meds.push((m, Some(cond_id.clone())));
            }
        }
        if visit.end.day <= self.end {
            self.discharge_summary(&visit, &diagnosis, &done, &meds);
            // Discharge prescriptions are issued at discharge (the end of the visit).
            self.prescribe(&visit, &meds, "discharge");
        }
        self.close_visit(visit);
    }

    fn discharge_summary(
        &mut self,
        visit: &Visit,
        cond: &Condition,
        procedures: &[&str],
        meds: &[(&Med, Option<String>)],
    ) {
        let f = &self.layout.facilities[visit.facility];
        let ward = catalog::cell_display(visit.cell);
        let doctor = self.layout.practitioners.get(visit.practitioner).map(|p| p.display()).unwrap_or_default();
        let mut text = format!(
            "KARTA INFORMACYJNA LECZENIA SZPITALNEGO\n{}, {ward}\nPacjent: {}, PESEL {}\nHospitalizacja: {} – {}\nRozpoznanie zasadnicze: {} {}\n",
            f.name,
            self.person.display(),
            self.person.pesel,
            visit.start.day,
            visit.end.day,
            cond.code,
            cond.display
        );
        if !procedures.is_empty() {
            let list: Vec<String> =
                procedures.iter().map(|c| format!("{c} {}", catalog::procedure_display(c))).collect();
            text.push_str(&format!("Wykonane procedury: {}\n", list.join("; ")));
        }
        if !meds.is_empty() {
            let list: Vec<String> = meds.iter().map(|(m, _)| format!("{} – {}", m.product, m.instruction)).collect();
            text.push_str(&format!("Zalecenia: {}\n", list.join("; ")));
        }
        text.push_str("Kontrola w poradni POZ.\n");
        text.push_str(&format!("Lekarz prowadzący: {doctor}\n"));
        let id = self.next_id(Res::DocumentReference);
        let bytes = text.as_bytes();
        self.out.push(obj!({
            "resourceType": "DocumentReference",
            "id": id.as_str(),
            "status": "current",
            "docStatus": "final",
            "type": {"coding": [coding(fhir::LOINC, "18842-5", "Discharge summary")], "text": "Karta informacyjna leczenia szpitalnego"},
            "category": [coded("urn:oid:2.16.840.1.113883.3.4424.11.1.32", "00.20", "Karta informacyjna leczenia szpitalnego")],
            "subject": self.patient_ref(),
            "date": visit.end.fhir(),
            "author": [self.prac_ref(visit.practitioner), self.org_ref(visit.facility)],
            "authenticator": self.prac_ref(visit.practitioner),
            "custodian": self.org_ref(visit.facility),
            "description": format!("Karta informacyjna: {} {}", cond.code, cond.display),
            "content": [{"attachment": {
                "contentType": "text/plain; charset=utf-8",
                "language": "pl",
                "data": fhir::base64(bytes),
                "size": bytes.len(),
                "title": "Karta informacyjna leczenia szpitalnego",
                "creation": visit.end.fhir()
            }}],
            "context": {
                "encounter": [reference("Encounter", &visit.id)],
                "period": {"start": visit.start.fhir(), "end": visit.end.fhir()},
                "facilityType": concept(fhir::CELL_TYPE, visit.cell, ward)
            }
        }));
    }

    /// The newborn's stay on the neonatal ward, with birth measurements and the birth doses.
    pub(super) fn newborn(&mut self, day: Day) {
        let hospital = self.home.hospital;
        let doctor = self.layout.physician(&mut self.rng, hospital, "0753");
        let born = At::new(day, self.rng.range(0, 23) as u32, self.rng.range(0, 59) as u32);
        let mut visit = self.open_visit(born, 0, hospital, doctor, "4421");
        visit.inpatient = true;
        visit.location = facilities::ward_loc_id(hospital, "4421");
        visit.end = At::new(day.plus(self.rng.range(2, 4)).min(self.end), 11, 0).max(born.plus_minutes(60));
        visit.hospitalization = Some(obj!({
            "admitSource": coded("http://terminology.hl7.org/CodeSystem/admit-source", "born", "Born in hospital"),
            "dischargeDisposition": coded(fhir::DISCHARGE, "1", "zakończenie procesu terapeutycznego lub diagnostycznego")
        }));
        let grams = self.rng.normal(3400.0, 450.0).clamp(2300.0, 4800.0).round();
        let id = self.next_id(Res::Observation);
        let obs = self.vital(
            &id,
            &visit,
            born.plus_minutes(10),
            ("8339-4", "Birth weight Measured", "Masa urodzeniowa"),
            Some(quantity(dec(grams as i64, 0), "g", "g")),
        );
        self.out.push(obs);
        let length = self.rng.normal(54.0, 2.5).clamp(46.0, 60.0).round();
        let id = self.next_id(Res::Observation);
        let obs = self.vital(
            &id,
            &visit,
            born.plus_minutes(10),
            ("8302-2", "Body height", "Długość ciała"),
            Some(quantity(dec(length as i64, 0), "cm", "cm")),
        );
        self.out.push(obs);
        let nurse = self.layout.nurse(&mut self.rng, hospital);
        let first_day = born.plus_minutes(self.rng.range(120, 1200));
        if first_day.day <= self.end {
            for (cvx, dose) in catalog::CHILD_SCHEDULE.first().map_or(&[][..], |s| s.1) {
                self.immunize(&visit, first_day, cvx, *dose, nurse);
            }
        }
        self.close_visit(visit);
    }

    pub(super) fn vaccination_visit(&mut self, day: Day, doses: &[(&'static str, u32)]) {
        let visit = self.gp_visit(day, true);
        let at = visit.start.plus_minutes(5);
        for (cvx, dose) in doses {
            self.immunize(&visit, at, cvx, *dose, visit.practitioner);
        }
        self.close_visit(visit);
    }

    fn immunize(&mut self, visit: &Visit, at: At, cvx: &str, dose: u32, nurse: usize) {
        let (code, display, pl) = catalog::vaccine(cvx);
        let infant = self.age_on(at.day) < 2;
        let (route, route_display) = match code {
            "119" => ("PO", "Swallow, oral"),
            "19" => ("IDINJ", "Injection, intradermal"),
            _ => ("IM", "Injection, intramuscular"),
        };
        let site = if infant { ("LT", "left thigh") } else { ("LA", "left arm") };
        let lot = format!(
            "{}{}{}",
            char::from(b'A' + self.rng.below(26) as u8),
            char::from(b'A' + self.rng.below(26) as u8),
            self.rng.digits(5)
        );
        let series = if matches!(code, "150" | "208" | "213" | "33" | "77") {
            "Szczepienia zalecane"
        } else {
            "Program Szczepień Ochronnych"
        };
        let id = self.next_id(Res::Immunization);
        let mut imm = obj!({
            "resourceType": "Immunization",
            "id": id.as_str(),
            "status": "completed",
            "vaccineCode": {"coding": [coding(fhir::CVX, code, display)], "text": pl},
            "patient": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "occurrenceDateTime": at.fhir(),
            "recorded": at.plus_minutes(15).fhir(),
            "primarySource": true,
            "location": reference("Location", &visit.location),
            "lotNumber": lot,
            "expirationDate": at.day.plus(self.rng.range(90, 700)).to_string(),
            "route": coded("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", route, route_display),
            "doseQuantity": quantity(dec(5, 1), "ml", "mL"),
            "performer": [{
                "function": coded("http://terminology.hl7.org/CodeSystem/v2-0443", "AP", "Administering Provider"),
                "actor": self.prac_ref(nurse)
            }],
            "protocolApplied": [{"series": series, "doseNumberPositiveInt": dose}]
        });
        if route != "PO" {
            imm["site"] = coded("http://terminology.hl7.org/CodeSystem/v3-ActSite", site.0, site.1);
        }
        self.out.push(imm);
    }

    pub(super) fn allergy(&mut self, day: Day, encounter: &str, practitioner: usize) {
        let age = self.age_on(day);
        let choices: Vec<usize> = (0..catalog::ALLERGENS.len())
            .filter(|&i| age >= 16 || catalog::ALLERGENS[i].2 != "medication" || i < 2)
            .collect();
        let Some(&i) = self.rng.choose(&choices) else { return };
        let (code, name, category, reaction) = catalog::ALLERGENS[i];
        let severe = reaction.0 == "39579001";
        let id = self.next_id(Res::AllergyIntolerance);
        let onset = self.person.birth.plus(self.rng.range(0, self.person.birth.days_until(day).max(1)));
        self.out.push(obj!({
            "resourceType": "AllergyIntolerance",
            "id": id.as_str(),
            "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": coded("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
            "type": "allergy",
            "category": [category],
            "criticality": if severe { "high" } else { "low" },
            "code": {"coding": [{"system": fhir::SNOMED, "code": code}], "text": name},
            "patient": self.patient_ref(),
            "encounter": reference("Encounter", encounter),
            "onsetDateTime": onset.to_string(),
            "recordedDate": At::new(day, 12, 0).fhir(),
            "recorder": self.prac_ref(practitioner),
            "reaction": [{
                "manifestation": [coded(fhir::SNOMED, reaction.0, reaction.1)],
                "severity": if severe { "severe" } else { "mild" }
            }]
        }));
    }
}
