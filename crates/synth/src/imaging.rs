//! Imaging examinations: the study (ImagingStudy) and the radiologist's report (DiagnosticReport,
//! category RAD, PLDiagnosticReportImaging), done in hospital as a procedure of the stay or on a
//! family doctor's referral.

use ikp_terminology::laboratory::DIAGNOSTIC_SERVICE;
use serde_json::Value;

use super::calendar::At;
use super::catalog::Imaging;
use super::clinical::Visit;
use super::facilities;
use super::fhir::{self, coding, concept, identifier, obj, reference};
use super::history::{History, Res};

/// DICOM's own terminology (modalities).
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// What an examination was done on: a procedure recorded during a stay, or a referral.
pub(super) enum Basis<'a> {
    Procedure { encounter: &'a str, procedure: &'a str },
    Request(&'a str),
}

impl History<'_> {
    /// A referral from `visit` for `exam` at the family's hospital, done a few days later when that
    /// is before the reference date.
    pub(super) fn refer_imaging(&mut self, visit: &Visit, exam: &Imaging, reason: &str, condition: &str) {
        let hospital = self.home.hospital;
        let day = visit.start.day.plus(self.rng.range(1, 5)).workday();
        let at = At::new(day, self.rng.range(8, 15) as u32, self.rng.range(0, 11) as u32 * 5);
        let done = at.day <= self.end;
        let sr = self.next_id(Res::ServiceRequest);
        self.out.push(obj!({
            "resourceType": "ServiceRequest",
            "id": sr.as_str(),
            "status": if done { "completed" } else { "active" },
            "intent": "order",
            "category": [{"coding": [coding(fhir::SNOMED, "363679005", "Imaging")]}],
            "priority": "routine",
            "code": exam_code(exam),
            "subject": self.patient_ref(),
            "encounter": reference("Encounter", &visit.id),
            "occurrenceDateTime": at.fhir(),
            "authoredOn": visit.start.fhir(),
            "requester": self.prac_ref(visit.practitioner),
            "performer": [self.org_ref(hospital)],
            "reasonReference": [reference("Condition", reason)]
        }));
        if done {
            self.imaging(exam, at, hospital, Basis::Request(&sr), condition);
        }
    }

    /// `exam` done at `at` in `facility`: the study and its report, which describes the finding
    /// of `condition` when the examination shows it.
    pub(super) fn imaging(&mut self, exam: &Imaging, at: At, facility: usize, basis: Basis<'_>, condition: &str) {
        let radiologist = self.layout.physician(&mut self.rng, facility, "0726");
        let study = self.next_id(Res::ImagingStudy);
        let study_uid = self.dicom_uid();
        let series_uid = self.dicom_uid();
        let modality = coding(DICOM, exam.modality.0, exam.modality.1);
        let mut s = obj!({
            "resourceType": "ImagingStudy",
            "id": study.as_str(),
            "identifier": [identifier("urn:dicom:uid", &format!("urn:oid:{study_uid}"))],
            "status": "available",
            "modality": [modality.clone()],
            "subject": self.patient_ref(),
            "started": at.fhir(),
            "interpreter": [self.prac_ref(radiologist)],
            "numberOfSeries": 1,
            "numberOfInstances": exam.instances,
            "procedureCode": [concept(fhir::ICD9PL, exam.icd9, exam.pl)],
            "location": reference("Location", &facilities::loc_id(facility)),
            "series": [{
                "uid": series_uid,
                "number": 1,
                "modality": modality,
                "numberOfInstances": exam.instances,
                "bodySite": coding(fhir::SNOMED, exam.body_site.0, exam.body_site.1),
                "started": at.fhir()
            }]
        });
        // A report is signed the same day.
        let issued = at.plus_minutes(self.rng.range(30, 240)).min(At::new(at.day, 23, 55));
        let (conclusion, shown) = exam.conclusion(condition);
        let mut report = obj!({
            "resourceType": "DiagnosticReport",
            "id": self.next_id(Res::DiagnosticReport),
            "meta": fhir::profiled("PLDiagnosticReportImaging"),
            "status": "final",
            "category": [{"coding": [coding(DIAGNOSTIC_SERVICE, "RAD", "Radiology")]}],
            "code": exam_code(exam),
            "subject": self.patient_ref(),
            "effectiveDateTime": at.fhir(),
            "issued": issued.fhir(),
            "performer": [self.org_ref(facility)],
            "resultsInterpreter": [self.prac_ref(radiologist)],
            "imagingStudy": [reference("ImagingStudy", &study)],
            "conclusion": conclusion
        });
        if shown && let Some(cond) = super::catalog::CONDITIONS.iter().find(|c| c.code == condition) {
            report["conclusionCode"] = obj!([concept(fhir::ICD10, cond.code, cond.display)]);
        }
        match basis {
            Basis::Procedure { encounter, procedure } => {
                s["encounter"] = reference("Encounter", encounter);
                s["procedureReference"] = reference("Procedure", procedure);
                report["encounter"] = reference("Encounter", encounter);
            }
            Basis::Request(sr) => {
                s["basedOn"] = obj!([reference("ServiceRequest", sr)]);
                report["basedOn"] = obj!([reference("ServiceRequest", sr)]);
            }
        }
        self.out.push(s);
        self.out.push(report);
    }

    /// A DICOM UID under the UUID-derived root 2.25 (at most 64 characters, no leading zero).
    fn dicom_uid(&mut self) -> String {
        format!("2.25.{}{}", self.rng.range(1, 9), self.rng.digits(30))
    }
}

/// How an examination is named on its order and report: LOINC, then ICD-9 PL.
fn exam_code(exam: &Imaging) -> Value {
    obj!({
        "coding": [coding(fhir::LOINC, exam.loinc.0, exam.loinc.1), coding(fhir::ICD9PL, exam.icd9, exam.pl)],
        "text": exam.pl
    })
}
