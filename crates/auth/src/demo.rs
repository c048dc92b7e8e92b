//! The built-in demo identity provider: a plain HTML login with PESEL and password, for trying
//! the server and for tests. Its users are DEMO DATA (invented people with checksum-valid PESELs);
//! `ikp serve --demo` stores their Patient, Practitioner and RelatedPerson resources (fixed ids
//! starting with `demo-`) so they have FHIR identities. Never enable it on real data.

use serde_json::{Value, json};

use super::identity::VerifiedIdentity;
use super::{AuthError, same_secret};
use crate::session::Session;
use crate::terminology::naming::{NPWZ_PHARMACIST, NPWZ_PHYSICIAN, PESEL};

/// The one password of every demo user.
pub const DEMO_PASSWORD: &str = "demo";

/// A demo user: PESEL, who they are, and the resources that represent them.
pub struct DemoUser {
    pub pesel: &'static str,
    pub description: &'static str,
}

pub const USERS: &[DemoUser] = &[
    DemoUser { pesel: "80051412351", description: "Jan Kowalski, patient" },
    DemoUser { pesel: "85030204565", description: "Anna Kowalska, patient, mother of Zofia (born 2016)" },
    DemoUser { pesel: "16272107822", description: "Zofia Kowalska, a minor patient" },
    DemoUser { pesel: "75113009138", description: "dr Piotr Nowak, physician (NPWZ 1234567)" },
    DemoUser { pesel: "90011503269", description: "Ewa Wiśniewska, pharmacist" },
    DemoUser { pesel: "52041112349", description: "Krystyna Nowak, patient, Jan's proxy (may act for him)" },
    DemoUser { pesel: "83090856757", description: "Tomasz Kowalski, patient, Zofia's father (access granted by Anna)" },
];

/// The demo login: a known PESEL and the demo password.
pub fn login(pesel: &str, password: &str) -> Result<VerifiedIdentity, AuthError> {
    let known = USERS.iter().any(|u| u.pesel == pesel);
    if known && same_secret(password, DEMO_PASSWORD) {
        Ok(VerifiedIdentity { pesel: pesel.to_string(), provider: "demo".into(), acr: None })
    } else {
        Err(AuthError::LoginFailed("unknown PESEL or wrong password".into()))
    }
}

fn demo_tag() -> Value {
    json!({"tag": [{"system": "http://ikp.example/tags", "code": "demo", "display": "demo data"}]})
}

fn person(resource_type: &str, id: &str, pesel: &str, family: &str, given: &str, extra: Value) -> Value {
    let mut resource = json!({
        "resourceType": resource_type,
        "id": id,
        "meta": demo_tag(),
        "identifier": [{"system": PESEL, "value": pesel}],
        "name": [{"family": family, "given": [given]}],
    });
    if let (Some(target), Value::Object(extra)) = (resource.as_object_mut(), extra) {
        target.extend(extra);
    }
    resource
}

/// The demo users' FHIR resources.
pub fn resources() -> Vec<Value> {
    let mut physician =
        person("Practitioner", "demo-piotr-nowak", "75113009138", "Nowak", "Piotr", json!({"gender": "male"}));
    let mut pharmacist =
        person("Practitioner", "demo-ewa-wisniewska", "90011503269", "Wiśniewska", "Ewa", json!({"gender": "female"}));
    if let (Some(list), Some(list2)) = (
        physician.get_mut("identifier").and_then(Value::as_array_mut),
        pharmacist.get_mut("identifier").and_then(Value::as_array_mut),
    ) {
        list.push(json!({"system": NPWZ_PHYSICIAN, "value": "1234567"}));
        list2.push(json!({"system": NPWZ_PHARMACIST, "value": "7654321"}));
    }
    vec![
        person(
            "Patient",
            "demo-jan-kowalski",
            "80051412351",
            "Kowalski",
            "Jan",
            json!({"gender": "male", "birthDate": "1980-05-14"}),
        ),
        person(
            "Patient",
            "demo-anna-kowalska",
            "85030204565",
            "Kowalska",
            "Anna",
            json!({"gender": "female", "birthDate": "1985-03-02"}),
        ),
        person(
            "Patient",
            "demo-zofia-kowalska",
            "16272107822",
            "Kowalska",
            "Zofia",
            json!({"gender": "female", "birthDate": "2016-07-21"}),
        ),
        person(
            "Patient",
            "demo-krystyna-nowak",
            "52041112349",
            "Nowak",
            "Krystyna",
            json!({
                "gender": "female", "birthDate": "1952-04-11",
                "generalPractitioner": [
                    {"reference": "PractitionerRole/demo-piotr-nowak-poz"},
                    {"reference": "Organization/demo-przychodnia-zdrowie"},
                ],
            }),
        ),
        person(
            "Patient",
            "demo-tomasz-kowalski",
            "83090856757",
            "Kowalski",
            "Tomasz",
            json!({"gender": "male", "birthDate": "1983-09-08"}),
        ),
        person(
            "RelatedPerson",
            "demo-anna-mother-of-zofia",
            "85030204565",
            "Kowalska",
            "Anna",
            json!({
                "patient": {"reference": "Patient/demo-zofia-kowalska"},
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH", "display": "mother"}]}],
            }),
        ),
        physician,
        pharmacist,
    ]
}

/// Stores the demo resources that are not there yet (an existing one is left as it is).
pub async fn seed(session: &Session) -> anyhow::Result<()> {
    session.store_missing(resources()).await.map_err(|e| anyhow::anyhow!("storing the demo users: {e}"))
}
