//! People and authorisations for the access-policy tests: persons with valid PESELs born on a
//! given day, parent links and Consents in the national authorisation categories.

use ikp::synth::calendar::Day;
use ikp::synth::pesel::{self, Sex};
use ikp::terminology::naming::PESEL;
use serde_json::{Value, json};

pub const AUTHORIZATION: &str = "https://ikp.example.org/fhir/CodeSystem/pl-ikp-authorization-type";
pub const ALWAYS: (&str, &str) = ("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z");
pub const EXPIRED: (&str, &str) = ("2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z");

pub fn today() -> Day {
    let now = time::OffsetDateTime::now_utc().date();
    Day::from_ymd(now.year(), u32::from(u8::from(now.month())), u32::from(now.day())).expect("today")
}

pub fn date(day: Day) -> String {
    let (y, m, d) = day.ymd();
    format!("{y:04}-{m:02}-{d:02}")
}

/// A person born on `birth`, with a valid PESEL.
pub fn person(resource_type: &str, id: &str, birth: Day, serial: u32, sex: Sex) -> Value {
    let pesel = pesel::encode(birth, serial, sex).expect("pesel");
    let mut r = json!({
        "resourceType": resource_type, "id": id,
        "identifier": [{"system": PESEL, "value": pesel}],
        "name": [{"family": format!("Family-{id}"), "given": ["Test"]}],
        "gender": sex.fhir(),
    });
    if resource_type == "Patient" {
        r["birthDate"] = json!(date(birth));
    }
    r
}

/// `parent` (a person) as the parent of Patient/`child`.
pub fn parent_link(id: &str, parent: &Value, child: &str) -> Value {
    json!({
        "resourceType": "RelatedPerson", "id": id,
        "identifier": parent["identifier"].clone(),
        "patient": {"reference": format!("Patient/{child}")},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PRN"}]}],
    })
}

/// An active Consent by which `grantor` lets `grantee` in, for `period`.
pub fn consent(id: &str, grantor: &str, grantee: &str, category: &str, period: (&str, &str)) -> Value {
    json!({
        "resourceType": "Consent", "id": id, "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": AUTHORIZATION, "code": category}]}],
        "patient": {"reference": format!("Patient/{grantor}")},
        "provision": {"type": "permit", "period": {"start": period.0, "end": period.1}, "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "reference": {"reference": grantee}}]},
    })
}
